"""Images stored as float32 in [0, 255] (SB3 #268): SB3 divides only uint8 images by 255, so the CNN sees huge inputs."""

import gymnasium as gym
import numpy as np

from sb3_diagnostics import check_training_env


class FloatGridImage(gym.Env):
    """Walk a lit pixel to the centre of a 12 x 12 RGB image."""

    # the mistake: float32 images in [0, 255]; declare Box(0, 255, shape, np.uint8) or divide by 255
    observation_space = gym.spaces.Box(0.0, 255.0, (12, 12, 3), np.float32)
    action_space = gym.spaces.Discrete(4)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t, self.pos = 0, self.np_random.integers(0, 12, 2)
        return self._obs(), {}

    def _obs(self):
        image = np.zeros((12, 12, 3), np.float32)
        image[self.pos[0], self.pos[1]] = 255.0
        return image

    def step(self, action):
        self.t += 1
        self.pos = np.clip(self.pos + [(1, 0), (-1, 0), (0, 1), (0, -1)][int(action)], 0, 11)
        arrived = bool((self.pos == 6).all())
        reward = 1.0 if arrived else -0.01 * float(np.abs(self.pos - 6).sum())
        return self._obs(), reward, arrived, self.t >= 30, {}


report = check_training_env(FloatGridImage(), n_steps=200)
print(report)
