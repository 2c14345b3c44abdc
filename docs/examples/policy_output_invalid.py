"""A custom policy whose evaluate_actions() returns one log-probability per action dimension instead of their sum."""

import gymnasium as gym
import numpy as np
from stable_baselines3 import PPO

from sb3_diagnostics import check_policy
from sb3_diagnostics.faults import UnsummedLogProbPolicy  # the library's fault reproductions (not a stable API)

env = gym.make("MountainCarContinuous-v0")
env.action_space = gym.spaces.Box(-1, 1, (2,), np.float32)  # two action dims make the mistake visible
model = PPO(UnsummedLogProbPolicy, env, policy_kwargs=dict(net_arch=[32, 32]), seed=0)
report = check_policy(model)
print(report)
