"""An env that returns observations of shape (1, 3) for a (3,) observation space."""

import gymnasium as gym
from stable_baselines3 import SAC

from sb3_diagnostics import DiagnosticsCallback
from sb3_diagnostics.faults import PovObservation  # the library's fault reproductions (not a stable API)

model = SAC("MlpPolicy", PovObservation(gym.make("Pendulum-v1")), learning_starts=100, batch_size=64,
            policy_kwargs=dict(net_arch=[32, 32]), seed=0)
cb = DiagnosticsCallback()
model.learn(250, callback=cb)
print(cb.report())
