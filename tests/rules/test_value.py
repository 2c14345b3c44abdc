"""Value-function and advantage rules on hand-made metric streams."""

from __future__ import annotations

import math

from sb3_diagnostics.findings import Severity
from sb3_diagnostics.rules.value import AdvantageRule, ExplainedVarianceRule
from sb3_diagnostics.thresholds import ValueThresholds


def test_explained_variance_warmup_windows_and_error(feed):
    negative = {"explained_variance": -0.2}
    # warm-up: the first 5 updates are ignored even if negative
    assert not any(feed(ExplainedVarianceRule(), [negative] * 7))
    assert feed(ExplainedVarianceRule(), [negative] * 8)[-1] == ["explained_variance_negative"]
    # too early in timesteps (tiny rollouts): still warm-up
    assert not any(feed(ExplainedVarianceRule(), [negative] * 8, step0=100, every=128))
    rule = ExplainedVarianceRule()
    alerts = [rule.observe(10_000 + i, {"explained_variance": -0.9}) for i in range(8)][-1]
    assert alerts[0].severity == Severity.ERROR
    # windows arrive only every few updates; missing values are no evidence
    gaps = [{}, {}, negative] * 6
    assert feed(ExplainedVarianceRule(ValueThresholds(warmup_updates=1)), gaps)[-1] == ["explained_variance_negative"]


def test_advantages(feed):
    flat = {"advantage_std": 0.0, "advantage_abs_max": 0.0}
    assert feed(AdvantageRule(), [flat] * 3)[-1] == ["advantage_zero_variance"]
    huge = {"advantage_std": 50.0, "advantage_abs_max": 500.0}
    assert feed(AdvantageRule(), [huge, huge, {"advantage_std": 1, "advantage_abs_max": 5}, huge])[-1] == []
    assert feed(AdvantageRule(), [huge] * 3)[-1] == ["advantage_explosion"]
    assert feed(AdvantageRule(), [{"advantage_std": math.nan}] * 5)[-1] == []
