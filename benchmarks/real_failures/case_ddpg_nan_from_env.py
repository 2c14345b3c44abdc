"""
hill-a/stable-baselines #789 -- https://github.com/hill-a/stable-baselines/issues/789
("[Question] Adam updates diverges for DDPG")

What the user saw: DDPG on a custom env fails after a few iterations with an Adam error (the
moving average of squared gradients is NaN/0); a colleague hit the same.
Cause (found by the user with VecCheckNan, as the maintainers advise): "my custom env returns NaN
values for some actions" -- a formula that is undefined on part of the action range.

Reproduction: a set-point env whose reward adds an efficiency term 0.1 * log(a + 0.5), NaN
whenever the action is below -0.5 (a third of the Box(-1, 1) range); SB3 DDPG.
Healthy twin: the same term on the clipped argument log(max(a + 0.5, 1e-3)).
"""
import _harness as H
import gymnasium as gym
import numpy as np
from gymnasium import spaces
from stable_baselines3 import DDPG
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.noise import NormalActionNoise

expected = ["nan_detected"]
stage = "live (+preflight)"
STEPS = 3_000


class EfficiencyEnv(gym.Env):
    def __init__(self, guard: bool = False):
        self.guard = guard
        self.observation_space = spaces.Box(-np.inf, np.inf, (2,), np.float32)
        self.action_space = spaces.Box(-1, 1, (1,), np.float32)

    def reset(self, seed=None, options=None):
        super().reset(seed=seed)
        self.x, self.target, self.t = 0.0, float(self.np_random.uniform(-1, 1)), 0
        return np.array([self.x, self.target], np.float32), {}

    def step(self, action):
        a = float(np.asarray(action).reshape(-1)[0])
        self.x = float(np.clip(self.x + 0.2 * a, -2, 2))
        arg = max(a + 0.5, 1e-3) if self.guard else a + 0.5
        with np.errstate(invalid="ignore", divide="ignore"):
            reward = -(self.x - self.target) ** 2 + 0.1 * float(np.log(arg))
        self.t += 1
        return np.array([self.x, self.target], np.float32), reward, False, self.t >= 100, {}


def make(guard):
    return lambda: DDPG("MlpPolicy", make_vec_env(lambda: EfficiencyEnv(guard), seed=0), learning_starts=200,
                        batch_size=64, action_noise=NormalActionNoise(np.zeros(1), 0.3 * np.ones(1)), seed=0,
                        policy_kwargs=dict(net_arch=[64, 64]))


def main():
    H.report("case_ddpg_nan_from_env", expected, stage, [
        H.preflight("faulty env", EfficiencyEnv),
        H.preflight("healthy env", lambda: EfficiencyEnv(True)),
        H.live("faulty DDPG, env reward NaN for a < -0.5", make(False), STEPS),
        H.live("healthy DDPG, guarded log", make(True), STEPS),
    ])


if __name__ == "__main__":
    main()
