"""QValueCallback: Q-value scale, twin-critic agreement and target-network speed of off-policy algorithms."""

from __future__ import annotations

from typing import Any

from sb3_diagnostics.callbacks.base import DiagnosticCallback
from sb3_diagnostics.sb3.buffers import q_stats
from sb3_diagnostics.sb3.gradient_tap import GradientTap
from sb3_diagnostics.sb3.models import critic_of, is_off_policy
from sb3_diagnostics.sb3.target_probe import TargetProbe
from sb3_diagnostics.thresholds import QValueThresholds


class QValueCallback(DiagnosticCallback):
    """
    Off-policy value learning (SAC, TD3, DDPG, DQN, and sb3-contrib's TQC, QR-DQN, CrossQ):

    - ``q_value_divergence``: ``|mean Q|`` above 1000 and still growing (above 1000 but stable
      is ``info``: a trained agent on a task with large returns sits there legitimately);
    - ``q_twin_divergence``: the critics disagree by more than 100 on average (and by more than
      10% of ``|mean Q|``);
    - ``target_update_too_fast``: the target network moves more per update than ``tau`` and
      ``target_update_interval`` allow (a doubled ``polyak_update``; see :class:`TargetProbe`).

    Q-values are measured with a no-grad pass of the critics on ``samples`` replay-buffer
    transitions drawn with the check's own generator. Logs ``diagnostics/q_mean``,
    ``diagnostics/q_value_spread`` and ``diagnostics/target_drift_ratio``.

    :param thresholds: :class:`~sb3_diagnostics.catalog.QValueThresholds` or a dict of its fields

    See :class:`~sb3_diagnostics.callbacks.base.DiagnosticCallback` for the other parameters.
    """

    check_name = "q_values"
    uses_tap = True

    def _init_state(self) -> None:
        self._tap: GradientTap | None = None
        self._probe: TargetProbe | None = None

    @classmethod
    def not_applicable(cls, model: Any) -> str | None:
        if not is_off_policy(model):
            return f"{type(model).__name__} is not an off-policy algorithm (no replay buffer, no Q-function)"
        if critic_of(model) is None:
            return f"{type(model).__name__} has no q_net, quantile_net or critic to evaluate"
        return None

    def _setup(self) -> None:
        self._tap = GradientTap.for_model(self.model)
        self._tap.attach(self, self.model)  # optimizer events only: the probe needs no gradients
        probe = TargetProbe(self.model, self._tap, self.rng)
        self._probe = probe if probe.pairs else None
        if self._probe is not None:
            self._tap.attach(self, self.model, on_pre=self._probe.on_pre, on_post=self._probe.on_post)

    def _on_rollout_start(self) -> None:
        if self._active and self._probe is not None:
            self._guard(self._probe.new_rollout)

    def _measure(self) -> dict[str, float]:
        assert isinstance(self.thresholds, QValueThresholds) and self._tap is not None
        error = self._tap.error_of(self)
        if error is not None:
            raise error
        out = q_stats(self.model, self.rng, self.thresholds.samples) if getattr(self.model, "replay_buffer", None) else {}
        if self._probe is not None:
            out.update(self._probe.read())
        return out

    def _measure_final(self) -> dict[str, float]:
        return self._probe.read() if self._probe is not None else {}

    def _teardown(self) -> None:
        if self._tap is not None:
            self._tap.detach(self)
