"""Small tasks whose reward structure a misconfigured algorithm gets wrong."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces


class ShortestPathGrid(gym.Env[np.ndarray, np.int64]):
    """
    A stochastic shortest path (Trystan4/SSP_RL #34): an ``n`` x ``n`` grid, one-hot position, 4 moves (10% slip),
    a cost of -1 per move and 0 at the far corner, which ends the episode; truncated after ``limit`` steps. The goal
    is ``2 * (n - 1)`` moves away, so ``gamma`` must see that far: with gamma=0.1 (epsilon typed into the discount
    slot) every state looks alike.
    """

    def __init__(self, n: int = 6, limit: int = 100) -> None:
        self.n, self.limit = n, limit
        self.observation_space = spaces.Box(0, 1, (n * n,), np.float32)
        self.action_space = spaces.Discrete(4)
        self.pos, self.t = np.zeros(2, dtype=np.int64), 0

    def _obs(self) -> np.ndarray:
        obs = np.zeros(self.n * self.n, np.float32)
        obs[self.pos[0] * self.n + self.pos[1]] = 1.0
        return obs

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self.pos, self.t = np.zeros(2, dtype=np.int64), 0
        return self._obs(), {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        moves = [(0, 1), (1, 0), (0, -1), (-1, 0)]
        move = moves[int(action)] if self.np_random.random() >= 0.1 else moves[int(self.np_random.integers(4))]
        self.pos = np.clip(self.pos + move, 0, self.n - 1)
        self.t += 1
        goal = bool((self.pos == self.n - 1).all())
        return self._obs(), 0.0 if goal else -1.0, goal, self.t >= self.limit, {}
