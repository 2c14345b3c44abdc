"""
Unit-test a custom policy in a few lines, before spending hours training it.

    pytest examples/test_custom_policy.py

``check_policy`` takes milliseconds and catches plumbing bugs (a detached features extractor,
a layer missing from the optimizer, wrong output shapes). ``assert_probes_pass`` trains on the
five probe environments (about a second each here) and names the first component that does not
learn. The two complement each other: use both.
"""

import gymnasium as gym
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from torch import nn

from sb3_diagnostics.policy import check_policy
from sb3_diagnostics.probes import assert_probes_pass

torch.set_num_threads(1)


class SmallExtractor(BaseFeaturesExtractor):
    """The custom part under test: a features extractor with a LayerNorm."""

    def __init__(self, observation_space: gym.spaces.Box, features_dim: int = 32) -> None:
        super().__init__(observation_space, features_dim)
        self.net = nn.Sequential(nn.Linear(observation_space.shape[0], features_dim), nn.LayerNorm(features_dim), nn.Tanh())

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        # A `.detach()` here fails test_policy_plumbing. The probes alone would not catch it: random,
        # frozen features still separate the probes' two observations, so the heads can learn them.
        return self.net(obs)


def make_model(env):
    # gamma=0.9 keeps probe 3 sharp (with 0.99 a missing discount moves V(s0) by only 0.01)
    return PPO("MlpPolicy", env, n_steps=128, batch_size=64, learning_rate=3e-3, gamma=0.9, seed=0,
               policy_kwargs=dict(features_extractor_class=SmallExtractor, net_arch=[32]))


def test_policy_plumbing():
    report = check_policy(make_model(gym.make("CartPole-v1")))
    assert report.ok, report.format()


def test_policy_learns_the_probes():
    assert_probes_pass(make_model, budget=1000)
