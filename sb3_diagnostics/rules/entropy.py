"""Exploration: entropy collapse, action-std collapse, a policy that never leaves random."""

from __future__ import annotations

import dataclasses

from sb3_diagnostics.findings import Alert, Severity
from sb3_diagnostics.rules.base import Metrics, ReturnProgress, Rule, Streak, Window, get
from sb3_diagnostics.thresholds import EntropyThresholds


def _converged(alert: Alert, progress: ReturnProgress) -> Alert:
    """A collapse while the return is near its best, after a real rise: the policy converged. Worth knowing only."""
    return dataclasses.replace(
        alert, severity=Severity.INFO,
        message=alert.message + f" But {progress.describe()}: the policy converged to a near-deterministic one on a "
        "task it solves, which is what a solved task looks like.",
        hint="Nothing to fix while the return holds; if the task changes (a curriculum, a new env), keep some "
        "exploration (ent_coef, log_std_init).",
    )


class _Pool:
    """Pools measurements taken on too few observations (A2C's rollouts of 5 steps) until they are enough."""

    def __init__(self, min_samples: int) -> None:
        self.min_samples = min_samples
        self._sum = 0.0
        self._n = 0.0

    def take(self, value: float | None, samples: float | None) -> float | None:
        """:return: ``value`` when it stands on enough samples, the pooled mean once the pool does, else None"""
        if value is None or samples is None or samples >= self.min_samples:
            return value
        self._sum += value * samples
        self._n += samples
        if self._n < self.min_samples:
            return None
        pooled, self._sum, self._n = self._sum / self._n, 0.0, 0.0
        return pooled


class EntropyRule(Rule):
    """
    Reads ``entropy_normalized`` (entropy / its maximum, min over action dims; measurements on fewer than
    ``min_samples`` observations, ``_policy_samples``, are pooled until they are enough), ``approx_kl`` (or, for
    A2C, which logs none, ``_kl_from_start``: the mean KL of its action distribution from its first rollout's),
    ``_progress`` (fraction of training done) and ``_ep_rew_mean`` (the mean episode return: a collapse
    while the return is near its best after a substantial rise is a converged policy, reported as ``info``).
    """

    codes = ("entropy_collapse", "policy_stays_random")

    def __init__(self, thresholds: EntropyThresholds | None = None) -> None:
        super().__init__()
        self.th = thresholds or EntropyThresholds()
        self._low = Streak()
        self._previous: float | None = None
        self._kl = Window(self.th.random_updates)
        self._pool = _Pool(self.th.min_samples)
        self.returns = ReturnProgress()
        self._start_kl: float | None = None

    def _observe(self, step: int, metrics: Metrics) -> list[Alert]:
        self.returns.observe(metrics)
        alerts = self._judge(metrics)
        if self.returns.improved(self.th.converged_gain):
            alerts = [_converged(a, self.returns) if a.code == "entropy_collapse" else a for a in alerts]
        return alerts

    def _judge(self, metrics: Metrics) -> list[Alert]:
        th = self.th
        alerts: list[Alert] = []
        kl = get(metrics, "approx_kl")
        if kl is not None:
            self._kl.push(kl)
        start_kl = get(metrics, "_kl_from_start")
        if start_kl is not None:
            self._start_kl = start_kl
        h = self._pool.take(get(metrics, "entropy_normalized"), get(metrics, "_policy_samples"))
        if h is None:
            return alerts
        previous, self._previous = self._previous, h
        low = self._low.update(h < th.collapse)
        if low >= th.consecutive:
            alerts.append(Alert(
                "entropy_collapse",
                f"policy entropy fell to {h:.3f} of its maximum (threshold {th.collapse}) for {low} updates: "
                "the policy is almost deterministic, stopped exploring, and will keep repeating the first "
                "strategy that worked.",
                h, th.collapse,
            ))
        elif previous is not None and previous > th.collapse and h < (1.0 - th.sudden_drop) * previous:
            alerts.append(Alert(
                "entropy_collapse",
                f"policy entropy dropped {100 * (1 - h / previous):.0f}% in one update, from {previous:.3f} to "
                f"{h:.3f} of its maximum (threshold: a {100 * th.sudden_drop:.0f}% drop): one update wrecked the "
                "policy, the classic 'worked for 50k steps, then collapsed'.",
                h, (1.0 - th.sudden_drop) * previous,
            ))
        progress = get(metrics, "_progress")
        if progress is None or progress < th.random_after or h <= th.random_entropy:
            return alerts
        if self._kl.full and self._kl.median() < th.random_kl:
            alerts.append(Alert(
                "policy_stays_random",
                f"after {100 * progress:.0f}% of training the policy entropy is still {h:.3f} of its maximum "
                f"(threshold {th.random_entropy}) and the median approx KL of the last {len(self._kl)} updates is "
                f"{self._kl.median():.2g} "
                f"(threshold {th.random_kl:g}): the policy never left its random start.",
                h, th.random_entropy,
            ))
        elif kl is None and self._start_kl is not None and self._start_kl < th.random_start_kl:
            alerts.append(Alert(
                "policy_stays_random",
                f"after {100 * progress:.0f}% of training the policy entropy is still {h:.3f} of its maximum "
                f"(threshold {th.random_entropy}) and its action distribution on a fixed batch of observations "
                f"moved a mean KL of {max(self._start_kl, 0.0):.2g} from where it was after the first rollout "
                f"(threshold {th.random_start_kl:g}; healthy runs move 1e-3 or more in their first updates): the "
                "policy never left its random start.",
                h, th.random_entropy,
            ))
        return alerts


