"""KLWatchdogCallback: updates too large, too clipped, absent, or cut short by target_kl; TRPO line search."""

from __future__ import annotations

from typing import Any

from sb3_diagnostics.callbacks.base import DiagnosticCallback
from sb3_diagnostics.sb3.buffers import policy_stats
from sb3_diagnostics.sb3.models import is_kl_constrained, is_off_policy
from sb3_diagnostics.sb3.train_log import episode_stats, read_train_metrics


class KLWatchdogCallback(DiagnosticCallback):
    """
    Reads what PPO, MaskablePPO, RecurrentPPO and TRPO already log about each update
    (``train/approx_kl``, ``train/clip_fraction``, ``train/kl_divergence_loss``,
    ``train/is_line_search_success``, ``train/learning_rate``, epochs run) and judges it:
    ``kl_too_high``, ``clip_fraction_high``, ``policy_not_updating``, ``target_kl_early_stop``,
    ``line_search_failing``. For off-policy algorithms (DQN, SAC, TD3, ...) it reads their training
    schedule: ``policy_not_updating`` when ``learning_starts`` lies beyond the end of ``learn()`` or
    ``gradient_steps=0``. The last update of a ``learn()`` call is judged in
    ``on_training_end`` (SB3 has no hook after ``train()``).

    Costs nothing but a dictionary read per update (plus the shared entropy measurement).

    :param thresholds: :class:`~sb3_diagnostics.thresholds.KLThresholds` or a dict of its fields
    See :class:`~sb3_diagnostics.callbacks.base.DiagnosticCallback` for the other parameters.
    """

    check_name = "kl"
    _KEYS = ("approx_kl", "clip_fraction", "line_search_success", "epochs_completed", "n_epochs", "_lr_ratio",
             "_learning_rate")

    @classmethod
    def not_applicable(cls, model: Any) -> str | None:
        if is_kl_constrained(model) or is_off_policy(model):
            return None
        return f"{type(model).__name__} logs no KL per update (KL checks are for PPO, MaskablePPO, RecurrentPPO, TRPO)"

    def _select(self, train: dict[str, float]) -> dict[str, float]:
        return {k: train[k] for k in self._KEYS if k in train}

    def _measure(self) -> dict[str, float]:
        if not is_kl_constrained(self.model):
            return self._schedule()  # off-policy: only whether the schedule allows any gradient step
        out = self._select(self._cached("train", lambda: read_train_metrics(self.model)))
        if out:
            entropy = self._cached("policy_stats", lambda: policy_stats(self.model, self.rng)).get("entropy_normalized")
            if entropy is not None:
                out["entropy_normalized"] = entropy
            out.update(self._cached("episodes", lambda: episode_stats(self.model)))
        return out

    def _schedule(self) -> dict[str, float]:
        """An off-policy algorithm's training schedule: when gradient steps begin, and how many per call."""
        model, out = self.model, {}
        starts, end = getattr(model, "learning_starts", None), getattr(model, "_total_timesteps", None)
        if isinstance(starts, int | float) and isinstance(end, int | float):
            out["_learning_starts"], out["_learn_end"] = float(starts), float(end)
        steps = getattr(model, "gradient_steps", None)
        if isinstance(steps, int | float):
            out["_gradient_steps"] = float(steps)
        return out

    def _measure_final(self) -> dict[str, float]:
        return self._select(read_train_metrics(self.model))
