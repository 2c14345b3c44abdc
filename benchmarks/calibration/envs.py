"""
Small healthy tasks with unusual but legitimate properties, for the calibration benchmark.

Each is learnable by PPO with near-default hyper-parameters in well under 50k steps; the runs in
``runs.py`` check that the return improves.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor


class _Corridor(gym.Env):
    """
    A corridor of ``length`` cells: the agent starts at 0 and moves left or right; reaching the far end ends
    the episode; truncated after ``max_steps``. Observation: one-hot position. Subclasses pay the reward.
    """

    def __init__(self, length: int, max_steps: int) -> None:
        self.length = length
        self.max_steps = max_steps
        self.observation_space = spaces.Box(0.0, 1.0, (length + 1,), np.float32)
        self.action_space = spaces.Discrete(2)

    def _obs(self) -> np.ndarray:
        obs = np.zeros(self.length + 1, np.float32)
        obs[self.pos] = 1.0
        return obs

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self.pos = 0
        self.t = 0
        return self._obs(), {}

    def _move(self, action: int) -> tuple[int, bool, bool]:
        """:return: the cell before the move, whether the end was reached, whether time ran out"""
        self.t += 1
        old = self.pos
        self.pos = int(np.clip(self.pos + (1 if action == 1 else -1), 0, self.length))
        terminated = self.pos == self.length
        return old, terminated, self.t >= self.max_steps and not terminated


class SparseCorridor(_Corridor):
    """
    The corridor with +1 only on reaching the far end: every other step is worth exactly 0, a sparse,
    terminal-only reward.
    """

    def __init__(self, length: int = 10, max_steps: int = 60) -> None:
        super().__init__(length, max_steps)

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict]:
        _, terminated, truncated = self._move(action)
        return self._obs(), float(terminated), terminated, truncated, {}


class DeterministicOptimum(gym.Env):
    """
    A context (one of ``n`` one-hot vectors) is shown; the matching action is worth +1, any other 0.
    The episode ends after ``horizon`` decisions. The optimal policy is deterministic, so a policy
    that has solved the task legitimately has (near) zero entropy.
    """

    def __init__(self, n: int = 3, horizon: int = 20) -> None:
        self.n = n
        self.horizon = horizon
        self.observation_space = spaces.Box(0.0, 1.0, (n,), np.float32)
        self.action_space = spaces.Discrete(n)

    def _obs(self) -> np.ndarray:
        obs = np.zeros(self.n, np.float32)
        obs[self.context] = 1.0
        return obs

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self.t = 0
        self.context = int(self.np_random.integers(self.n))
        return self._obs(), {}

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict]:
        reward = float(action == self.context)
        self.t += 1
        self.context = int(self.np_random.integers(self.n))
        return self._obs(), reward, self.t >= self.horizon, False, {}


class _Grid(gym.Env):
    """Shared grid-world mechanics: 4 moves, walls at the border."""

    MOVES = np.array([[0, 1], [0, -1], [1, 0], [-1, 0]])

    def __init__(self, size: int, max_steps: int) -> None:
        self.size = size
        self.max_steps = max_steps
        self.action_space = spaces.Discrete(4)

    def _move(self, action: int) -> None:
        self.agent = np.clip(self.agent + self.MOVES[int(action)], 0, self.size - 1)

    def _random_cell(self) -> np.ndarray:
        return self.np_random.integers(0, self.size, size=2)


class ShortSuccess(_Grid):
    """
    A 7x7 grid, the goal at the centre, the start 2 to 5 moves away. +1 on reaching the goal (which
    ends the episode), -0.01 a step. A random agent wanders for tens of steps; a trained one
    succeeds in 2-5 steps, so successful episodes get *short* as it learns.
    Observation: (agent - goal) / 3.
    """

    def __init__(self) -> None:
        super().__init__(size=7, max_steps=100)
        self.goal = np.array([3, 3])
        self.observation_space = spaces.Box(-1.0, 1.0, (2,), np.float32)
        self.starts = [np.array([x, y]) for x in range(7) for y in range(7) if 2 <= abs(x - 3) + abs(y - 3) <= 5]

    def _obs(self) -> np.ndarray:
        return ((self.agent - self.goal) / 3.0).astype(np.float32)

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self.agent = self.starts[int(self.np_random.integers(len(self.starts)))].copy()
        self.t = 0
        return self._obs(), {}

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict]:
        self.t += 1
        self._move(action)
        terminated = bool((self.agent == self.goal).all())
        reward = (1.0 if terminated else 0.0) - 0.01
        return self._obs(), reward, terminated, self.t >= self.max_steps and not terminated, {}


def scaled_cartpole(scale: float = 1000.0) -> gym.Env:
    """CartPole-v1 with every reward multiplied by ``scale`` (to be normalized by VecNormalize)."""
    return gym.wrappers.TransformReward(gym.make("CartPole-v1"), lambda r: scale * r)


class ReachAndHold(gym.Env):
    """
    Move a point on [-1, 1] to a random target and hold it there; reward ``-|x - target|`` each
    step. No terminal state: every episode is truncated at ``horizon`` steps (a fixed horizon,
    like Pendulum).
    """

    def __init__(self, horizon: int = 40, speed: float = 0.2) -> None:
        self.horizon = horizon
        self.speed = speed
        self.observation_space = spaces.Box(-1.0, 1.0, (2,), np.float32)
        self.action_space = spaces.Box(-1.0, 1.0, (1,), np.float32)

    def _obs(self) -> np.ndarray:
        return np.array([self.x, self.target], np.float32)

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self.x, self.target = (float(v) for v in self.np_random.uniform(-1.0, 1.0, size=2))
        self.t = 0
        return self._obs(), {}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict]:
        self.t += 1
        self.x = float(np.clip(self.x + self.speed * float(np.clip(action[0], -1.0, 1.0)), -1.0, 1.0))
        reward = -abs(self.x - self.target)
        return self._obs(), reward, False, self.t >= self.horizon, {}


class WinBonus(_Corridor):
    """
    The corridor with a +100 bonus for reaching the end and two small shaping terms, reported in
    ``info["reward_components"]`` (they sum to the reward):

    - ``win``: +100 on reaching the end (ends the episode), else 0
    - ``progress``: +0.5 per cell of progress toward the end (-0.5 per cell back)
    - ``time``: -0.1 every step

    The bonus dominates the return, legitimately: winning is the task. Truncated after 50 steps.
    """

    def __init__(self, length: int = 8, max_steps: int = 50) -> None:
        super().__init__(length, max_steps)

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict]:
        old, terminated, truncated = self._move(action)
        components = {"win": 100.0 if terminated else 0.0, "progress": 0.5 * (self.pos - old), "time": -0.1}
        return self._obs(), float(sum(components.values())), terminated, truncated, {"reward_components": components}


class TinyImageGrid(_Grid):
    """
    A 4x4 grid drawn as a 12x12x1 uint8 image (each cell 3x3 pixels): the agent is 255, the goal
    128, both placed at random. +1 on reaching the goal (ends the episode), -0.01 a step;
    truncated after 30 steps.
    """

    CELL = 3

    def __init__(self) -> None:
        super().__init__(size=4, max_steps=30)
        side = self.size * self.CELL
        self.observation_space = spaces.Box(0, 255, (side, side, 1), np.uint8)

    def _obs(self) -> np.ndarray:
        side = self.size * self.CELL
        img = np.zeros((side, side, 1), np.uint8)
        c = self.CELL
        img[self.goal[0] * c : (self.goal[0] + 1) * c, self.goal[1] * c : (self.goal[1] + 1) * c] = 128
        img[self.agent[0] * c : (self.agent[0] + 1) * c, self.agent[1] * c : (self.agent[1] + 1) * c] = 255
        return img

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self.goal = self._random_cell()
        self.agent = self._random_cell()
        while (self.agent == self.goal).all():
            self.agent = self._random_cell()
        self.t = 0
        return self._obs(), {}

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict]:
        self.t += 1
        self._move(action)
        terminated = bool((self.agent == self.goal).all())
        reward = (1.0 if terminated else 0.0) - 0.01
        return self._obs(), reward, terminated, self.t >= self.max_steps and not terminated, {}


class TinyCNN(BaseFeaturesExtractor):
    """A small CNN for TinyImageGrid's 1x12x12 images (NatureCNN needs at least 36x36)."""

    def __init__(self, observation_space: spaces.Box, features_dim: int = 64) -> None:
        super().__init__(observation_space, features_dim)
        channels = observation_space.shape[0]
        self.cnn = torch.nn.Sequential(
            torch.nn.Conv2d(channels, 16, kernel_size=3, stride=3),  # one output per cell
            torch.nn.ReLU(),
            torch.nn.Conv2d(16, 32, kernel_size=2, stride=1),
            torch.nn.ReLU(),
            torch.nn.Flatten(),
        )
        with torch.no_grad():
            n_flat = self.cnn(torch.as_tensor(observation_space.sample()[None]).float()).shape[1]
        self.linear = torch.nn.Sequential(torch.nn.Linear(n_flat, features_dim), torch.nn.ReLU())

    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        return self.linear(self.cnn(observations))


