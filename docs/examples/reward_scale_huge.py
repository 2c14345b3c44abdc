"""A win bonus of 1e5 next to rewards of about 1."""

from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env

from sb3_diagnostics import DiagnosticsCallback
from sb3_diagnostics.faults import WinBonusEnv  # the library's fault reproductions (not a stable API)

env = make_vec_env(WinBonusEnv, n_envs=2, seed=0, env_kwargs=dict(win_bonus=1e5))
model = PPO("MlpPolicy", env, n_steps=256, batch_size=64, policy_kwargs=dict(net_arch=[32, 32]), seed=0)
cb = DiagnosticsCallback()
model.learn(3000, callback=cb)
print(cb.report())
