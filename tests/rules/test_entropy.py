"""Exploration rules on hand-made metric streams."""

from __future__ import annotations

from sb3_diagnostics.findings import Severity
from sb3_diagnostics.rules.entropy import ActionStdRule, EntropyRule
from sb3_diagnostics.thresholds import EntropyThresholds


def test_entropy_collapse_needs_consecutive_or_sudden_drop(feed):
    assert feed(EntropyRule(), [{"entropy_normalized": 0.5}, {"entropy_normalized": 0.04}])[-1] == ["entropy_collapse"]
    # a drop from 0.2 to 0.06 is 70%: not sudden, and 0.06 is above the collapse threshold
    assert feed(EntropyRule(), [{"entropy_normalized": 0.2}, {"entropy_normalized": 0.06}])[-1] == []
    low = [{"entropy_normalized": 0.04}] * 2
    assert feed(EntropyRule(), low)[-1] == ["entropy_collapse"]
    assert feed(EntropyRule(EntropyThresholds(consecutive=3)), low)[-1] == []


def test_without_a_logged_kl_stays_random_reads_the_kl_from_the_start(feed):
    still = {"entropy_normalized": 0.999, "_kl_from_start": 3e-5, "_progress": 0.3}
    assert feed(EntropyRule(), [still])[-1] == ["policy_stays_random"]
    assert feed(EntropyRule(), [dict(still, _progress=0.1)])[-1] == []  # too early
    assert feed(EntropyRule(), [dict(still, _kl_from_start=2e-3)])[-1] == []  # it moved
    assert feed(EntropyRule(), [dict(still, entropy_normalized=0.9)])[-1] == []  # it is no longer random


def test_policy_stays_random_needs_progress_and_kl_history(feed):
    random = {"entropy_normalized": 0.995, "approx_kl": 1e-7, "_progress": 0.5}
    assert feed(EntropyRule(), [random] * 10)[-1] == ["policy_stays_random"]
    assert feed(EntropyRule(), [random] * 9)[-1] == []  # not enough history
    early = dict(random, _progress=0.1)
    assert feed(EntropyRule(), [early] * 12)[-1] == []
    moving = dict(random, approx_kl=1e-3)
    assert feed(EntropyRule(), [moving] * 12)[-1] == []


def test_action_std_collapse_is_relative_to_start(feed):
    # gSDE-style: starts small on purpose and stays there -> no collapse
    assert not any(feed(ActionStdRule(), [{"action_std_min": 0.008}] * 5))
    history = feed(ActionStdRule(), [{"action_std_min": v} for v in (0.5, 0.1, 0.005, 0.004)])
    assert history[-2:] == [[], ["action_std_collapse"]]


def test_a_deterministic_policy_at_its_best_return_converged(observe):
    # the task solved: entropy ~0 while the mean return rose from 20 to 500 and stays there
    stream = [{"entropy_normalized": 0.8, "_ep_rew_mean": 20.0}] + [
        {"entropy_normalized": 0.02, "_ep_rew_mean": 500.0}] * 3
    alerts = observe(EntropyRule(), stream)[-1]
    assert alerts[0].code == "entropy_collapse" and alerts[0].severity == Severity.INFO
    assert "converged" in alerts[0].message
    # the same collapse while the return fell: a warning
    falling = [{"entropy_normalized": 0.8, "_ep_rew_mean": 20.0}] + [
        {"entropy_normalized": 0.02, "_ep_rew_mean": 9.0}] * 3
    assert observe(EntropyRule(), falling)[-1][0].severity is None


def test_measurements_on_a_handful_of_observations_are_pooled(observe):
    # A2C's rollouts hold 5 observations: an entropy over 5 states is noise; 13 of them make one measurement
    rule = EntropyRule(EntropyThresholds(min_samples=64))
    stream = [{"entropy_normalized": 0.9, "_policy_samples": 5.0}] * 12 + [
        {"entropy_normalized": 0.01, "_policy_samples": 5.0}]  # one noisy low reading
    assert not any(observe(rule, stream))
