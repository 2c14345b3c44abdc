"""target_kl=0.001: PPO stops after the first epoch of almost every update."""

from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env

from sb3_diagnostics import DiagnosticsCallback

model = PPO("MlpPolicy", make_vec_env("CartPole-v1", n_envs=4, seed=0), learning_rate=1e-3, target_kl=0.001,
            n_steps=256, batch_size=64, policy_kwargs=dict(net_arch=[32, 32]), seed=0)
cb = DiagnosticsCallback()
model.learn(8000, callback=cb)
print(cb.report())
