"""A reward curriculum that multiplies the reward by 100 after 1000 steps, behind VecNormalize."""

from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.vec_env import VecNormalize

from sb3_diagnostics import DiagnosticsCallback
from sb3_diagnostics.faults import RewardCurriculum  # the library's fault reproductions (not a stable API)

env = VecNormalize(make_vec_env("CartPole-v1", n_envs=4, seed=0, wrapper_class=RewardCurriculum,
                                 wrapper_kwargs=dict(after_steps=1000, factor=100.0)))
model = PPO("MlpPolicy", env, n_steps=256, batch_size=64, policy_kwargs=dict(net_arch=[32, 32]), seed=0)
cb = DiagnosticsCallback()
model.learn(6000, callback=cb)
print(cb.report())
