"""A reward that nothing in the observation predicts: a coin flip on every step."""

import gymnasium as gym
import numpy as np

from sb3_diagnostics import check_training_env


class CoinFlipReward(gym.Env):
    observation_space = gym.spaces.Box(-np.inf, np.inf, (3,), np.float32)
    action_space = gym.spaces.Discrete(3)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.x, self.t = self.np_random.uniform(-1, 1, 3), 0
        return self.x.astype(np.float32), {}

    def step(self, action):
        self.x = self.x + 0.1 * (int(action) - 1) + self.np_random.normal(0, 0.05, 3)
        self.t += 1
        reward = float(self.np_random.normal())  # the mistake: the reward ignores the state
        return self.x.astype(np.float32), reward, False, self.t >= 50, {}


report = check_training_env(CoinFlipReward())
print(report)
