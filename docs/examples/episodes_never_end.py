"""Pendulum without its time limit: no episode ever ends."""

import gymnasium as gym

from sb3_diagnostics import check_training_env

env = gym.make("Pendulum-v1", max_episode_steps=None).unwrapped  # unwrapped: no TimeLimit
report = check_training_env(env)
print(report)
