"""A time penalty whose step counter reset() never resets: the same behaviour earns less and less."""

import gymnasium as gym
from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env

from sb3_diagnostics import DiagnosticsCallback
from sb3_diagnostics.faults import TimePenalty  # the library's fault reproductions (not a stable API)

env = make_vec_env(lambda: TimePenalty(gym.make("CartPole-v1"), reset_counter=False), seed=0)
model = PPO("MlpPolicy", env, n_steps=256, batch_size=64, policy_kwargs=dict(net_arch=[32, 32]), seed=0)
cb = DiagnosticsCallback()
model.learn(8000, callback=cb)
print(cb.report())
