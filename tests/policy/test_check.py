"""check_policy on stock and broken policies."""

from __future__ import annotations

import random
import warnings

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium import spaces
from sb3_contrib import TRPO, RecurrentPPO
from stable_baselines3 import A2C, DQN, PPO, SAC, TD3

from sb3_diagnostics.errors import InvalidThresholdError
from sb3_diagnostics.faults import DetachedExtractor, ForgetfulLstmPolicy, ListExtractor, UnsummedLogProbPolicy
from sb3_diagnostics.findings import Severity
from sb3_diagnostics.policy import (
    PolicyCheckReport,
    check_policy,
)
from sb3_diagnostics.warnings import DiagnosticWarning


def small_net(**extra):
    """A fresh dict each time: SB3 writes into policy_kwargs."""
    return dict(net_arch=[16], **extra)


def lstm(**extra):
    return dict(net_arch=[16], lstm_hidden_size=8, **extra)


def check(model) -> PolicyCheckReport:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DiagnosticWarning)
        return check_policy(model)


def serious(report):
    return [(f.code, str(f.severity)) for f in report if f.severity >= Severity.WARNING]


def snapshot(model):
    return {k: v.clone() for k, v in model.policy.state_dict().items()}


@pytest.mark.parametrize("make", [
    lambda: PPO("MlpPolicy", "CartPole-v1", policy_kwargs=small_net(), seed=0),
    lambda: PPO("MlpPolicy", "Pendulum-v1", use_sde=True, policy_kwargs=small_net(), seed=0),
    lambda: A2C("MlpPolicy", "CartPole-v1", policy_kwargs=small_net(), seed=0),
    lambda: TRPO("MlpPolicy", "Pendulum-v1", policy_kwargs=small_net(), seed=0),
    lambda: DQN("MlpPolicy", "CartPole-v1", policy_kwargs=small_net(), seed=0),
    lambda: SAC("MlpPolicy", "Pendulum-v1", policy_kwargs=small_net(), seed=0),
    lambda: TD3("MlpPolicy", "Pendulum-v1", policy_kwargs=small_net(), seed=0),
    lambda: RecurrentPPO("MlpLstmPolicy", "CartPole-v1", policy_kwargs=lstm(), seed=0),
    lambda: RecurrentPPO("MlpLstmPolicy", "Pendulum-v1", policy_kwargs=lstm(shared_lstm=True,
                                                                            enable_critic_lstm=False), seed=0),
], ids=["ppo", "ppo-gsde", "a2c", "trpo", "dqn", "sac", "td3", "recurrent-ppo", "recurrent-ppo-shared"])
def test_stock_policies_pass_and_are_left_bit_identical(make):
    model = make()
    before = snapshot(model)
    modes = [m.training for m in model.policy.modules()]
    np_state, torch_state, py_state = np.random.get_state(), torch.get_rng_state(), random.getstate()
    report = check(model)
    assert serious(report) == [], report.format()
    after = model.policy.state_dict()
    assert before.keys() == after.keys() and all(torch.equal(before[k], after[k]) for k in before)
    assert all(p.grad is None for p in model.policy.parameters())
    assert [m.training for m in model.policy.modules()] == modes
    assert np.array_equal(np.random.get_state()[1], np_state[1]) and random.getstate() == py_state
    assert torch.equal(torch.get_rng_state(), torch_state)
    assert report.summary["parameters"] > 0 and "optimizer" in report.summary["optimizers"]


@pytest.mark.parametrize("algo", [SAC, PPO])
def test_gsde_policy_after_training_is_checked_and_its_noise_left_alone(algo):
    # After SB3's own backward pass the gSDE exploration matrices hold a freed graph: differentiating
    # through them again raised "Trying to backward through the graph a second time".
    kwargs = dict(learning_starts=32, batch_size=16) if algo is SAC else dict(n_steps=64, batch_size=32, n_epochs=1)
    model = algo("MlpPolicy", "Pendulum-v1", use_sde=True, policy_kwargs=small_net(), seed=0, **kwargs)
    model.learn(80 if algo is SAC else 128)
    dist = (model.actor if algo is SAC else model.policy).action_dist
    noise = dist.exploration_mat
    torch_state = torch.get_rng_state()
    assert serious(check(model)) == []
    assert dist.exploration_mat is noise and torch.equal(torch.get_rng_state(), torch_state)


def test_detached_features_extractor_is_param_no_grad():
    model = PPO("MlpPolicy", "CartPole-v1", seed=0,
                policy_kwargs=dict(net_arch=[16], features_extractor_class=DetachedExtractor))
    report = check(model)
    finding = next(f for f in report if f.code == "param_no_grad")
    assert finding.severity is Severity.ERROR
    assert "features_extractor.linear.weight" in finding.message and ".detach()" in finding.message
    assert "mlp_extractor" not in finding.message  # the rest of the network is fine


def test_same_detached_extractor_in_sac_is_found_too():
    model = SAC("MlpPolicy", "Pendulum-v1", seed=0,
                policy_kwargs=dict(net_arch=[16], features_extractor_class=DetachedExtractor))
    assert ("param_no_grad", "error") in serious(check(model))


