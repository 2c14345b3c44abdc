"""
SB3 #310 -- https://github.com/DLR-RM/stable-baselines3/issues/310 ("[Bug] features_extractor with net_arch")

What the user saw: PPO with their own features extractor (MySimpleFF: Linear -> LeakyReLU,
features_dim=3) and policy_kwargs net_arch=[2, 1] "will not learn"; with the same extractor and no
net_arch, "it will train".
Cause: net_arch=[2, 1] puts a 1-unit hidden layer (after a 2-unit one) in front of the policy and
value heads: everything the policy and the critic know passes through one number.

Reproduction: the thread's MySimpleFF + net_arch=[2, 1] (activation ReLU as in the thread) on
CartPole observations shaped (1, 4) (the extractor reads observation_space.shape[1]).
Healthy twin: the same extractor without net_arch (SB3's default heads), as the user found.
"""
import _harness as H
import gymnasium as gym
import numpy as np
import torch as th
from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from torch import nn

expected = ["network_too_small"]
stage = "live"
STEPS = 15_000


class MySimpleFF(BaseFeaturesExtractor):
    def __init__(self, observation_space: gym.spaces.Box, features_dim: int = 3):
        super().__init__(observation_space, features_dim)
        self.non_conv_channels = observation_space.shape[1]
        self.linear = nn.Sequential(nn.Linear(self.non_conv_channels, features_dim), nn.LeakyReLU(0.1))

    def forward(self, observations: th.Tensor) -> th.Tensor:
        return self.linear(observations).flatten(1)


class RowObs(gym.ObservationWrapper):
    def __init__(self, env):
        super().__init__(env)
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, (1, 4), np.float32)

    def observation(self, obs):
        return obs.reshape(1, 4).astype(np.float32)


def venv():
    return make_vec_env(lambda: RowObs(gym.make("CartPole-v1")), n_envs=4, seed=0)


def faulty():
    return PPO("MlpPolicy", venv(), n_steps=256, batch_size=64, seed=0,
               policy_kwargs=dict(features_extractor_class=MySimpleFF, activation_fn=nn.ReLU, net_arch=[2, 1]))


def healthy():
    return PPO("MlpPolicy", venv(), n_steps=256, batch_size=64, seed=0,
               policy_kwargs=dict(features_extractor_class=MySimpleFF, activation_fn=nn.ReLU))


def main():
    H.report("case_ppo_net_arch_bottleneck", expected, stage, [
        H.live("faulty PPO net_arch=[2, 1]", faulty, STEPS),
        H.live("healthy PPO default net_arch", healthy, STEPS),
    ])


if __name__ == "__main__":
    main()
