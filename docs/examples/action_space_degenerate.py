"""An action space whose bounds collapse to one value (low == high): the agent has nothing to choose."""

import gymnasium as gym
import numpy as np

from sb3_diagnostics import check_training_env

env = gym.make("Pendulum-v1")
env.action_space = gym.spaces.Box(2.0, 2.0, (1,), np.float32)  # the mistake: low == high
report = check_training_env(env)
print(report)
