"""A termination condition with the wrong unit: the pole may lean 0.001 rad instead of 12 degrees."""

import gymnasium as gym

from sb3_diagnostics import check_training_env


class TightAngleLimit(gym.Wrapper):
    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        terminated = terminated or abs(obs[2]) > 0.001  # the mistake: 0.001 rad is not 12 degrees
        return obs, reward, terminated, truncated, info


env = TightAngleLimit(gym.make("CartPole-v1"))
report = check_training_env(env)
print(report)
