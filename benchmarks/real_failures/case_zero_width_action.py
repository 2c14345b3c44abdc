"""
hill-a/stable-baselines #553 -- https://github.com/hill-a/stable-baselines/issues/553
("PPO2 Agent always taking the same action during the training process")

What the user saw: PPO2 on a custom VAV (ventilation) env with a single continuous action: "the
agent is always taking the same action during the training phase".
Cause shown in the thread's code: self.action_space = spaces.Box(low=self.action_min,
high=self.action_min, ...) with action_min=30, action_max=1017 -- a zero-width Box (typo for
high=action_max), so every sampled action is clipped to 30.

Reproduction: the thread's env shape -- 5-dim state (time, zone volume=775 constant, load, supply
and return air temperatures), 11 steps per episode, air flow action; zone temperature must stay
near the 24 C set-point. Faulty: Box(low=30, high=30); PPO. Healthy twin: the typo fixed, and the
action expressed in [-1, 1] and rescaled to [30, 1017] inside the env (SB3's advice for Box actions).
Both twins keep the thread's other two quirks, which the pre-flight reports on both, rightly: the zone
volume is a constant observation (obs_dead_dims) and the time feature reaches 12 in a Box whose high is 11
(obs_not_in_space).
"""
import _harness as H
import gymnasium as gym
import numpy as np
from gymnasium import spaces
from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env

expected = ["action_space_degenerate"]
stage = "preflight+live"
STEPS = 10_000


class VAVEnv(gym.Env):
    def __init__(self, typo: bool):
        self.typo = typo
        self.temp_sp, self.MAXSTEPS, self.zone_volume = 24.0, 11, 775.0
        self.action_min, self.action_max = 30.0, 1017.0
        if typo:
            self.action_space = spaces.Box(low=self.action_min, high=self.action_min, shape=(1,), dtype=np.float32)
        else:
            self.action_space = spaces.Box(-1, 1, (1,), np.float32)
        self.observation_space = spaces.Box(np.array([1, 775, 0.3, 12, 21], np.float32),
                                            np.array([11, 775, 1, 20, 26], np.float32), dtype=np.float32)

    def _obs(self):
        return np.array([self.t + 1, self.zone_volume, self.load, self.sat, self.rat], np.float32)

    def reset(self, seed=None, options=None):
        super().reset(seed=seed)
        self.t, self.load, self.sat, self.rat = 0, float(self.np_random.uniform(0.3, 1)), 14.0, 24.0
        return self._obs(), {}

    def step(self, action):
        a = float(np.asarray(action).reshape(-1)[0])
        flow = a if self.typo else self.action_min + (a + 1) / 2 * (self.action_max - self.action_min)
        flow = float(np.clip(flow, self.action_min, self.action_max))
        heat_in = 6.0 * self.load
        cooling = flow / 1017.0 * (self.rat - self.sat) * 0.9
        self.rat = float(np.clip(self.rat + 0.5 * (heat_in - cooling), 21, 26))
        self.load = float(np.clip(self.load + self.np_random.normal(0, 0.05), 0.3, 1))
        self.t += 1
        return self._obs(), -abs(self.rat - self.temp_sp) - 0.0005 * flow, False, self.t >= self.MAXSTEPS, {}


def make(typo):
    return lambda: PPO("MlpPolicy", make_vec_env(lambda: VAVEnv(typo), n_envs=4, seed=0), n_steps=256, batch_size=64,
                       seed=0, policy_kwargs=dict(net_arch=[64, 64]))


def main():
    H.report("case_zero_width_action", expected, stage, [
        H.preflight("faulty env Box(low=30, high=30)", lambda: VAVEnv(True)),
        H.preflight("healthy env Box(-1, 1) -> [30, 1017]", lambda: VAVEnv(False)),
        H.live("faulty PPO", make(True), STEPS),
        H.live("healthy PPO", make(False), STEPS),
    ])


if __name__ == "__main__":
    main()
