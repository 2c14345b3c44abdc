"""The score is paid only at the end of 100-step episodes, with gamma=0.9 (a horizon of 10 steps)."""

from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env

from sb3_diagnostics import DiagnosticsCallback
from sb3_diagnostics.faults import EpisodeEndRewardEnv  # the library's fault reproductions (not a stable API)

model = PPO("MlpPolicy", make_vec_env(EpisodeEndRewardEnv, n_envs=2, seed=0), gamma=0.9, n_steps=256, batch_size=64,
            policy_kwargs=dict(net_arch=[32, 32]), seed=0)
cb = DiagnosticsCallback()
model.learn(4096, callback=cb)
print(cb.report())
