"""
Farama-Foundation/SuperSuit PR #116 -- https://github.com/Farama-Foundation/SuperSuit/pull/116
("Make the SB3 wrappers return copies of buffers instead of the underlying buffers")

What the users saw: SB3 trained on PettingZoo envs through SuperSuit's pettingzoo_env_to_vec_env_v0 /
concat_vec_envs_v0 learned from (obs_{n+1}, action_n) pairs; evaluation was "staggered by one".
Cause (RedTachyon): the wrappers keep an internal observation buffer, update it in place and
return it by reference; SB3 keeps that array as self._last_obs, which the next step overwrites
before the transition is stored. Fix: return a copy (14 characters).

Reproduction: a VecEnvWrapper around CartPole that writes every observation into one
preallocated buffer and returns the buffer itself; PPO. Healthy twin: the same wrapper returning
buf.copy() (the PR's fix).
"""
import _harness as H
import numpy as np
from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.vec_env import VecEnvWrapper

expected = ["obs_buffer_aliased"]
stage = "live (+preflight on the VecEnv)"
STEPS = 15_000


class ConcatBufferVecEnv(VecEnvWrapper):
    def __init__(self, venv, copy: bool):
        super().__init__(venv)
        self.copy = copy
        self.buf = np.zeros((venv.num_envs,) + venv.observation_space.shape, venv.observation_space.dtype)

    def reset(self):
        self.buf[:] = self.venv.reset()
        return self.buf.copy() if self.copy else self.buf

    def step_wait(self):
        obs, rew, done, info = self.venv.step_wait()
        self.buf[:] = obs
        return (self.buf.copy() if self.copy else self.buf), rew, done, info


def venv(copy):
    return ConcatBufferVecEnv(make_vec_env("CartPole-v1", n_envs=4, seed=0), copy=copy)


def faulty():
    return PPO("MlpPolicy", venv(False), n_steps=256, batch_size=64, seed=0, policy_kwargs=dict(net_arch=[64, 64]))


def healthy():
    return PPO("MlpPolicy", venv(True), n_steps=256, batch_size=64, seed=0, policy_kwargs=dict(net_arch=[64, 64]))


def main():
    H.report("case_obs_buffer_aliased", expected, stage, [
        H.preflight("faulty VecEnv (buffer by reference)", lambda: venv(False)),
        H.preflight("healthy VecEnv (copy)", lambda: venv(True)),
        H.live("faulty PPO", faulty, STEPS),
        H.live("healthy PPO", healthy, STEPS),
    ])


if __name__ == "__main__":
    main()
