"""Three observation entries that are never filled."""

import gymnasium as gym
import numpy as np

from sb3_diagnostics import check_training_env

env = gym.wrappers.TransformObservation(gym.make("CartPole-v1"), lambda o: np.concatenate([o, np.zeros(3, o.dtype)]),
                                        gym.spaces.Box(-np.inf, np.inf, (7,), np.float32))
report = check_training_env(env)
print(report)