class ActionStdRule(Rule):
    """
    Reads ``action_std_min``: the smallest action standard deviation, as a fraction of that
    action dimension's range. The first value seen is the reference "initial std".
    """

    codes = ("action_std_collapse",)

    def __init__(self, thresholds: EntropyThresholds | None = None) -> None:
        super().__init__()
        self.th = thresholds or EntropyThresholds()
        self.initial: float | None = None
        self._low = Streak()
        self._pool = _Pool(self.th.min_samples)
        self.returns = ReturnProgress()

    def _observe(self, step: int, metrics: Metrics) -> list[Alert]:
        self.returns.observe(metrics)
        alerts = self._judge(metrics)
        if self.returns.improved(self.th.converged_gain):
            alerts = [_converged(a, self.returns) for a in alerts]
        return alerts

    def _judge(self, metrics: Metrics) -> list[Alert]:
        th = self.th
        measured = get(metrics, "action_std_min")
        if measured is None and self.initial is None:
            return self._without_entropy_bonus(get(metrics, "_ent_coef"))
        std = self._pool.take(measured, get(metrics, "_policy_samples"))
        if std is None:
            return []
        if self.initial is None:
            self.initial = std
        collapsed = std < th.std_collapse and std * th.std_drop_factor <= self.initial
        if self._low.update(collapsed) < th.consecutive:
            return []
        return [Alert(
            "action_std_collapse",
            f"the smallest action std is {std:.2g} of the action range (threshold {th.std_collapse}), "
            f"{self.initial / max(std, 1e-12):.0f}x below its initial {self.initial:.2g}: the policy became "
            "deterministic in that action dimension and stopped exploring it.",
            std, th.std_collapse,
        )]

    def _without_entropy_bonus(self, ent_coef: float | None) -> list[Alert]:
        """
        Post hoc, SB3 logs no std for SAC, TQC or CrossQ, only ``train/ent_coef``: an entropy coefficient of 0
        leaves nothing that keeps the std up (the actor maximises Q, which a narrower policy does best), so the
        std collapses. Inferred, and said to be.
        """
        th = self.th
        if ent_coef is None or self._low.update(ent_coef == 0.0) < th.consecutive:
            return []
        return [Alert(
            "action_std_collapse",
            f"train/ent_coef was 0 for {self._low.count} log dumps in a row: without an entropy bonus nothing keeps "
            "the policy's std up (the actor maximises Q, which a narrower policy does best), so it collapses and the "
            "policy stops exploring. Inferred from the logs (SB3 does not log this algorithm's std); the live "
            "callback measures the std itself.",
            0.0, th.std_collapse,
            hint="Use ent_coef='auto' (SB3's default for SAC, TQC and CrossQ) or a positive ent_coef.",
        )]


