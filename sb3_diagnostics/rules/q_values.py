"""Off-policy value learning: diverging Q-values, disagreeing twin critics, a target network that moves too fast."""

from __future__ import annotations

from sb3_diagnostics.findings import Alert, Severity
from sb3_diagnostics.rules.base import Metrics, Rule, Streak, Window, get
from sb3_diagnostics.thresholds import QValueThresholds


class QValueRule(Rule):
    """
    Reads ``q_mean`` (mean Q of replay-buffer transitions, averaged over the critics) and
    ``q_value_spread`` (mean ``|Q1 - Q2|``, or max - min over more critics), one value per measurement.

    ``|mean Q|`` above ``q_abs_max`` is reported as divergence while it keeps growing (by more than
    ``q_growth`` across ``consecutive`` measurements); a large but stable value is only ``info``:
    a well-trained agent on a task with large returns legitimately sits there.
    """

    codes = ("q_value_divergence", "q_twin_divergence")

    def __init__(self, thresholds: QValueThresholds | None = None) -> None:
        super().__init__()
        self.th = thresholds or QValueThresholds()
        self._large = Streak()
        self._abs = Window(self.th.consecutive + 1)
        self._apart = Streak()

    def _observe(self, step: int, metrics: Metrics) -> list[Alert]:
        alerts: list[Alert] = []
        q, spread = get(metrics, "q_mean"), get(metrics, "q_value_spread")
        if q is not None:
            alerts += self._judge_mean(q)
        if spread is not None:
            alerts += self._judge_spread(spread, q)
        return alerts

    def _judge_mean(self, q: float) -> list[Alert]:
        th = self.th
        self._abs.push(abs(q))
        n = self._large.update(abs(q) > th.q_abs_max)
        if n < th.consecutive:
            return []
        before = self._abs.first()
        growing = self._abs.full and abs(q) > (1.0 + th.q_growth) * before
        if growing:
            return [Alert(
                "q_value_divergence",
                f"the mean Q-value is {q:.4g} and still growing ({before:.4g} in absolute value {len(self._abs) - 1} "
                f"measurements ago; threshold |Q| > {th.q_abs_max:g}): the critic bootstraps on its own "
                "overestimates, its targets run away, and the actor follows a critic that no longer ranks actions.",
                q, th.q_abs_max,
            )]
        return [Alert(
            "q_value_divergence",
            f"the mean Q-value is {q:.4g} (above {th.q_abs_max:g} in absolute value for {n} measurements) but no "
            "longer growing: fine if the returns of your task are that large, otherwise scale the rewards down.",
            q, th.q_abs_max, severity=Severity.INFO,
        )]

    def _judge_spread(self, spread: float, q: float | None) -> list[Alert]:
        th = self.th
        relative = spread / abs(q) if q else float("inf")
        n = self._apart.update(spread > th.twin_spread and relative > th.twin_relative)
        if n < th.consecutive:
            return []
        return [Alert(
            "q_twin_divergence",
            f"the twin critics disagree by {spread:.4g} on average ({100 * relative:.0f}% of |mean Q|) for {n} "
            f"measurements in a row (threshold {th.twin_spread:g} and {100 * th.twin_relative:.0f}%): at least one "
            "critic is far off, and the min over critics then drags the targets down (or the max up).",
            spread, th.twin_spread,
        )]


class TargetUpdateRule(Rule):
    """
    Reads ``target_drift_ratio``: how many polyak updates of strength ``tau`` the target network's
    observed movement amounts to, divided by how many ``tau`` / ``target_update_interval`` allow over
    the same optimizer steps (1.0 when training is correct, ~2 for a doubled update). Context:
    ``_target_updates_seen`` and ``_target_updates_allowed``.
    """

    codes = ("target_update_too_fast",)

    def __init__(self, thresholds: QValueThresholds | None = None) -> None:
        super().__init__()
        self.th = thresholds or QValueThresholds()
        self._fast = Streak()

    def _observe(self, step: int, metrics: Metrics) -> list[Alert]:
        th = self.th
        ratio = get(metrics, "target_drift_ratio")
        if ratio is None:
            return []
        n = self._fast.update(ratio > th.drift_ratio)
        if n < th.consecutive:
            return []
        seen, allowed = get(metrics, "_target_updates_seen"), get(metrics, "_target_updates_allowed")
        counts = (
            f" (it moved as much as {seen:.1f} updates would, where {allowed:.0f} were due)"
            if seen is not None and allowed is not None else ""
        )
        return [Alert(
            "target_update_too_fast",
            f"the target network moves {ratio:.2f}x as fast as tau and target_update_interval allow{counts}, for {n} "
            f"measurements in a row (threshold {th.drift_ratio:g}x): the target chases the online network, the "
            "bootstrapped targets stop being stable, and value learning becomes unstable (a polyak_update applied "
            "twice per step does exactly this).",
            ratio, th.drift_ratio,
        )]
