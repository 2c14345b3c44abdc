"""Episode rules on hand-made metric streams."""

from __future__ import annotations

import math

import pytest


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
    falling = [{"_ep_rew_mean": float(20 - v)} for v in range(10)]
    assert feed(EpisodeRule(), rising + falling)[-1] == ["reward_decreasing"]
    noisy = [{"_ep_rew_mean": 10.0 + (1.0 if v % 2 else -1.0)} for v in range(30)]
    assert not any(feed(EpisodeRule(), noisy))
    assert not any(feed(EpisodeRule(), rising))
