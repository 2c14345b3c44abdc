"""LSTMResetCallback: recurrent state that leaks from one episode into the next."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch as th

from sb3_diagnostics import metrics as M
from sb3_diagnostics.callbacks.base import DiagnosticCallback
from sb3_diagnostics.sb3.buffers import device_obs, recurrent_states, take
from sb3_diagnostics.sb3.models import distribution_params, is_on_policy, is_recurrent
from sb3_diagnostics.thresholds import LSTMThresholds


class LSTMResetCallback(DiagnosticCallback):
    """
    Verifies that a recurrent policy (RecurrentPPO, or a custom ``RecurrentActorCriticPolicy``)
    starts every episode from a clean state. Two independent tests, per rollout:

    - at up to ``checks_per_rollout`` steps where ``episode_starts`` is 1, the policy is re-run
      (no-grad) once with the state it actually received (the previous episode's) and once with
      a zero state. A policy that resets gives bit-identical outputs; one that ignores
      ``episode_starts`` does not;
    - every step, an episode that Monitor reports finished (``info["episode"]``) while the VecEnv
      says ``done=False`` means a wrapper hid the boundary, so ``episode_starts`` was never set.

    Logs ``diagnostics/lstm_state_norm`` (mean hidden-state norm), ``diagnostics/lstm_reset_violation``
    and ``diagnostics/lstm_hidden_boundaries``.

    :param thresholds: :class:`~sb3_diagnostics.thresholds.LSTMThresholds` or a dict of its fields

    See :class:`~sb3_diagnostics.callbacks.base.DiagnosticCallback` for the other parameters.
    """

    check_name = "lstm"

    def _init_state(self) -> None:
        self._hidden_boundaries = 0

    @classmethod
    def not_applicable(cls, model: Any) -> str | None:
        if is_recurrent(model) and is_on_policy(model):
            return None
        return f"{type(model).__name__} with {type(model.policy).__name__} is not recurrent (no LSTM state)"

    def _on_env_step(self) -> None:
        dones = self.locals["dones"]
        for i, info in enumerate(self.locals["infos"]):
            if not dones[i] and "episode" in info:
                self._hidden_boundaries += 1

    def _measure(self) -> dict[str, float]:
        assert isinstance(self.thresholds, LSTMThresholds)
        buf: Any = self.model.rollout_buffer  # type: ignore[attr-defined]  # recurrent on-policy (see not_applicable)
        out = {
            "lstm_state_norm": float(np.linalg.norm(buf.hidden_states_pi, axis=-1).mean()),
            "lstm_hidden_boundaries": float(self._hidden_boundaries),
        }
        self._hidden_boundaries = 0
        t, e = np.nonzero(buf.episode_starts > 0.5)
        if t.size:
            pick = self.rng.choice(t.size, size=min(t.size, self.thresholds.checks_per_rollout), replace=False)
            out["lstm_reset_violation"] = self._reset_violation(buf, t[pick], e[pick])
            out["_lstm_reset_checked"] = float(pick.size)
        return out

    def _reset_violation(self, buf: Any, t: np.ndarray, e: np.ndarray) -> float:
        """Relative change of the policy's outputs at episode starts between the carried and a zero state."""
        policy: Any = self.model.policy  # a RecurrentActorCriticPolicy or a custom one with the same API
        device = self.model.device
        obs = device_obs(self.model, take(buf.observations, t, e))
        starts = th.ones(t.size, dtype=th.float32, device=device)
        carried_pi = recurrent_states(buf, t, e, device, actor=True)
        carried_vf = recurrent_states(buf, t, e, device, actor=False)
        zero = tuple(th.zeros_like(s) for s in carried_pi)
        with th.no_grad():
            dist_carried, _ = policy.get_distribution(obs, carried_pi, starts)
            params_carried = distribution_params(dist_carried)
            dist_zero, _ = policy.get_distribution(obs, zero, starts)
            params_zero = distribution_params(dist_zero)
            values_carried = policy.predict_values(obs, carried_vf, starts).cpu().numpy()
            values_zero = policy.predict_values(obs, tuple(th.zeros_like(s) for s in carried_vf), starts).cpu().numpy()
        return max(M.relative_difference(params_carried, params_zero), M.relative_difference(values_carried, values_zero))
