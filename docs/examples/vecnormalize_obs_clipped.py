"""Sensor spikes behind VecNormalize(clip_obs=5.0): the informative extremes are cut."""

from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.vec_env import VecNormalize

from sb3_diagnostics import DiagnosticsCallback
from sb3_diagnostics.faults import SpikeObsEnv  # the library's fault reproductions (not a stable API)

env = VecNormalize(make_vec_env(SpikeObsEnv, n_envs=4, seed=0), clip_obs=5.0)
model = PPO("MlpPolicy", env, n_steps=256, batch_size=64, policy_kwargs=dict(net_arch=[32, 32]), seed=0)
cb = DiagnosticsCallback()
model.learn(4096, callback=cb)
print(cb.report())
