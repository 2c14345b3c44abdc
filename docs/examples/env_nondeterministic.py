"""An env that adds noise from the global np.random instead of self.np_random."""

import gymnasium as gym

from sb3_diagnostics import check_training_env
from sb3_diagnostics.faults import GlobalNoise  # the library's fault reproductions (not a stable API)

env = GlobalNoise(gym.make("CartPole-v1"))
report = check_training_env(env)
print(report)
