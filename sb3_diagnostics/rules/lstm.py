"""Recurrent policies: hidden state that leaks from one episode into the next."""

from __future__ import annotations

from sb3_diagnostics.findings import Alert
from sb3_diagnostics.rules.base import Metrics, Rule, get
from sb3_diagnostics.thresholds import LSTMThresholds


class RecurrentStateRule(Rule):
    """
    Reads ``lstm_reset_violation`` (largest relative change of the policy's output at tested
    episode starts caused by the previous episode's state; 0 when the reset works),
    ``_lstm_reset_checked`` (how many episode starts were tested) and
    ``lstm_hidden_boundaries`` (episodes that ended without the VecEnv reporting done).
    """

    codes = ("lstm_state_not_reset",)

    def __init__(self, thresholds: LSTMThresholds | None = None) -> None:
        super().__init__()
        self.th = thresholds or LSTMThresholds()

    def _observe(self, step: int, metrics: Metrics) -> list[Alert]:
        th, alerts = self.th, []
        violation = get(metrics, "lstm_reset_violation")
        if violation is not None and violation > th.tolerance:
            checked = get(metrics, "_lstm_reset_checked")
            where = f"at {int(checked)} tested episode starts" if checked else "at episode starts"
            alerts.append(Alert(
                "lstm_state_not_reset",
                f"{where} the policy's output still depended on the previous episode's hidden state (relative "
                f"change up to {violation:.2g}, threshold {th.tolerance:g}; a correct reset gives exactly 0): the "
                "policy ignores episode_starts and carries memory from one episode into the next.",
                violation, th.tolerance,
            ))
        hidden = get(metrics, "lstm_hidden_boundaries")
        if hidden:
            alerts.append(Alert(
                "lstm_state_not_reset",
                f"{int(hidden)} episode(s) ended (Monitor reported a finished episode) while the VecEnv reported "
                "done=False: the algorithm never set episode_starts there, so the LSTM state carried over into the "
                "next episode. A wrapper above Monitor swallows terminated/truncated (e.g. it resets the env itself).",
                hidden, 0.0,
            ))
        return alerts
