"""An env that returns float64 observations for its float32 observation space."""

import gymnasium as gym
import numpy as np

from sb3_diagnostics import check_training_env

env = gym.wrappers.TransformObservation(gym.make("CartPole-v1"), lambda o: o.astype(np.float64),
                                        gym.make("CartPole-v1").observation_space)
report = check_training_env(env)
print(report)
