"""A reward of two terms reported in info["reward_components"], one weighted 10 000x more than the other."""

from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env

from sb3_diagnostics import DiagnosticsCallback
from sb3_diagnostics.faults import RewardComponents  # the library's fault reproductions (not a stable API)

env = make_vec_env("CartPole-v1", n_envs=2, seed=0, wrapper_class=RewardComponents,
                   wrapper_kwargs=dict(angle_weight=100.0, center_weight=0.01))
model = PPO("MlpPolicy", env, n_steps=256, batch_size=64, policy_kwargs=dict(net_arch=[32, 32]), seed=0)
cb = DiagnosticsCallback()
model.learn(3000, callback=cb)
print(cb.report())
