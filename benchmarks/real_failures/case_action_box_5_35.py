"""
SB3 #389 / #1972 -- https://github.com/DLR-RM/stable-baselines3/issues/389 ,
https://github.com/DLR-RM/stable-baselines3/issues/1972 ("Actions are generated out of the range")

What the users saw: with a custom Box action space such as Box(5, 35) (a set-point) or
Box(1, n_assets), the actions the agent produces are "outside the space" and get clipped; in #389
every action ends at the lower bound. Cause (maintainers, and SB3's own check_env warning): the
Box is not normalised to [-1, 1]; a Gaussian policy centred on 0 with std 1 is clipped to the
bound 5 almost always, so every action has the same effect and nothing can be learned.

Reproduction: a set-point env, action = temperature in Box(5, 35), reward = -|T - 22| / 10; A2C
(as in #1972). Healthy twin: the documented fix -- a Box(-1, 1) action rescaled inside the env.
"""
import _harness as H
import gymnasium as gym
import numpy as np
from gymnasium import spaces
from stable_baselines3 import A2C
from stable_baselines3.common.env_util import make_vec_env

expected = ["action_space_not_normalized"]
stage = "preflight+live"
STEPS = 15_000


class SetPointEnv(gym.Env):
    def __init__(self, normalized: bool = False):
        self.normalized = normalized
        self.observation_space = spaces.Box(-1, 1, (2,), np.float32)
        self.action_space = spaces.Box(-1, 1, (1,), np.float32) if normalized else spaces.Box(5, 35, (1,), np.float32)

    def reset(self, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        self.target = float(self.np_random.uniform(15, 29))
        return self._obs(), {}

    def _obs(self):
        return np.array([(self.target - 22) / 7, self.t / 50], np.float32)

    def step(self, action):
        a = float(np.asarray(action).reshape(-1)[0])
        temp = 20 + 15 * a if self.normalized else a  # rescale [-1, 1] -> [5, 35]
        temp = float(np.clip(temp, 5, 35))
        self.t += 1
        return self._obs(), -abs(temp - self.target) / 10, False, self.t >= 50, {}


def faulty():
    return A2C("MlpPolicy", make_vec_env(SetPointEnv, n_envs=4, seed=0), seed=0, policy_kwargs=dict(net_arch=[64, 64]))


def healthy():
    return A2C("MlpPolicy", make_vec_env(lambda: SetPointEnv(normalized=True), n_envs=4, seed=0), seed=0,
               policy_kwargs=dict(net_arch=[64, 64]))


def main():
    H.report("case_action_box_5_35", expected, stage, [
        H.preflight("faulty env Box(5, 35)", SetPointEnv),
        H.preflight("healthy env Box(-1, 1)", lambda: SetPointEnv(normalized=True)),
        H.live("faulty A2C on Box(5, 35)", faulty, STEPS),
        H.live("healthy A2C on Box(-1, 1)", healthy, STEPS),
    ])


if __name__ == "__main__":
    main()
