"""q_twin_divergence on real runs: a critic optimizer rebuilt over the first twin only, beside its fixed twin."""

import re

from conftest import tiny, train
from stable_baselines3 import SAC, TD3

from sb3_diagnostics import DiagnosticsCallback, Severity
from sb3_diagnostics.faults_offpolicy import regularise_critic


def _model(cls, first_critic_only: bool):  # type: ignore[no-untyped-def]
    model = cls("MlpPolicy", "Pendulum-v1", learning_starts=100, batch_size=64, **tiny())
    return regularise_critic(model, first_critic_only=first_critic_only)


def test_sac_second_critic_never_trained():
    # Q2 stays at its initial ~0 while Q1 learns Pendulum's values: spread ~= |Q1| = 2 |mean Q|,
    # which crosses 100 at 4000-4500 steps (seeds 0-2: first reported at 4501-5001).
    run = train(_model(SAC, first_critic_only=True), 5600, DiagnosticsCallback(off_policy_interval=500))
    assert run.severity("q_twin_divergence") == Severity.WARNING
    finding = next(f for f in run.findings if f.code == "q_twin_divergence")
    relative = float(re.search(r"\((\d+)% of \|mean Q\|\)", finding.message).group(1))  # type: ignore[union-attr]
    assert finding.value > 100 and relative > 150  # ~200%: one twin ~0, the other ~2x the mean
    assert run.warned("q_twin_divergence")
    # the same bug seen by the gradient check: the second critic's gradients reach no optimizer
    assert run.severity("param_no_grad") == Severity.ERROR
    assert "critic.qf1" in next(f.message for f in run.findings if f.code == "param_no_grad")
    assert run.codes() == {"q_twin_divergence", "param_no_grad"}


def test_sac_critic_optimizer_over_every_critic_is_quiet():
    run = train(_model(SAC, first_critic_only=False), 5600, DiagnosticsCallback(off_policy_interval=500))
    assert run.codes(Severity.INFO) == set(), [(f.code, f.message) for f in run.findings]


def test_td3_second_critic_never_trained_is_caught_by_the_gradient_check():
    # TD3's actor follows Q1 only and learns the task: Q1 settles at ~-75 on the replay buffer, so
    # the spread stays ~75 (200% of |mean Q|) and never reaches the absolute threshold of 100.
    # The untrained twin's parameters, outside every optimizer, are what gives the bug away.
    run = train(_model(TD3, first_critic_only=True), 2000, DiagnosticsCallback(off_policy_interval=500))
    assert run.severity("param_no_grad") == Severity.ERROR
    assert "critic.qf1" in next(f.message for f in run.findings if f.code == "param_no_grad")
    assert run.codes() == {"param_no_grad"}


def test_td3_critic_optimizer_over_every_critic_is_quiet():
    run = train(_model(TD3, first_critic_only=False), 2000, DiagnosticsCallback(off_policy_interval=500))
    assert run.codes(Severity.INFO) == set(), [(f.code, f.message) for f in run.findings]
