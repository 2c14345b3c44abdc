"""TD3 on MountainCarContinuous without action noise (SB3 #936): after learning_starts it pushes one way only."""

from stable_baselines3 import TD3

from sb3_diagnostics import DiagnosticsCallback

model = TD3("MlpPolicy", "MountainCarContinuous-v0", policy_kwargs=dict(net_arch=[32, 32]), seed=0)
# the fix: action_noise=NormalActionNoise(np.zeros(1), 0.5 * np.ones(1)) (or Ornstein-Uhlenbeck noise)
cb = DiagnosticsCallback()
model.learn(1500, callback=cb)
print(cb.report())
