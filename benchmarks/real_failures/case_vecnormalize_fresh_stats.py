"""
SB3 #1256 -- https://github.com/DLR-RM/stable-baselines3/issues/1256
("Resuming training of normalized environment decreases dramatically"); same mistake in
kuds/mesozoic-labs PR #131 (https://github.com/kuds/mesozoic-labs/pull/131, "created fresh
VecNormalize wrappers at each stage transition ... immediate performance collapse") and
isaac-sim/IsaacLab #2635 (https://github.com/isaac-sim/IsaacLab/issues/2635, play.py wraps the env
"with a fresh VecNormalize instance").

What the users saw: a PPO model trained behind VecNormalize is saved, reloaded and trained on (or
evaluated); performance collapses at the start of the second stage.
Cause: the VecNormalize statistics were not saved/loaded, so the resumed model sees inputs
normalised with fresh (mean 0, var 1, then quickly drifting) statistics -- scrambled inputs.

Reproduction: CartPole whose sensors report in raw units with offsets (position in mm around 2400,
angle in millideg), PPO + VecNormalize for 20k steps, model.save(); stage 2 = PPO.load() +
a *new* VecNormalize, learn(8k) with the callback. Healthy twin: stage 2 with
VecNormalize.load(stats) (the fix in PR #131).
"""
import os
import tempfile

import _harness as H
import gymnasium as gym
import numpy as np
from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.vec_env import VecNormalize

expected = ["vecnormalize_stats_not_restored"]
stage = "live"
PRETRAIN, STEPS = 20_000, 8_000
TMP = tempfile.mkdtemp(prefix="vecnorm_case_")


class RawSensors(gym.ObservationWrapper):
    def __init__(self, env):
        super().__init__(env)
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, (4,), np.float32)

    def observation(self, obs):
        return (obs * np.array([1000, 100, 57296, 100]) + np.array([2400, 0, 0, 0])).astype(np.float32)


def venv():
    return make_vec_env(lambda: RawSensors(gym.make("CartPole-v1")), n_envs=4, seed=1)


def _pretrain():
    path = os.path.join(TMP, "stage1")
    if not os.path.exists(path + ".zip"):
        env = VecNormalize(make_vec_env(lambda: RawSensors(gym.make("CartPole-v1")), n_envs=4, seed=0), norm_reward=False)
        m = PPO("MlpPolicy", env, n_steps=256, batch_size=64, seed=0, policy_kwargs=dict(net_arch=[64, 64]))
        m.learn(PRETRAIN)
        m.save(path)
        env.save(path + "_vecnorm.pkl")  # saved, but the faulty stage 2 forgets to load it
        print(f"stage 1: mean return after {PRETRAIN} steps = {H.mean_return(m):.1f}")
    return path


def faulty():
    path = _pretrain()
    env = VecNormalize(venv(), norm_reward=False)  # fresh statistics
    return PPO.load(path, env=env, seed=0)


def healthy():
    path = _pretrain()
    env = VecNormalize.load(path + "_vecnorm.pkl", venv())
    return PPO.load(path, env=env, seed=0)


def main():
    H.report("case_vecnormalize_fresh_stats", expected, stage, [
        H.live("faulty stage 2: loaded model + fresh VecNormalize", faulty, STEPS,
               learn_kwargs=dict(reset_num_timesteps=False)),
        H.live("healthy stage 2: loaded model + VecNormalize.load(stats)", healthy, STEPS,
               learn_kwargs=dict(reset_num_timesteps=False)),
    ])


if __name__ == "__main__":
    main()
