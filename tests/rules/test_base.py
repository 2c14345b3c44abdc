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
