"""SAC with the reward multiplied by 1e4 and gamma=0.999: the Q-values run away."""

import gymnasium as gym
from stable_baselines3 import SAC

from sb3_diagnostics import DiagnosticsCallback
from sb3_diagnostics.faults import RewardScale  # the library's fault reproductions (not a stable API)

model = SAC("MlpPolicy", RewardScale(gym.make("Pendulum-v1"), 1e4), learning_starts=100, batch_size=64, gamma=0.999,
            learning_rate=1e-3, policy_kwargs=dict(net_arch=[32, 32]), seed=0)
cb = DiagnosticsCallback()
model.learn(2500, callback=cb)
print(cb.report())
