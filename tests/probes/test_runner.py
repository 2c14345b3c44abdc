"""The probe environments and their runner."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from sb3_contrib import ARS, TRPO, RecurrentPPO
from stable_baselines3 import A2C, DQN, PPO, SAC, TD3
from stable_baselines3.common.buffers import RolloutBuffer
from stable_baselines3.common.noise import NormalActionNoise
from stable_baselines3.common.policies import ActorCriticPolicy
from stable_baselines3.common.torch_layers import MlpExtractor

from sb3_diagnostics.probes import (
    PROBE_TABLE,
    ProbeSetupError,
    assert_probes_pass,
    diagnose,
    make_probe_env,
    probe_id,
    run_probes,
)

BUDGET = 1000  # timesteps per probe: enough for these small, fast-learning settings
PPO_BUDGET = 512  # four updates of ppo()'s 128-step rollouts: probe 3 passes from about four


def ppo(policy=ActorCriticPolicy, **kwargs):
    """gamma=0.9 makes probe 3 sharp: a missing discount moves V(s0) from 0.9 to 1.0."""
    def make(env):
        return PPO(policy, env, n_steps=128, batch_size=64, learning_rate=3e-3, gamma=0.9,
                   policy_kwargs=dict(net_arch=[32]), seed=0, **kwargs)
    return make


def dqn(env, **overrides):
    kwargs = dict(learning_rate=3e-3, learning_starts=100, target_update_interval=100, buffer_size=5000,
                  batch_size=32, exploration_fraction=0.3, gamma=0.9, policy_kwargs=dict(net_arch=[32]), seed=0)
    return DQN("MlpPolicy", env, **{**kwargs, **overrides})


def sac(env):
    return SAC("MlpPolicy", env, learning_rate=3e-3, learning_starts=100, buffer_size=5000, batch_size=64,
               gamma=0.9, train_freq=2, tau=0.02, policy_kwargs=dict(net_arch=[32]), seed=0)


OTHERS = {
    "A2C": lambda env: A2C("MlpPolicy", env, n_steps=8, learning_rate=3e-3, gamma=0.9,
                           policy_kwargs=dict(net_arch=[32]), seed=0),
    "TRPO": lambda env: TRPO("MlpPolicy", env, n_steps=128, batch_size=64, learning_rate=3e-3, gamma=0.9,
                             policy_kwargs=dict(net_arch=[32]), seed=0),
    "TD3": lambda env: TD3("MlpPolicy", env, learning_rate=3e-3, learning_starts=100, buffer_size=5000, batch_size=64,
                           gamma=0.9, tau=0.02, action_noise=NormalActionNoise(np.zeros(1), 0.3 * np.ones(1)),
                           policy_kwargs=dict(net_arch=[32]), seed=0),
    "RecurrentPPO": lambda env: RecurrentPPO("MlpLstmPolicy", env, n_steps=128, batch_size=64, learning_rate=3e-3,
                                             gamma=0.9, policy_kwargs=dict(net_arch=[32], lstm_hidden_size=16),
                                             seed=0),
}


class DetachedValuePolicy(ActorCriticPolicy):
    """The value head is detached from the loss: the value never learns."""

    def evaluate_actions(self, obs, actions):
        values, log_prob, entropy = super().evaluate_actions(obs, actions)
        return values.detach(), log_prob, entropy


class _BlindCriticExtractor(MlpExtractor):
    def forward_critic(self, features):
        return super().forward_critic(features * 0)


class BlindCriticPolicy(ActorCriticPolicy):
    """The value network never sees the observation (no gradient path from obs to value)."""

    def _build_mlp_extractor(self):
        self.mlp_extractor = _BlindCriticExtractor(self.features_dim, net_arch=self.net_arch,
                                                   activation_fn=self.activation_fn, device=self.device)


class _BlindActorExtractor(MlpExtractor):
    def forward_actor(self, features):
        return super().forward_actor(features * 0)


class BlindActorPolicy(ActorCriticPolicy):
    """The policy ignores its observation."""

    def _build_mlp_extractor(self):
        self.mlp_extractor = _BlindActorExtractor(self.features_dim, net_arch=self.net_arch,
                                                  activation_fn=self.activation_fn, device=self.device)


class NoDiscountBuffer(RolloutBuffer):
    """Returns and GAE computed without the discount."""

    def compute_returns_and_advantage(self, last_values, dones):
        gamma, self.gamma = self.gamma, 1.0
        try:
            super().compute_returns_and_advantage(last_values, dones)
        finally:
            self.gamma = gamma


class FlippedAdvantageBuffer(RolloutBuffer):
    """Advantages with the wrong sign: the policy moves away from good actions."""

    def compute_returns_and_advantage(self, last_values, dones):
        super().compute_returns_and_advantage(last_values, dones)
        self.advantages = -self.advantages


@pytest.mark.parametrize("probe", [1, 2, 3, 4, 5])
def test_correct_ppo_passes_every_probe(probe):
    # one probe per test: each trains for about a CPU-second (the five together, in the slow suite below)
    result = run_probes(ppo(), probes=(probe,), budget=PPO_BUDGET)[0]
    assert result.passed and result.action_kind == "discrete" and result.algorithm == "PPO", result
    if probe == 3:
        assert result.expected == {"V(0)": pytest.approx(0.9), "V(+1)": 1.0}  # gamma read from the model


@pytest.mark.slow  # CI: make test-slow
def test_correct_ppo_passes_every_probe_in_one_call():
    results = assert_probes_pass(ppo(), budget=PPO_BUDGET)
    assert [r.probe for r in results] == [1, 2, 3, 4, 5] and all(r.passed for r in results)


@pytest.mark.parametrize("probe", [1, 2, 3, 4, 5])
def test_correct_dqn_passes_every_probe(probe):
    result = run_probes(dqn, probes=(probe,), budget=BUDGET)[0]
    assert result.passed and result.algorithm == "DQN", result


@pytest.mark.slow  # CI: make test-slow
def test_correct_sac_passes_every_probe_on_the_continuous_variants():
    results = assert_probes_pass(sac, budget=BUDGET)
    assert all(r.passed and r.action_kind == "continuous" for r in results) and len(results) == 5
    # SAC's soft Q-value adds the entropy bonus: the expected V(s0) says so
    assert results[2].expected["V(0)"] > 0.9 and "soft value" in results[2].note


@pytest.mark.slow  # CI: make test-slow
@pytest.mark.parametrize("name", sorted(OTHERS))
def test_other_algorithms_pass_every_probe(name):
    # RecurrentPPO: probe 3's two steps are measured as one sequence through the LSTM
    results = assert_probes_pass(OTHERS[name], budget=BUDGET)
    assert all(r.passed and r.algorithm == name for r in results) and len(results) == 5


@pytest.mark.parametrize("make_model, failing, words", [
    (ppo(DetachedValuePolicy), 1, "value loss or optimizer"),
    (ppo(BlindCriticPolicy), 2, "backprop through value net"),
    (ppo(rollout_buffer_class=NoDiscountBuffer), 3, "discounting"),
    (ppo(rollout_buffer_class=FlippedAdvantageBuffer), 4, "advantage or policy update"),
    (ppo(BlindActorPolicy), 5, "policy-value interaction"),
], ids=["detached-value", "value-ignores-obs", "no-discount", "flipped-advantage", "policy-ignores-obs"])
def test_a_broken_implementation_fails_the_probe_that_isolates_its_bug(make_model, failing, words):
    # the probe before it passes (the bug is not there), the probe that adds the broken component fails
    results = run_probes(make_model, probes=range(max(failing - 1, 1), failing + 1), budget=PPO_BUDGET)
    assert [r.passed for r in results] == [True] * min(failing - 1, 1) + [False]
    assert not results[-1].inconclusive  # enough training: the component is blamed
    text = diagnose(results)
    assert f"probe {failing} (" in text and words in text
    if failing > 1:
        assert f"Probe {failing - 1} passed, so the bug is in exactly what probe {failing} adds" in text


def test_assert_probes_pass_names_probe_measurement_and_component():
    with pytest.raises(AssertionError) as info:
        assert_probes_pass(ppo(DetachedValuePolicy), probes=(1, 2), budget=PPO_BUDGET)
    message = str(info.value)
    assert "probe 1" in message and "FAILED" in message and "V(0) = " in message and "expected +1.000" in message
    assert PROBE_TABLE[1][2] in message


def test_settings_that_cannot_pass_are_inconclusive_not_a_broken_component():
    results = run_probes(lambda env: dqn(env, target_update_interval=10_000), probes=(3,), budget=BUDGET)
    result = results[0]
    assert result.passed is False and result.inconclusive and "target_update_interval=10000" in result.settings
    assert result.needs >= 3 * 10_000  # the target network must move a few times after learning starts
    text = diagnose(results)
    assert "INCONCLUSIVE" in text and "Probe 3 could not be judged" in text and f"at least {result.needs}" in text
    assert "a failure here means" not in text and "the bug is in" not in text
    with pytest.raises(AssertionError, match="could not be judged"):  # assert_probes_pass does not let it through
        assert_probes_pass(lambda env: dqn(env, target_update_interval=10_000), probes=(3,), budget=BUDGET)


def test_one_rollout_is_too_little_for_probe_3_and_the_budget_it_names_judges_it():
    # a rollout of 128 > budget 100: one update of 20 optimizer steps at 3e-3, too little to learn V(s1) then V(s0)
    short = run_probes(ppo(), probes=(3,), budget=100)[0]
    assert short.inconclusive and short.needs == 512 and "n_steps * n_envs = 128 > budget 100" in short.settings
    assert run_probes(ppo(), probes=(3,), budget=short.needs)[0].passed  # the healthy twin
    # a real bug given that budget is still named: inconclusive only when training was too short
    broken = run_probes(ppo(rollout_buffer_class=NoDiscountBuffer), probes=(3,), budget=PPO_BUDGET)[0]
    assert broken.passed is False and not broken.inconclusive and broken.needs == 0


@pytest.mark.slow  # CI: make test-slow (about 15-25 CPU-seconds: what sb3-diagnostics probes ppo costs)
def test_ppo_with_its_defaults_passes_every_probe_within_the_default_budgets():
    results = assert_probes_pass(lambda env: PPO("MlpPolicy", env, seed=0))
    assert [r.timesteps for r in results] == [2048, 2048, 4096, 2048, 2048]  # one update each, two for probe 3


def test_probes_that_cannot_apply_are_skipped_with_a_reason():
    no_value = run_probes(lambda env: ARS("LinearPolicy", env, seed=0), probes=(1,), budget=10)
    assert no_value[0].skipped and "no value function" in no_value[0].note
    with pytest.raises(AssertionError, match="no probe could run"):
        assert_probes_pass(lambda env: ARS("LinearPolicy", env, seed=0), probes=(2,), budget=10)
    wrong_space = run_probes(dqn, probes=(4,), action_kind="continuous", budget=10)
    assert wrong_space[0].skipped and "Box" in wrong_space[0].note


@pytest.mark.parametrize("kwargs, pattern", [
    (dict(probes=(0, 6)), "choose among 1, 2, 3, 4, 5"),
    (dict(budget=0), "budget for probe 1 is 0"),
    (dict(budget="many"), "give a number of timesteps"),
    (dict(budget={7: 100}), "unknown probes"),
    (dict(tolerance=-0.1), "tolerance=-0.1"),
    (dict(action_kind="multibinary"), "action_kind="),
])
def test_bad_arguments_raise_clear_errors(kwargs, pattern):
    with pytest.raises(ProbeSetupError, match=pattern):
        run_probes(ppo(), **kwargs)


def test_make_model_must_return_a_model_and_its_own_bugs_are_not_skips():
    with pytest.raises(ProbeSetupError, match="must return an unfitted SB3 model"):
        run_probes(lambda env: env, probes=(1,))
    with pytest.raises(ProbeSetupError, match="got an unexpected keyword argument 'learning_rat'") as info:
        run_probes(lambda env: PPO("MlpPolicy", env, learning_rat=1e-3), probes=(1,))
    assert isinstance(info.value.__cause__, TypeError)


def test_probe_envs_are_registered_and_behave_as_documented():
    env = gym.make(probe_id(3, "continuous"))
    obs, _ = env.reset(seed=0)
    obs1, r0, term0, _, _ = env.step(np.array([0.3], np.float32))
    _, r1, term1, _, _ = env.step(np.array([-0.3], np.float32))
    assert (obs[0], obs1[0], r0, r1, term0, term1) == (0.0, 1.0, 0.0, 1.0, False, True)
    p5 = make_probe_env(5, "discrete")
    seen = set()
    for seed in range(20):
        o, _ = p5.reset(seed=seed)
        seen.add(float(o[0]))
        right = 1 if o[0] > 0 else 0
        assert p5.step(right)[1] == 1.0
    assert seen == {-1.0, 1.0}
    assert make_probe_env(4, "continuous").reward(0.0, np.array([0.25])) == 0.25
    with pytest.raises(ValueError, match="numbered 1 to 5"):
        make_probe_env(9)


def test_a_bug_in_the_training_check_leaves_the_measured_verdict(monkeypatch):
    import sb3_diagnostics.probes.runner as runner

    def broken(*args, **kwargs):
        raise ZeroDivisionError("a bug of ours")

    monkeypatch.setattr(runner, "_too_little_training", broken)
    result = run_probes(ppo(DetachedValuePolicy), probes=(1,), budget=128)[0]
    assert result.passed is False and not result.inconclusive and "value loss or optimizer" in diagnose([result])


def test_probes_restore_torch_distribution_checks():
    # training skips torch.distributions' argument checks for speed; the user's setting is back afterwards
    from torch.distributions import Distribution

    before = Distribution._validate_args
    run_probes(ppo(), probes=(1,), budget=128)
    assert Distribution._validate_args is before
