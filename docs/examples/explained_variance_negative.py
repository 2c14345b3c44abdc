"""learning_rate=0.01 for 30 epochs on a noisy reward: the critic fits each rollout's noise."""

from stable_baselines3 import PPO

from sb3_diagnostics import DiagnosticsCallback
from sb3_diagnostics.faults import NoisyRewardEnv  # the library's fault reproductions (not a stable API)

model = PPO("MlpPolicy", NoisyRewardEnv(), learning_rate=0.01, n_epochs=30, n_steps=256, batch_size=64,
            policy_kwargs=dict(net_arch=[32, 32]), seed=0)
cb = DiagnosticsCallback()
model.learn(8192, callback=cb)
print(cb.report())
