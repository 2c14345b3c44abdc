"""Environments that break the Gymnasium API or use a space SB3 does not support, as users wrote them."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces


class ShiftedDiscreteActions(gym.ActionWrapper):
    """
    Declares the Discrete(n) action space as ``Discrete(n, start=start)`` and passes actions on
    shifted back: the env a user writes with ``spaces.Discrete(3, start=-1)`` for {-1, 0, 1}
    (SB3 #913, #1295, #1378, #2052). SB3 ignores ``start`` and sends 0..n-1, so with this wrapper
    every action arrives off by ``start`` (or out of the env's range).
    """

    def __init__(self, env: gym.Env, start: int = 1) -> None:
        super().__init__(env)
        assert isinstance(env.action_space, spaces.Discrete)
        self.start, self.n = start, int(env.action_space.n)
        self.action_space = spaces.Discrete(self.n, start=start)

    def action(self, action: Any) -> Any:
        # SB3 hands in 0..n-1: the env receives action - start, e.g. -1 for SB3's 0 with start=1
        return int(np.clip(int(action) - self.start, 0, self.n - 1))


class OldStepApi(gym.Wrapper):
    """``step()`` returns gym < 0.26's four values ``(obs, reward, done, info)`` (Gymnasium #1179)."""

    def step(self, action: Any) -> Any:  # type: ignore[override]
        obs, reward, terminated, truncated, info = self.env.step(action)
        return obs, reward, terminated or truncated, info


class DeclaredActionBox(gym.ActionWrapper):
    """
    Declares the Box action space ``Box(low, high)`` and maps it linearly onto the env's own range, the way a user
    writes the physical range into the space. ``low == high`` is hill-a #553's typo (``high=action_min``): every
    action the policy picks is clipped to that one value, the bottom of the env's range.
    """

    def __init__(self, env: gym.Env, low: float, high: float) -> None:
        super().__init__(env)
        assert isinstance(env.action_space, spaces.Box)
        self._low, self._high = float(low), float(high)
        shape = env.action_space.shape
        self.action_space = spaces.Box(np.full(shape, low, np.float32), np.full(shape, high, np.float32))

    def action(self, action: Any) -> Any:
        inner = self.env.action_space
        assert isinstance(inner, spaces.Box)
        a = np.clip(np.asarray(action, np.float64), self._low, self._high)
        share = (a - self._low) / max(self._high - self._low, 1e-12)
        return (inner.low + share * (inner.high - inner.low)).astype(inner.dtype)
