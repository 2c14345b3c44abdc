"""EntropyCollapseCallback: entropy collapse, action-std collapse, a policy that stays random, the exploration schedule."""

from __future__ import annotations

from typing import Any

from gymnasium import spaces

from sb3_diagnostics.callbacks.base import DiagnosticCallback
from sb3_diagnostics.sb3.buffers import (
    action_distributions,
    mean_kl,
    policy_stats,
    recent_actions,
    rollout_observations,
)
from sb3_diagnostics.sb3.models import has_stochastic_actor, is_kl_constrained, is_off_policy, is_on_policy
from sb3_diagnostics.sb3.train_log import episode_stats, learn_schedule, progress, read_train_metrics
from sb3_diagnostics.thresholds import EntropyThresholds

#: observations of the first rollout kept to measure how far a policy without a logged KL (A2C) moved from its start
START_OBSERVATIONS = 64


class EntropyCollapseCallback(DiagnosticCallback):
    """
    Watches how random the policy is: ``entropy_collapse`` and ``policy_stays_random`` for
    Discrete / MultiDiscrete / MultiBinary actions (entropy / log(n_actions), the smallest
    over action dims), ``action_std_collapse`` for Box actions (std as a fraction of the action
    range, relative to its initial value, so gSDE's deliberately small std is not a collapse).

    Measured once per update with a no-grad pass of the policy on up to 256 observations of
    the rollout (on-policy) or replay buffer (SAC family). Logs ``diagnostics/entropy_normalized``
    or ``diagnostics/action_std_min``. For epsilon-greedy models (DQN, QR-DQN), whose exploration is
    a schedule, the schedule is judged at the start of each ``learn()``: ``exploration_ends_before_learning``
    and ``exploration_restarted``. For deterministic actors (TD3, DDPG), whose exploration is the ``action_noise``
    added to their actions, the spread of the actions they took since the last measurement (read from the replay
    buffer): ``action_noise_missing`` when they stopped exploring (SB3 #936).

    :param thresholds: :class:`~sb3_diagnostics.thresholds.EntropyThresholds` or a dict of its fields

    See :class:`~sb3_diagnostics.callbacks.base.DiagnosticCallback` for the other parameters.
    """

    check_name = "entropy"

    def _init_state(self) -> None:
        self._schedule: dict[str, float] = {}
        self._behaviour_from = 0  # the step from which the actions taken are not yet judged
        self._start_obs: Any = None  # A2C: a fixed batch of the first rollout's observations ...
        self._start_dist: list[Any] | None = None  # ... and the policy's action distributions on it then

    @classmethod
    def not_applicable(cls, model: Any) -> str | None:
        if is_on_policy(model) or has_stochastic_actor(model) or _epsilon_greedy(model) or _noise_explorer(model):
            return None
        return f"{type(model).__name__} has a deterministic policy, so there is no entropy to collapse"

    def _setup(self) -> None:
        # read at the start of learn(), before the step counter moves; judged now and again at each measurement
        self._schedule = learn_schedule(self.model) if _epsilon_greedy(self.model) else {}
        self._judge(self._schedule)
        self._behaviour_from = int(self.model.num_timesteps)

    def _measure_final(self) -> dict[str, float]:
        # epsilon-greedy: the schedule once more at the end of learn(), so a misfit that held to the end says so
        return dict(self._schedule)

    def _measure(self) -> dict[str, float]:
        if self._schedule:
            return dict(self._schedule)  # epsilon-greedy: nothing else to measure
        if _noise_explorer(self.model):
            return self._behaviour()
        out = dict(self._cached("policy_stats", lambda: policy_stats(self.model, self.rng)))
        kl = self._cached("train", lambda: read_train_metrics(self.model)).get("approx_kl")
        if kl is not None:
            out["approx_kl"] = kl
        elif is_on_policy(self.model) and not is_kl_constrained(self.model) and "entropy_normalized" in out:
            out.update(self._kl_from_start(out["entropy_normalized"]))
        out["_progress"] = progress(self.model)
        out.update(self._cached("episodes", lambda: episode_stats(self.model)))
        return out

    def _kl_from_start(self, entropy: float) -> dict[str, float]:
        """
        A2C logs no KL: how far its action distribution moved, on a fixed batch of its first rollout's observations,
        since then. Measured only while the entropy is still near its maximum (when it matters).
        """
        if self._start_obs is None:
            self._start_obs = rollout_observations(self.model, self.rng, START_OBSERVATIONS)
            if self._start_obs is not None:
                self._start_dist = action_distributions(self.model, self._start_obs)
            return {}
        assert isinstance(self.thresholds, EntropyThresholds)
        if entropy <= self.thresholds.random_entropy:
            return {}
        assert self._start_dist is not None
        return {"_kl_from_start": mean_kl(self._start_dist, action_distributions(self.model, self._start_obs))}

    def _behaviour(self) -> dict[str, float]:
        """TD3 / DDPG: the spread of the actions taken since the last measurement, once the policy chose them."""
        model = self.model
        start = max(self._behaviour_from, int(getattr(model, "learning_starts", 0) or 0))
        steps = (model.num_timesteps - start) // max(model.n_envs, 1)
        self._behaviour_from = max(self._behaviour_from, int(model.num_timesteps))
        out = dict(self._cached("episodes", lambda: episode_stats(model)))
        if steps <= 0:
            return out
        actions = recent_actions(getattr(model, "replay_buffer"), steps)  # noqa: B009 (typed BaseAlgorithm)
        out.update(behaviour_action_std=float(actions.std(axis=0).max()), _behaviour_samples=float(len(actions)),
                   _action_noise=float(model.action_noise is not None))
        return out


def _noise_explorer(model: Any) -> bool:
    """:return: whether the model acts deterministically and explores by its ``action_noise`` (TD3, DDPG)"""
    return (is_off_policy(model) and not has_stochastic_actor(model) and not _epsilon_greedy(model)
            and hasattr(model, "action_noise") and isinstance(model.action_space, spaces.Box))


def _epsilon_greedy(model: Any) -> bool:
    """:return: whether the model explores by an epsilon schedule (DQN, QR-DQN)"""
    return hasattr(model, "exploration_schedule") and hasattr(model, "exploration_initial_eps")
