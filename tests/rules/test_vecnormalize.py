"""The VecNormalize rule on hand-made metric streams."""

from __future__ import annotations

from sb3_diagnostics.rules.vecnormalize import VecNormalizeRule
from sb3_diagnostics.thresholds import VecNormalizeThresholds


def test_vecnormalize_rule(feed, observe):
    th = VecNormalizeThresholds(warmup_updates=1)
    # raw +100 and +20 both reach the agent as clip_reward=1: 5x apart, seen 1x apart
    squeezed = {"vecnorm_reward_squeeze": 5.0, "_clip_reward": 1.0, "_squeezed_big": 100.0, "_squeezed_small": 20.0,
                "_squeezed_seen": 1.0, "_small_normalized": 1.0}
    fine = {"vecnorm_reward_squeeze": 1.0, "_clip_reward": 1.0}
    # rare events (a win) count in total, not in a row; the first rollout is the statistics' warm-up
    assert feed(VecNormalizeRule(th), [fine, squeezed, fine, fine, squeezed])[-1] == ["vecnormalize_reward_clipped"]
    alerts = observe(VecNormalizeRule(th), [fine, squeezed, squeezed])[-1]
    assert "raw rewards +100 and +20" in alerts[0].message and "at least 8" in (alerts[0].hint or "")
    drift = [{"vecnorm_ret_std": 1.0}] * 2 + [{"vecnorm_ret_std": 20.0}]
    assert feed(VecNormalizeRule(th), drift)[-1] == ["vecnormalize_stats_unstable"]
    assert feed(VecNormalizeRule(th), drift[:2] * 3)[-1] == []


def test_a_rare_large_reward_clipped_far_above_ordinary_ones_loses_nothing():
    from sb3_diagnostics.metrics import clipping_squeeze

    # MountainCarContinuous: the +100 goal normalised to 30 is clipped to 10; ordinary rewards reach ~0.01
    assert clipping_squeeze([99.9, -0.01, -0.1], [10.0, -0.001, -0.01], 10.0)["squeeze"] == 1.0
    # a +100 win and +20 damage both clipped to 1: 5x apart, seen as equal
    worst = clipping_squeeze([100.0, 20.0, 1.0], [1.0, 1.0, 0.1], 1.0)
    assert worst["squeeze"] == 5.0 and (worst["big"], worst["small"]) == (100.0, 20.0)
    assert clipping_squeeze([1.0, 2.0], [0.1, 0.2], 1.0) == {}  # nothing clipped
