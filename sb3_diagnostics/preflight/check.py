"""
``check_training_env``: check an environment before training on it.

    from sb3_diagnostics import check_training_env
    report = check_training_env("CartPole-v1")
    print(report)                       # table + findings + the random-policy baseline
    report.random_return_mean           # the return a trained agent must beat

This is the *active* kind of check (like gymnasium's ``utils/env_checker.py``): it drives the
environment with random actions, replays it with the same seed, and tries different actions
from the same state. The live callbacks are the passive kind. What it measures becomes metrics;
the verdicts are rules (:class:`~sb3_diagnostics.rules.environment.EnvironmentRule`, and the
:class:`~sb3_diagnostics.rules.reward.RewardRule` the live reward check feeds), judged by the engine.

Nothing here touches the global NumPy / torch / ``random`` generators: actions come from seeded
copies of the action space, the environment is seeded through ``reset(seed=...)``
(``VecEnv.seed``). A ``VecNormalize`` in a VecEnv stack gets its running statistics back afterwards.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from stable_baselines3.common.vec_env import VecEnv

from sb3_diagnostics import metrics as M
from sb3_diagnostics.engine import Engine, warn_findings
from sb3_diagnostics.errors import EnvCrashedError, InvalidThresholdError, NotAnEnvironmentError
from sb3_diagnostics.findings import Severity
from sb3_diagnostics.preflight.checkers import checked_env, run_checkers
from sb3_diagnostics.preflight.driver import Driver, describe
from sb3_diagnostics.preflight.report import PreflightReport
from sb3_diagnostics.preflight.rollout import (
    MAX_PREFIX,
    Rollout,
    action_plan,
    candidates,
    collect,
    replay,
    safe_flat,
)
from sb3_diagnostics.rules import environment as E
from sb3_diagnostics.rules.buffers import ALIASED, DEGENERATE_ACTION, FAR_ACTION
from sb3_diagnostics.rules.environment import CHECKER, EnvironmentRule, checker_verdict
from sb3_diagnostics.rules.reward import COMPONENT_PREFIX, RewardRule, reward_metrics
from sb3_diagnostics.sb3.spaces import degenerate_action_dims, far_action_dims, layout
from sb3_diagnostics.sb3.steps import time_limit
from sb3_diagnostics.thresholds import PreflightThresholds, RewardThresholds

#: reward codes judged under random actions (reward_low_snr is left to the live check: random actions are noise)
PREFLIGHT_REWARD_CODES = (
    "reward_all_zero", "reward_sparse", "reward_scale_tiny", "reward_scale_huge", "reward_constant",
    "reward_component_imbalance",
)
#: observation dims kept for statistics (larger observations are sub-sampled, deterministically)
_MAX_STAT_DIMS = 4096
#: obs x action products used in the learnability check: first this many obs dims x action dims
_MAX_PRODUCT_DIMS = 32

EnvLike = str | gym.Env | VecEnv


class _Measure:
    """Drives one environment and turns what it saw into metrics for the rules, and a summary for the report."""

    def __init__(self, driver: Driver, n_steps: int, seed: int, gamma: float, th: PreflightThresholds,
                 reward_th: RewardThresholds) -> None:
        self.driver = driver
        self.n_steps = n_steps
        self.seed = seed
        self.gamma = gamma
        self.th = th
        self.reward_th = reward_th
        self.metrics: dict[str, float] = {}
        self.summary: dict[str, Any] = {"notes": []}
        self.obs_layout = layout(driver.observation_space, "obs")
        self.act_layout = layout(driver.action_space, "action")
        self.flat = safe_flat(driver.observation_space)

    def note(self, text: str) -> None:
        self.summary["notes"].append(text)

    def _stat_dims(self) -> np.ndarray:
        """Flat dims kept for statistics: every non-image dim (sub-sampled above :data:`_MAX_STAT_DIMS`)."""
        dims = np.array([i for i, k in enumerate(self.obs_layout.kinds) if k != "image"], dtype=np.int64)
        if dims.size > _MAX_STAT_DIMS:
            rng = np.random.default_rng(self.seed)
            dims = np.sort(rng.choice(dims, size=_MAX_STAT_DIMS, replace=False))
            self.note(f"{len(self.obs_layout.kinds)} observation dims: statistics use {_MAX_STAT_DIMS} of them")
        return dims

    def run(self) -> None:
        d = self.driver
        stat_dims = self._stat_dims()
        roll = collect(d, self.n_steps, self.seed, self.obs_layout, stat_dims, self.act_layout)
        self.summary["steps"] = int(roll.rewards.size)
        if roll.shape_problem:
            # 2: some observations could not be read at all; 1: another shape holding the right values
            self.metrics["obs_shape_problem"] = 2.0 if roll.shape_skipped else 1.0
            self.metrics[E.SHAPE_PROBLEM + roll.shape_problem] = 1.0
        if roll.space_problem:
            self.metrics["obs_outside_space"] = 1.0
            self.metrics[E.OUTSIDE_SPACE + roll.space_problem] = 1.0
        if roll.image_max is not None:
            self.metrics["float_image_max"] = roll.image_max
        if roll.aliased:
            # 2: a VecEnv hands SB3 one buffer (its buffers store the next observation as the current one)
            self.metrics["obs_aliased"] = 2.0 if d.is_vec else 1.0
            self.metrics[ALIASED + roll.aliased] = 1.0
        self._action_space()
        self._observations(roll, stat_dims)
        self._rewards(roll)
        self._episodes(roll)
        self._learnable(roll, stat_dims)
        d.phase = "determinism check"
        deterministic = self._determinism()
        d.phase = "reset check"
        self._reset()
        d.phase = "action-effect check"
        self._action_effect(deterministic)

    def _action_space(self) -> None:
        """Action dimensions that offer no choice, and Box bounds far from [-1, 1]."""
        m, space = self.metrics, self.driver.action_space
        names = self.act_layout.names
        degenerate, total = degenerate_action_dims(space, names)
        if isinstance(space, spaces.Box):
            far = far_action_dims(space, self.th.action_half_width, names)
            for label in far:
                m[FAR_ACTION + label] = 1.0
            m["action_far_dims"] = float(len(far))
        if not total:
            return
        m["action_dims"] = float(total)
        m["action_degenerate_dims"] = float(len(degenerate))
        for label in degenerate:
            m[DEGENERATE_ACTION + label] = 1.0

    def _observations(self, roll: Rollout, stat_dims: np.ndarray) -> None:
        m, s = self.metrics, self.summary
        kinds = np.array(self.obs_layout.kinds)
        s["obs_dims"] = len(kinds)
        m["obs_mlp_dims"] = float(np.sum(kinds != "image"))
        if roll.first_nonfinite_obs is not None:
            step, name = roll.first_nonfinite_obs
            m["obs_nonfinite_step"] = float(step)
            m[E.NONFINITE_OBS_AT + name] = float(step)
        m["obs_changed"] = float(roll.obs_changed)
        m["_obs_rows"] = float(roll.obs.shape[0])
        if roll.obs.shape[0] < 2:
            return
        everything = np.concatenate([roll.obs, roll.next_obs[roll.next_done]])  # terminal observations too
        stds = M.per_dim_std(everything)
        box = kinds[stat_dims] == "box"
        if not np.any(box):
            return
        names = [self.obs_layout.names[i] for i in stat_dims]
        box_stds = stds[box]
        box_names = [n for n, b in zip(names, box, strict=True) if b]
        finite = np.isfinite(box_stds)
        if np.any(finite):
            s["obs_std_min"], s["obs_std_max"] = float(np.min(box_stds[finite])), float(np.max(box_stds[finite]))
        m["_obs_box_dims"] = float(len(box_names))
        if roll.obs_changed:
            dead = [n for n, v in zip(box_names, box_stds, strict=True) if np.isfinite(v) and v < self.th.dead_dim_std]
            m["obs_dead_dims"] = float(len(dead))
            m.update({E.DEAD_DIM + n: 1.0 for n in dead})
        ratio = M.std_ratio(box_stds, self.th.dead_dim_std)
        if not math.isnan(ratio):
            m["obs_std_ratio"] = ratio
            live = [(n, float(v)) for n, v in zip(box_names, box_stds, strict=True)
                    if np.isfinite(v) and v > self.th.dead_dim_std]
            big, small = max(live, key=lambda nv: nv[1]), min(live, key=lambda nv: nv[1])
            m[E.STD_LARGEST + big[0]], m[E.STD_SMALLEST + small[0]] = big[1], small[1]

    def _rewards(self, roll: Rollout) -> None:
        s = self.summary
        if roll.first_nonfinite_reward is not None:
            self.metrics["reward_nonfinite_step"] = float(roll.first_nonfinite_reward)
        metrics = reward_metrics(
            roll.rewards, roll.dones, gamma=self.gamma, terminated=roll.terminated,
            components=roll.components or None, thresholds=self.reward_th,
        )
        self.metrics.update(metrics)
        if metrics["_reward_samples"] < self.reward_th.min_samples:
            self.note(
                f"only {int(metrics['_reward_samples'])} finite rewards (RewardThresholds.min_samples = "
                f"{self.reward_th.min_samples}): the reward checks were skipped; raise n_steps"
            )
        finite = roll.rewards[np.isfinite(roll.rewards)]
        if finite.size:
            s.update(reward_mean=float(finite.mean()), reward_std=float(finite.std()), reward_min=float(finite.min()),
                     reward_max=float(finite.max()))
        s.update(reward_nonzero_frac=metrics["reward_nonzero_frac"], reward_snr=metrics["reward_snr"],
                 return_abs_max=metrics["return_abs_max"], gamma=self.gamma)
        if roll.components:
            s["reward_component_shares"] = {
                k[len(COMPONENT_PREFIX):]: v for k, v in metrics.items() if k.startswith(COMPONENT_PREFIX)
            }
        s["reward_metrics"] = metrics

    def _episodes(self, roll: Rollout) -> None:
        m, s = self.metrics, self.summary
        lengths = np.asarray(roll.episode_lengths)
        returns = M.episode_returns(roll.rewards, roll.dones)
        s["episodes"] = int(lengths.size)
        m["episodes"] = float(lengths.size)
        if lengths.size:
            m["episode_length_max"] = float(lengths.max())
            s.update(
                episode_length_mean=float(lengths.mean()), episode_length_std=float(lengths.std()),
                episode_length_min=int(lengths.min()), episode_length_max=int(lengths.max()),
                truncated_frac=float(np.mean(roll.episode_truncated)),
                random_return_mean=float(returns.mean()) if returns.size else math.nan,
                random_return_std=float(returns.std()) if returns.size >= 2 else math.nan,
            )
            if lengths.size >= 3 and lengths.min() == lengths.max() and not any(roll.episode_truncated):
                # every episode "terminates" at one step count: a time limit reported as termination, unless the
                # observation tells the agent how much time is left (then the end is part of the state)
                m["_fixed_termination_length"] = float(lengths[0])
                m["_time_observed"] = float(time_is_observed(roll.obs, roll.positions))
            return
        per_env = roll.rewards.shape[0]
        limit = time_limit(self.driver.env)
        m["_steps_per_env"], m["_time_limit"] = float(per_env), float(limit or 0)
        if limit is not None and limit > per_env:
            self.note(
                f"no episode finished within {per_env} steps per env (time limit {limit}): raise n_steps above "
                f"{limit * self.driver.n_envs} for a random baseline"
            )

    def _learnable(self, roll: Rollout, stat_dims: np.ndarray) -> None:
        """Does any observation feature (or action) correlate with the reward? Measured only where it is defined."""
        m, rt = self.metrics, self.reward_th
        if not roll.obs_changed or roll.first_nonfinite_obs is not None:
            return
        rewards = roll.rewards.reshape(-1)
        if rewards.size != roll.obs.shape[0] or rewards.size < rt.min_samples:
            return
        std, nonzero = m.get("reward_std", math.nan), m.get("reward_nonzero_frac", math.nan)
        if not (std > rt.constant_std and nonzero >= rt.sparse_frac):
            return  # a constant, all-zero or sparse reward has its own verdicts; a correlation says nothing more
        if "image" in self.obs_layout.kinds:
            # pixels are left out of the statistics: what an image shows cannot be correlated with the reward here
            self.note("observation has images: whether the reward follows from the observation was not checked")
            return
        names = [self.obs_layout.names[i] for i in stat_dims]
        features, labels = [], []
        for prefix, block in (("", roll.obs), ("next ", roll.next_obs)):
            features.append(block)
            labels += [f"{prefix}{n}" for n in names]
            features.append(np.abs(block - np.nanmean(block, axis=0)))
            labels += [f"|{prefix}{n} - mean|" for n in names]
        if roll.actions.size:
            features.append(roll.actions)
            labels += self.act_layout.names
            # an action cost (-c * |a|^2, as in MountainCarContinuous) is symmetric: no linear correlation
            features.append(np.abs(roll.actions - np.nanmean(roll.actions, axis=0)))
            labels += [f"|{n} - mean|" for n in self.act_layout.names]
            obs_part = roll.obs[:, :_MAX_PRODUCT_DIMS]
            act_part = roll.actions[:, :_MAX_PRODUCT_DIMS // 4]
            products = (obs_part[:, :, None] * act_part[:, None, :]).reshape(obs_part.shape[0], -1)
            features.append(products)
            labels += [f"{o} x {a}" for o in names[:_MAX_PRODUCT_DIMS] for a in self.act_layout.names[:_MAX_PRODUCT_DIMS // 4]]
        corr = np.abs(M.correlations(np.concatenate(features, axis=1), rewards))
        if not np.any(np.isfinite(corr)):
            return
        best = int(np.nanargmax(corr))
        m["reward_corr_best"], m["_corr_features"] = float(corr[best]), float(len(labels))
        m[E.CORR_FEATURE + labels[best]] = float(corr[best])
        self.summary["reward_corr_best"], self.summary["reward_corr_feature"] = float(corr[best]), labels[best]

    def _determinism(self) -> bool:
        d, th = self.driver, self.th
        plan = action_plan(d, self.seed + 1, th.determinism_steps)
        first = replay(d, self.seed, plan, self.flat)
        second = replay(d, self.seed, plan, self.flat)
        diff = first.first_difference(second)
        self.metrics["_replay_steps"] = float(len(plan))
        if diff is None:
            return True
        step, what = diff
        self.metrics["nondeterministic_step"] = float(step)
        self.metrics[E.DIFFERENCE + what] = 1.0
        return False

    def _reset(self) -> None:
        th, d = self.th, self.driver
        firsts = [self.flat(d.reset(self.seed + 1000 + k)[0]) for k in range(th.reset_seeds)]
        same = all(np.array_equal(firsts[0], f, equal_nan=True) for f in firsts[1:])
        self.metrics["reset_identical"] = float(same)
        self.metrics["_reset_seeds"] = float(th.reset_seeds)

    def _action_effect(self, deterministic: bool) -> None:
        """From the same state, do different actions change what happens?"""
        d, th = self.driver, self.th
        tried = candidates(d.action_space, self.seed + 2)
        if len(tried) < 2:
            self.note("the action space has a single action: the action-effect check does not apply")
            return
        if not deterministic:
            self.note("action-effect check skipped: the environment is not deterministic, so replays differ anyway")
            return
        prefix_plan = action_plan(d, self.seed + 3, MAX_PREFIX)
        probe = replay(d, self.seed, prefix_plan, self.flat, stop_at_end=True)
        episode_end = next((k + 1 for k, (te, tr) in enumerate(probe.ends) if te or tr), MAX_PREFIX + 1)
        usable = max(episode_end - 1, 0)  # prefix lengths that keep the episode running
        prefixes = sorted({int(round(usable * k / max(th.action_states - 1, 1))) for k in range(th.action_states)})
        tail = action_plan(d, self.seed + 4, th.action_horizon - 1)
        self.metrics["_action_candidates"] = float(len(tried))
        for prefix in prefixes:
            traces = []
            for a in tried:
                plan = prefix_plan[:prefix] + [[a] + prefix_plan[0][1:]] + tail
                traces.append(replay(d, self.seed, plan, self.flat, stop_at_end=True))
            if any(traces[0].first_difference(t) is not None for t in traces[1:]):
                self.metrics["action_effect"] = 1.0
                return
        self.metrics["action_effect"] = 0.0
        self.metrics[E.PREFIXES + ", ".join(str(p) for p in prefixes)] = 1.0


def check_training_env(
    env: EnvLike,
    n_steps: int = 1000,
    seed: int = 0,
    *,
    gamma: float = 0.99,
    thresholds: PreflightThresholds | Mapping[str, Any] | None = None,
    reward_thresholds: RewardThresholds | Mapping[str, Any] | None = None,
    warn: bool = True,
    verbose: int = 0,
) -> PreflightReport:
    """
    Run the environment with random actions (plus short seeded replays) and report what would
    keep an agent from learning on it, before any training: constant / NaN / dead / badly scaled
    observations, actions without effect, non-determinism, degenerate episodes, resets that ignore
    the seed, and reward problems (all zero, sparse, tiny or huge, constant, one component
    dominating, unrelated to the observation).

    The report's summary holds the random policy's mean and std episode return: the baseline a
    trained agent must beat.

    The env is left in an arbitrary state and seeded by this check: reset it before use.

    :param env: an env id (``"CartPole-v1"``, made with ``gym.make`` and closed afterwards), a
        gymnasium ``Env``, or an SB3 ``VecEnv`` (checked as the agent sees it, wrappers included;
        VecNormalize statistics are restored afterwards)
    :param n_steps: random env steps of the main rollout (over all sub-envs of a VecEnv); the
        replays add a few hundred more
    :param seed: seed of the env resets and of the action sampling
    :param gamma: discount used for the discounted returns (``reward_scale_huge``)
    :param thresholds: :class:`~sb3_diagnostics.thresholds.PreflightThresholds` or a dict of its fields
    :param reward_thresholds: :class:`~sb3_diagnostics.thresholds.RewardThresholds` or a dict of its fields
    :param warn: also raise a Python warning (a ``DiagnosticWarning`` subclass) per finding at
        warning level or above
    :param verbose: 0 silent; 1 print the report
    :return: a :class:`PreflightReport`: the findings (a ``list[Finding]``), root causes first,
        with ``.summary``, ``.random_return_mean``, ``.random_return_std`` and ``.format()``
    :raises NotAnEnvironmentError: when ``env`` is not an env id, ``gymnasium.Env`` or ``VecEnv``
    :raises InvalidThresholdError: when ``n_steps`` is not a whole number >= 1
    :raises EnvCrashedError: when the environment raises; names the call, step and action
    """
    if isinstance(n_steps, bool) or not isinstance(n_steps, (int, np.integer)) or n_steps < 1:
        # A rollout needs at least one step; rewards are judged from RewardThresholds.min_samples (100) steps on.
        raise InvalidThresholdError(f"n_steps={n_steps!r}: must be a whole number of env steps >= 1 (default 1000).")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise InvalidThresholdError(f"seed={seed!r}: must be an int.")
    if not isinstance(gamma, (int, float, np.floating)) or not 0.0 <= gamma <= 1.0:
        raise InvalidThresholdError(f"gamma={gamma!r}: must be a number in [0, 1].")
    th = PreflightThresholds.coerce(thresholds)
    reward_th = replace(RewardThresholds.coerce(reward_thresholds), consecutive=1)  # one rollout, one window
    made = False
    name = None
    if isinstance(env, str):
        name = env
        try:
            env = gym.make(env)
        except Exception as exc:
            raise NotAnEnvironmentError(
                f"cannot make {env!r} ({type(exc).__name__}: {exc}). Pass a registered id such as 'CartPole-v1' "
                "(import the package that registers yours first), or the env object itself."
            ) from exc
        made = True
    if not isinstance(env, (gym.Env, VecEnv)):
        raise NotAnEnvironmentError(
            f"check_training_env needs an env id, a gymnasium.Env or an SB3 VecEnv; got {type(env).__name__}. "
            "Pass e.g. gym.make('CartPole-v1') or the VecEnv you train on."
        )
    missing = [a for a in ("observation_space", "action_space") if getattr(env, a, None) is None]
    if missing:
        if made:
            env.close()
        raise NotAnEnvironmentError(
            f"{type(env).__name__} has no {' and no '.join(missing)}: SB3 reads both from the env. Set them in "
            "__init__, e.g. self.observation_space = gymnasium.spaces.Box(-1, 1, (3,)) and "
            "self.action_space = gymnasium.spaces.Discrete(2)."
        )
    driver = Driver(env)
    try:
        measure = _Measure(driver, int(n_steps), int(seed), float(gamma), th, reward_th)
        measure.summary.update(
            env=describe(env, name), seed=int(seed), n_envs=driver.n_envs,
            observation_space=str(driver.observation_space), action_space=str(driver.action_space),
        )
        if driver.normalizers:
            seen = ("observations checked as the agent sees them (normalised)"
                    if any(getattr(w, "norm_obs", False) for w, _ in driver.normalizers)
                    else "observations are not normalised (norm_obs=False)")
            measure.note(f"VecNormalize in the stack: {seen}, rewards as the environment gives them; its statistics "
                         "were restored afterwards")
        checked = checked_env(env)
        said = run_checkers(checked) if checked is not None else []
        for checker, kind, message in said:
            measure.metrics[f"{CHECKER}{checker}|{kind}|{message}"] = 1.0
        if checked is None:
            measure.note("SB3's and Gymnasium's check_env were not run: the envs of this VecEnv live in other "
                         "processes (run check_training_env on one env, e.g. gym.make(...), to include them)")
        try:
            measure.run()
        except (EnvCrashedError, NotAnEnvironmentError) as exc:
            if not any(checker_verdict(*found)[1] is Severity.ERROR for found in said):
                raise
            # the checkers already say why the env cannot be driven: report that rather than the crash
            measure.note(f"the random rollout stopped at once ({exc}); only the env checkers' findings are reported")
    finally:
        driver.restore_normalization()
        if made:
            env.close()
    engine = Engine(cooldown=0, emit=False)
    rules = [
        EnvironmentRule(th, seed=int(seed), space=str(driver.observation_space)),
        RewardRule(reward_th, enabled=PREFLIGHT_REWARD_CODES, prefix="under random actions, "),
    ]
    engine.judge(0, measure.metrics, rules, "environment")
    report = PreflightReport(engine.findings, measure.summary)
    if warn:
        warn_findings(report)
    if verbose >= 1:
        print(report.format())
    return report


def time_is_observed(obs: np.ndarray, positions: np.ndarray, min_corr: float = 0.99) -> bool:
    """
    :param obs: (N, D) observations
    :param positions: (N,) the step of its episode at which each was observed
    :return: whether one observation dim follows the step count (a clock or a time-left feature)
    """
    if obs.size == 0 or positions.size != obs.shape[0] or np.std(positions) == 0:
        return False
    centred = obs - obs.mean(axis=0)
    spread = centred.std(axis=0)
    steps = (positions - positions.mean()) / positions.std()
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = (centred * steps[:, None]).mean(axis=0) / spread
    return bool(np.any(np.abs(corr[spread > 0]) >= min_corr))
