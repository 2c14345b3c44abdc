"""Rules on hand-made metric streams: sustained evidence fires, one noisy update does not."""

import math

import pytest

from sb3_diagnostics.catalog import EntropyThresholds, KLThresholds, ValueThresholds, VecNormalizeThresholds
from sb3_diagnostics.findings import Severity
from sb3_diagnostics.rules import (
    ActionStdRule,
    AdvantageRule,
    EntropyRule,
    ExplainedVarianceRule,
    PolicyUpdateRule,
    RecurrentStateRule,
    VecNormalizeRule,
)


def feed(rule, stream, step0=10_000, every=1000):
    out = []
    for i, metrics in enumerate(stream):
        out.append([a.code for a in rule.observe(step0 + i * every, metrics)])
    return out


def test_kl_single_spike_below_extreme_is_not_reported():
    rule = PolicyUpdateRule()
    history = feed(rule, [{"approx_kl": v} for v in (0.01, 0.5, 0.01, 0.02)])
    assert not any(history)


def test_kl_sustained_or_extreme():
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


def test_not_updating_respects_learning_rate_schedule_end():
    still = {"approx_kl": 0.0, "clip_fraction": 0.0}
    assert feed(PolicyUpdateRule(), [still] * 3)[-1] == ["policy_not_updating"]
    # A linear schedule at 0.5% of its start: the normal end of training, not a bug.
    assert feed(PolicyUpdateRule(), [{**still, "_lr_ratio": 0.005}] * 5)[-1] == []
    # Any clipping means the policy moved.
    assert feed(PolicyUpdateRule(), [{"approx_kl": 0.0, "clip_fraction": 0.01}] * 5)[-1] == []


def test_target_kl_early_stop_needs_most_updates():
    first = {"epochs_completed": 1, "n_epochs": 10}
    full = {"epochs_completed": 10, "n_epochs": 10}
    assert feed(PolicyUpdateRule(), [first] * 5)[-1] == ["target_kl_early_stop"]
    assert feed(PolicyUpdateRule(), [first, first, full, first, first])[-1] == []
    assert feed(PolicyUpdateRule(), [{"epochs_completed": 1, "n_epochs": 1}] * 8)[-1] == []


def test_line_search_failing():
    assert feed(PolicyUpdateRule(), [{"line_search_success": 0.0}] * 5)[-1] == ["line_search_failing"]
    assert feed(PolicyUpdateRule(), [{"line_search_success": 1.0}] * 5)[-1] == []


def test_entropy_collapse_needs_consecutive_or_sudden_drop():
    assert feed(EntropyRule(), [{"entropy_normalized": 0.5}, {"entropy_normalized": 0.04}])[-1] == ["entropy_collapse"]
    # a drop from 0.2 to 0.06 is 70%: not sudden, and 0.06 is above the collapse threshold
    assert feed(EntropyRule(), [{"entropy_normalized": 0.2}, {"entropy_normalized": 0.06}])[-1] == []
    low = [{"entropy_normalized": 0.04}] * 2
    assert feed(EntropyRule(), low)[-1] == ["entropy_collapse"]
    assert feed(EntropyRule(EntropyThresholds(consecutive=3)), low)[-1] == []


def test_policy_stays_random_needs_progress_and_kl_history():
    random = {"entropy_normalized": 0.995, "approx_kl": 1e-7, "_progress": 0.5}
    assert feed(EntropyRule(), [random] * 10)[-1] == ["policy_stays_random"]
    assert feed(EntropyRule(), [random] * 9)[-1] == []  # not enough history
    early = dict(random, _progress=0.1)
    assert feed(EntropyRule(), [early] * 12)[-1] == []
    moving = dict(random, approx_kl=1e-3)
    assert feed(EntropyRule(), [moving] * 12)[-1] == []


def test_action_std_collapse_is_relative_to_start():
    # gSDE-style: starts small on purpose and stays there -> no collapse
    assert not any(feed(ActionStdRule(), [{"action_std_min": 0.008}] * 5))
    history = feed(ActionStdRule(), [{"action_std_min": v} for v in (0.5, 0.1, 0.005, 0.004)])
    assert history[-2:] == [[], ["action_std_collapse"]]


def test_explained_variance_warmup_windows_and_error():
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


def test_advantages():
    flat = {"advantage_std": 0.0, "advantage_abs_max": 0.0}
    assert feed(AdvantageRule(), [flat] * 3)[-1] == ["advantage_zero_variance"]
    huge = {"advantage_std": 50.0, "advantage_abs_max": 500.0}
    assert feed(AdvantageRule(), [huge, huge, {"advantage_std": 1, "advantage_abs_max": 5}, huge])[-1] == []
    assert feed(AdvantageRule(), [huge] * 3)[-1] == ["advantage_explosion"]
    assert feed(AdvantageRule(), [{"advantage_std": math.nan}] * 5)[-1] == []


def test_vecnormalize_rule():
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


def test_recurrent_state_rule():
    assert feed(RecurrentStateRule(), [{"lstm_reset_violation": 0.0, "lstm_hidden_boundaries": 0}])[-1] == []
    assert feed(RecurrentStateRule(), [{"lstm_reset_violation": 0.3}])[-1] == ["lstm_state_not_reset"]
    assert feed(RecurrentStateRule(), [{"lstm_hidden_boundaries": 2}])[-1] == ["lstm_state_not_reset"]


@pytest.mark.parametrize("rule_cls", [EntropyRule, ActionStdRule, ExplainedVarianceRule, AdvantageRule,
                                      PolicyUpdateRule, VecNormalizeRule, RecurrentStateRule])
def test_rules_ignore_unknown_and_missing_metrics(rule_cls):
    rule = rule_cls()
    assert all(rule.observe(i, {"something_else": 1.0}) == [] for i in range(20))


def test_spearman_by_hand():
    from sb3_diagnostics.rules.episodes import spearman

    assert spearman([3.0, 2.0, 1.0]) == pytest.approx(-1.0)
    assert spearman([1.0, 2.0, 3.0, 4.0]) == pytest.approx(1.0)
    assert math.isnan(spearman([2.0, 2.0, 2.0])) and math.isnan(spearman([1.0, 2.0]))


def test_short_episodes_must_last_in_timesteps_and_vary():
    from sb3_diagnostics.rules import EpisodeRule

    short = {"_ep_len_mean": 9.0, "_ep_len_std": 1.0}
    # a transient (an untrained greedy policy) over 3000 steps is not reported
    assert not any(feed(EpisodeRule(), [short] * 4, step0=1000, every=1000))
    assert feed(EpisodeRule(), [short] * 6, step0=1000, every=1000)[-1] == ["episode_length_degenerate"]
    # one-step episodes of fixed length are a bandit's design
    assert not any(feed(EpisodeRule(), [{"_ep_len_mean": 1.0, "_ep_len_std": 0.0}] * 10, every=1000))


def test_reward_decreasing_needs_a_steady_fall_in_the_last_third():
    from sb3_diagnostics.rules import EpisodeRule

    rising = [{"_ep_rew_mean": float(v)} for v in range(20)]
    falling = [{"_ep_rew_mean": float(20 - v)} for v in range(10)]
    assert feed(EpisodeRule(), rising + falling)[-1] == ["reward_decreasing"]
    noisy = [{"_ep_rew_mean": 10.0 + (1.0 if v % 2 else -1.0)} for v in range(30)]
    assert not any(feed(EpisodeRule(), noisy))
    assert not any(feed(EpisodeRule(), rising))
