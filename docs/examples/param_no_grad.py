"""A custom features extractor that detaches its output: its layers never get a gradient."""

from stable_baselines3 import PPO

from sb3_diagnostics import DiagnosticsCallback
from sb3_diagnostics.faults import DetachedExtractor  # the library's fault reproductions (not a stable API)

model = PPO("MlpPolicy", "CartPole-v1", n_steps=128, batch_size=64, seed=0,
            policy_kwargs=dict(features_extractor_class=DetachedExtractor, net_arch=[16]))
cb = DiagnosticsCallback()
model.learn(768, callback=cb)
print(cb.report())
