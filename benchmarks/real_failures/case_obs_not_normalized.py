"""
SB3 #563 -- https://github.com/DLR-RM/stable-baselines3/issues/563 ("Is data normalization required by stable baselines?")

What the user saw: PPO (net_arch pi/vf [32, 32], lr 1e-4) on a custom env: "without VecNormalize
... the training is not good at all".
Cause (Miffyli, pointing to the docs' "normalizing input features" example): SB3 does not
normalise observations; raw features of very different magnitudes must be normalised
(VecNormalize or by hand).

Reproduction: a tracking env whose observation mixes the useful features (error and velocity,
magnitude ~1) with raw sensor readings in the thousands (a pressure ~1.0e4 +- 300 and a counter up
to 5000), PPO with the user's hyper-parameters. Healthy twin: VecNormalize(norm_obs=True,
norm_reward=False) -- the documented fix.
"""
import _harness as H
import gymnasium as gym
import numpy as np
from gymnasium import spaces
from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.vec_env import VecNormalize

expected = ["obs_scale_mismatch"]
stage = "preflight"
STEPS = 15_000


class TrackingEnv(gym.Env):
    def __init__(self):
        self.observation_space = spaces.Box(-np.inf, np.inf, (4,), np.float32)
        self.action_space = spaces.Discrete(3)

    def _obs(self):
        pressure = 1.0e4 + 300 * np.sin(self.t / 7) + self.np_random.normal(0, 30)
        return np.array([self.err, self.vel, pressure, 50.0 * self.t], np.float32)

    def reset(self, seed=None, options=None):
        super().reset(seed=seed)
        self.err, self.vel, self.t = float(self.np_random.uniform(-1, 1)), 0.0, 0
        return self._obs(), {}

    def step(self, action):
        self.vel = 0.8 * self.vel + 0.1 * (int(action) - 1)
        self.err = float(np.clip(self.err + self.vel + self.np_random.normal(0, 0.02), -3, 3))
        self.t += 1
        return self._obs(), -abs(self.err), False, self.t >= 100, {}


KW = dict(learning_rate=1e-4, n_steps=512, batch_size=64, seed=0, policy_kwargs=dict(net_arch=dict(pi=[32, 32], vf=[32, 32])))


def faulty():
    return PPO("MlpPolicy", make_vec_env(TrackingEnv, n_envs=2, seed=0), **KW)


def healthy():
    return PPO("MlpPolicy", VecNormalize(make_vec_env(TrackingEnv, n_envs=2, seed=0), norm_reward=False), **KW)


def main():
    H.report("case_obs_not_normalized", expected, stage, [
        H.preflight("faulty env (raw features)", TrackingEnv),
        H.preflight("healthy: the same env behind VecNormalize",
                    lambda: VecNormalize(make_vec_env(TrackingEnv, n_envs=2, seed=0), norm_reward=False)),
        H.live("faulty PPO raw observations", faulty, STEPS),
        H.live("healthy PPO VecNormalize(norm_obs)", healthy, STEPS),
    ])


if __name__ == "__main__":
    main()
