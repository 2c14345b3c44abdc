"""A model trained behind VecNormalize, saved, then loaded behind a new VecNormalize (SB3 #1256)."""

import tempfile

from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.vec_env import VecNormalize

from sb3_diagnostics import DiagnosticsCallback

env = VecNormalize(make_vec_env("Pendulum-v1", n_envs=2, seed=0))
model = PPO("MlpPolicy", env, n_steps=256, batch_size=64, policy_kwargs=dict(net_arch=[32, 32]), seed=0)
model.learn(1024)
with tempfile.TemporaryDirectory() as folder:
    model.save(f"{folder}/model")
    # the mistake: a fresh VecNormalize instead of VecNormalize.load(path, venv)
    model = PPO.load(f"{folder}/model", env=VecNormalize(make_vec_env("Pendulum-v1", n_envs=2, seed=1)))
cb = DiagnosticsCallback()
model.learn(512, callback=cb)
print(cb.report())
