"""Observing must not change what is observed: seeded runs end bit-identical with and without the checks."""

from __future__ import annotations

import warnings

import pytest
import torch
from sb3_contrib import RecurrentPPO
from stable_baselines3 import PPO, SAC
from stable_baselines3.common.callbacks import CallbackList
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.vec_env import VecNormalize

from sb3_diagnostics import BufferShapeCallback, DiagnosticsCallback, QValueCallback
from sb3_diagnostics.callbacks.base import DiagnosticCallback
from sb3_diagnostics.callbacks.gradients import GradientCallback
from sb3_diagnostics.callbacks.nan import NaNCallback
from sb3_diagnostics.sb3.models import policy_optimizers


def _final_parameters(make_model, steps, callback):
    model = make_model()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.learn(steps, callback=callback)
    return {k: v.clone() for k, v in model.policy.state_dict().items()}


@pytest.mark.parametrize("make_model, steps", [
    # on-policy, with VecNormalize so the audit's per-step reads run too
    (lambda tiny: PPO("MlpPolicy", VecNormalize(make_vec_env("CartPole-v1", n_envs=2, seed=0)),
                      **tiny(n_steps=256, batch_size=64)), 2048),
    # off-policy: the entropy check samples the replay buffer with its own generator
    (lambda tiny: SAC("MlpPolicy", "Pendulum-v1", learning_starts=100, batch_size=32, **tiny()), 600),
    # recurrent: the LSTM check re-runs the policy at episode starts
    (lambda tiny: RecurrentPPO("MlpLstmPolicy", make_vec_env("CartPole-v1", n_envs=2, seed=0), n_steps=64, batch_size=64,
                          seed=0, policy_kwargs=dict(lstm_hidden_size=8, net_arch=[8])), 512),
], ids=["ppo_vecnormalize", "sac", "recurrent_ppo"])
def test_callback_does_not_change_training(tiny, make_model, steps):
    plain = _final_parameters(lambda: make_model(tiny), steps, None)
    observed = _final_parameters(lambda: make_model(tiny), steps, DiagnosticsCallback(off_policy_interval=100))
    assert plain.keys() == observed.keys()
    for name in plain:
        assert torch.equal(plain[name], observed[name]), name


def _final_state(make_model, steps, callback):  # type: ignore[no-untyped-def]
    model = make_model()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.learn(steps, callback=callback)
    state = {f"policy.{k}": v.clone() for k, v in model.policy.state_dict().items()}
    for name, optimizer in policy_optimizers(model).items():  # Adam's moments too
        for i, s in optimizer.state_dict()["state"].items():
            state.update({f"{name}.optimizer.{i}.{k}": v.clone() for k, v in s.items() if torch.is_tensor(v)})
    return state


@pytest.mark.parametrize("make_model, steps", [
    (lambda tiny: PPO("MlpPolicy", "CartPole-v1", **tiny(n_steps=256, batch_size=64)), 1024),
    # SAC: critic passes on replay samples drawn with the check's own generator, target probe on every step
    (lambda tiny: SAC("MlpPolicy", "Pendulum-v1", learning_starts=100, batch_size=32, **tiny()), 500),
], ids=["ppo", "sac"])
def test_checks_do_not_change_training(tiny, make_model, steps):
    plain = _final_state(lambda: make_model(tiny), steps, None)
    checks: list[DiagnosticCallback] = [GradientCallback(off_policy_interval=50), NaNCallback(off_policy_interval=50),
                                        QValueCallback(off_policy_interval=50), BufferShapeCallback(off_policy_interval=50)]
    observed = _final_state(lambda: make_model(tiny), steps, CallbackList(list(checks)))
    assert not [f for cb in checks for f in cb.findings if f.code == "diagnostics_internal_error"]
    assert plain.keys() == observed.keys()
    for name in plain:
        assert torch.equal(plain[name], observed[name]), name
