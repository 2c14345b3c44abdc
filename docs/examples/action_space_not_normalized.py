"""Pendulum's actions declared in [-100, 100] instead of [-1, 1]."""

import gymnasium as gym

from sb3_diagnostics import check_training_env

env = gym.wrappers.RescaleAction(gym.make("Pendulum-v1"), -100.0, 100.0)
report = check_training_env(env)
print(report)