class DictGoalGrid(_Grid):
    """
    A 5x5 grid with Dict observations ``{"agent": (x, y) / 4, "goal": (x, y) / 4}``, both placed at
    random. +1 on reaching the goal (ends the episode), -0.01 a step; truncated after 30 steps.
    """

    def __init__(self) -> None:
        super().__init__(size=5, max_steps=30)
        box = spaces.Box(0.0, 1.0, (2,), np.float32)
        self.observation_space = spaces.Dict({"agent": box, "goal": box})

    def _obs(self) -> dict[str, Any]:
        scale = float(self.size - 1)
        return {"agent": (self.agent / scale).astype(np.float32), "goal": (self.goal / scale).astype(np.float32)}

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[dict, dict]:
        super().reset(seed=seed)
        self.goal = self._random_cell()
        self.agent = self._random_cell()
        while (self.agent == self.goal).all():
            self.agent = self._random_cell()
        self.t = 0
        return self._obs(), {}

    def step(self, action: int) -> tuple[dict, float, bool, bool, dict]:
        self.t += 1
        self._move(action)
        terminated = bool((self.agent == self.goal).all())
        reward = (1.0 if terminated else 0.0) - 0.01
        return self._obs(), reward, terminated, self.t >= self.max_steps and not terminated, {}
