"""A reward of exp(-error) with an error in the tens: almost every reward is ~0."""

import gymnasium as gym

from sb3_diagnostics import check_training_env
from sb3_diagnostics.faults import ExpErrorReward  # the library's fault reproductions (not a stable API)

env = ExpErrorReward(gym.make("Pendulum-v1"), scale=30.0)
report = check_training_env(env)
print(report)
