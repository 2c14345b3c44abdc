"""SAC without its entropy bonus (ent_coef=0.0): the action standard deviation shrinks to nothing."""

from stable_baselines3 import SAC

from sb3_diagnostics import DiagnosticsCallback

model = SAC("MlpPolicy", "Pendulum-v1", ent_coef=0.0, learning_starts=100, batch_size=64,
            policy_kwargs=dict(net_arch=[32, 32]), seed=0)
cb = DiagnosticsCallback()
model.learn(3000, callback=cb)
print(cb.report())