def test_parameters_missing_from_the_optimizer_are_param_no_grad():
    model = PPO("MlpPolicy", "CartPole-v1", policy_kwargs=small_net(), seed=0)
    model.policy.optimizer = torch.optim.Adam(model.policy.action_net.parameters())  # wrong param group
    finding = next(f for f in check(model) if f.code == "param_no_grad")
    assert "in no optimizer" in finding.message and "value_net.weight" in finding.message


def test_wrong_output_shape_is_policy_output_invalid():
    env = gym.make("MountainCarContinuous-v0")
    env.action_space = spaces.Box(-1, 1, (2,), np.float32)  # two action dims make the mistake visible
    model = PPO(UnsummedLogProbPolicy, env, policy_kwargs=small_net(), seed=0)
    finding = next(f for f in check(model) if f.code == "policy_output_invalid")
    assert finding.severity is Severity.ERROR and "log_prob has shape (32, 2)" in finding.message


def test_recurrent_policy_that_ignores_episode_starts():
    model = RecurrentPPO(ForgetfulLstmPolicy, "CartPole-v1", policy_kwargs=lstm(), seed=0)
    report = check(model)
    assert ("lstm_state_not_reset", "error") in serious(report)
    assert report.summary["lstm_reset_violation"] > 1e-3
    stock = check(RecurrentPPO("MlpLstmPolicy", "CartPole-v1", policy_kwargs=lstm(), seed=0))
    assert stock.summary["lstm_reset_violation"] == 0.0
    assert "episode_start" in stock.format()  # explains SB3's predict() default


def test_bad_input():
    with pytest.raises(TypeError, match="needs an SB3 model"):
        check_policy("PPO")  # type: ignore[arg-type]
    with pytest.raises(InvalidThresholdError, match="n_samples=1"):
        check_policy(PPO("MlpPolicy", "CartPole-v1", policy_kwargs=small_net()), n_samples=1)


@pytest.mark.parametrize("algo", [PPO, SAC])
def test_layers_in_a_plain_list_are_module_not_registered(algo):
    # A user's custom extractor keeps its layers in a Python list: PyTorch does not register them, so they are
    # in no optimizer, but forward() uses them and training runs while their weights never change.
    env = "CartPole-v1" if algo is PPO else "Pendulum-v1"
    model = algo("MlpPolicy", env, seed=0, policy_kwargs=dict(net_arch=[16], features_extractor_class=ListExtractor))
    finding = next(f for f in check(model) if f.code == "module_not_registered")
    assert finding.severity is Severity.ERROR and "layers[0]" in finding.message and "ModuleList" in finding.hint
    # the fault is real: training leaves the hidden layer untouched
    hidden = model.policy.features_extractor.layers[0] if algo is PPO else model.actor.features_extractor.layers[0]
    before = hidden.weight.detach().clone()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.learn(300 if algo is PPO else 150)
    assert torch.equal(before, hidden.weight)
    # the twin: the same layers in an nn.ModuleList
    twin = algo("MlpPolicy", env, seed=0, policy_kwargs=dict(
        net_arch=[16], features_extractor_class=ListExtractor, features_extractor_kwargs=dict(registered=True)))
    assert "module_not_registered" not in {f.code for f in check(twin)}


@pytest.mark.parametrize(("algo", "net_arch"), [(PPO, [64, 1, 64]), (PPO, dict(pi=[2], vf=[64])), (DQN, [2])])
def test_a_one_or_two_unit_bottleneck_in_net_arch(algo, net_arch):
    # a typo in net_arch (1 for 128) squeezes everything the policy knows about the state through one unit
    report = check_policy(algo("MlpPolicy", "CartPole-v1", policy_kwargs=dict(net_arch=net_arch), seed=0), warn=False)
    (finding,) = report
    assert finding.code == "network_too_small" and finding.severity == Severity.WARNING
    assert "net_arch" in finding.message
    healthy = algo("MlpPolicy", "CartPole-v1", policy_kwargs=dict(net_arch=[64, 64]), seed=0)
    assert list(check_policy(healthy, warn=False)) == []


def test_observations_far_outside_unit_scale_saturate_the_network():
    # encoder counts fed raw (x1000): every tanh unit of PPO's first layers sits at a bound, and SAC's squashed
    # actor gets a gradient of exactly 0: a vanishing gradient, not a detached parameter (that was a false error)
    from sb3_diagnostics.faults import ObservationScale

    ppo = check_policy(PPO("MlpPolicy", ObservationScale(gym.make("Pendulum-v1"), 1000.0), seed=0), warn=False)
    assert [f.code for f in ppo] == ["network_too_small"] and "saturated" in ppo[0].message
    sac = check_policy(SAC("MlpPolicy", ObservationScale(gym.make("Pendulum-v1"), 1000.0), seed=0), warn=False)
    assert [(f.code, f.severity) for f in sac] == [("grad_norm_vanishing", Severity.WARNING)]
    for algo in (PPO, SAC):
        assert list(check_policy(algo("MlpPolicy", "Pendulum-v1", seed=0), warn=False)) == []
