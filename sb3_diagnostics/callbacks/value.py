"""ExplainedVarianceCallback: a critic that explains nothing, and degenerate or exploding advantages."""

from __future__ import annotations

from typing import Any

import numpy as np

from sb3_diagnostics import metrics as M
from sb3_diagnostics.callbacks.base import DiagnosticCallback
from sb3_diagnostics.sb3.models import is_on_policy
from sb3_diagnostics.sb3.train_log import episode_stats
from sb3_diagnostics.thresholds import ValueThresholds


class ExplainedVarianceCallback(DiagnosticCallback):
    """
    Judges the critic from the rollout buffer, before advantage normalisation:
    ``explained_variance_negative`` (EV of the values against the returns, pooled over rollouts
    until a window has at least ``window_samples`` samples, after a warm-up; judged with its standard
    error over the window and against the size of the returns),
    ``advantage_zero_variance`` and ``advantage_explosion``.

    Logs ``diagnostics/explained_variance``, ``diagnostics/ev_stderr``, ``diagnostics/value_error_rel``,
    ``diagnostics/advantage_std`` and ``diagnostics/advantage_abs_max``. Costs a few numpy reductions per rollout.

    :param thresholds: :class:`~sb3_diagnostics.thresholds.ValueThresholds` or a dict of its fields

    See :class:`~sb3_diagnostics.callbacks.base.DiagnosticCallback` for the other parameters.
    """

    check_name = "value"

    def _init_state(self) -> None:
        self._pool: list[tuple[np.ndarray, np.ndarray]] = []
        self._advantages: list[np.ndarray] = []

    @classmethod
    def not_applicable(cls, model: Any) -> str | None:
        if is_on_policy(model):
            return None
        return f"{type(model).__name__} is off-policy and has no rollout buffer of values and returns"

    def _measure(self) -> dict[str, float]:
        assert isinstance(self.thresholds, ValueThresholds)
        buf: Any = self.model.rollout_buffer  # type: ignore[attr-defined]  # on-policy only (see not_applicable)
        out: dict[str, float] = {}
        self._advantages.append(buf.advantages.reshape(-1).copy())
        if sum(a.size for a in self._advantages) >= self.thresholds.advantage_samples:
            advantages = np.concatenate(self._advantages)
            self._advantages.clear()
            out.update(advantage_std=M.std(advantages), advantage_abs_max=M.max_abs(advantages))
            gamma = getattr(self.model, "gamma", None)
            if isinstance(gamma, float | int) and 0.0 <= gamma < 1.0:
                # logged (not context): the report judges the advantages of a logged run against the same bound
                out["advantage_horizon"] = 1.0 / (1.0 - float(gamma))
        # env by env, so that each env's trajectory stays contiguous (the standard error is over time blocks)
        self._pool.append((buf.values.swapaxes(0, 1).reshape(-1).copy(), buf.returns.swapaxes(0, 1).reshape(-1).copy()))
        pooled = sum(v.size for v, _ in self._pool)
        if pooled >= self.thresholds.window_samples:
            values = np.concatenate([v for v, _ in self._pool])
            returns = np.concatenate([r for _, r in self._pool])
            self._pool.clear()
            ev, stderr, rel = M.explained_variance_interval(values, returns)
            out.update(explained_variance=ev, ev_stderr=stderr, value_error_rel=rel)
            out.update(self._cached("episodes", lambda: episode_stats(self.model)))
            out["_explained_variance_samples"] = float(pooled)
        return out
