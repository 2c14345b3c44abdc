"""Policy-update rules (KL, clipping, no movement, target_kl, line search) on hand-made metric streams."""

from __future__ import annotations

from sb3_diagnostics.findings import Severity
from sb3_diagnostics.rules.kl import PolicyUpdateRule
from sb3_diagnostics.thresholds import KLThresholds


def test_kl_single_spike_below_extreme_is_not_reported(feed):
    rule = PolicyUpdateRule()
    history = feed(rule, [{"approx_kl": v} for v in (0.01, 0.5, 0.01, 0.02)])
    assert not any(history)


def test_kl_sustained_or_extreme(feed):
    assert feed(PolicyUpdateRule(), [{"approx_kl": 0.3}] * 3)[-1] == ["kl_too_high"]
    assert feed(PolicyUpdateRule(), [{"approx_kl": 0.3}] * 2)[-1] == []
    assert feed(PolicyUpdateRule(), [{"approx_kl": 1.5}])[0] == ["kl_too_high"]
    assert feed(PolicyUpdateRule(KLThresholds(kl_extreme=2.0)), [{"approx_kl": 1.5}])[0] == []


def test_clip_fraction_alone_is_info_with_kl_it_is_warning():
    rule = PolicyUpdateRule()
    alerts = [rule.observe(i, {"approx_kl": 0.05, "clip_fraction": 0.7}) for i in range(5)][-1]
    assert [(a.code, a.severity) for a in alerts] == [("clip_fraction_high", Severity.INFO)]
    rule = PolicyUpdateRule()
    alerts = [rule.observe(i, {"approx_kl": 0.25, "clip_fraction": 0.7}) for i in range(5)][-1]
    assert ("clip_fraction_high", None) in [(a.code, a.severity) for a in alerts]


def test_not_updating_respects_learning_rate_schedule_end(feed):
    still = {"approx_kl": 0.0, "clip_fraction": 0.0}
    assert feed(PolicyUpdateRule(), [still] * 3)[-1] == ["policy_not_updating"]
    # A linear schedule at 0.5% of its start: the normal end of training, not a bug.
    assert feed(PolicyUpdateRule(), [{**still, "_lr_ratio": 0.005}] * 5)[-1] == []
    # Any clipping means the policy moved.
    assert feed(PolicyUpdateRule(), [{"approx_kl": 0.0, "clip_fraction": 0.01}] * 5)[-1] == []


def test_target_kl_early_stop_needs_most_updates(feed):
    first = {"epochs_completed": 1, "n_epochs": 10}
    full = {"epochs_completed": 10, "n_epochs": 10}
    assert feed(PolicyUpdateRule(), [first] * 5)[-1] == ["target_kl_early_stop"]
    assert feed(PolicyUpdateRule(), [first, first, full, first, first])[-1] == []
    assert feed(PolicyUpdateRule(), [{"epochs_completed": 1, "n_epochs": 1}] * 8)[-1] == []


def test_line_search_failing(feed):
    assert feed(PolicyUpdateRule(), [{"line_search_success": 0.0}] * 5)[-1] == ["line_search_failing"]
    assert feed(PolicyUpdateRule(), [{"line_search_success": 1.0}] * 5)[-1] == []


def test_not_updating_deterministic_policy_converged_or_collapsed(observe):
    still = {"approx_kl": 0.0, "clip_fraction": 0.0, "entropy_normalized": 0.001}
    # CartPole solved: the return rose from 20 to 500 and holds; the policy picks one action for sure
    rising = [{**still, "_ep_rew_mean": r} for r in (20, 100, 300, 500, 500, 500)]
    alerts = observe(PolicyUpdateRule(), rising)[-1]
    assert [(a.code, a.severity) for a in alerts] == [("policy_not_updating", Severity.INFO)]
    assert "Converged" in alerts[0].message
    # the same stillness while the return never improved: collapsed, a warning (catalog default)
    flat = [{**still, "_ep_rew_mean": 20.0} for _ in range(6)]
    alerts = observe(PolicyUpdateRule(), flat)[-1]
    assert [(a.code, a.severity) for a in alerts] == [("policy_not_updating", None)]
    assert "collapsed" in alerts[0].message
    # the return fell back from its best: not converged either
    fell = [{**still, "_ep_rew_mean": r} for r in (20, 500, 500, 60, 40, 30)]
    assert observe(PolicyUpdateRule(), fell)[-1][0].severity is None


def test_not_updating_hint_depends_on_the_learning_rate(observe):
    still = {"approx_kl": 0.0, "clip_fraction": 0.0}
    [typo] = observe(PolicyUpdateRule(), [{**still, "_learning_rate": 3e-10}] * 3)[-1]
    assert "3e-10" in typo.message and "3e-4" in typo.hint
    [working] = observe(PolicyUpdateRule(), [{**still, "_learning_rate": 3e-4}] * 3)[-1]
    assert "one that trains" in working.message and "param_no_grad" in working.hint


def test_outputs_of_a_saturated_deterministic_actor_prove_nothing(feed):
    # rl-zoo3's DDPG on MountainCarContinuous (seed 1): the actor's tanh sits at the action bound, passes ~no
    # gradient, and its outputs stay put over 250 updates while the optimizer steps. Measured every 250 updates,
    # three such comparisons came within 750 steps and read as a frozen actor (an ERROR on a healthy run).
    from sb3_diagnostics.rules.kl import NoUpdateRule

    still = {"policy_change": 1e-6, "_updates_between": 250.0, "_learning_rate": 1e-3}
    assert feed(NoUpdateRule(), [{**still, "_saturated": 1.0}] * 4)[-1] == []
    assert feed(NoUpdateRule(), [{**still, "_saturated": 0.0}] * 4)[-1] == ["policy_not_updating"]
