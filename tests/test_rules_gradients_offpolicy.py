"""Gradient, NaN, Q-value, target-network and buffer-shape rules on hand-made metric streams."""

import pytest

from sb3_diagnostics.catalog import GradientThresholds, QValueThresholds
from sb3_diagnostics.errors import InvalidThresholdError
from sb3_diagnostics.findings import Severity
from sb3_diagnostics.rules.gradients import GradientNormRule, NonFiniteRule, ParamGradRule
from sb3_diagnostics.rules.offpolicy import BufferShapeRule, QValueRule, TargetUpdateRule


def feed(rule, stream):
    return [rule.observe(1000 * (i + 1), metrics) for i, metrics in enumerate(stream)]


def codes(alerts):
    return [a.code for a in alerts]


# -- gradient norms ------------------------------------------------------------------------------
def test_one_high_update_is_not_exploding_two_are():
    history = feed(GradientNormRule(), [{"grad_norm": v} for v in (5.0, 2e4, 5.0, 3e4, 4e4)])
    assert [codes(a) for a in history] == [[], [], [], [], ["grad_norm_exploding"]]
    assert history[-1][0].value == 4e4


def test_a_single_huge_step_is_enough():
    (alerts,) = feed(GradientNormRule(), [{"grad_norm": 50.0, "grad_peak": 9e5}])
    assert codes(alerts) == ["grad_norm_exploding"]
    assert "one optimizer step" in alerts[0].message and alerts[0].threshold == 1e5
    assert feed(GradientNormRule(GradientThresholds(exploding_step=1e6)), [{"grad_norm": 50.0, "grad_peak": 9e5}]) == [[]]


def test_actor_and_critic_are_judged_separately():
    stream = [{"grad_norm_actor": 0.5, "grad_norm_critic": 5e4}] * 2
    (alert,) = feed(GradientNormRule(), stream)[-1]
    assert alert.code == "grad_norm_exploding" and "critic gradient" in alert.message


def test_vanishing_needs_a_nonzero_loss():
    tiny = {"grad_norm_actor": 1e-9, "_loss_actor": 120.0}
    assert codes(feed(GradientNormRule(), [tiny] * 2)[-1]) == ["grad_norm_vanishing"]
    # At the minimum of the loss a tiny gradient is expected; without a loss (logs) nothing is judged.
    assert feed(GradientNormRule(), [{"grad_norm": 1e-9, "_loss": 1e-9}] * 3)[-1] == []
    assert feed(GradientNormRule(), [{"grad_norm": 1e-9}] * 3)[-1] == []


def test_nan_norms_are_not_measurements():
    assert feed(GradientNormRule(), [{"grad_norm": float("nan"), "grad_peak": float("nan")}] * 3)[-1] == []


def test_gradient_thresholds_are_ordered():
    with pytest.raises(InvalidThresholdError):
        GradientThresholds(vanishing=1.0, exploding=0.5)
    with pytest.raises(InvalidThresholdError):
        GradientThresholds(exploding=1e6, exploding_step=1e5)


# -- parameters without gradient -----------------------------------------------------------------
def test_param_without_grad_must_persist():
    missing = {"params_without_grad": 1.0, "_no_grad:features_extractor.linear.weight": 1.0}
    fine = {"params_without_grad": 0.0}
    assert feed(ParamGradRule(), [missing, missing, fine, missing, missing])[-1] == []
    (alert,) = feed(ParamGradRule(), [missing] * 3)[-1]
    assert alert.code == "param_no_grad" and "features_extractor.linear.weight" in alert.message


def test_param_outside_optimizer_gets_its_own_hint():
    outside = {"params_not_in_optimizer": 2.0, "_not_in_optimizer:value_net.weight": 1.0,
               "_not_in_optimizer:value_net.bias": 1.0}
    (alert,) = feed(ParamGradRule(), [outside] * 3)[-1]
    assert "value_net.weight, value_net.bias" in alert.message and "add_param_group" in alert.hint


