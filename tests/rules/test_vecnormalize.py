"""The VecNormalize rule on hand-made metric streams."""

from __future__ import annotations

from sb3_diagnostics.rules.vecnormalize import VecNormalizeRule
from sb3_diagnostics.thresholds import VecNormalizeThresholds


def test_vecnormalize_rule(feed):
    th = VecNormalizeThresholds(warmup_updates=1)
    clipped = {"vecnorm_reward_clip_frac": 0.02, "_clip_reward": 10.0}
    assert feed(VecNormalizeRule(th), [clipped] * 3)[-1] == ["vecnormalize_reward_clipped"]
    shrunk = {"vecnorm_reward_clip_frac": 0.001, "vecnorm_reward_shrink": 2.0, "_clip_reward": 10.0}
    alerts = [VecNormalizeRule(th).observe(0, shrunk)]
    rule = VecNormalizeRule(th)
    alerts = [rule.observe(i, shrunk) for i in range(3)][-1]
    assert alerts[0].code == "vecnormalize_reward_clipped" and "at least 30" in (alerts[0].hint or "")
    drift = [{"vecnorm_ret_std": 1.0}] * 2 + [{"vecnorm_ret_std": 20.0}]
    assert feed(VecNormalizeRule(th), drift)[-1] == ["vecnormalize_stats_unstable"]
    assert feed(VecNormalizeRule(th), drift[:2] * 3)[-1] == []
