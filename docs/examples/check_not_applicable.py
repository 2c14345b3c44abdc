"""An entropy check on TD3, whose deterministic policy has no entropy: the check says so once, at info level."""

from stable_baselines3 import TD3

from sb3_diagnostics import EntropyCollapseCallback

model = TD3("MlpPolicy", "Pendulum-v1", learning_starts=100, policy_kwargs=dict(net_arch=[32, 32]), seed=0)
cb = EntropyCollapseCallback()
model.learn(300, callback=cb)
print(cb.report())
