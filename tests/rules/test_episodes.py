"""Episode rules on hand-made metric streams."""

from __future__ import annotations

import math

import pytest

from sb3_diagnostics.findings import Severity
from sb3_diagnostics.rules.episodes import EpisodeRule
from sb3_diagnostics.thresholds import EpisodeThresholds


def test_spearman_by_hand():
    from sb3_diagnostics.rules.episodes import spearman

    assert spearman([3.0, 2.0, 1.0]) == pytest.approx(-1.0)
    assert spearman([1.0, 2.0, 3.0, 4.0]) == pytest.approx(1.0)
    assert math.isnan(spearman([2.0, 2.0, 2.0])) and math.isnan(spearman([1.0, 2.0]))


def test_short_episodes_must_last_in_timesteps_and_vary(feed):
    from sb3_diagnostics.rules.episodes import EpisodeRule

    short = {"_ep_len_mean": 9.0, "_ep_len_std": 1.0}
    # a transient (an untrained greedy policy) over 3000 steps is not reported
    assert not any(feed(EpisodeRule(), [short] * 4, step0=1000, every=1000))
    assert feed(EpisodeRule(), [short] * 6, step0=1000, every=1000)[-1] == ["episode_length_degenerate"]
    # one-step episodes of fixed length are a bandit's design
    assert not any(feed(EpisodeRule(), [{"_ep_len_mean": 1.0, "_ep_len_std": 0.0}] * 10, every=1000))


def test_reward_decreasing_needs_a_steady_fall_in_the_last_third(feed):
    from sb3_diagnostics.rules.episodes import EpisodeRule

    rising = [{"_ep_rew_mean": float(v)} for v in range(20)]
    falling = [{"_ep_rew_mean": float(20 - 2 * v)} for v in range(10)]  # back to 2: most of the gain lost
    assert feed(EpisodeRule(), rising + falling)[-1] == ["reward_decreasing"]
    noisy = [{"_ep_rew_mean": 10.0 + (1.0 if v % 2 else -1.0)} for v in range(30)]
    assert not any(feed(EpisodeRule(), noisy))
    assert not any(feed(EpisodeRule(), rising))


def test_short_successful_episodes_are_not_an_agent_that_dies(feed):
    # the agent learned to reach its goal in 4 steps: episodes short, return up from 0.1 to 0.95
    th = EpisodeThresholds(sustain_steps=1, consecutive=2)
    stream = [{"_ep_len_mean": 40.0, "_ep_rew_mean": 0.1}] + [{"_ep_len_mean": 4.0, "_ep_rew_mean": 0.95}] * 6
    assert not any(feed(EpisodeRule(th), stream))
    dying = [{"_ep_len_mean": 40.0, "_ep_rew_mean": 20.0}] + [{"_ep_len_mean": 4.0, "_ep_rew_mean": 4.0}] * 6
    assert feed(EpisodeRule(th), dying)[-1] == ["episode_length_degenerate"]


def test_memory_and_work_per_update_do_not_grow_with_the_run():
    rule = EpisodeRule()
    for i in range(20_000):
        rule.observe(i, {"_ep_rew_mean": float(i % 7), "_progress": i / 20_000})
    assert len(rule._rewards.points) <= rule._rewards.capacity and rule._rewards.count == 20_000
    assert rule._rewards.spread == 6.0


def test_a_falling_reward_early_in_training_is_not_a_trend(feed):
    falling = [{"_ep_rew_mean": 100.0 - i, "_progress": i / 1000} for i in range(40)]  # the first 4% of training
    assert not any(feed(EpisodeRule(), falling))
    later = [{"_ep_rew_mean": 100.0 - 2 * i, "_progress": 0.5 + i / 100} for i in range(40)]
    assert feed(EpisodeRule(), later)[-1] == ["reward_decreasing"]


def test_episodes_never_end_after_the_threshold_of_steps_without_an_ending():
    rule = EpisodeRule(EpisodeThresholds(never_end_steps=1000))
    assert not [a for a in rule.observe(512, {"steps_since_episode_end": 512.0}) if a.code == "episodes_never_end"]
    [alert] = [a for a in rule.observe(1024, {"steps_since_episode_end": 1024.0}) if a.code == "episodes_never_end"]
    assert "1024 steps per env" in alert.message and alert.value == 1024.0


