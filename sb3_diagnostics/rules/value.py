"""Value function and advantages: negative explained variance, degenerate or exploding advantages."""

from __future__ import annotations

import numpy as np

from sb3_diagnostics.findings import Alert, Severity
from sb3_diagnostics.rules.base import Metrics, ReturnProgress, Rule, Streak, Window, get
from sb3_diagnostics.thresholds import ValueThresholds


class ExplainedVarianceRule(Rule):
    """
    Reads ``explained_variance`` (one value per window of at least ``window_samples`` samples: sources
    pool small rollouts), ``ev_stderr`` (its standard error over the window) and ``value_error_rel``
    (the critic's error against the size of the returns), and ``_explained_variance_samples``.

    A window counts only when the critic's error is not negligible against the returns (when every return
    is nearly the same, as in a solved task, explained variance divides by ~0 and is noise):

    - ``explained_variance_negative``: ``consecutive`` windows in a row whose explained variance lies below
      ``ev_negative`` by more than ``ev_confidence`` standard errors (``ev_offline_margin`` when none is
      known); an error when the mean of those windows lies that clearly below ``ev_error``;
    - ``critic_not_learning``: ``not_learning_windows`` windows in a row whose explained variance is near 0
      or below (below ``ev_near_zero`` with confidence) while the critic is off by more than
      ``not_learning_error`` of the size of the returns: it predicts nothing. (A critic that predicts the
      mean return, as on CartPole while it learns, explains ~0 of the variance but is off by a quarter only;
      and while the mean return, ``_ep_rew_mean``, keeps rising substantially, the agent learns anyway.)
    """

    codes = ("explained_variance_negative", "critic_not_learning")

    def __init__(self, thresholds: ValueThresholds | None = None) -> None:
        super().__init__()
        self.th = thresholds or ValueThresholds()
        self._negative = Streak()
        self._flat = Streak()
        self._recent: Window = Window(self.th.consecutive)
        self._recent_se: Window = Window(self.th.consecutive)
        self.returns = ReturnProgress()

    def _observe(self, step: int, metrics: Metrics) -> list[Alert]:
        th = self.th
        self.returns.observe(metrics)
        ev = get(metrics, "explained_variance")
        if ev is None or self.updates <= th.warmup_updates or step < th.warmup_samples:
            return []
        stderr, rel = get(metrics, "ev_stderr"), get(metrics, "value_error_rel")
        margin = th.ev_confidence * stderr if stderr is not None else th.ev_offline_margin
        material = rel is None or rel >= th.ev_relative_error
        n = self._negative.update(material and ev + margin < th.ev_negative)
        off = rel is None or rel >= th.not_learning_error
        # a critic that explains nothing while the agent still gets substantially better is a poor baseline,
        # not a broken run (policy gradients learn with any baseline)
        learning = self.returns.improved(th.learning_gain, near=1.0)
        flat = self._flat.update(material and off and not learning and ev + margin < th.ev_near_zero)
        self._recent.push(ev)
        self._recent_se.push(stderr if stderr is not None else th.ev_offline_margin / th.ev_confidence)
        samples = get(metrics, "_explained_variance_samples")
        size = f" of {int(samples)} samples" if samples else ""
        scale = f"; the critic's error is {100 * rel:.0f}% of the size of the returns" if rel is not None else ""
        values = ", ".join(f"{v:.2f}" for v in self._recent.values)
        if n >= th.consecutive:
            return [self._negative_alert(n, size, scale, values, stderr)]
        if flat >= th.not_learning_windows:
            return [Alert(
                "critic_not_learning",
                f"explained variance stayed near 0 for {flat} windows{size} in a row (last: {values}; below "
                f"{th.ev_near_zero:g} with confidence{scale}): the value function predicts nothing about the returns, "
                "so the advantages are the raw returns and the policy learns from noise.",
                ev, th.ev_near_zero,
            )]
        return []

    def _negative_alert(self, n: int, size: str, scale: str, values: str, stderr: float | None) -> Alert:
        th = self.th
        k = len(self._recent)
        mean = self._recent.mean()
        mean_se = float(np.sqrt(np.sum(np.square(self._recent_se.values)))) / k
        error = mean + th.ev_confidence * mean_se < th.ev_error
        how_sure = (f"each below {th.ev_negative:g} by more than {th.ev_confidence:g} standard errors (now {stderr:.2g})"
                    if stderr is not None else f"each below {th.ev_negative:g} by more than {th.ev_offline_margin:g}")
        limit = th.ev_error if error else th.ev_negative
        why = (
            "the critic's predictions are further from the returns than their mean is (it fits noise or is "
            "anti-correlated), so its advantages point the wrong way."
            if error
            else "the value function predicts returns worse than their mean, so advantages are mostly noise."
        )
        more = f"; their mean {mean:.2f} is below {th.ev_error:g} with confidence" if error else ""
        return Alert(
            "explained_variance_negative",
            f"explained variance stayed below {th.ev_negative:g} for {n} windows{size} in a row (last: {values}; "
            f"{how_sure}{more}{scale}): {why}",
            mean, limit,
            severity=Severity.ERROR if error else None,
        )


