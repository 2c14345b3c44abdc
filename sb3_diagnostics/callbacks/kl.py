"""KLWatchdogCallback: updates too large, too clipped, absent, or cut short by target_kl; TRPO line search."""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces

from sb3_diagnostics.callbacks.base import DiagnosticCallback
from sb3_diagnostics.sb3.buffers import policy_stats
from sb3_diagnostics.sb3.models import (
    has_stochastic_actor,
    is_kl_constrained,
    is_off_policy,
    is_on_policy,
    kl_is_logged_before_every_step,
    policy_optimizers,
)
from sb3_diagnostics.sb3.network import policy_outputs
from sb3_diagnostics.sb3.spaces import sample_batch
from sb3_diagnostics.sb3.train_log import episode_stats, learn_schedule, read_train_metrics, updates_done

#: observations of the fixed batch the policy's outputs are compared on
PROBE_OBSERVATIONS = 64
#: on-policy: env steps at least between two comparisons (A2C updates every 5 steps; a pass per 512 steps is enough)
PROBE_STEPS = 512


class KLWatchdogCallback(DiagnosticCallback):
    """
    Reads what PPO, MaskablePPO, RecurrentPPO and TRPO already log about each update
    (``train/approx_kl``, ``train/clip_fraction``, ``train/kl_divergence_loss``,
    ``train/is_line_search_success``, ``train/learning_rate``, epochs run) and judges it:
    ``kl_too_high``, ``clip_fraction_high``, ``policy_not_updating``, ``target_kl_early_stop``,
    ``line_search_failing``. For off-policy algorithms (DQN, SAC, TD3, ...) it reads their training
    schedule: ``policy_not_updating`` when ``learning_starts`` lies beyond the end of ``learn()`` or
    ``gradient_steps=0``. For every algorithm without a logged KL (A2C, DQN, QR-DQN, SAC, TD3, DDPG, TQC,
    CrossQ) it measures the policy's change directly: the outputs of the policy (logits, Gaussian mean and
    log std, Q-values, deterministic actions) on a fixed, seeded batch of observations, compared at most
    every ``PROBE_STEPS`` env steps; outputs that do not change at all while gradient updates happen are
    ``policy_not_updating`` (a frozen actor, parameters outside the optimizer, a learning rate too small to
    move float32 weights). Logs ``diagnostics/policy_change`` (the largest change relative to the outputs'
    size). The last update of a ``learn()`` call is judged in ``on_training_end`` (SB3 has no hook after
    ``train()``).

    Costs a dictionary read per update, plus one no-grad pass on 64 observations per comparison.

    :param thresholds: :class:`~sb3_diagnostics.thresholds.KLThresholds` or a dict of its fields

    See :class:`~sb3_diagnostics.callbacks.base.DiagnosticCallback` for the other parameters.
    """

    check_name = "kl"
    _KEYS = ("approx_kl", "clip_fraction", "line_search_success", "epochs_completed", "n_epochs", "_lr_ratio",
             "_learning_rate")

    @classmethod
    def not_applicable(cls, model: Any) -> str | None:
        if is_kl_constrained(model) or is_off_policy(model) or is_on_policy(model):
            return None
        return (f"{type(model).__name__} neither logs a KL per update nor trains through SB3's rollout or replay loop "
                "(its policy changes are not observed)")

    def _setup(self) -> None:
        # measured directly unless a logged KL says how far each update moved the policy
        direct = not is_kl_constrained(self.model) or kl_is_logged_before_every_step(self.model)
        self._probe = sample_batch(self.model.observation_space, PROBE_OBSERVATIONS, self.seed) if direct else None
        self._probe_outputs: np.ndarray | None = None
        self._probe_updates = 0
        self._probe_step = -PROBE_STEPS

    def _policy_change(self) -> dict[str, float]:
        """The policy's change on the fixed batch since the last comparison, and the gradient updates between."""
        model = self.model
        # off-policy measurements are already every off_policy_interval steps; on-policy rollouts may be tiny (A2C)
        if self._probe is None or (not is_off_policy(model) and model.num_timesteps - self._probe_step < PROBE_STEPS):
            return {}
        outputs = policy_outputs(model, self._probe)
        if outputs is None:
            self._probe = None  # recurrent: its outputs depend on a state
            return {}
        updates, previous = updates_done(model), self._probe_outputs
        out: dict[str, float] = {}
        if previous is not None and previous.shape == outputs.shape:
            scale = float(np.max(np.abs(previous))) + 1e-12
            out["policy_change"] = float(np.max(np.abs(outputs - previous))) / scale
            out["_updates_between"] = float(updates - self._probe_updates)
            if is_off_policy(model) and isinstance(model.action_space, spaces.Box) and not has_stochastic_actor(model):
                # TD3 / DDPG output tanh(x): at the action bound it passes ~no gradient, so it stays put while
                # the optimizer steps (a saturated actor, not a frozen one)
                out["_saturated"] = float(np.mean(np.abs(outputs) >= 0.999))
            rates = [g["lr"] for o in policy_optimizers(model).values() for g in o.param_groups if "lr" in g]
            if rates:
                out["_learning_rate"] = float(min(rates))
        self._probe_outputs, self._probe_updates, self._probe_step = outputs, updates, model.num_timesteps
        return out

    def _select(self, train: dict[str, float]) -> dict[str, float]:
        return {k: train[k] for k in self._KEYS if k in train}

    def _measure(self) -> dict[str, float]:
        if not is_kl_constrained(self.model):
            # whether the schedule allows any gradient step (off-policy), and whether the policy moves at all
            return {**self._schedule(), **self._policy_change()}
        out = self._select(self._cached("train", lambda: read_train_metrics(self.model)))
        if self._probe is not None:  # PPO with one minibatch and one epoch: no KL read (always 0), outputs compared
            out.update(self._policy_change())
        if out:
            entropy = self._cached("policy_stats", lambda: policy_stats(self.model, self.rng)).get("entropy_normalized")
            if entropy is not None:
                out["entropy_normalized"] = entropy
            out.update(self._cached("episodes", lambda: episode_stats(self.model)))
        return out

    def _schedule(self) -> dict[str, float]:
        """An off-policy algorithm's training schedule: when gradient steps begin, and how many per call."""
        model, schedule = self.model, learn_schedule(self.model)
        out: dict[str, float] = {k: schedule[k] for k in ("_learning_starts", "_learn_end") if k in schedule}
        steps = getattr(model, "gradient_steps", None)
        if isinstance(steps, int | float):
            out["_gradient_steps"] = float(steps)
        return out

    def _measure_final(self) -> dict[str, float]:
        return self._select(read_train_metrics(self.model))
