"""Hooks, critic passes and target probes must not change training: seeded runs end bit-identical with and without them."""

import warnings

import pytest
import torch
from conftest import ppo_small, tiny
from stable_baselines3 import PPO, SAC
from stable_baselines3.common.callbacks import CallbackList

from sb3_diagnostics.callbacks.base import DiagnosticCallback
from sb3_diagnostics.callbacks.gradients import GradientCallback, policy_optimizers
from sb3_diagnostics.callbacks.nan import NaNCallback
from sb3_diagnostics.callbacks.offpolicy import BufferShapeCallback, QValueCallback


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
    (lambda: PPO("MlpPolicy", "CartPole-v1", **ppo_small()), 1024),
    # SAC: critic passes on replay samples drawn with the check's own generator, target probe on every step
    (lambda: SAC("MlpPolicy", "Pendulum-v1", learning_starts=100, batch_size=32, **tiny()), 500),
], ids=["ppo", "sac"])
def test_checks_do_not_change_training(make_model, steps):
    plain = _final_state(make_model, steps, None)
    checks: list[DiagnosticCallback] = [GradientCallback(off_policy_interval=50), NaNCallback(off_policy_interval=50),
                                        QValueCallback(off_policy_interval=50), BufferShapeCallback(off_policy_interval=50)]
    observed = _final_state(make_model, steps, CallbackList(list(checks)))
    assert not [f for cb in checks for f in cb.findings if f.code == "diagnostics_internal_error"]
    assert plain.keys() == observed.keys()
    for name in plain:
        assert torch.equal(plain[name], observed[name]), name
