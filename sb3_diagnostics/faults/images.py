"""Image observations: the lit-pixel grid, as uint8 (what SB3 scales) or as float in [0, 255] (SB3 #268)."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces


class GridImageEnv(gym.Env):
    """
    Walk a lit pixel to the centre of a 12 x 12 RGB image: the observation is the image alone.

    :param dtype: ``np.uint8`` (SB3 divides such images by 255), or a float type: then, as SB3 #268's user had
        them, the images stay in [0, 255] unless ``scale`` is 1/255
    :param scale: multiplies the pixel values (float images only)
    """

    action_space = spaces.Discrete(4)

    def __init__(self, dtype: Any = np.uint8, scale: float = 1.0) -> None:
        self.dtype, self.scale = np.dtype(dtype), scale
        floating = np.issubdtype(self.dtype, np.floating)
        self.observation_space = spaces.Box(0.0 if floating else 0, 255.0 * scale if floating else 255, (12, 12, 3),
                                            self.dtype if floating else np.uint8)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self.t = 0
        self.pos = self.np_random.integers(0, 12, 2)
        return self._obs(), {}

    def _obs(self) -> np.ndarray:
        image = np.zeros((12, 12, 3), np.float64)
        image[self.pos[0], self.pos[1]] = 255.0
        if np.issubdtype(self.dtype, np.floating):
            return (image * self.scale).astype(self.dtype)
        return image.astype(np.uint8)

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        self.t += 1
        self.pos = np.clip(self.pos + [(1, 0), (-1, 0), (0, 1), (0, -1)][int(action)], 0, 11)
        arrived = bool((self.pos == 6).all())
        return self._obs(), 1.0 if arrived else -0.01 * float(np.abs(self.pos - 6).sum()), arrived, self.t >= 30, {}
