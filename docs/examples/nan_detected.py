"""NaN in one observation entry after 300 steps (a division by zero in the env)."""

import gymnasium as gym
from stable_baselines3 import DQN

from sb3_diagnostics import DiagnosticsCallback
from sb3_diagnostics.faults import NaNObservation  # the library's fault reproductions (not a stable API)

env = NaNObservation(gym.make("CartPole-v1"), after_steps=300, index=2)
model = DQN("MlpPolicy", env, learning_starts=100, policy_kwargs=dict(net_arch=[32, 32]), seed=0)
cb = DiagnosticsCallback()
model.learn(1000, callback=cb)
print(cb.report())
