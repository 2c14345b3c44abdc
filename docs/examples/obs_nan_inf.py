"""An observation that becomes NaN after 50 steps."""

import gymnasium as gym

from sb3_diagnostics import check_training_env
from sb3_diagnostics.faults import NaNObservation  # the library's fault reproductions (not a stable API)

env = NaNObservation(gym.make("CartPole-v1"), after_steps=50)
report = check_training_env(env)
print(report)
