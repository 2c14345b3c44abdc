"""QValueCallback on real off-policy runs."""

from __future__ import annotations

import re

import gymnasium as gym
import pytest
from stable_baselines3 import PPO, SAC, TD3
from stable_baselines3.common.callbacks import BaseCallback

from sb3_diagnostics import BufferShapeCallback, DiagnosticsCallback, QValueCallback, Severity
from sb3_diagnostics.callbacks.gradients import GradientCallback
from sb3_diagnostics.callbacks.nan import NaNCallback
from sb3_diagnostics.faults import DoubleUpdateDQN, DoubleUpdateSAC, EveryStepUpdateDQN, RewardScale, regularise_critic


# -- Q-values --------------------------------------------------------------------------------------
@pytest.mark.slow  # CI: make test-slow
def test_huge_rewards_and_long_horizon_diverge_q_values(sac, train):
    # seed 003: "Q-values diverging in SAC"; rewards x1e4 (seed 000 #8) with gamma=0.999.
    model = sac(RewardScale(gym.make("Pendulum-v1"), 1e4), gamma=0.999, learning_rate=1e-3)
    run = train(model, 1000, QValueCallback(off_policy_interval=100))
    assert run.severity("q_value_divergence") == Severity.WARNING
    finding = next(f for f in run.findings if f.code == "q_value_divergence")
    assert abs(finding.value) > 1000 and "still growing" in finding.message
    assert run.warned("q_value_divergence")


# -- target networks -------------------------------------------------------------------------------
def test_sac_with_doubled_polyak_update(sac, train):
    cb = QValueCallback(off_policy_interval=100)
    run = train(sac(cls=DoubleUpdateSAC), 500, cb)
    finding = next(f for f in run.findings if f.code == "target_update_too_fast")
    assert finding.severity == Severity.WARNING and finding.value == pytest.approx(2.0, abs=0.05)


def test_soft_update_dqn_with_doubled_polyak_update(dqn, train):
    run = train(dqn(DoubleUpdateDQN, tau=0.01, target_update_interval=1), 1000, QValueCallback(off_policy_interval=200))
    finding = next(f for f in run.findings if f.code == "target_update_too_fast")
    assert finding.value == pytest.approx(2.0, abs=0.05)


def test_hard_update_dqn_updated_at_every_gradient_step(dqn, train):
    run = train(dqn(EveryStepUpdateDQN, target_update_interval=500), 1500, QValueCallback(off_policy_interval=200))
    finding = next(f for f in run.findings if f.code == "target_update_too_fast")
    assert finding.value > 10  # 50 copies per 200 steps where at most one is due


def test_soft_update_dqn_is_on_schedule(dqn, train):
    cb = QValueCallback(off_policy_interval=200)
    assert train(dqn(tau=0.01, target_update_interval=1), 1000, cb).codes(Severity.INFO) == set()


# -- healthy twins: every check of this change, standard hyperparameters ---------------------------
@pytest.mark.parametrize("make_model, steps", [
    (lambda sac, dqn: sac(), 1000),
    (lambda sac, dqn: sac(cls=TD3), 1000),
    (lambda sac, dqn: dqn(target_update_interval=250), 2000),
], ids=["sac_pendulum", "td3_pendulum", "dqn_cartpole"])
def test_healthy_off_policy_runs_are_quiet(train, sac, dqn, make_model, steps):
    checks: list[BaseCallback] = [QValueCallback(off_policy_interval=100), GradientCallback(off_policy_interval=100),
                                  NaNCallback(off_policy_interval=100), BufferShapeCallback(off_policy_interval=100)]
    run = train(make_model(sac, dqn), steps, checks)
    assert run.codes(Severity.INFO) == set(), [(f.code, f.message) for f in run.findings]


def test_q_values_do_not_apply_to_on_policy(ppo_small, train):
    run = train(PPO("MlpPolicy", "CartPole-v1", **ppo_small()), 256, QValueCallback())
    assert [f.code for f in run.findings] == ["check_not_applicable"]


@pytest.fixture
def twin_critics_model(tiny):
    def make(cls, first_critic_only: bool):  # type: ignore[no-untyped-def]
        model = cls("MlpPolicy", "Pendulum-v1", learning_starts=100, batch_size=64, **tiny())
        return regularise_critic(model, first_critic_only=first_critic_only)

    return make


@pytest.mark.slow  # CI: make test-slow
def test_sac_second_critic_never_trained(train, twin_critics_model):
    # Q2 stays at its initial ~0 while Q1 learns Pendulum's values: spread ~= |Q1| = 2 |mean Q|,
    # which crosses 100 at 4000-4500 steps (seeds 0-2: first reported at 4501-5001).
    run = train(twin_critics_model(SAC, first_critic_only=True), 5600, DiagnosticsCallback(off_policy_interval=500))
    assert run.severity("q_twin_divergence") == Severity.WARNING
    finding = next(f for f in run.findings if f.code == "q_twin_divergence")
    relative = float(re.search(r"\((\d+)% of \|mean Q\|\)", finding.message).group(1))  # type: ignore[union-attr]
    assert finding.value > 100 and relative > 150  # ~200%: one twin ~0, the other ~2x the mean
    assert run.warned("q_twin_divergence")
    # the same bug seen by the gradient check: the second critic's gradients reach no optimizer
    assert run.severity("param_no_grad") == Severity.ERROR
    assert "critic.qf1" in next(f.message for f in run.findings if f.code == "param_no_grad")
    assert run.codes() == {"q_twin_divergence", "param_no_grad"}


@pytest.mark.slow  # CI: make test-slow
def test_sac_critic_optimizer_over_every_critic_is_quiet(train, twin_critics_model):
    run = train(twin_critics_model(SAC, first_critic_only=False), 5600, DiagnosticsCallback(off_policy_interval=500))
    assert run.codes(Severity.INFO) == set(), [(f.code, f.message) for f in run.findings]


@pytest.mark.slow
def test_td3_second_critic_never_trained_is_caught_by_the_gradient_check(train, twin_critics_model):
    # TD3's actor follows Q1 only and learns the task: Q1 settles at ~-75 on the replay buffer, so
    # the spread stays ~75 (200% of |mean Q|) and never reaches the absolute threshold of 100.
    # The untrained twin's parameters, outside every optimizer, are what gives the bug away.
    run = train(twin_critics_model(TD3, first_critic_only=True), 2000, DiagnosticsCallback(off_policy_interval=500))
    assert run.severity("param_no_grad") == Severity.ERROR
    assert "critic.qf1" in next(f.message for f in run.findings if f.code == "param_no_grad")
    assert run.codes() == {"param_no_grad"}


@pytest.mark.slow  # CI: make test-slow
def test_td3_critic_optimizer_over_every_critic_is_quiet(train, twin_critics_model):
    run = train(twin_critics_model(TD3, first_critic_only=False), 2000, DiagnosticsCallback(off_policy_interval=500))
    assert run.codes(Severity.INFO) == set(), [(f.code, f.message) for f in run.findings]
