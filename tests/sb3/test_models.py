"""The SB3 layer gives one answer per question, for every algorithm of SB3 and sb3-contrib."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sb3_contrib import ARS, QRDQN, TQC, TRPO, CrossQ, MaskablePPO, RecurrentPPO
from sb3_contrib.common.envs import InvalidActionEnvMultiDiscrete
from stable_baselines3 import A2C, DQN, PPO, SAC, TD3
from stable_baselines3.common.callbacks import BaseCallback

from sb3_diagnostics.sb3.buffers import policy_stats, q_stats
from sb3_diagnostics.sb3.models import (
    has_stochastic_actor,
    is_kl_constrained,
    is_off_policy,
    is_on_policy,
    is_recurrent,
    policy_optimizers,
    predict_values,
    shares_step_locals,
    trainable_parameters,
    value_kind,
)


def net() -> dict:
    return dict(net_arch=[16])  # a fresh dict each time: SB3 writes into policy_kwargs


def off() -> dict:
    return dict(learning_starts=50, batch_size=32, policy_kwargs=net(), seed=0)

#: name -> (build, value kind, what policy_stats measures)
MODELS = {
    "ppo": (lambda: PPO("MlpPolicy", "CartPole-v1", n_steps=64, batch_size=32, policy_kwargs=net(), seed=0), "v",
            "entropy_normalized"),
    "a2c": (lambda: A2C("MlpPolicy", "Pendulum-v1", n_steps=8, policy_kwargs=net(), seed=0), "v", "action_std_min"),
    "trpo": (lambda: TRPO("MlpPolicy", "CartPole-v1", n_steps=64, batch_size=32, policy_kwargs=net(), seed=0), "v",
             "entropy_normalized"),
    "recurrent_ppo": (lambda: RecurrentPPO("MlpLstmPolicy", "CartPole-v1", n_steps=64, batch_size=32, seed=0,
                                           policy_kwargs=dict(lstm_hidden_size=8, net_arch=[8])), "v",
                      "entropy_normalized"),
    "maskable_ppo_multidiscrete": (lambda: MaskablePPO("MlpPolicy", InvalidActionEnvMultiDiscrete(
        dims=[3, 3], n_invalid_actions=1), n_steps=64, batch_size=32, policy_kwargs=net(), seed=0), "v",
                                   "entropy_normalized"),
    "dqn": (lambda: DQN("MlpPolicy", "CartPole-v1", **off()), "q_discrete", None),
    "qrdqn": (lambda: QRDQN("MlpPolicy", "CartPole-v1", **off()), "q_discrete", None),
    "sac": (lambda: SAC("MlpPolicy", "Pendulum-v1", **off()), "q_critic", "action_std_min"),
    "td3": (lambda: TD3("MlpPolicy", "Pendulum-v1", **off()), "q_critic", None),
    "tqc": (lambda: TQC("MlpPolicy", "Pendulum-v1", **off()), "q_critic", "action_std_min"),
    "crossq": (lambda: CrossQ("MlpPolicy", "Pendulum-v1", learning_starts=50, batch_size=32, seed=0,
                              policy_kwargs=dict(net_arch=[16])), "q_critic", "action_std_min"),
    "ars": (lambda: ARS("LinearPolicy", "Pendulum-v1", n_delta=2, seed=0), None, None),
}


class AtRolloutEnd(BaseCallback):
    """Reads the policy where the checks do: at a rollout end, before train() flattens the rollout buffer."""

    def __init__(self) -> None:
        super().__init__()
        self.stats: dict[str, float] = {}

    def _on_step(self) -> bool:
        return True

    def _on_rollout_end(self) -> None:
        self.stats = policy_stats(self.model, np.random.default_rng(0))


@pytest.mark.parametrize("name", list(MODELS))
def test_every_algorithm_is_read_through_one_layer(name):
    build, kind, measured = MODELS[name]
    model = build()
    reader = AtRolloutEnd()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.learn(128, callback=reader)
    assert is_recurrent(model) is (name == "recurrent_ppo") and is_recurrent(model.policy) is (name == "recurrent_ppo")
    assert is_on_policy(model) is (name in ("ppo", "a2c", "trpo", "recurrent_ppo", "maskable_ppo_multidiscrete"))
    assert is_off_policy(model) is (kind in ("q_discrete", "q_critic"))
    assert shares_step_locals(model) is (name != "ars")
    assert is_kl_constrained(model) is (name in ("ppo", "trpo", "recurrent_ppo", "maskable_ppo_multidiscrete"))
    assert has_stochastic_actor(model) is (name in ("sac", "tqc", "crossq"))
    assert value_kind(model) == kind
    assert trainable_parameters(model)
    optimizers = policy_optimizers(model)
    if name == "ars":
        assert optimizers == {}  # gradient-free
    else:
        assert optimizers and all(len(o.param_groups) for o in optimizers.values())
        if kind == "q_critic" and name != "crossq":
            assert set(optimizers) == {"actor", "critic"}
    obs = np.stack([model.observation_space.sample() for _ in range(4)])
    if kind is not None:
        values = predict_values(model, obs)
        assert values.shape == (4,) and np.all(np.isfinite(values))
    stats = reader.stats
    if measured is None:
        assert "entropy_normalized" not in stats and "action_std_min" not in stats
    else:
        assert stats[measured] > 0.0 and stats["_policy_samples"] > 0
        after = policy_stats(model, np.random.default_rng(0))  # after learn(): train() flattened the rollout buffer
        assert after == {} if name == "recurrent_ppo" else after[measured] > 0.0
    if is_off_policy(model):
        q = q_stats(model, np.random.default_rng(0), 16)
        assert np.isfinite(q["q_mean"])
        assert ("q_value_spread" in q) is (name in ("sac", "td3", "tqc", "crossq"))


def test_the_layer_never_touches_the_global_generators():
    model = SAC("MlpPolicy", "Pendulum-v1", **off())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.learn(100)
    import torch

    np_state, torch_state = np.random.get_state(), torch.get_rng_state()
    policy_stats(model, np.random.default_rng(0))
    q_stats(model, np.random.default_rng(0), 16)
    predict_values(model, np.stack([model.observation_space.sample() for _ in range(3)]))
    assert np.array_equal(np.random.get_state()[1], np_state[1]) and torch.equal(torch.get_rng_state(), torch_state)
