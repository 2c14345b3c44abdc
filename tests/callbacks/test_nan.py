"""NaNCallback on real runs."""

from __future__ import annotations

import gymnasium as gym
import pytest
import torch as th
from stable_baselines3 import DQN, PPO

from sb3_diagnostics import Severity
from sb3_diagnostics.callbacks.nan import NaNCallback
from sb3_diagnostics.faults import NaNObservation
from sb3_diagnostics.warnings import NaNWarning


def _finite(model) -> bool:  # type: ignore[no-untyped-def]
    return all(bool(th.isfinite(p).all()) for p in model.policy.parameters())


def _nan_env() -> gym.Env:
    # From step 300 on, cart-pole's third observation (the pole angle) is NaN: a log(0) in the observation function.
    return NaNObservation(gym.make("CartPole-v1"), after_steps=300, index=2)


def test_nan_observation_is_traced_to_its_source(tiny, train):
    # seed 000 #5. DQN does not crash on NaN inputs (argmax of NaN is action 0): the NaN silently
    # reaches the replay buffer, the loss and every parameter. The finding names where it started.
    model = DQN("MlpPolicy", _nan_env(), learning_starts=100, **tiny())
    run = train(model, 1000, NaNCallback(off_policy_interval=100))
    assert run.severity("nan_detected") == Severity.ERROR
    first = run.findings[0]
    assert first.code == "nan_detected" and first.step == 300
    assert "observation" in first.message and "index [2]" in first.message and "at step 300" in first.message
    assert run.warned("nan_detected")
    assert not _finite(model)  # what happens without stop_on: the NaN spread into the parameters


def test_a_model_whose_parameters_turned_nan_is_called_corrupt_once_per_part(tiny, train):
    # DQN keeps training on NaN parameters (argmax of NaN is action 0) without ever crashing: a user reading
    # the log later must learn that everything after the first NaN is lost and where to restart from.
    model = DQN("MlpPolicy", _nan_env(), learning_starts=100, **tiny())
    run = train(model, 1000, NaNCallback(off_policy_interval=100))
    corrupt = [f for f in run.findings if "the model is now corrupt" in f.message]
    assert corrupt and all(f.severity is Severity.ERROR for f in corrupt)
    parts = [f.message.split("'")[1] for f in corrupt]
    assert sorted(parts) == sorted(set(parts)) and "q_net" in parts  # once per part, however long it runs
    assert all(f.step >= 300 and "checkpoint saved before step" in f.hint for f in corrupt)


def test_stop_on_error_stops_before_the_nan_reaches_the_parameters(tiny, train):
    model = DQN("MlpPolicy", _nan_env(), learning_starts=100, **tiny())
    run = train(model, 1000, NaNCallback(stop_on="error", off_policy_interval=100))
    assert run.codes() == {"nan_detected"}
    assert model.num_timesteps == 300  # stopped at the step that returned the NaN
    assert _finite(model)


def test_nan_gradient_is_reported_before_sb3_crashes(ppo_small):
    # learning_rate=1e2 on Pendulum: at the second optimizer step (not a sampled one: the gradient
    # norms are measured on the first step of the update and one in 16) the gradient of log_std
    # becomes NaN, and the next minibatch's Normal(loc=NaN) makes SB3 raise. The per-step sentinel
    # sees it at that step, so the finding is already there, naming the gradient.
    cb = NaNCallback()
    with pytest.raises(ValueError, match="Expected parameter loc"), pytest.warns(NaNWarning, match=r"^\[nan_detected\]") as w:
        PPO("MlpPolicy", "Pendulum-v1", **ppo_small(learning_rate=1e2)).learn(1024, callback=cb)
    # raised inside torch's optimizer hook, the warning still points at this test's learn() call
    assert [x.filename for x in w if issubclass(x.category, NaNWarning)] == [__file__]
    (finding,) = cb.findings
    assert finding.code == "nan_detected" and "the gradient of parameter" in finding.message


def test_finite_training_is_quiet(tiny, train):
    run = train(DQN("MlpPolicy", "CartPole-v1", learning_starts=100, **tiny()), 1000, NaNCallback(off_policy_interval=100))
    assert run.codes(Severity.INFO) == set()


def test_undefined_explained_variance_is_not_a_nan_in_training(ppo_small, train):
    # A constant reward makes SB3 log train/explained_variance = NaN ("undefined"): the run has
    # other problems (reward_constant, advantage_zero_variance), but no NaN in its numbers.
    from stable_baselines3 import PPO

    from sb3_diagnostics import NaNCallback
    from sb3_diagnostics.faults import BanditEnv

    model = PPO("MlpPolicy", BanditEnv((1.0, 1.0)), **ppo_small())
    run = train(model, 1024, NaNCallback())
    assert run.codes(Severity.INFO) == set()
