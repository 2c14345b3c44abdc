"""A reward of pure noise: the value function can only predict its mean, and predicts nothing."""

from stable_baselines3 import PPO

from sb3_diagnostics import DiagnosticsCallback
from sb3_diagnostics.faults import NoisyRewardEnv  # the library's fault reproductions (not a stable API)

model = PPO("MlpPolicy", NoisyRewardEnv(), n_steps=256, batch_size=64,
            policy_kwargs=dict(net_arch=[32, 32]), seed=0)
cb = DiagnosticsCallback()
model.learn(16384, callback=cb)
print(cb.report())
