"""Q-value and target-network rules on hand-made metric streams."""

from __future__ import annotations

import pytest

from sb3_diagnostics.errors import InvalidThresholdError
from sb3_diagnostics.findings import Severity
from sb3_diagnostics.rules.q_values import QValueRule, TargetUpdateRule
from sb3_diagnostics.thresholds import QValueThresholds


# -- Q-values ------------------------------------------------------------------------------------
def test_healthy_pendulum_q_values_are_quiet(observe):
    # SAC on Pendulum: Q settles at a few hundred (rewards down to -16 per step, gamma 0.99)
    stream = [{"q_mean": q, "q_value_spread": s} for q, s in
              ((-5, 1), (-80, 4), (-250, 9), (-420, 12), (-610, 15), (-580, 9), (-400, 6), (-250, 4), (-180, 3))]
    assert not any(observe(QValueRule(), stream))


def test_growing_q_beyond_threshold_diverges(codes, observe):
    history = observe(QValueRule(), [{"q_mean": q} for q in (-300.0, -1200.0, -1900.0, -2900.0)])
    assert [codes(a) for a in history] == [[], [], ["q_value_divergence"], ["q_value_divergence"]]
    assert history[-1][0].severity is None  # catalog default: warning


def test_large_but_stable_q_is_info(observe):
    # A trained HalfCheetah-like agent: rewards ~10 per step, Q ~ 1000, not growing.
    history = observe(QValueRule(), [{"q_mean": q} for q in (1050.0, 1060.0, 1055.0, 1058.0)])
    assert [(a.code, a.severity) for a in history[-1]] == [("q_value_divergence", Severity.INFO)]


def test_twin_spread_absolute_and_relative(codes, observe):
    assert codes(observe(QValueRule(), [{"q_mean": -400.0, "q_value_spread": 150.0}] * 2)[-1]) == ["q_twin_divergence"]
    # 150 apart when Q is 1e5 is 0.15%: noise, not disagreement (the divergence itself is reported).
    assert "q_twin_divergence" not in codes(observe(QValueRule(), [{"q_mean": -1e5, "q_value_spread": 150.0}] * 2)[-1])
    assert observe(QValueRule(), [{"q_mean": -400.0, "q_value_spread": 150.0}]) == [[]]


def test_target_drift_ratio(codes, observe):
    doubled = {"target_drift_ratio": 2.0, "_target_updates_seen": 400.0, "_target_updates_allowed": 200.0}
    history = observe(TargetUpdateRule(), [{"target_drift_ratio": 1.0}, doubled, doubled])
    assert [codes(a) for a in history] == [[], [], ["target_update_too_fast"]]
    assert "400.0 updates would, where 200 were due" in history[-1][0].message
    assert not any(observe(TargetUpdateRule(), [{"target_drift_ratio": 1.02}] * 5))


def test_drift_ratio_threshold_must_exceed_one(observe):
    with pytest.raises(InvalidThresholdError):
        QValueThresholds(drift_ratio=1.0)
    assert not any(observe(TargetUpdateRule(QValueThresholds(drift_ratio=3.0)), [{"target_drift_ratio": 2.0}] * 3))
