"""CartPole with its reward multiplied by 100: returns in the thousands, advantages in the hundreds."""

from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env

from sb3_diagnostics import DiagnosticsCallback
from sb3_diagnostics.faults import RewardScale  # the library's fault reproductions (not a stable API)

env = make_vec_env("CartPole-v1", n_envs=2, seed=0, wrapper_class=RewardScale, wrapper_kwargs=dict(scale=100.0))
model = PPO("MlpPolicy", env, n_steps=256, batch_size=64, policy_kwargs=dict(net_arch=[32, 32]), seed=0)
cb = DiagnosticsCallback()
model.learn(3000, callback=cb)
print(cb.report())
