"""A flat observation of 1200 numbers (the state repeated 300 times) for an MLP policy."""

import gymnasium as gym
import numpy as np

from sb3_diagnostics import check_training_env

env = gym.wrappers.TransformObservation(gym.make("CartPole-v1"), lambda o: np.tile(o, 300),
                                        gym.spaces.Box(-np.inf, np.inf, (1200,), np.float32))
report = check_training_env(env)
print(report)
