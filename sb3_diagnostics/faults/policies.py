"""Custom policies and features extractors with the bugs users write into them."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import torch as th
from sb3_contrib.common.recurrent.policies import RecurrentActorCriticPolicy
from stable_baselines3.common.policies import ActorCriticPolicy
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor


class ForgetfulLstmPolicy(RecurrentActorCriticPolicy):
    """A custom recurrent policy that never resets its state: it ignores ``episode_starts``."""

    @staticmethod
    def _process_sequence(features, lstm_states, episode_starts, lstm):  # type: ignore[no-untyped-def,override]
        never = th.zeros_like(episode_starts)
        return RecurrentActorCriticPolicy._process_sequence(features, lstm_states, never, lstm)


class DetachedExtractor(BaseFeaturesExtractor):
    """
    A custom features extractor that computes its features "without gradient" (``.detach()``): its
    layer never learns. ``detach=False`` is the fix.
    """

    def __init__(self, observation_space: gym.spaces.Box, features_dim: int = 16, detach: bool = True) -> None:
        super().__init__(observation_space, features_dim)
        self.linear = th.nn.Linear(int(np.prod(observation_space.shape)), features_dim)
        self.detach = detach

    def forward(self, observations: th.Tensor) -> th.Tensor:
        features = th.relu(self.linear(th.flatten(observations, start_dim=1)))
        return features.detach() if self.detach else features


class LateValueHeadPolicy(ActorCriticPolicy):
    """Replaces the value head after ``super()._build()`` has created the optimizer: the new head is in no optimizer."""

    def _build(self, lr_schedule: Any) -> None:
        super()._build(lr_schedule)
        self.value_net = th.nn.Linear(self.mlp_extractor.latent_dim_vf, 1)


class UnsummedLogProbPolicy(ActorCriticPolicy):
    """Returns one log-probability per action dim instead of their sum."""

    def evaluate_actions(self, obs: Any, actions: th.Tensor) -> tuple[th.Tensor, th.Tensor, th.Tensor | None]:
        values, _, entropy = super().evaluate_actions(obs, actions)
        per_dim: Any = self.get_distribution(obs).distribution
        return values, per_dim.log_prob(actions), entropy


class LazyExtractor(BaseFeaturesExtractor):
    """
    A features extractor that builds its layer in its first ``forward()``, "when the input shape is not known a
    priori" (SB3 #1271): after the policy's optimizer was made, so the layer is in none of its param groups and is
    never stepped. ``lazy=False`` is the fix (the layer built in ``__init__``, its input size from the space).
    """

    def __init__(self, observation_space: gym.spaces.Box, features_dim: int = 16, lazy: bool = True) -> None:
        super().__init__(observation_space, features_dim)
        self.net: th.nn.Module | None = None
        if not lazy:
            self.net = th.nn.Sequential(th.nn.Linear(int(np.prod(observation_space.shape)), features_dim), th.nn.Tanh())

    def forward(self, observations: th.Tensor) -> th.Tensor:
        if self.net is None:
            self.net = th.nn.Sequential(th.nn.Linear(observations.shape[1], self.features_dim), th.nn.Tanh()).to(
                observations.device)
        return self.net(observations)


class ListExtractor(BaseFeaturesExtractor):
    """
    A features extractor whose hidden layers live in a plain Python list: PyTorch does not register them, so they
    are in no optimizer (and not in ``state_dict``) while ``forward()`` uses them: their weights never change.
    ``registered=True`` is the fix (the same layers in an ``nn.ModuleList``).
    """

    def __init__(self, observation_space: gym.spaces.Box, features_dim: int = 16, registered: bool = False) -> None:
        super().__init__(observation_space, features_dim)
        layers = [th.nn.Linear(int(np.prod(observation_space.shape)), features_dim), th.nn.Tanh()]
        self.layers: Any = th.nn.ModuleList(layers) if registered else layers

    def forward(self, observations: th.Tensor) -> th.Tensor:
        for layer in self.layers:
            observations = layer(observations)
        return observations
