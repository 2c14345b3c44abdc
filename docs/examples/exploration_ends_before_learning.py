"""A DQN whose epsilon reaches its final value (step 1000) long before learning_starts (5000): SB3 #529."""

from stable_baselines3 import DQN

from sb3_diagnostics import DiagnosticsCallback

model = DQN("MlpPolicy", "CartPole-v1", learning_starts=5000, exploration_fraction=0.1,
            policy_kwargs=dict(net_arch=[32, 32]), seed=0)
cb = DiagnosticsCallback()
model.learn(10_000, callback=cb)  # the warning comes at the start; stop_on="warning" would stop it there
print(cb.report())
