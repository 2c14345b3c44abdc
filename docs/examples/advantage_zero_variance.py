"""A bandit that pays +1 whatever the agent does: no outcome is better than another."""

from stable_baselines3 import PPO

from sb3_diagnostics import DiagnosticsCallback
from sb3_diagnostics.faults import BanditEnv  # the library's fault reproductions (not a stable API)

model = PPO("MlpPolicy", BanditEnv((1.0, 1.0)), n_steps=256, batch_size=64,
            policy_kwargs=dict(net_arch=[32, 32]), seed=0)
cb = DiagnosticsCallback()
model.learn(2048, callback=cb)
print(cb.report())
