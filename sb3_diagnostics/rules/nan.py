"""NaN/Inf anywhere: observations, rewards, actions, losses, gradients, parameters."""

from __future__ import annotations

from sb3_diagnostics.findings import Alert
from sb3_diagnostics.rules.base import Metrics, Rule, get, labels, listing

#: prefix of context keys naming where a non-finite value was seen (the value is the step)
NONFINITE_AT = "_nonfinite_at:"


class NonFiniteRule(Rule):
    """
    Reads ``nonfinite_count``: NaN/Inf entries found since the last observation, in observations,
    rewards, actions, losses, parameters or gradients, and where the first of them was seen, as
    the context key ``_nonfinite_at:<where>`` whose value is the step. The first location ever
    seen is kept and repeated in every alert: that is where to start looking.
    """

    codes = ("nan_detected",)

    def __init__(self, thresholds: None = None) -> None:
        super().__init__()
        self.first: tuple[str, int] | None = None

    def _observe(self, step: int, metrics: Metrics) -> list[Alert]:
        count = get(metrics, "nonfinite_count")
        if not count:
            return []
        where = labels(metrics, NONFINITE_AT)
        if self.first is None and where:
            self.first = (where[0], int(metrics[NONFINITE_AT + where[0]]))
        first = f"The first appeared in {self.first[0]} at step {self.first[1]}" if self.first else "Source unknown"
        also = [w for w in where if self.first is None or w != self.first[0]]
        more = f"; now also in {listing(also, 3)}" if also else ""
        return [Alert(
            "nan_detected",
            f"{first}{more} ({int(count)} non-finite value(s) since the last check). Once a NaN reaches the loss, "
            "every parameter it touches becomes NaN and the policy is lost.",
            count, 0.0,
        )]
