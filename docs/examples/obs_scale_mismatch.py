"""One observation entry in other units: 10 000x larger than the others."""

import gymnasium as gym
import numpy as np

from sb3_diagnostics import check_training_env

env = gym.wrappers.TransformObservation(gym.make("CartPole-v1"), lambda o: o * np.array([1e4, 1, 1, 1], o.dtype),
                                        gym.spaces.Box(-np.inf, np.inf, (4,), np.float32))
report = check_training_env(env)
print(report)
