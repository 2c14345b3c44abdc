"""
SB3 #798 -- https://github.com/DLR-RM/stable-baselines3/issues/798
("[Bug] Monitor does not take into account modification introduced by a wrapper"); same report in
SB3 #146 (https://github.com/DLR-RM/stable-baselines3/issues/146) and #2159
(https://github.com/DLR-RM/stable-baselines3/issues/2159).

What the users saw: make_vec_env(env_id, wrapper_class=MyRewardWrapper) -- the logged
ep_rew_mean (-1.44e+03 on Pendulum in #798) is the *unwrapped* reward, because make_vec_env puts
Monitor under wrapper_class; in #798's example the wrapper returns reward 0.0, so SAC trains on
nothing while the log looks like a normal Pendulum run.
Cause: Monitor placed before (inside) the reward wrapper; the learner's reward is not the logged one.

Reproduction: #798's code -- SAC on Pendulum, make_vec_env(wrapper_class=MyWrapper) where the
wrapper's reward() returns 0.0. Healthy twin: the wrapper that keeps the reward (what the user
meant), same pipeline.
"""
import _harness as H
import gymnasium as gym
from stable_baselines3 import SAC
from stable_baselines3.common.env_util import make_vec_env

expected = [
    "reward_all_zero",
    "monitor_reward_mismatch (missing code: Monitor's episode return != sum of rewards the learner got)",
]
stage = "live"
STEPS = 2_500


class MyWrapper(gym.RewardWrapper):
    """A wrapper that removes the reward (#798)."""

    def reward(self, reward):
        return 0.0


class KeepWrapper(gym.RewardWrapper):
    def reward(self, reward):
        return reward


def faulty():
    return SAC("MlpPolicy", make_vec_env("Pendulum-v1", wrapper_class=MyWrapper, seed=0), learning_starts=100,
               batch_size=64, seed=0, policy_kwargs=dict(net_arch=[64, 64]))


def healthy():
    return SAC("MlpPolicy", make_vec_env("Pendulum-v1", wrapper_class=KeepWrapper, seed=0), learning_starts=100,
               batch_size=64, seed=0, policy_kwargs=dict(net_arch=[64, 64]))


def main():
    H.report("case_monitor_hides_zeroed_reward", expected, stage, [
        H.live("faulty SAC, reward wrapper returns 0 under Monitor", faulty, STEPS),
        H.live("healthy SAC, wrapper keeps the reward", healthy, STEPS),
    ])


if __name__ == "__main__":
    main()
