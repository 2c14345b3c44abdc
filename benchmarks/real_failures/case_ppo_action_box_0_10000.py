"""
hill-a/stable-baselines #277 -- https://github.com/hill-a/stable-baselines/issues/277
("Regulate temperature in room (overfitting, continuous action space)")

What the user saw: a room-temperature controller with action_space Box(low=0, high=10000)
(heater power) and observation Box(0, 70) (temperature): "it seems tested actions to see which
ones are good are only tested in range [0, 3]" -- the user multiplied actions by 3000 by hand.
Cause (answer in the thread, and SB3's RL tips): actions are sampled from a Gaussian around 0 with
std ~1 and clipped to the Box, so a Box that is not [-1, 1] is explored on a tiny sliver of its
range; normalise the action space (and the observation).

Reproduction: the thread's env (target 22 C, reward -(T_next - 22)^2, power in [0, 10000] W,
observation the raw temperature), PPO. Healthy twin: Box(-1, 1) rescaled to [0, 10000] inside the
env, observation (T - 22) / 10.
"""
import _harness as H
import gymnasium as gym
import numpy as np
from gymnasium import spaces
from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env

expected = ["action_space_not_normalized"]
stage = "preflight+live"
STEPS = 15_000


class RoomEnv(gym.Env):
    def __init__(self, normalized: bool = False):
        self.normalized = normalized
        if normalized:
            self.action_space = spaces.Box(-1, 1, (1,), np.float32)
            self.observation_space = spaces.Box(-np.inf, np.inf, (1,), np.float32)
        else:
            self.action_space = spaces.Box(low=0, high=10000, shape=(1,), dtype=np.float32)
            self.observation_space = spaces.Box(low=0, high=70, shape=(1,), dtype=np.float32)

    def _obs(self):
        return np.array([(self.T - 22) / 10 if self.normalized else self.T], np.float32)

    def reset(self, seed=None, options=None):
        super().reset(seed=seed)
        self.T, self.t = float(self.np_random.uniform(12, 20)), 0
        return self._obs(), {}

    def step(self, action):
        a = float(np.asarray(action).reshape(-1)[0])
        power = (a + 1) * 5000 if self.normalized else a
        power = float(np.clip(power, 0, 10000))
        outside = 5.0
        self.T += 0.001 * power * 0.1 - 0.05 * (self.T - outside)  # 10 minutes of heating and losses
        self.t += 1
        return self._obs(), -(self.T - 22) ** 2 / 100, False, self.t >= 72, {}


def faulty():
    return PPO("MlpPolicy", make_vec_env(RoomEnv, n_envs=4, seed=0), n_steps=256, batch_size=64, seed=0,
               policy_kwargs=dict(net_arch=[64, 64]))


def healthy():
    return PPO("MlpPolicy", make_vec_env(lambda: RoomEnv(True), n_envs=4, seed=0), n_steps=256, batch_size=64,
               seed=0, policy_kwargs=dict(net_arch=[64, 64]))


def main():
    H.report("case_ppo_action_box_0_10000", expected, stage, [
        H.preflight("faulty env Box(0, 10000)", RoomEnv),
        H.preflight("healthy env Box(-1, 1)", lambda: RoomEnv(True)),
        H.live("faulty PPO", faulty, STEPS),
        H.live("healthy PPO", healthy, STEPS),
    ])


if __name__ == "__main__":
    main()