class AdvantageRule(Rule):
    """
    Reads ``advantage_std`` and ``advantage_abs_max`` of each window of at least ``advantage_samples``
    advantages (before normalisation; sources pool small rollouts), and ``advantage_horizon`` (``1 / (1 - gamma)``):
    an advantage explodes above ``max(advantage_abs_max, advantage_horizons * advantage_horizon)``, beyond what
    rewards of unit size can give.

    Advantages without variance from the start mean rewards that never differ between actions; advantages
    that had variance and lost it mean a critic that predicts every return of a deterministic policy exactly:
    a converged run, reported as ``info``.
    """

    codes = ("advantage_zero_variance", "advantage_explosion")

    def __init__(self, thresholds: ValueThresholds | None = None) -> None:
        super().__init__()
        self.th = thresholds or ValueThresholds()
        self._flat = Streak()
        self._huge = Streak()
        self._huge_values = Window(self.th.advantage_consecutive)
        #: whether any window had advantages that varied
        self.had_signal = False

    def _observe(self, step: int, metrics: Metrics) -> list[Alert]:
        th, alerts = self.th, []
        std = get(metrics, "advantage_std")
        if std is not None and std >= th.advantage_std_min:
            self.had_signal = True
        if std is not None and self._flat.update(std < th.advantage_std_min) >= th.advantage_consecutive:
            if self.had_signal:
                alerts.append(Alert(
                    "advantage_zero_variance",
                    f"advantage std was {std:.2g} (threshold {th.advantage_std_min:g}) for {self._flat.count} windows, "
                    "after varying earlier in the run: the critic now predicts every return exactly, which a "
                    "deterministic policy on a solved task allows. Nothing is left to learn from these rollouts.",
                    std, th.advantage_std_min, severity=Severity.INFO,
                    hint="Nothing to fix if the return is where you want it; otherwise keep exploring (ent_coef).",
                ))
            else:
                alerts.append(Alert(
                    "advantage_zero_variance",
                    f"advantage std was {std:.2g} (threshold {th.advantage_std_min:g}) for {self._flat.count} windows "
                    "since the start: every action looks equally good, so the policy gradient is zero and the "
                    "policy cannot learn.",
                    std, th.advantage_std_min,
                ))
        biggest = get(metrics, "advantage_abs_max")
        if biggest is not None:
            # unit rewards give advantages up to the span of the discounted return, 1 / (1 - gamma)
            horizon = get(metrics, "advantage_horizon") or 0.0
            limit = max(th.advantage_abs_max, th.advantage_horizons * horizon)
            self._huge_values.push(biggest)
            if self._huge.update(biggest > limit) >= th.advantage_consecutive:
                span = f"; rewards of size 1 give advantages up to about 1/(1-gamma) = {horizon:.3g}" if horizon else ""
                alerts.append(Alert(
                    "advantage_explosion",
                    f"the largest |advantage| was {float(np.min(self._huge_values.values)):.3g} or more in each of the "
                    f"last {self._huge.count} windows (threshold {limit:.3g}{span}): the reward scale is too large for "
                    "the critic, value loss dominates and updates are noisy.",
                    biggest, limit,
                ))
        return alerts
