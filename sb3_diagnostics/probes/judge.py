"""Measuring what a trained model learned on a probe, and judging it against what the probe expects."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from typing import Any, SupportsFloat

import gymnasium as gym
import numpy as np
from stable_baselines3.common.base_class import BaseAlgorithm

from sb3_diagnostics.probes.envs import ProbeEnv
from sb3_diagnostics.sb3.models import predict_actions, predict_values, soft_value_bonus, value_kind

#: a continuous action counts as "the good action" when it is at least this far towards it (actions are in [-1, 1])
ACTION_MARGIN = 0.5

ValueFn = Callable[[BaseAlgorithm, np.ndarray], np.ndarray]


# ---------------------------------------------------------------------------------------------
# Measuring a trained model
# ---------------------------------------------------------------------------------------------


def _obs_batch(env: ProbeEnv, states: Iterable[float]) -> np.ndarray:
    return np.array([[s] for s in states], dtype=np.float32)


class EpisodeLog(gym.Wrapper):
    """Records (first observation, return) of every finished episode: what the agent actually got."""

    def __init__(self, env: ProbeEnv, maxlen: int = 20_000) -> None:
        super().__init__(env)
        self.episodes: deque[tuple[float, float, int]] = deque(maxlen=maxlen)
        self._first = 0.0
        self._return = 0.0
        self._length = 0

    def reset(self, **kwargs: Any) -> tuple[Any, dict]:
        obs, info = self.env.reset(**kwargs)
        self._first, self._return, self._length = float(np.asarray(obs).reshape(-1)[0]), 0.0, 0
        return obs, info

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        self._return += float(reward)
        self._length += 1
        if terminated or truncated:
            self.episodes.append((self._first, self._return, self._length))
        return obs, reward, terminated, truncated, info

    def recent_returns(self, state: float, steps: int) -> np.ndarray:
        """Returns of the episodes that started at ``state`` among the episodes of the last ``steps`` timesteps."""
        out, seen = [], 0
        for first, ret, length in reversed(self.episodes):
            if seen >= steps:
                break
            seen += length
            if first == state:
                out.append(ret)
        return np.asarray(out, dtype=np.float64)


def _fitted_window(model: BaseAlgorithm) -> int:
    """
    Timesteps of recent experience an on-policy critic was last fitted to: the last rollout when it
    is large enough to be fitted on its own (PPO, TRPO, RecurrentPPO), else the last 256 steps (A2C's
    5-step rollouts each move the critic a little, so it averages over many of them).
    """
    rollout = int(getattr(model, "n_steps", 0) or 0) * int(getattr(model, "n_envs", 1) or 1)
    return rollout if rollout >= 64 else 256


# ---------------------------------------------------------------------------------------------
# Judging one probe
# ---------------------------------------------------------------------------------------------


def _probe3_tolerance(tolerance: float, gamma: float) -> float:
    """V(s0) must land closer to gamma than to 1, or a missing discount would pass unnoticed."""
    return min(tolerance, max(0.5 * (1.0 - gamma), 0.03))


def judge(
    model: BaseAlgorithm, log: EpisodeLog, tolerance: float, value_fn: ValueFn | None
) -> tuple[bool, dict[str, float], dict[str, float], float, str]:
    """Measure a trained model on its probe; :return: passed, measured, expected, tolerance used, note."""
    env = log.unwrapped
    assert isinstance(env, ProbeEnv)
    probe = env.probe
    states = env.states
    obs = _obs_batch(env, states)
    names = [_state_name(s) for s in states]
    has_value = value_fn is not None or value_kind(model) is not None
    values = None
    if probe in (1, 2, 3, 5) and has_value:
        # probe 3's states are the two steps of one episode (a recurrent critic sees them in sequence)
        starts = np.array([1.0, 0.0]) if probe == 3 else None
        values = value_fn(model, obs) if value_fn is not None else predict_values(model, obs, starts)
        values = np.asarray(values, dtype=np.float64).reshape(-1)
    measured: dict[str, float] = {}
    expected: dict[str, float] = {}
    note = ""
    tol = tolerance

    if probe in (1, 2, 3):
        assert values is not None
        gamma = float(getattr(model, "gamma", 0.99))
        targets = {1: [1.0], 2: [1.0, -1.0], 3: [gamma, 1.0]}[probe]
        tolerances = [tolerance] * len(targets)
        if probe == 3:
            bonus = soft_value_bonus(model, obs[1:2])
            targets[0] = gamma * (1.0 + bonus)
            tolerances[0] = _probe3_tolerance(tolerance, gamma)
            if bonus:
                note = (
                    f"soft value: V(s0) = gamma * (1 + alpha * H(pi(.|s1))) = {gamma:.3g} * (1 + {bonus:.3g}), the "
                    "entropy bonus of a maximum-entropy critic"
                )
            if 1.0 - gamma < 2 * tolerances[0]:
                note = "; ".join(filter(None, [note, (
                    f"gamma={gamma:g}: a missing discount moves V(s0) by only {1 - gamma:.3g}, inside the tolerance "
                    f"{tolerances[0]:g}; build the model with gamma <= 0.9 for a sharp test of discounting (from the shell: "
                    "sb3-diagnostics probes ALGO --gamma 0.9)"
                )]))
            tol = tolerances[0]
        for name, v, t in zip(names, values, targets, strict=True):
            measured[f"V({name})"], expected[f"V({name})"] = float(v), float(t)
        passed = all(abs(values[i] - targets[i]) <= tolerances[i] for i in range(len(targets)))
        return bool(passed), measured, expected, tol, note

    actions = predict_actions(model, obs)
    action_values = [env.action_value(a) for a in actions.reshape(len(states), -1)]
    if probe == 4:
        good = 1.0
        measured["action(0)"], expected["action(0)"] = action_values[0], good
        ok = action_values[0] >= ACTION_MARGIN if env.action_kind == "continuous" else action_values[0] == good
        if env.action_kind == "continuous":
            note = f"passes when the action is >= {ACTION_MARGIN}"
        return bool(ok), measured, expected, tol, note

    # probe 5: the right action for each observation, and a value that matches the policy
    ok_actions = []
    for name, s, a in zip(names, states, action_values, strict=True):
        measured[f"action({name})"], expected[f"action({name})"] = a, s
        ok_actions.append(a * s >= ACTION_MARGIN if env.action_kind == "continuous" else a == s)
    passed = all(ok_actions)
    if values is not None:
        if value_kind(model) == "v" and value_fn is None:
            # An on-policy critic estimates the policy that collected its last rollout, not the updated one:
            # compare with the mean return the agent actually got in that experience.
            window = _fitted_window(model)
            recent = [log.recent_returns(s, window) for s in states]
            value_targets = np.array([np.mean(r) if r.size else np.nan for r in recent])
            # that mean is itself a sample: allow two of its standard errors on top of the tolerance
            errors = np.array([np.std(r) / np.sqrt(r.size) if r.size else 0.0 for r in recent])
            state_tolerances = tolerance + 2.0 * errors
            tol = float(np.max(state_tolerances))
            note = (
                f"V(s) is compared with the mean return of the last {window} timesteps of experience (the data the "
                "critic was fitted to), within the tolerance plus two standard errors of that mean"
            )
        else:
            value_targets = np.array(
                [env.reward(s, a) for s, a in zip(states, actions.reshape(len(states), -1), strict=True)]
            )
            state_tolerances = np.full(len(states), tolerance)
        for name, v, t in zip(names, values, value_targets, strict=True):
            measured[f"V({name})"], expected[f"V({name})"] = float(v), float(t)
        passed = passed and bool(np.all(np.abs(values - value_targets) <= state_tolerances))  # nan (no data) fails
    return bool(passed), measured, expected, tol, note


def _state_name(s: float) -> str:
    return f"{s:+g}" if s != 0 else "0"
