"""The reward rule and reward_metrics, checked by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sb3_diagnostics import metrics as M
from sb3_diagnostics.errors import InvalidThresholdError
from sb3_diagnostics.findings import Severity
from sb3_diagnostics.rules.reward import RewardRule, reward_metrics
from sb3_diagnostics.thresholds import PreflightThresholds, RewardThresholds


def test_nonzero_fraction_counts_magnitudes_above_eps():
    assert M.nonzero_fraction([0.0, 0.5, -0.002, 1e-4], eps=1e-3) == 0.5
    assert math.isnan(M.nonzero_fraction([]))


def test_typical_magnitude_ignores_exact_zeros():
    assert M.typical_magnitude([0, 0, 2, -4]) == 3.0  # sparse rewards keep their size
    assert math.isnan(M.typical_magnitude([0.0, 0.0]))


def test_signal_to_noise():
    assert M.signal_to_noise([1.0, 3.0]) == pytest.approx(2.0)  # mean 2, std 1
    assert math.isnan(M.signal_to_noise([5.0, 5.0]))  # std 0: undefined
    assert math.isnan(M.signal_to_noise([1.0]))


def test_discounted_returns_restart_after_done():
    np.testing.assert_allclose(M.discounted_returns([1, 1, 1], [0, 1, 0], 0.5), [1.5, 1.0, 1.0])
    two_envs = M.discounted_returns([[1, 0], [1, 2]], [[0, 0], [0, 0]], 0.5)
    np.testing.assert_allclose(two_envs, [[1.5, 1.0], [1.0, 2.0]])
    with pytest.raises(ValueError, match="shape"):
        M.discounted_returns([1, 2], [0], 0.9)


def test_episode_returns_only_counts_finished_episodes():
    np.testing.assert_allclose(M.episode_returns([1, 2, 3, 4], [0, 1, 0, 0]), [3.0])
    np.testing.assert_allclose(M.episode_returns([[1, 1], [1, 1]], [[1, 0], [1, 1]]), [1.0, 1.0, 2.0])


def _returns_step_by_step(rewards: np.ndarray, dones: np.ndarray, gamma: float) -> tuple[np.ndarray, list[float]]:
    """The definitions, one step at a time: what the vectorised versions must reproduce."""
    discounted, episodes = np.zeros_like(rewards), []
    for col in range(rewards.shape[1]):
        running = 0.0
        for t in range(rewards.shape[0] - 1, -1, -1):
            running = rewards[t, col] + gamma * running * (1.0 - dones[t, col])
            discounted[t, col] = running
        total = 0.0
        for t in range(rewards.shape[0]):
            total += rewards[t, col]
            if dones[t, col]:
                episodes.append(total)
                total = 0.0
    return discounted, episodes


@pytest.mark.parametrize("steps", [1, 2, 5, 64, 1000])
@pytest.mark.parametrize("gamma", [0.0, 0.5, 0.99, 1.0])
def test_vectorised_returns_match_the_step_by_step_definition(steps, gamma):
    rng = np.random.default_rng(steps)
    rewards = rng.normal(size=(steps, 3)) * 10
    dones = rng.random((steps, 3)) < 0.05
    dones[steps // 2:steps // 2 + 2, 1] = True  # back-to-back episode ends (a one-step episode)
    discounted, episodes = _returns_step_by_step(rewards, dones, gamma)
    np.testing.assert_allclose(M.discounted_returns(rewards, dones, gamma), discounted, rtol=1e-10, atol=1e-9)
    np.testing.assert_allclose(M.episode_returns(rewards, dones), episodes, rtol=1e-12, atol=1e-9)


def test_per_dim_std_skips_non_finite_entries():
    stds = M.per_dim_std([[0.0, 1.0, 7.0], [2.0, np.nan, 7.0], [4.0, 3.0, 7.0]])
    np.testing.assert_allclose(stds, [np.sqrt(8 / 3), 1.0, 0.0])
    assert math.isnan(M.per_dim_std([[1.0], [np.nan]])[0])


def test_std_ratio_leaves_dead_dims_out():
    assert M.std_ratio([0.0, 0.1, 10.0], floor=1e-6) == pytest.approx(100.0)
    assert math.isnan(M.std_ratio([0.0, 2.0]))


def test_correlations_per_column():
    x = np.array([[1.0, 5.0, 3.0], [2.0, 5.0, 2.0], [3.0, 5.0, 1.0]])
    c = M.correlations(x, [1.0, 2.0, 3.0])
    assert c[0] == pytest.approx(1.0) and c[2] == pytest.approx(-1.0)
    assert math.isnan(c[1])  # constant column
    assert np.all(np.isnan(M.correlations(x, [4.0, 4.0, 4.0])))  # constant target


def test_variance_shares_by_hand():
    shares = M.variance_shares({"a": [0.0, 2.0], "b": [0.0, 1.0], "c": [3.0, 3.0]})
    assert shares == pytest.approx({"a": 0.8, "b": 0.2, "c": 0.0})
    assert all(math.isnan(v) for v in M.variance_shares({"a": [1.0, 1.0]}).values())


def test_reward_metrics_of_a_small_window():
    m = reward_metrics([0.0, 2.0, 0.0, 2.0], [0, 1, 0, 1], gamma=0.5, terminated=[0, 1, 0, 0])
    assert m["reward_nonzero_frac"] == 0.5
    assert m["reward_abs_mean"] == 2.0
    assert m["reward_std"] == 1.0
    assert m["return_std"] == 0.0  # two episodes, both returned 2
    assert m["return_abs_max"] == 2.0  # 0 + 0.5 * 2 = 1, or 2 at the last step
    assert m["_episodes"] == 2 and m["_episodes_terminated"] == 1


def judge(metrics, **th):
    """One window judged on its own, as check_training_env does (live checks need 2 windows in a row)."""
    return {a.code: a for a in RewardRule(RewardThresholds(**{"consecutive": 1, **th})).observe(0, metrics)}


def test_all_zero_is_an_error_and_nothing_else_is_reported():
    alerts = judge(reward_metrics(np.zeros(200)))
    assert set(alerts) == {"reward_all_zero"}


def test_sparse_but_not_tiny():
    r = np.zeros(1000)
    r[::100] = 1.0  # 1% of steps
    alerts = judge(reward_metrics(r))
    assert "reward_sparse" in alerts and "reward_scale_tiny" not in alerts
    assert alerts["reward_sparse"].value == pytest.approx(0.01)


def test_tiny_rewards_are_reported_as_tiny_not_sparse():
    r = np.exp(-20 - np.linspace(0, 1, 500))  # exp(-large error)
    alerts = judge(reward_metrics(r))
    assert "reward_scale_tiny" in alerts and "reward_sparse" not in alerts


def test_huge_rewards_or_returns():
    r = np.full(300, 0.01)
    r[150] = 1e5  # a win bonus
    assert "reward_scale_huge" in judge(reward_metrics(r, np.zeros(300)))
    steady = np.full(300, 50.0)  # modest rewards but gamma 0.999: returns near 1e4
    assert "reward_scale_huge" in judge(reward_metrics(steady, np.zeros(300), gamma=0.9999))
    assert "reward_scale_huge" not in judge(reward_metrics(steady, np.zeros(300), gamma=0.9))


def test_constant_reward_with_varying_episode_lengths_is_fine_cartpole():
    dones = np.zeros(300, dtype=bool)
    dones[[9, 30, 70, 150, 299]] = True  # episodes of different lengths, reward +1 every step
    assert "reward_constant" not in judge(reward_metrics(np.ones(300), dones, terminated=dones))


def test_constant_reward_with_equal_returns():
    dones = np.zeros(300, dtype=bool)
    dones[9::10] = True
    alerts = judge(reward_metrics(np.ones(300), dones, terminated=dones))
    assert alerts["reward_constant"].severity is None  # catalog default: error
    # no episode terminated (all hit the time limit): the goal may just never have been reached -> warning
    alerts = judge(reward_metrics(-np.ones(300), dones, terminated=np.zeros(300)))
    assert alerts["reward_constant"].severity is Severity.WARNING
    assert "MountainCar" in alerts["reward_constant"].message


def test_one_terminated_episode_is_not_enough_to_call_a_constant_reward_broken_mountaincar():
    # rl-zoo3's A2C on MountainCar-v0 (seed 0) early on: -1 every step, one episode reached the flag, the rest
    # still running. Its length is the signal; only equal returns over several terminated episodes are a fault.
    dones = np.zeros(1040, dtype=bool)
    dones[700] = True
    assert "reward_constant" not in judge(reward_metrics(-np.ones(1040), dones, terminated=dones))
    dones[[100, 300, 500]] = True  # four episodes of different lengths: returns differ
    assert "reward_constant" not in judge(reward_metrics(-np.ones(1040), dones, terminated=dones))


def test_constant_reward_is_not_reported_once_returns_have_varied():
    rule = RewardRule(RewardThresholds(consecutive=1))
    varied = np.zeros(300, dtype=bool)
    varied[[20, 120, 299]] = True
    assert not rule.observe(0, reward_metrics(np.ones(300), varied, terminated=varied))
    equal = np.zeros(300, dtype=bool)
    equal[99::100] = True  # later: a trained agent always reaches the same length
    assert not [a for a in rule.observe(1, reward_metrics(np.ones(300), equal, terminated=equal))
                if a.code == "reward_constant"]


def test_low_snr_is_info():
    rng = np.random.default_rng(0)
    alerts = judge(reward_metrics(rng.normal(0.0, 1.0, 2000)))
    assert "reward_low_snr" in alerts


def test_component_imbalance_needs_two_varying_components():
    rng = np.random.default_rng(0)
    big, small = rng.normal(0, 10, 500), rng.normal(0, 1, 500)
    alerts = judge(reward_metrics(big + small, components={"distance": big, "heading": small}))
    assert alerts["reward_component_imbalance"].value == pytest.approx(100 / 101, abs=0.02)
    assert "'distance'" in alerts["reward_component_imbalance"].message
    balanced = judge(reward_metrics(big + small * 10, components={"distance": big, "heading": small * 10}))
    assert "reward_component_imbalance" not in balanced
    constant_bonus = judge(reward_metrics(big + 1.0, components={"distance": big, "alive": np.ones(500)}))
    assert "reward_component_imbalance" not in constant_bonus  # a constant term drowns nothing


def test_small_windows_are_not_judged_and_consecutive_windows_are_required():
    assert not judge(reward_metrics(np.zeros(50)))  # below min_samples
    rule = RewardRule(RewardThresholds(consecutive=2))
    assert not rule.observe(0, reward_metrics(np.zeros(200)))
    assert [a.code for a in rule.observe(1, reward_metrics(np.zeros(200)))] == ["reward_all_zero"]


def test_rule_can_be_limited_to_some_codes():
    rng = np.random.default_rng(0)
    rule = RewardRule(enabled=("reward_sparse",))
    assert not rule.observe(0, reward_metrics(rng.normal(0.0, 1.0, 2000)))  # low SNR, but not enabled
    with pytest.raises(ValueError, match="cannot report"):
        RewardRule(enabled=("entropy_collapse",))


@pytest.mark.parametrize(
    "make, pattern",
    [
        (lambda: RewardThresholds(sparse_frac=2.0), "fraction"),
        (lambda: RewardThresholds(tiny=10.0, huge=1.0), "must be below huge"),
        (lambda: RewardThresholds(min_samples=0), "whole number"),
        (lambda: PreflightThresholds(scale_ratio=-1.0), ">= 0"),
        (lambda: PreflightThresholds.coerce({"dead_dims": 1}), "no field"),
    ],
)
def test_thresholds_are_validated(make, pattern):
    with pytest.raises(InvalidThresholdError, match=pattern):
        make()


def test_scale_behind_vecnormalize_is_info():
    # the agent learns from VecNormalize's rescaled rewards: the raw scale is only worth knowing
    r = np.full(300, 5000.0) + np.arange(300)
    raw = judge(reward_metrics(r, np.zeros(300)))
    assert raw["reward_scale_huge"].severity is None  # catalog default: warning
    normalized = judge({**reward_metrics(r, np.zeros(300)), "_reward_normalized": 1.0})
    assert normalized["reward_scale_huge"].severity is Severity.INFO
    assert "VecNormalize(norm_reward=True)" in normalized["reward_scale_huge"].message


def test_sparse_reward_most_episodes_collect_is_not_sparse():
    dones = np.zeros(1000, dtype=bool)
    dones[49::50] = True
    r = np.where(dones, 1.0, 0.0)  # a terminal-only reward that every episode collects (2% of steps)
    assert "reward_sparse" not in judge(reward_metrics(r, dones, terminated=dones))
    missed = r.copy()
    missed[dones.nonzero()[0][:16]] = 0.0  # 4 of 20 episodes collect it
    assert "reward_sparse" in judge(reward_metrics(missed, dones, terminated=dones))


def test_a_sparse_win_bonus_does_not_drown_the_dense_terms():
    rng = np.random.default_rng(0)
    dense = rng.normal(0, 1, 1000)
    bonus = np.zeros(1000)
    bonus[::100] = 100.0  # nonzero on 1% of steps: its variance share says nothing about drowning
    alerts = judge(reward_metrics(dense + bonus, components={"distance": dense, "win": bonus}))
    assert "reward_component_imbalance" not in alerts
    heavy = rng.normal(0, 30, 1000)
    alerts = judge(reward_metrics(dense + heavy, components={"distance": dense, "speed": heavy}))
    assert "'speed'" in alerts["reward_component_imbalance"].message


@pytest.mark.parametrize("progress, expected", [(0.1, Severity.INFO), (0.8, Severity.WARNING)])
def test_unreached_goal_is_info_while_exploring(progress, expected):
    dones = np.zeros(600, dtype=bool)
    dones[199::200] = True  # time limits, never terminated: the goal was not reached yet
    alerts = judge({**reward_metrics(np.zeros(600), dones, terminated=np.zeros(600)), "_progress": progress})
    assert alerts["reward_all_zero"].severity is expected


def test_steps_to_first_reward_carries_episodes_across_windows():
    from sb3_diagnostics.rules.reward import steps_to_first_reward

    # an episode running 2 steps before the window, rewarded at its 5th step; the next one at its 2nd
    d, since, got = steps_to_first_reward([0, 0, 1, 0, 1], [0, 0, 1, 0, 0], [2], [False])
    assert d.tolist() == [5, 2] and since.tolist() == [2] and got.tolist() == [True]
    # the running episode was rewarded in an earlier window: only its first reward counts
    assert steps_to_first_reward([0, 0, 1, 0, 1], [0, 0, 1, 0, 0], [2], [True])[0].tolist() == [2]
    # no reward yet: the episode's steps keep adding up; an episode ending at the last step carries nothing
    assert steps_to_first_reward([0, 0, 0], [0, 0, 0], [2], [False])[1].tolist() == [5]
    d, since, got = steps_to_first_reward(np.array([[0, 1], [1, 0], [0, 0]]), np.array([[0, 1], [0, 0], [1, 0]]),
                                          [0, 5], [False, False])
    assert d.tolist() == [2, 6] and since.tolist() == [0, 2] and got.tolist() == [False, False]
    # a reward below eps is no reward
    assert steps_to_first_reward([1e-4, 1.0], [0, 1], [0], [False], eps=1e-3)[0].tolist() == [2]
