"""Observing must not change what is observed: seeded runs end bit-identical with and without the callback."""

import warnings

import pytest
import torch
from conftest import ppo_small, tiny
from sb3_contrib import RecurrentPPO
from stable_baselines3 import PPO, SAC
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.vec_env import VecNormalize

from sb3_diagnostics import DiagnosticsCallback


def _final_parameters(make_model, steps, callback):
    model = make_model()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.learn(steps, callback=callback)
    return {k: v.clone() for k, v in model.policy.state_dict().items()}


@pytest.mark.parametrize("make_model, steps", [
    # on-policy, with VecNormalize so the audit's per-step reads run too
    (lambda: PPO("MlpPolicy", VecNormalize(make_vec_env("CartPole-v1", n_envs=2, seed=0)), **ppo_small()), 2048),
    # off-policy: the entropy check samples the replay buffer with its own generator
    (lambda: SAC("MlpPolicy", "Pendulum-v1", learning_starts=100, batch_size=32, **tiny()), 600),
    # recurrent: the LSTM check re-runs the policy at episode starts
    (lambda: RecurrentPPO("MlpLstmPolicy", make_vec_env("CartPole-v1", n_envs=2, seed=0), n_steps=64, batch_size=64,
                          seed=0, policy_kwargs=dict(lstm_hidden_size=8, net_arch=[8])), 512),
], ids=["ppo_vecnormalize", "sac", "recurrent_ppo"])
def test_callback_does_not_change_training(make_model, steps):
    plain = _final_parameters(make_model, steps, None)
    observed = _final_parameters(make_model, steps, DiagnosticsCallback(off_policy_interval=100))
    assert plain.keys() == observed.keys()
    for name in plain:
        assert torch.equal(plain[name], observed[name]), name
