"""Value function and advantages: negative explained variance, degenerate or exploding advantages."""

from __future__ import annotations

import numpy as np

from sb3_diagnostics.findings import Alert, Severity
from sb3_diagnostics.rules.base import Metrics, Rule, Streak, Window, get
from sb3_diagnostics.thresholds import ValueThresholds


class ExplainedVarianceRule(Rule):
    """
    Reads ``explained_variance``, one value per window of at least ``window_samples`` samples
    (sources pool small rollouts), and optionally ``_explained_variance_samples``.
    """

    codes = ("explained_variance_negative",)

    def __init__(self, thresholds: ValueThresholds | None = None) -> None:
        super().__init__()
        self.th = thresholds or ValueThresholds()
        self._negative = Streak()
        self._recent = Window(self.th.consecutive)

    def _observe(self, step: int, metrics: Metrics) -> list[Alert]:
        th = self.th
        ev = get(metrics, "explained_variance")
        if ev is None or self.updates <= th.warmup_updates or step < th.warmup_samples:
            return []
        self._recent.push(ev)
        n = self._negative.update(ev < th.ev_negative)
        if n < th.consecutive:
            return []
        median = self._recent.median()
        values = ", ".join(f"{v:.2f}" for v in self._recent.values)
        samples = get(metrics, "_explained_variance_samples")
        size = f" of {int(samples)} samples" if samples else ""
        error = median < th.ev_error
        why = (
            "the critic's predictions are further from the returns than their mean is (it fits noise or is "
            "anti-correlated), so its advantages point the wrong way."
            if error
            else "the value function predicts returns worse than their mean, so advantages are mostly noise."
        )
        limit = f"{th.ev_negative}" + (f", error below {th.ev_error}" if error else "")
        return [Alert(
            "explained_variance_negative",
            f"explained variance stayed below {th.ev_negative} for {n} windows{size} in a row (last: {values}; "
            f"threshold {limit}): {why}",
            median, th.ev_error if error else th.ev_negative,
            severity=Severity.ERROR if error else None,
        )]


class AdvantageRule(Rule):
    """Reads ``advantage_std`` and ``advantage_abs_max`` of each rollout (before normalisation)."""

    codes = ("advantage_zero_variance", "advantage_explosion")

    def __init__(self, thresholds: ValueThresholds | None = None) -> None:
        super().__init__()
        self.th = thresholds or ValueThresholds()
        self._flat = Streak()
        self._huge = Streak()
        self._huge_values = Window(self.th.advantage_consecutive)

    def _observe(self, step: int, metrics: Metrics) -> list[Alert]:
        th, alerts = self.th, []
        std = get(metrics, "advantage_std")
        if std is not None and self._flat.update(std < th.advantage_std_min) >= th.advantage_consecutive:
            alerts.append(Alert(
                "advantage_zero_variance",
                f"advantage std was {std:.2g} (threshold {th.advantage_std_min:g}) for {self._flat.count} rollouts: "
                "every action looks equally good, so the policy gradient is zero and the policy cannot learn.",
                std, th.advantage_std_min,
            ))
        biggest = get(metrics, "advantage_abs_max")
        if biggest is not None:
            self._huge_values.push(biggest)
            if self._huge.update(biggest > th.advantage_abs_max) >= th.advantage_consecutive:
                alerts.append(Alert(
                    "advantage_explosion",
                    f"the largest |advantage| was {float(np.min(self._huge_values.values)):.3g} or more in each of the "
                    f"last {self._huge.count} rollouts (threshold {th.advantage_abs_max:g}): the reward scale is too "
                    "large for the critic, value loss dominates and updates are noisy.",
                    biggest, th.advantage_abs_max,
                ))
        return alerts
