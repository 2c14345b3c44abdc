"""PPO with a mistyped learning rate (3e-10 for 3e-4): the policy does not change at all."""

from stable_baselines3 import PPO

from sb3_diagnostics import DiagnosticsCallback

model = PPO("MlpPolicy", "CartPole-v1", learning_rate=3e-10, n_steps=256, batch_size=64,
            policy_kwargs=dict(net_arch=[32, 32]), seed=0)
cb = DiagnosticsCallback()
model.learn(3000, callback=cb)
print(cb.report())
