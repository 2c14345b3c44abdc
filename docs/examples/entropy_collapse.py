"""A2C with learning_rate=0.05: the policy becomes deterministic within a few hundred updates."""

from stable_baselines3 import A2C

from sb3_diagnostics import DiagnosticsCallback

model = A2C("MlpPolicy", "CartPole-v1", learning_rate=0.05, n_steps=8,
            policy_kwargs=dict(net_arch=[32, 32]), seed=0)
cb = DiagnosticsCallback()
model.learn(2000, callback=cb)
print(cb.report())
