"""Pendulum paid 1 only when it is upright and still, 0 otherwise: random actions almost never get there."""

import gymnasium as gym

from sb3_diagnostics import check_training_env

env = gym.wrappers.TransformReward(gym.make("Pendulum-v1"), lambda r: 1.0 if r > -0.1 else 0.0)
report = check_training_env(env, n_steps=4000)
print(report)
