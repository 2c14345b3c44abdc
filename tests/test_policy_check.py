"""check_policy: gradient flow, output shapes and recurrent resets, checked without changing the model."""

import random
import warnings

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium import spaces
from sb3_contrib import TRPO, RecurrentPPO
from sb3_contrib.common.recurrent.policies import RecurrentActorCriticPolicy
from stable_baselines3 import A2C, DQN, PPO, SAC, TD3
from stable_baselines3.common.policies import ActorCriticPolicy
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from torch import nn

from sb3_diagnostics.errors import InvalidThresholdError
from sb3_diagnostics.findings import Severity
from sb3_diagnostics.policy_check import (
    PolicyCheckReport,
    check_policy,
    evaluate_recurrent,
    warn_missing_episode_start,
)
from sb3_diagnostics.warnings import DiagnosticWarning, RecurrentStateWarning

torch.set_num_threads(1)



def tiny(**extra):
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


# --------------------------------------------------------------------------- stock policies pass, untouched


@pytest.mark.parametrize("make", [
    lambda: PPO("MlpPolicy", "CartPole-v1", policy_kwargs=tiny(), seed=0),
    lambda: PPO("MlpPolicy", "Pendulum-v1", use_sde=True, policy_kwargs=tiny(), seed=0),
    lambda: A2C("MlpPolicy", "CartPole-v1", policy_kwargs=tiny(), seed=0),
    lambda: TRPO("MlpPolicy", "Pendulum-v1", policy_kwargs=tiny(), seed=0),
    lambda: DQN("MlpPolicy", "CartPole-v1", policy_kwargs=tiny(), seed=0),
    lambda: SAC("MlpPolicy", "Pendulum-v1", policy_kwargs=tiny(), seed=0),
    lambda: TD3("MlpPolicy", "Pendulum-v1", policy_kwargs=tiny(), seed=0),
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


# --------------------------------------------------------------------------- gradient flow


class DetachedExtractor(BaseFeaturesExtractor):
    """A custom features extractor whose output is cut from the graph: it never learns."""

    def __init__(self, observation_space, features_dim=8):
        super().__init__(observation_space, features_dim)
        self.net = nn.Sequential(nn.Linear(int(np.prod(observation_space.shape)), features_dim), nn.ReLU())

    def forward(self, obs):
        return self.net(obs).detach()


def test_detached_features_extractor_is_param_no_grad():
    model = PPO("MlpPolicy", "CartPole-v1", seed=0,
                policy_kwargs=dict(net_arch=[16], features_extractor_class=DetachedExtractor))
    report = check(model)
    finding = next(f for f in report if f.code == "param_no_grad")
    assert finding.severity is Severity.ERROR
    assert "features_extractor.net.0.weight" in finding.message and ".detach()" in finding.message
    assert "mlp_extractor" not in finding.message  # the rest of the network is fine


def test_same_detached_extractor_in_sac_is_found_too():
    model = SAC("MlpPolicy", "Pendulum-v1", seed=0,
                policy_kwargs=dict(net_arch=[16], features_extractor_class=DetachedExtractor))
    assert ("param_no_grad", "error") in serious(check(model))


def test_parameters_missing_from_the_optimizer_are_param_no_grad():
    model = PPO("MlpPolicy", "CartPole-v1", policy_kwargs=tiny(), seed=0)
    model.policy.optimizer = torch.optim.Adam(model.policy.action_net.parameters())  # wrong param group
    finding = next(f for f in check(model) if f.code == "param_no_grad")
    assert "in no optimizer" in finding.message and "value_net.weight" in finding.message


# --------------------------------------------------------------------------- shapes and bounds


class UnsummedLogProbPolicy(ActorCriticPolicy):
    """Returns one log-probability per action dim instead of their sum."""

    def evaluate_actions(self, obs, actions):
        values, _, entropy = super().evaluate_actions(obs, actions)
        return values, self.get_distribution(obs).distribution.log_prob(actions), entropy


def test_wrong_output_shape_is_policy_output_invalid():
    env = gym.make("MountainCarContinuous-v0")
    env.action_space = spaces.Box(-1, 1, (2,), np.float32)  # two action dims make the mistake visible
    model = PPO(UnsummedLogProbPolicy, env, policy_kwargs=tiny(), seed=0)
    finding = next(f for f in check(model) if f.code == "policy_output_invalid")
    assert finding.severity is Severity.ERROR and "log_prob has shape (32, 2)" in finding.message


# --------------------------------------------------------------------------- recurrent state


class IgnoresEpisodeStartsPolicy(RecurrentActorCriticPolicy):
    """Never resets the LSTM state: passes zeros as episode_starts."""

    @staticmethod
    def _process_sequence(features, lstm_states, episode_starts, lstm):
        return RecurrentActorCriticPolicy._process_sequence(features, lstm_states, torch.zeros_like(episode_starts), lstm)


def test_recurrent_policy_that_ignores_episode_starts():
    model = RecurrentPPO(IgnoresEpisodeStartsPolicy, "CartPole-v1", policy_kwargs=lstm(), seed=0)
    report = check(model)
    assert ("lstm_state_not_reset", "error") in serious(report)
    assert report.summary["lstm_reset_violation"] > 1e-3
    stock = check(RecurrentPPO("MlpLstmPolicy", "CartPole-v1", policy_kwargs=lstm(), seed=0))
    assert stock.summary["lstm_reset_violation"] == 0.0
    assert "episode_start" in stock.format()  # explains SB3's predict() default


class ConstantObsEnv(gym.Env):
    """The same observation every step, 5-step episodes, reward = the action: every episode should score the same."""

    observation_space = spaces.Box(-1, 1, (2,), np.float32)
    action_space = spaces.Box(-1, 1, (1,), np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.ones(2, np.float32), {}

    def step(self, action):
        self.t += 1
        return np.ones(2, np.float32), float(action[0]), self.t >= 5, False, {}


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
    model = RecurrentPPO("MlpLstmPolicy", ConstantObsEnv(), policy_kwargs=lstm(), seed=0)
    correct = evaluate_recurrent(model, ConstantObsEnv(), n_episodes=3)
    assert correct.shape == (3,) and np.ptp(correct) == 0.0  # identical episodes score identically
    leaky = naive_loop(model, ConstantObsEnv(), 3)
    assert leaky[0] == pytest.approx(correct[0])  # the first episode starts from a zero state anyway
    assert not np.allclose(leaky[1:], correct[1:])  # later ones inherit the previous episode's memory


def test_warn_missing_episode_start_catches_the_naive_loop():
    model = RecurrentPPO("MlpLstmPolicy", ConstantObsEnv(), policy_kwargs=lstm(), seed=0)
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


# --------------------------------------------------------------------------- bad input


def test_bad_input():
    with pytest.raises(TypeError, match="needs an SB3 model"):
        check_policy("PPO")  # type: ignore[arg-type]
    with pytest.raises(InvalidThresholdError, match="n_samples=1"):
        check_policy(PPO("MlpPolicy", "CartPole-v1", policy_kwargs=tiny()), n_samples=1)
