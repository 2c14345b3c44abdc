"""What every rule has in common."""

from __future__ import annotations

import pytest

from sb3_diagnostics.rules.entropy import ActionStdRule, EntropyRule
from sb3_diagnostics.rules.kl import PolicyUpdateRule
from sb3_diagnostics.rules.lstm import RecurrentStateRule
from sb3_diagnostics.rules.value import AdvantageRule, ExplainedVarianceRule
from sb3_diagnostics.rules.vecnormalize import VecNormalizeRule


@pytest.mark.parametrize("rule_cls", [EntropyRule, ActionStdRule, ExplainedVarianceRule, AdvantageRule,
                                      PolicyUpdateRule, VecNormalizeRule, RecurrentStateRule])
def test_rules_ignore_unknown_and_missing_metrics(rule_cls):
    rule = rule_cls()
    assert all(rule.observe(i, {"something_else": 1.0}) == [] for i in range(20))


def test_return_progress_reads_a_rise_within_the_noise_of_its_means_as_no_progress():
    from sb3_diagnostics.rules.base import ReturnProgress

    # PPO on a reward of pure noise (episode returns with std 7): the first mean stands on 5 episodes and lies
    # at -2.4, a later one on 100 at +0.5; a rise of 2.9 is within 2 standard errors (6.4) of the two means
    noise = ReturnProgress()
    noise.push(-2.4, 7.0, 5.0)
    for value in (-1.0, 0.2, 0.54, 0.3):
        noise.push(value, 7.0, 100.0)
    assert not noise.improved(0.3)
    # CartPole learning: 20 -> 480 with episode returns of std 10 early, 30 late, is progress
    cartpole = ReturnProgress()
    cartpole.push(20.0, 10.0, 5.0)
    for value in (80.0, 250.0, 480.0):
        cartpole.push(value, 30.0, 100.0)
    assert cartpole.improved(0.3)
    # post hoc (only the means are logged) the rise is taken at face value, as before
    posthoc = ReturnProgress()
    for value in (-2.4, -1.0, 0.2, 0.54, 0.3):
        posthoc.push(value)
    assert posthoc.improved(0.3)