class ActionNoiseRule(Rule):
    """
    ``action_noise_missing``: a deterministic actor (TD3, DDPG) whose actions barely vary over the steps since the last
    measurement (``behaviour_action_std``, the largest over action dims in SB3's [-1, 1] scaling, on
    ``_behaviour_samples`` steps) while ``action_noise`` is None (``_action_noise`` = 0). Its only exploration after
    ``learning_starts`` is the action noise: without it (SB3 #936) it repeats one action and never finds the reward.
    A policy that converged to a near-constant action on a task it solves (its return rose and holds) is only info.
    """

    codes = ("action_noise_missing",)

    def __init__(self, thresholds: EntropyThresholds | None = None) -> None:
        super().__init__()
        self.th = thresholds or EntropyThresholds()
        self._still = Streak()
        self.returns = ReturnProgress()

    def _observe(self, step: int, metrics: Metrics) -> list[Alert]:
        th = self.th
        self.returns.observe(metrics)
        std, samples = get(metrics, "behaviour_action_std"), get(metrics, "_behaviour_samples")
        if std is None or samples is None or samples < th.min_samples or get(metrics, "_action_noise"):
            # with action noise set, the user chose how to explore: a policy at an action bound keeps only the
            # clipped half of it (a std of ~0.06 for rl-zoo3's sigma of 0.1), which is not a missing noise
            return []
        if self._still.update(std < th.behaviour_std) < th.consecutive:
            return []
        why = ("no action_noise is set, and TD3 and DDPG act deterministically: after learning_starts their only "
               "exploration is that noise")
        alert = Alert(
            "action_noise_missing",
            f"the actions the agent took varied by a std of only {std:.2g} in every dim (SB3's [-1, 1] scaling of the action "
            f"space; threshold {th.behaviour_std:g}) over the last {int(samples)} steps, {self._still.count} "
            f"measurements in a row: it keeps taking one action and explores nothing ({why}; SB3 #936).",
            std, th.behaviour_std,
            hint="Pass action_noise=NormalActionNoise(mean=np.zeros(n), sigma=0.1 * np.ones(n)) (rl-zoo3's TD3 / DDPG "
            "setting; OrnsteinUhlenbeckActionNoise with sigma 0.5 for MountainCarContinuous), or use SAC, which "
            "explores by itself.",
        )
        if self.returns.improved(th.converged_gain):
            return [_converged(alert, self.returns)]
        return [alert]


class ExplorationScheduleRule(Rule):
    """
    Judges the exploration schedule of a ``learn()`` call (metrics of
    :func:`sb3_diagnostics.sb3.train_log.learn_schedule`): ``exploration_ends_before_learning`` when an
    epsilon-greedy model's epsilon reaches its final value at or before ``learning_starts`` (SB3 #529), and
    ``exploration_restarted`` when a model that already trained starts a ``learn()`` with its step counter reset
    (``reset_num_timesteps=True``, the default), which restarts epsilon from ``exploration_initial_eps`` and the
    random ``learning_starts`` phase (SB3 #1340, #1629); it holds until epsilon is back at its final value.
    The metrics are read once, at the start of ``learn()``, and judged at each measurement.
    """

    codes = ("exploration_ends_before_learning", "exploration_restarted")

    def __init__(self, thresholds: EntropyThresholds | None = None) -> None:
        super().__init__()

    def _observe(self, step: int, metrics: Metrics) -> list[Alert]:
        initial, final, end = (get(metrics, k) for k in ("_eps_initial", "_eps_final", "_eps_end"))
        if initial is None or final is None or end is None or initial <= final:
            return []  # no decaying epsilon: nothing to judge
        starts = get(metrics, "_learning_starts") or 0.0
        learn_end = get(metrics, "_learn_end") or 0.0
        start = get(metrics, "_learn_start") or 0.0
        before = get(metrics, "_updates_before") or 0.0
        alerts: list[Alert] = []
        if before > 0 and start == 0 and step < end:  # a problem until epsilon is back at its final value
            random_phase = (f" It also acts uniformly at random, without a gradient step, for its first "
                            f"learning_starts={int(starts)} steps again." if starts > 0 else "")
            alerts.append(Alert(
                "exploration_restarted",
                f"learn() starts at step 0 with a model that already did {int(before)} gradient updates: "
                f"reset_num_timesteps=True (learn()'s default) restarts the exploration schedule, so epsilon is back "
                f"at exploration_initial_eps={initial:g} and decays to {final:g} only by step {end:.0f}: the trained "
                f"agent acts mostly at random and its returns fall back to a beginner's.{random_phase}",
                before, 0.0,
                hint="Continue with model.learn(N, reset_num_timesteps=False), or set model.exploration_initial_eps "
                     "(and exploration_final_eps) to the epsilon it ended with before calling learn().",
            ))
        if 0 < starts < learn_end and end <= starts:
            target = min(4 * starts, (starts + learn_end) / 2)  # decay over the first stretch of learning
            alerts.append(Alert(
                "exploration_ends_before_learning",
                f"epsilon decays from {initial:g} to its final {final:g} by step {end:.0f} (exploration_fraction of "
                f"the {learn_end:.0f} steps), at or before learning_starts={int(starts)}, when the first gradient step "
                f"happens: all of its decay is spent while the agent acts at random anyway, and from the first update "
                f"on it explores with epsilon={final:g} only, so a Q-network that prefers one action keeps choosing it.",
                end, starts,
                hint=f"Raise exploration_fraction so that epsilon decays after learning starts (e.g. "
                     f"exploration_fraction={target / learn_end:.2g}: epsilon reaches {final:g} at step {target:.0f}), "
                     "or lower learning_starts.",
            ))
        return alerts
