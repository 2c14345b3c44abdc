"""Network capacity: bottleneck layers and stuck units."""

from __future__ import annotations

import numpy as np
import torch
from stable_baselines3 import PPO, TD3
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor

from sb3_diagnostics.sb3.network import narrow_layers, unit_activity
from sb3_diagnostics.sb3.spaces import sample_batch


class OneFeature(BaseFeaturesExtractor):
    """A custom extractor declared with features_dim=1 (meant: the number of observation dims)."""

    def __init__(self, observation_space, features_dim: int = 1) -> None:  # type: ignore[no-untyped-def]
        super().__init__(observation_space, features_dim)
        self.linear = torch.nn.Linear(int(np.prod(observation_space.shape)), features_dim)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.linear(obs))


def test_narrow_layers_name_where_the_bottleneck_is_declared():
    model = PPO("MlpPolicy", "CartPole-v1", policy_kwargs=dict(features_extractor_class=OneFeature), seed=0)
    assert narrow_layers(model, 2) == ["features_extractor.features_dim = 1"]
    assert narrow_layers(PPO("MlpPolicy", "CartPole-v1", seed=0), 2) == []
    # an observation of 2 dims carried by 2 units is no bottleneck
    assert narrow_layers(PPO("MlpPolicy", "MountainCar-v0", policy_kwargs=dict(net_arch=[2]), seed=0), 2) == []


def test_unit_activity_leaves_out_a_deterministic_actors_output_and_restores_the_model():
    model = TD3("MlpPolicy", "Pendulum-v1", seed=0)
    before = {k: v.clone() for k, v in model.policy.state_dict().items()}
    rng_state = torch.get_rng_state()
    activity = unit_activity(model, np.asarray(sample_batch(model.observation_space, 32, 0)))
    assert "actor.mu.5" not in activity and activity["actor.mu.1"][1] == 400  # the final tanh outputs the actions
    assert all(torch.equal(v, before[k]) for k, v in model.policy.state_dict().items())
    assert torch.equal(torch.get_rng_state(), rng_state)


def test_policy_outputs_one_row_per_observation_for_every_actor_kind():
    # gSDE keeps a log_std matrix of (features, actions), not one row per observation: the distribution's std is
    from sb3_contrib import TQC
    from stable_baselines3 import DQN, SAC

    from sb3_diagnostics.sb3.network import policy_outputs

    for model in (SAC("MlpPolicy", "Pendulum-v1", use_sde=True, seed=0), TQC("MlpPolicy", "Pendulum-v1", seed=0),
                  TD3("MlpPolicy", "Pendulum-v1", seed=0), DQN("MlpPolicy", "CartPole-v1", seed=0),
                  PPO("MlpPolicy", "Pendulum-v1", use_sde=True, seed=0)):
        out = policy_outputs(model, np.asarray(sample_batch(model.observation_space, 5, 0)))
        assert out is not None and out.shape[0] == 5, type(model).__name__
