"""A typo in net_arch: [64, 1] puts a one-unit bottleneck in the network."""

from stable_baselines3 import PPO

from sb3_diagnostics import DiagnosticsCallback

model = PPO("MlpPolicy", "CartPole-v1", n_steps=256, batch_size=64, policy_kwargs=dict(net_arch=[64, 1]), seed=0)
cb = DiagnosticsCallback()
model.learn(1024, callback=cb)
print(cb.report())
