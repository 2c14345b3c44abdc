"""PPO with learning_rate=1e-5: the policy never leaves its random start."""

from stable_baselines3 import PPO

from sb3_diagnostics import DiagnosticsCallback

model = PPO("MlpPolicy", "CartPole-v1", learning_rate=1e-5, n_steps=256, batch_size=64,
            policy_kwargs=dict(net_arch=[32, 32]), seed=0)
cb = DiagnosticsCallback()
model.learn(5000, callback=cb)
print(cb.report())
