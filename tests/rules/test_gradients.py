"""Gradient rules on hand-made metric streams."""

from __future__ import annotations

import pytest

from sb3_diagnostics.errors import InvalidThresholdError
from sb3_diagnostics.rules.gradients import GradientNormRule, ParamGradRule
from sb3_diagnostics.thresholds import GradientThresholds


# -- gradient norms ------------------------------------------------------------------------------
def test_one_high_update_is_not_exploding_two_are(codes, observe):
    history = observe(GradientNormRule(), [{"grad_norm": v} for v in (5.0, 2e4, 5.0, 3e4, 4e4)])
    assert [codes(a) for a in history] == [[], [], [], [], ["grad_norm_exploding"]]
    assert history[-1][0].value == 4e4


def test_a_single_huge_step_is_enough(codes, observe):
    (alerts,) = observe(GradientNormRule(), [{"grad_norm": 50.0, "grad_peak": 9e5}])
    assert codes(alerts) == ["grad_norm_exploding"]
    assert "one optimizer step" in alerts[0].message and alerts[0].threshold == 1e5
    assert observe(GradientNormRule(GradientThresholds(exploding_step=1e6)), [{"grad_norm": 50.0, "grad_peak": 9e5}]) == [[]]


def test_a_spike_that_arose_within_a_window_that_began_ordinary_waits_for_the_next_window(codes, observe):
    began_ordinary = {"grad_norm": 6e3, "grad_peak": 9e5, "_grad_first": 1.5}
    # the next window shows it again (its first step already huge): reported then
    again = {"grad_norm": 8e3, "grad_peak": 5e5, "_grad_first": 3e5}
    assert [codes(a) for a in observe(GradientNormRule(), [began_ordinary, again])] == [[], ["grad_norm_exploding"]]
    # the update that threw it wrecked the policy, whose gradients then vanish: never reported
    after = {"grad_norm": 0.0, "grad_peak": 0.0, "_grad_first": 0.0}
    assert [codes(a) for a in observe(GradientNormRule(), [began_ordinary, after, after])] == [[], [], []]
    # a window whose very first step is huge (a loss that is huge from the start: rewards x1e4) is reported at once
    assert codes(observe(GradientNormRule(), [{"grad_norm": 2e3, "grad_peak": 2e5, "_grad_first": 2e5}])[0]) == [
        "grad_norm_exploding"]


def test_actor_and_critic_are_judged_separately(observe):
    stream = [{"grad_norm_actor": 0.5, "grad_norm_critic": 5e4}] * 2
    (alert,) = observe(GradientNormRule(), stream)[-1]
    assert alert.code == "grad_norm_exploding" and "critic gradient" in alert.message


def test_vanishing_needs_a_nonzero_loss(codes, observe, tiny):
    tiny = {"grad_norm_actor": 1e-9, "_loss_actor": 120.0}
    assert codes(observe(GradientNormRule(), [tiny] * 2)[-1]) == ["grad_norm_vanishing"]
    # At the minimum of the loss a tiny gradient is expected; without a loss (logs) nothing is judged.
    assert observe(GradientNormRule(), [{"grad_norm": 1e-9, "_loss": 1e-9}] * 3)[-1] == []
    assert observe(GradientNormRule(), [{"grad_norm": 1e-9}] * 3)[-1] == []


def test_nan_norms_are_not_measurements(observe):
    assert observe(GradientNormRule(), [{"grad_norm": float("nan"), "grad_peak": float("nan")}] * 3)[-1] == []


def test_gradient_thresholds_are_ordered():
    with pytest.raises(InvalidThresholdError):
        GradientThresholds(vanishing=1.0, exploding=0.5)
    with pytest.raises(InvalidThresholdError):
        GradientThresholds(exploding=1e6, exploding_step=1e5)


# -- parameters without gradient -----------------------------------------------------------------
def test_param_without_grad_must_persist(observe):
    missing = {"params_without_grad": 1.0, "_no_grad:features_extractor.linear.weight": 1.0}
    fine = {"params_without_grad": 0.0}
    assert observe(ParamGradRule(), [missing, missing, fine, missing, missing])[-1] == []
    (alert,) = observe(ParamGradRule(), [missing] * 3)[-1]
    assert alert.code == "param_no_grad" and "features_extractor.linear.weight" in alert.message


def test_param_outside_optimizer_gets_its_own_hint(observe):
    outside = {"params_not_in_optimizer": 2.0, "_not_in_optimizer:value_net.weight": 1.0,
               "_not_in_optimizer:value_net.bias": 1.0}
    (alert,) = observe(ParamGradRule(), [outside] * 3)[-1]
    assert "value_net.weight, value_net.bias" in alert.message and "add_param_group" in alert.hint