def test_an_env_with_its_own_time_limit_that_goes_twice_past_it_hides_its_ends():
    def never_end(rule, since, limit):
        return [a for a in rule.observe(int(since), {"steps_since_episode_end": since, "_time_limit": limit})
                if a.code == "episodes_never_end"]

    # CartPole-v1's 500 steps: 999 steps without an ending can still be the next one ending; 1000 cannot
    assert not never_end(EpisodeRule(), 999.0, 500.0)
    [alert] = never_end(EpisodeRule(), 1000.0, 500.0)
    assert "time limit (spec.max_episode_steps) is 500" in alert.message and alert.threshold == 1000.0
    # a time limit longer than never_end_steps / 2, or none known: never_end_steps decides
    assert not never_end(EpisodeRule(), 9999.0, 8000.0) and not never_end(EpisodeRule(), 9999.0, 0.0)
    assert never_end(EpisodeRule(), 10_000.0, 8000.0)


def test_a_dip_after_real_progress_is_how_a2c_learns_not_a_falling_reward(feed):
    # SB3's default A2C on CartPole-v1 (seed 0): 20 -> 268, a steady dip to 160 over 20k steps, then it
    # solves the task (476). Only a fall that gives back most of the gain (lost_progress, 60%) is reported.
    rise = [{"_ep_rew_mean": 20.0 + 248.0 * i / 40, "_progress": i / 100} for i in range(41)]
    dip = [{"_ep_rew_mean": 268.0 - 108.0 * i / 20, "_progress": 0.41 + i / 100} for i in range(1, 21)]
    assert not any(feed(EpisodeRule(), rise + dip))
    # a fall that gives back most of it: the same A2C on seeds 1 and 2 gave back 69% and 87%, then solved the task,
    # so it is info (the run had learned), not a warning
    collapse = [{"_ep_rew_mean": 268.0 - 230.0 * i / 20, "_progress": 0.41 + i / 100} for i in range(1, 21)]
    alerts = feed(EpisodeRule(), rise + collapse)
    assert alerts[-1] == ["reward_decreasing"]
    rule = EpisodeRule()
    found = [a for i, m in enumerate(rise + collapse) for a in rule.observe(10_000 + 1000 * i, m)]
    assert {a.severity for a in found if a.code == "reward_decreasing"} == {Severity.INFO}
    # a fall with no progress before it (a reward that drifts) stays a warning
    drift = [{"_ep_rew_mean": 20.0 - 0.5 * i, "_progress": i / 60} for i in range(60)]
    rule = EpisodeRule()
    found = [a for i, m in enumerate(drift) for a in rule.observe(10_000 + 1000 * i, m)]
    severities = [a.severity for a in found if a.code == "reward_decreasing"]
    assert severities and all(s in (None, Severity.WARNING) for s in severities)  # None: the catalog's, warning


def test_a_moving_mean_of_noisy_returns_drifting_down_is_not_a_falling_reward(feed):
    # returns of pure noise (std 7 per episode, 100-episode means: standard error 0.7) drift steadily from
    # 1.1 to -0.9, as PPO on a noise reward did: within 3 standard errors of the two means, not a fall
    drift = [{"_ep_rew_mean": 1.1 - 2.0 * i / 29, "_ep_rew_std": 7.0, "_ep_count": 100.0, "_progress": 0.4 + i / 50}
             for i in range(30)]
    assert not any(feed(EpisodeRule(), drift))
    # the same fall with returns that vary little is a fall
    steady = [dict(m, _ep_rew_std=0.5) for m in drift]
    assert feed(EpisodeRule(), steady)[-1] == ["reward_decreasing"]
    # ... and post hoc, where SB3 logged only the mean, it is judged on the trend alone
    posthoc = [{k: v for k, v in m.items() if k in ("_ep_rew_mean", "_progress")} for m in drift]
    assert feed(EpisodeRule(), posthoc)[-1] == ["reward_decreasing"]
