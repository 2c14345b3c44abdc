"""
The reward signal: all zero, sparse, badly scaled, constant, noisy, or dominated by one component.

One rule for two sources: :func:`~sb3_diagnostics.preflight.check_training_env` measures a random
rollout and feeds it once; a live reward check feeds one training window per update. Both turn
raw rewards into metrics with :func:`reward_metrics`, so the numbers and the thresholds
(:class:`~sb3_diagnostics.thresholds.RewardThresholds`) are the same in both places.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping

import numpy as np
from numpy.typing import ArrayLike

from sb3_diagnostics import metrics as M
from sb3_diagnostics.findings import Alert, Severity
from sb3_diagnostics.rules.base import Metrics, Rule, Streak, get
from sb3_diagnostics.thresholds import RewardThresholds

#: prefix of the per-component variance shares
COMPONENT_PREFIX = "reward_component/"
#: finished episodes whose returns must all be equal before a constant reward with terminal states is a fault
MIN_EPISODES_COMPARED = 5
#: context keys naming a component that pays out on few steps (a bonus)
SPARSE_COMPONENT = "_sparse_component:"


def reward_metrics(
    rewards: ArrayLike,
    dones: ArrayLike | None = None,
    *,
    gamma: float = 0.99,
    episode_returns: ArrayLike | None = None,
    terminated: ArrayLike | None = None,
    components: Mapping[str, ArrayLike] | None = None,
    thresholds: RewardThresholds | None = None,
) -> dict[str, float]:
    """
    The metrics :class:`RewardRule` reads, from one window of raw (unnormalised) rewards.

    :param rewards: per-step rewards, shape ``(T,)`` or ``(T, n_envs)``
    :param dones: same shape, True where an episode ended with that step (for discounted returns
        and, when ``episode_returns`` is None, episode returns); None: no episode boundary known
    :param gamma: discount factor of the discounted returns
    :param episode_returns: returns of the episodes that finished in the window (e.g. from
        Monitor's ``info["episode"]``); None: computed from ``rewards`` and ``dones``
    :param terminated: same shape as ``dones``, True where an episode ended by termination (not
        by a time limit); None when unknown
    :param components: name -> per-step values of ``info["reward_components"]`` (same length each)
    :param thresholds: reward thresholds (``nonzero_eps`` decides what counts as rewarded)
    :return: metric name -> value; nan where undefined. Names starting with ``_`` are context.
    """
    th = thresholds or RewardThresholds()
    r = np.asarray(rewards, dtype=np.float64)
    finite = r[np.isfinite(r)]
    d = np.zeros(r.shape, dtype=bool) if dones is None else np.asarray(dones, dtype=bool)
    returns = M.episode_returns(r, d) if episode_returns is None else np.asarray(episode_returns, dtype=np.float64)
    rewarded = M.episode_returns(np.where(np.isfinite(r), np.abs(r) > th.nonzero_eps, False).astype(np.float64), d)
    out = {
        "reward_nonzero_frac": M.nonzero_fraction(finite, th.nonzero_eps),
        "reward_abs_max": M.max_abs(finite),
        "reward_abs_mean": M.typical_magnitude(finite),
        "reward_mean": float(np.mean(finite)) if finite.size else M.NAN,
        "reward_std": M.std(finite),
        "reward_snr": M.signal_to_noise(finite),
        "return_std": M.std(returns),
        "return_mean": float(np.mean(returns)) if returns.size else M.NAN,
        "return_abs_max": M.max_abs(M.discounted_returns(np.where(np.isfinite(r), r, 0.0), d, gamma)),
        "_reward_samples": float(finite.size),
        "_reward_nonfinite": float(r.size - finite.size),
        "_episodes": float(returns.size),
        "_episodes_rewarded_frac": float(np.mean(rewarded > 0)) if rewarded.size else M.NAN,
    }
    if terminated is not None:
        out["_episodes_terminated"] = float(np.asarray(terminated, dtype=bool).sum())
    if components:
        for name, share in M.variance_shares(components, th.constant_std).items():
            out[f"{COMPONENT_PREFIX}{name}"] = share
        for name, values in components.items():
            # a term that pays out on few steps (a win bonus) is the goal itself, not a term that drowns the others
            if M.nonzero_fraction(np.asarray(values, dtype=np.float64), th.nonzero_eps) < th.component_dense_frac:
                out[f"{SPARSE_COMPONENT}{name}"] = 1.0
    return out


class RewardRule(Rule):
    """
    Reads the metrics of :func:`reward_metrics`: ``reward_nonzero_frac``, ``reward_abs_max``,
    ``reward_abs_mean`` (typical non-zero magnitude), ``reward_std``, ``reward_snr``,
    ``return_std`` (of episode returns), ``return_abs_max`` (of discounted returns) and
    ``reward_component/<name>`` (variance shares); context ``_reward_samples``, ``_episodes``,
    ``_episodes_terminated``, ``_episodes_rewarded_frac`` (share of finished episodes that got any reward),
    ``_sparse_component:<name>``, ``_progress`` (fraction of training done) and ``_reward_normalized``
    (1 when ``VecNormalize(norm_reward=True)`` rescales what the agent sees). Live only:
    ``reward_first_step`` (median steps from an episode's start to its first reward, over
    ``_rewarded_episode_starts`` episodes) and ``_gamma``.

    Judged with outcomes and the training phase: a reward that is constant or sparse while exploration has
    not reached the goal yet is ``info`` for the first ``explore_frac`` of training, a warning only when it
    lasts; a sparse reward that most episodes collect (a solved goal task) is not sparse for the agent; a
    huge or tiny raw scale that ``VecNormalize`` rescales is ``info``; a bonus paid on few steps does not
    count as a component drowning the others.

    A constant per-step reward is fine while episode returns vary (CartPole's +1 per step: the
    episode length carries the signal). Once returns have varied in any window, a constant reward
    is not reported again (a trained agent that always reaches the time limit is not a bug).

    :param thresholds: :class:`~sb3_diagnostics.thresholds.RewardThresholds`
    :param enabled: the codes to report (default: all of :attr:`codes`)
    :param prefix: put before every message (the pre-flight says "under random actions, ")
    """

    codes = (
        "reward_all_zero", "reward_sparse", "reward_scale_tiny", "reward_scale_huge", "reward_constant",
        "reward_low_snr", "reward_component_imbalance", "gamma_horizon_mismatch",
    )

    def __init__(
        self, thresholds: RewardThresholds | None = None, enabled: Collection[str] | None = None, prefix: str = ""
    ) -> None:
        super().__init__()
        self.prefix = prefix
        self.th = thresholds or RewardThresholds()
        unknown = set(enabled or ()) - set(self.codes)
        if unknown:
            raise ValueError(f"RewardRule cannot report {sorted(unknown)}; it reports {list(self.codes)}.")
        self.enabled = frozenset(self.codes if enabled is None else enabled)
        self._streaks = {code: Streak() for code in self.codes}
        #: whether episode returns ever varied (then a constant per-step reward is not a fault)
        self.returns_varied = False
        #: whether any reward other than 0 was ever seen (then a window of zeros is a sparse reward)
        self.ever_rewarded = False

    def _held(self, code: str, condition: bool) -> bool:
        """Update the code's streak; :return: whether it held long enough to report."""
        return self._streaks[code].update(condition) >= self.th.consecutive and code in self.enabled

    def _observe(self, step: int, metrics: Metrics) -> list[Alert]:
        alerts = self._judge(metrics)
        if self.prefix:
            alerts = [dataclasses.replace(a, message=self.prefix + a.message) for a in alerts]
        return alerts

    def _huge_per_step(self, metrics: Metrics) -> list[Alert]:
        """
        ``reward_scale_huge`` from ``_reward_per_step`` (post hoc: ``|rollout/ep_rew_mean| / rollout/ep_len_mean``,
        a lower bound of the typical |reward|: rewards of both signs cancel in it, never add up).
        """
        th = self.th
        per_step = get(metrics, "_reward_per_step")
        if per_step is None or not self._held("reward_scale_huge", per_step > th.huge):
            return []
        return [Alert(
            "reward_scale_huge",
            f"the episodes return {per_step:.3g} per step on average (SB3's rollout/ep_rew_mean / ep_len_mean; "
            f"threshold {th.huge:g}), so single rewards are at least that large: the critic must regress targets of "
            "that size, value losses, Q-values and advantages explode and swamp the policy gradient. (Read after the "
            "fact from the raw episode returns: if VecNormalize(norm_reward=True) rescaled the rewards the agent "
            "learned from, this is only worth knowing.)",
            per_step, th.huge,
        )]

    def _judge(self, metrics: Metrics) -> list[Alert]:
        th = self.th
        if all(get(metrics, k) is None for k in ("reward_nonzero_frac", "reward_abs_max", "reward_std")):
            # no reward window in this update: no evidence either way, streaks stay as they are; post hoc, SB3's
            # episode statistics still bound the size of the rewards from below
            return self._huge_per_step(metrics)
        samples = get(metrics, "_reward_samples")
        if samples is not None and samples < th.min_samples:
            return []
        n = f"{int(samples)} " if samples is not None else ""
        return_std = get(metrics, "return_std")
        if return_std is not None and return_std > th.constant_std:
            self.returns_varied = True
        alerts: list[Alert] = []

        abs_max = get(metrics, "reward_abs_max")
        window_zero = abs_max is not None and abs_max == 0.0
        if abs_max is not None and abs_max > 0.0:
            self.ever_rewarded = True
        # A window without reward in a run that has had rewards is a sparse reward, not a disconnected one.
        all_zero = window_zero and not self.ever_rewarded
        if self._held("reward_all_zero", all_zero):
            episodes = int(get(metrics, "_episodes") or 0)
            terminated = int(get(metrics, "_episodes_terminated") or 0)
            if terminated:
                # episodes reach terminal states and still pay nothing: the reward does not reach the algorithm
                severity, why = None, (
                    f"; {terminated} of the {episodes} episodes that finished in the window reached a terminal state "
                    "and paid nothing either, so the reward never reaches the algorithm (a wrapper, a reward "
                    "function that is not called or returns 0)")
            else:
                severity, why = self._exploring(metrics), (
                    ": either the reward never reaches the algorithm (a wrapper, a reward function that is not "
                    "called), or it is paid only at a goal that exploration has not reached yet (no episode "
                    "terminated)" + self._phase_note(metrics))
            alerts.append(Alert(
                "reward_all_zero",
                f"all {n}rewards were exactly 0, and no reward other than 0 was seen in this run so far: the agent "
                f"gets no feedback at all, so there is nothing to learn{why}.",
                0.0, 0.0, severity=severity,
            ))
        if all_zero:
            return alerts

        normalized = bool(get(metrics, "_reward_normalized"))
        rescaled = (
            Severity.INFO, " VecNormalize(norm_reward=True) rescales the rewards the agent learns from, so this is "
            "only worth knowing (e.g. for evaluation, which reports raw returns).",
        ) if normalized else (None, "")
        typical = get(metrics, "reward_abs_mean")
        tiny = typical is not None and typical < th.tiny
        if self._held("reward_scale_tiny", tiny):
            assert typical is not None
            alerts.append(Alert(
                "reward_scale_tiny",
                f"the typical non-zero |reward| is {typical:.3g} (threshold {th.tiny:g}): gradients of the value and "
                "policy losses are that small too, and the learning signal drowns in the entropy bonus and in "
                "float noise. An exp(-error) reward with a large error looks exactly like this." + rescaled[1],
                typical, th.tiny, severity=rescaled[0],
            ))

        frac = 0.0 if window_zero else get(metrics, "reward_nonzero_frac")
        collected = get(metrics, "_episodes_rewarded_frac")
        # a sparse reward that most finished episodes collect (a goal the agent reaches) is feedback enough
        sparse = (not tiny and frac is not None and frac < th.sparse_frac
                  and not (collected is not None and collected >= th.rewarded_episodes))
        if self._held("reward_sparse", sparse):
            assert frac is not None
            got = f"; {100 * collected:.0f}% of the finished episodes got any reward" if collected is not None else ""
            alerts.append(Alert(
                "reward_sparse",
                f"only {100 * frac:.1f}% of {n}steps had |reward| > {th.nonzero_eps:g} (threshold "
                f"{100 * th.sparse_frac:g}%{got}): the agent almost never gets feedback, so most rollouts carry no "
                "learning signal." + self._phase_note(metrics),
                frac, th.sparse_frac, severity=self._exploring(metrics),
            ))

        ret_max = get(metrics, "return_abs_max")
        huge_reward = typical is not None and typical > th.huge
        huge_return = ret_max is not None and ret_max > th.huge_return
        if self._held("reward_scale_huge", huge_reward or huge_return):
            if huge_reward:
                assert typical is not None
                what = f"the typical non-zero |reward| is {typical:.3g} (threshold {th.huge:g})"
                value, limit = typical, th.huge
            else:
                assert ret_max is not None
                what = f"discounted returns reach {ret_max:.3g} in magnitude (threshold {th.huge_return:g})"
                value, limit = ret_max, th.huge_return
            alerts.append(Alert(
                "reward_scale_huge",
                f"{what}: the critic must regress targets of that size, value losses and advantages explode and "
                "swamp the policy gradient (per-step rewards in the thousands, or a rare bonus of 1e5, do this)."
                + rescaled[1],
                value, limit, severity=rescaled[0],
            ))

        alerts += self._constant(metrics, n)

        snr = get(metrics, "reward_snr")
        if self._held("reward_low_snr", snr is not None and snr < th.low_snr):
            assert snr is not None
            alerts.append(Alert(
                "reward_low_snr",
                f"|mean| / std of the reward is {snr:.3g} (threshold {th.low_snr:g}): the reward is mostly noise "
                "around its mean, so the agent needs many samples to see which actions help.",
                snr, th.low_snr,
            ))

        alerts += self._components(metrics)
        alerts += self._horizon(metrics)
        return alerts

    def _horizon(self, metrics: Metrics) -> list[Alert]:
        """``gamma_horizon_mismatch``: the first reward of an episode comes many discount horizons after its start."""
        th = self.th
        first, episodes, gamma = (get(metrics, k) for k in ("reward_first_step", "_rewarded_episode_starts", "_gamma"))
        known = first is not None and episodes is not None and gamma is not None and 0.0 <= gamma < 1.0
        if not known:
            # no rewarded episode in this window: no evidence either way, the streak stays as it is
            return []
        assert first is not None and episodes is not None and gamma is not None
        horizon = 1.0 / (1.0 - gamma)
        far = episodes >= th.horizon_episodes and first > th.horizon_multiple * horizon
        if not self._held("gamma_horizon_mismatch", far):
            return []
        weight = gamma ** first
        suggested = min(0.9999, 1.0 - 1.0 / (2.0 * first))
        return [Alert(
            "gamma_horizon_mismatch",
            f"the first reward of an episode comes {first:.0f} steps after its start (median of {int(episodes)} "
            f"rewarded episodes), {first / horizon:.1f}x the discount horizon 1/(1-gamma) = {horizon:.3g} steps of "
            f"gamma={gamma:g} (threshold {th.horizon_multiple:g}x): discounted to the start of the episode the reward "
            f"is worth {weight:.2g} of itself, so the early steps of an episode get almost no credit for reaching it "
            "and their value estimates are noise.",
            first / horizon, th.horizon_multiple,
            hint=f"Raise gamma so that 1/(1-gamma) covers the distance to the reward (gamma={suggested:.4g} gives a "
                 f"horizon of {1 / (1 - suggested):.0f} steps), or shape the reward so that progress pays sooner.",
        )]

    def _constant(self, metrics: Metrics, n: str) -> list[Alert]:
        th = self.th
        reward_std = get(metrics, "reward_std")
        return_std = get(metrics, "return_std")
        episodes = get(metrics, "_episodes") or 0.0
        terminated = get(metrics, "_episodes_terminated")
        constant = (
            reward_std is not None
            and reward_std <= th.constant_std
            and not self.returns_varied
            and (return_std is None or return_std <= th.constant_std)
        )
        if terminated and (return_std is None or episodes < MIN_EPISODES_COMPARED):
            # Episodes reach terminal states: their length can carry the signal (MountainCar pays -1 a step, CartPole
            # +1), so a constant per-step reward is only a fault once enough episodes are seen to end equal.
            constant = False
        if not self._held("reward_constant", constant):
            return []
        assert reward_std is not None
        mean = get(metrics, "reward_mean")
        per_step = f"every one of the {n}rewards was {mean:.6g}" if mean is not None else "the reward never changed"
        if return_std is not None:
            outcome = f"and all {int(episodes)} episode returns were equal"
        else:
            outcome = f"and too few episodes finished ({int(episodes)}) for their returns to differ"
        if not terminated and mean is not None and mean > 0:
            # Every step pays the same positive amount and every episode runs to its time limit: the agent collects
            # the most the env offers, as a solved CartPole does (or a model resumed after solving it). Only worth
            # a note: if the env was meant to end episodes on failure, its `terminated` never fires.
            return [Alert(
                "reward_constant",
                f"{per_step} {outcome}, and every episode ran to its time limit: the agent already collects the most "
                "return the env pays (a solved survival task such as CartPole looks like this). If the env should end "
                "episodes on failure, check that its step() ever returns terminated=True.",
                reward_std, th.constant_std, severity=Severity.INFO,
                hint="Nothing to fix if the task is solved; otherwise make step() return terminated=True on failure.",
            )]
        if not terminated:
            # No episode reached a terminal state: the goal (as in MountainCar or Acrobot) has simply not been
            # reached yet. Normal at the start of such tasks; a problem when it lasts.
            return [Alert(
                "reward_constant",
                f"{per_step} {outcome}: nothing the agent did changed the outcome. No episode terminated "
                "(all ended by the time limit or not at all), so if reaching a terminal state is the goal (as in "
                "MountainCar), random exploration has not got there yet and the agent has no signal to follow."
                + self._phase_note(metrics),
                reward_std, th.constant_std, severity=self._exploring(metrics),
                hint="Shape the reward (potential-based, e.g. progress towards the goal) or use a curriculum, "
                "so that random exploration sees rewards that differ.",
            )]
        return [Alert(
            "reward_constant",
            f"{per_step} {outcome}: the reward does not differ between outcomes, so no action is better than "
            "another and every advantage is zero.",
            reward_std, th.constant_std,
        )]

    def _exploring(self, metrics: Metrics) -> Severity:
        """``info`` during the first ``explore_frac`` of training, else (and when progress is unknown) a warning."""
        progress = get(metrics, "_progress")
        return Severity.INFO if progress is not None and progress < self.th.explore_frac else Severity.WARNING

    def _phase_note(self, metrics: Metrics) -> str:
        progress = get(metrics, "_progress")
        if progress is not None and progress < self.th.explore_frac:
            return (f" Only {100 * progress:.0f}% of training has run: normal while exploration has not reached the "
                    f"goal yet; a warning if it lasts past {100 * self.th.explore_frac:.0f}%.")
        return ""

    def _components(self, metrics: Metrics) -> list[Alert]:
        th = self.th
        shares = {
            name[len(COMPONENT_PREFIX):]: get(metrics, name) for name in metrics
            if name.startswith(COMPONENT_PREFIX) and SPARSE_COMPONENT + name[len(COMPONENT_PREFIX):] not in metrics
        }
        known = {k: v for k, v in shares.items() if v is not None}
        varying = [k for k, v in known.items() if v > 0]
        top = max(known, key=lambda k: known[k], default=None)
        imbalanced = top is not None and len(varying) >= 2 and known[top] > th.component_share
        if not self._held("reward_component_imbalance", imbalanced):
            return []
        assert top is not None
        others = ", ".join(f"{k} {100 * known[k]:.1f}%" for k in sorted(known, key=lambda k: -known[k]) if k != top)
        return [Alert(
            "reward_component_imbalance",
            f"reward component '{top}' carries {100 * known[top]:.1f}% of the reward variance (threshold "
            f"{100 * th.component_share:g}%; others: {others}): the other terms are drowned out, so the agent "
            f"effectively optimises '{top}' alone.",
            known[top], th.component_share,
        )]


def step_baseline(rewards: ArrayLike) -> float:
    """
    The cost most steps pay, when at least half of them get exactly one negative reward (-1 per move on a path to a
    goal), else 0. Rewards are events where they differ from it: in a task that costs -1 per step, the episode's
    first event is reaching the goal, not its first step. A positive reward per step (+1 per step alive) stays a
    reward: a survival task's event would be its failure, which comes later the better the agent gets.

    Hand check: ``[-1, -1, -1, 0]`` -> -1; ``[0, 0, 1]`` -> 0; ``[1, 1, 1, -10]`` -> 0; ``[0.3, -1.2, 0.5]`` -> 0.
    """
    r = np.asarray(rewards, dtype=np.float64).reshape(-1)
    r = r[np.isfinite(r)]
    if r.size == 0:
        return 0.0
    values, counts = np.unique(r, return_counts=True)
    top = int(np.argmax(counts))
    return float(values[top]) if counts[top] * 2 >= r.size and values[top] < 0 else 0.0


def steps_to_first_reward(
    rewards: ArrayLike, dones: ArrayLike, since: ArrayLike, got: ArrayLike, eps: float = 1e-3
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """
    For every episode whose first rewarded step (``|reward| > eps``) falls in this window: how many steps
    after the episode's start it came (1 for a reward at the first step). Episodes may start in an
    earlier window: ``since`` and ``got`` carry, per env, the steps already taken in the running episode
    and whether it was already rewarded.

    Hand check: rewards ``[0, 0, 1, 0, 1]``, dones ``[0, 0, 1, 0, 0]``, since ``[2]``, got ``[False]``
    -> distances ``[5, 2]``, since ``[2]``, got ``[True]``.

    :param rewards: shape ``(T,)`` or ``(T, n_envs)``
    :param dones: same shape, True where an episode ended with that step
    :param since: shape ``(n_envs,)``, steps of the running episodes before the window
    :param got: shape ``(n_envs,)``, whether the running episodes were rewarded before the window
    :return: the distances (in order of column, time), and ``since`` and ``got`` after the window
    """
    r, d = M.as_columns(rewards), M.as_columns(np.asarray(dones, dtype=bool))
    since_out = np.asarray(since, dtype=np.int64).reshape(-1).copy()
    got_out = np.asarray(got, dtype=bool).reshape(-1).copy()
    t_len = r.shape[0]
    out = [np.zeros(0, dtype=np.int64)]
    if t_len == 0:
        return out[0], since_out, got_out
    for col in range(r.shape[1]):
        hits = np.flatnonzero(np.isfinite(r[:, col]) & (np.abs(r[:, col]) > eps))
        ends = np.flatnonzero(d[:, col])
        starts = np.concatenate(([0], ends + 1))
        last_ends = np.concatenate((ends, [t_len - 1]))
        keep = starts < t_len  # an episode ending at the last step starts in the next window
        starts, last_ends = starts[keep], last_ends[keep]
        carried = np.zeros(starts.size, dtype=np.int64)
        if starts.size:
            carried[0] = since_out[col]
        pos = np.minimum(np.searchsorted(hits, starts), max(hits.size - 1, 0))
        first = hits[pos] if hits.size else np.full(starts.size, t_len)
        rewarded = (first >= starts) & (first <= last_ends) if hits.size else np.zeros(starts.size, dtype=bool)
        counted = rewarded.copy()
        if starts.size and starts[0] == 0 and got_out[col]:
            counted[0] = False  # that episode's first reward came in an earlier window
        out.append((first - starts + 1 + carried)[counted])
        if starts.size and starts[-1] < t_len and not (ends.size and ends[-1] == t_len - 1):
            running_from_start = starts.size == 1 and ends.size == 0
            since_out[col] = t_len - starts[-1] + (since_out[col] if running_from_start else 0)
            got_out[col] = bool(rewarded[-1]) or (running_from_start and bool(got_out[col]))
        else:
            since_out[col], got_out[col] = 0, False
    return np.concatenate(out), since_out, got_out
