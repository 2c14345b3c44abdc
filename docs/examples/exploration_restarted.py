"""A trained DQN loaded and trained on with learn()'s default reset_num_timesteps=True (SB3 #1340, #1629)."""

import tempfile

from stable_baselines3 import DQN
from stable_baselines3.common.env_util import make_vec_env

from sb3_diagnostics import DiagnosticsCallback

model = DQN("MlpPolicy", "CartPole-v1", learning_starts=500, exploration_fraction=0.5,
            policy_kwargs=dict(net_arch=[32, 32]), seed=0)
model.learn(3000)
with tempfile.TemporaryDirectory() as folder:
    model.save(f"{folder}/model")
    model = DQN.load(f"{folder}/model", env=make_vec_env("CartPole-v1", seed=1))
cb = DiagnosticsCallback()
model.learn(2000, callback=cb)  # the fix: model.learn(1000, callback=cb, reset_num_timesteps=False)
print(cb.report())