# -- NaN -----------------------------------------------------------------------------------------
def test_first_nan_location_is_kept():
    rule = NonFiniteRule()
    (first,) = rule.observe(300, {"nonfinite_count": 1.0, "_nonfinite_at:the observation (env 0, index [2])": 300.0})
    assert first.code == "nan_detected" and "observation (env 0, index [2]) at step 300" in first.message
    (later,) = rule.observe(600, {"nonfinite_count": 40.0, "_nonfinite_at:the parameter q_net.0.weight": 512.0})
    assert "observation (env 0, index [2]) at step 300" in later.message and "q_net.0.weight" in later.message
    assert rule.observe(900, {"nonfinite_count": 0.0}) == []


# -- Q-values ------------------------------------------------------------------------------------
def test_healthy_pendulum_q_values_are_quiet():
    # SAC on Pendulum: Q settles at a few hundred (rewards down to -16 per step, gamma 0.99)
    stream = [{"q_mean": q, "q_value_spread": s} for q, s in
              ((-5, 1), (-80, 4), (-250, 9), (-420, 12), (-610, 15), (-580, 9), (-400, 6), (-250, 4), (-180, 3))]
    assert not any(feed(QValueRule(), stream))


def test_growing_q_beyond_threshold_diverges():
    history = feed(QValueRule(), [{"q_mean": q} for q in (-300.0, -1200.0, -1900.0, -2900.0)])
    assert [codes(a) for a in history] == [[], [], ["q_value_divergence"], ["q_value_divergence"]]
    assert history[-1][0].severity is None  # catalog default: warning


def test_large_but_stable_q_is_info():
    # A trained HalfCheetah-like agent: rewards ~10 per step, Q ~ 1000, not growing.
    history = feed(QValueRule(), [{"q_mean": q} for q in (1050.0, 1060.0, 1055.0, 1058.0)])
    assert [(a.code, a.severity) for a in history[-1]] == [("q_value_divergence", Severity.INFO)]


def test_twin_spread_absolute_and_relative():
    assert codes(feed(QValueRule(), [{"q_mean": -400.0, "q_value_spread": 150.0}] * 2)[-1]) == ["q_twin_divergence"]
    # 150 apart when Q is 1e5 is 0.15%: noise, not disagreement (the divergence itself is reported).
    assert "q_twin_divergence" not in codes(feed(QValueRule(), [{"q_mean": -1e5, "q_value_spread": 150.0}] * 2)[-1])
    assert feed(QValueRule(), [{"q_mean": -400.0, "q_value_spread": 150.0}]) == [[]]


def test_target_drift_ratio():
    doubled = {"target_drift_ratio": 2.0, "_target_updates_seen": 400.0, "_target_updates_allowed": 200.0}
    history = feed(TargetUpdateRule(), [{"target_drift_ratio": 1.0}, doubled, doubled])
    assert [codes(a) for a in history] == [[], [], ["target_update_too_fast"]]
    assert "400.0 updates would, where 200 were due" in history[-1][0].message
    assert not any(feed(TargetUpdateRule(), [{"target_drift_ratio": 1.02}] * 5))


def test_drift_ratio_threshold_must_exceed_one():
    with pytest.raises(InvalidThresholdError):
        QValueThresholds(drift_ratio=1.0)
    assert not any(feed(TargetUpdateRule(QValueThresholds(drift_ratio=3.0)), [{"target_drift_ratio": 2.0}] * 3))


# -- buffer shapes -------------------------------------------------------------------------------
def test_buffer_shape_mismatch_is_error_raw_env_shape_is_warning():
    stored = {"buffer_shape_mismatch": 1.0, "env_obs_shape_mismatch": 0.0, "_shape:the replay buffer stores (1, 3)": 1.0}
    (alert,) = BufferShapeRule().observe(0, stored)
    assert alert.severity is None and "(1, 3)" in alert.message  # catalog default: error
    raw = {"buffer_shape_mismatch": 0.0, "env_obs_shape_mismatch": 1.0, "_shape:the env returns (1, 3)": 0.0}
    (alert,) = BufferShapeRule().observe(0, raw)
    assert alert.severity == Severity.WARNING and "DummyVecEnv" in alert.message
    assert BufferShapeRule().observe(0, {"buffer_shape_mismatch": 0.0, "env_obs_shape_mismatch": 0.0}) == []
