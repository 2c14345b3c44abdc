"""An observation function that returns zeros."""

import gymnasium as gym
import numpy as np

from sb3_diagnostics import check_training_env

env = gym.wrappers.TransformObservation(gym.make("CartPole-v1"), lambda o: np.zeros_like(o),
                                        gym.make("CartPole-v1").observation_space)
report = check_training_env(env)
print(report)
