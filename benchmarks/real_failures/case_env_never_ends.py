"""
SB3 #1806 -- https://github.com/DLR-RM/stable-baselines3/issues/1806
("rollout/ep_len_mean and rollout/ep_rew_mean not shown despite env wrapped in Monitor")

What the user saw: PPO on a custom env (Box(3) actions, 43-dim observations, SubprocVecEnv):
the rollout/ep_len_mean and ep_rew_mean lines never appear in the logs.
Cause (araffin: "maybe env never terminates?"): the env never returns terminated nor truncated,
so Monitor never closes an episode -- nothing is logged and, worse, there is no episode to learn
from (the returns are an endless discounted sum).

Reproduction: the env of the thread with step() returning terminated=False, truncated=False
forever. Healthy twin: araffin's version of the same env, which terminates (here: a 200-step
time limit, truncated=True).
"""
import _harness as H
import gymnasium as gym
import numpy as np
from gymnasium import spaces
from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env

expected = ["episodes_never_end"]
stage = "preflight+live"
STEPS = 12_000


class CustomGym(gym.Env):
    def __init__(self, max_steps=None):
        self.action_space = spaces.Box(-1, 1, (3,), np.float32)
        self.observation_space = spaces.Box(-1, 1, (43,), np.float32)
        self.max_steps = max_steps

    def reset(self, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        self.x = self.np_random.uniform(-0.5, 0.5, 43).astype(np.float32)
        return self.x, {}

    def step(self, action):
        self.t += 1
        self.x[:3] = np.clip(self.x[:3] + 0.1 * np.asarray(action, np.float32), -1, 1)
        reward = -float(np.abs(self.x[:3]).sum())
        truncated = self.max_steps is not None and self.t >= self.max_steps
        return self.x.copy(), reward, False, truncated, {}


def faulty():
    return PPO("MlpPolicy", make_vec_env(CustomGym, n_envs=2, seed=0), n_steps=512, batch_size=64, seed=0,
               policy_kwargs=dict(net_arch=[64, 64]))


def healthy():
    return PPO("MlpPolicy", make_vec_env(lambda: CustomGym(max_steps=200), n_envs=2, seed=0), n_steps=512,
               batch_size=64, seed=0, policy_kwargs=dict(net_arch=[64, 64]))


def main():
    H.report("case_env_never_ends", expected, stage, [
        H.preflight("faulty env (never ends)", CustomGym),
        H.preflight("healthy env (200-step limit)", lambda: CustomGym(max_steps=200)),
        H.live("faulty PPO", faulty, STEPS),
        H.live("healthy PPO", healthy, STEPS),
    ])


if __name__ == "__main__":
    main()
