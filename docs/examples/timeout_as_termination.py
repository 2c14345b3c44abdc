"""Pendulum whose own step counter ends every episode with terminated=True at step 200 (SB3 #284)."""

import gymnasium as gym

from sb3_diagnostics import check_training_env


class MyPendulum(gym.Wrapper):
    def __init__(self):
        super().__init__(gym.make("Pendulum-v1", max_episode_steps=10_000))

    def reset(self, **kwargs):
        self.t = 0
        return self.env.reset(**kwargs)

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.t += 1
        return obs, reward, terminated or self.t >= 200, truncated, info  # the fix: truncated or self.t >= 200


report = check_training_env(MyPendulum())
print(report)
