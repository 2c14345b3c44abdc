"""Evaluating recurrent policies."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sb3_contrib import RecurrentPPO

from sb3_diagnostics.faults import ConstantObsEnv
from sb3_diagnostics.policy import (
    evaluate_recurrent,
    warn_missing_episode_start,
)
from sb3_diagnostics.warnings import RecurrentStateWarning


def naive_loop(model, env, n_episodes):
    """The common mistake: predict(obs, state) without episode_start."""
    returns, state = [], None
    for _ in range(n_episodes):
        obs, _ = env.reset()
        done, total = False, 0.0
        while not done:
            action, state = model.predict(obs, state=state, deterministic=True)
            obs, reward, terminated, truncated, _ = env.step(action)
            total += reward
            done = terminated or truncated
        returns.append(total)
    return np.asarray(returns)


def test_evaluate_recurrent_resets_the_state_and_a_naive_loop_does_not():
    model = RecurrentPPO("MlpLstmPolicy", ConstantObsEnv(), policy_kwargs=dict(net_arch=[16], lstm_hidden_size=8), seed=0)
    correct = evaluate_recurrent(model, ConstantObsEnv(), n_episodes=3)
    assert correct.shape == (3,) and np.ptp(correct) == 0.0  # identical episodes score identically
    leaky = naive_loop(model, ConstantObsEnv(), 3)
    assert leaky[0] == pytest.approx(correct[0])  # the first episode starts from a zero state anyway
    assert not np.allclose(leaky[1:], correct[1:])  # later ones inherit the previous episode's memory


def test_warn_missing_episode_start_catches_the_naive_loop():
    model = RecurrentPPO("MlpLstmPolicy", ConstantObsEnv(), policy_kwargs=dict(net_arch=[16], lstm_hidden_size=8), seed=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with warn_missing_episode_start(model):
            naive_loop(model, ConstantObsEnv(), 2)
    assert any(issubclass(w.category, RecurrentStateWarning) and "episode_start" in str(w.message) for w in caught)
    assert "predict" not in vars(model)  # the wrapper is gone afterwards
    with warnings.catch_warnings():
        warnings.simplefilter("error", RecurrentStateWarning)
        with warn_missing_episode_start(model):
            evaluate_recurrent(model, ConstantObsEnv(), n_episodes=2)  # passes episode_start: no warning
