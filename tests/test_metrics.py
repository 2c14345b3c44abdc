"""The pure metric functions, on arrays small enough to check by hand."""

import math

import numpy as np
import pytest

from sb3_diagnostics import metrics as M


def test_explained_variance_perfect_mean_and_worse():
    y = np.array([1.0, 2.0, 3.0, 4.0])
    assert M.explained_variance(y, y) == 1.0
    assert M.explained_variance(np.full(4, 2.5), y) == 0.0  # predicting the mean explains nothing
    # predicting the mirror image: Var[y - pred] = Var[2y - 5] = 4 Var[y] -> 1 - 4 = -3
    assert M.explained_variance(5.0 - y, y) == pytest.approx(-3.0)


def test_explained_variance_undefined_cases():
    assert math.isnan(M.explained_variance([], []))
    assert math.isnan(M.explained_variance([1.0, 2.0], [3.0, 3.0]))  # constant returns: Var[y] = 0
    assert math.isnan(M.explained_variance([1.0, np.nan], [1.0, 2.0]))
    with pytest.raises(ValueError, match="elements"):
        M.explained_variance([1.0], [1.0, 2.0])


def test_categorical_entropy_and_normalisation():
    uniform = np.full((3, 4), 0.25)
    assert M.categorical_entropy(uniform) == pytest.approx([math.log(4)] * 3)
    assert M.normalized_categorical_entropy(uniform) == pytest.approx(1.0)
    assert M.normalized_categorical_entropy([[1.0, 0.0]]) == 0.0
    # H(0.5, 0.5, 0, 0) = log 2; normalised by log 4 -> 0.5
    assert M.normalized_categorical_entropy([[0.5, 0.5, 0.0, 0.0]]) == pytest.approx(0.5)
    assert math.isnan(M.normalized_categorical_entropy(np.zeros((0, 2))))


def test_normalised_entropy_with_action_masks():
    # Two valid actions out of four, uniform over them: the maximum entropy is log 2, so this is 1.0.
    probs = [[0.5, 0.5, 0.0, 0.0]]
    assert M.normalized_categorical_entropy(probs, [[True, True, False, False]]) == pytest.approx(1.0)
    # A single valid action has no entropy to lose: the row is left out, nothing remains -> nan.
    assert math.isnan(M.normalized_categorical_entropy([[1.0, 0.0]], [[True, False]]))


def test_bernoulli_entropy_per_dim():
    out = M.normalized_bernoulli_entropy([[0.5, 1.0], [0.5, 0.0]])
    assert out == pytest.approx([1.0, 0.0])
    assert M.normalized_bernoulli_entropy(np.zeros((0, 2))).size == 0


def test_approx_kl_and_clip_fraction():
    assert M.approx_kl([0.0, 0.0]) == 0.0
    # r = e: (e - 1) - 1 = e - 2
    assert M.approx_kl([1.0]) == pytest.approx(math.e - 2)
    assert math.isnan(M.approx_kl([]))
    assert M.clip_fraction([1.0, 1.1, 1.3, 0.7], clip_range=0.2) == 0.5
    assert math.isnan(M.clip_fraction([], 0.2))


def test_fraction_at_bound_max_abs_std_relative_difference():
    assert M.fraction_at_bound([10.0, -10.0, 3.0, 0.0], 10.0) == 0.5
    assert math.isnan(M.fraction_at_bound([], 10.0))
    assert M.max_abs([-3.0, 2.0, np.nan]) == 3.0
    assert math.isnan(M.max_abs([np.nan]))
    assert M.std([1.0, 3.0]) == 1.0
    assert math.isnan(M.std([1.0]))
    assert M.std([2.0, 2.0, 2.0]) == 0.0
    assert M.relative_difference([1.0, 2.0], [1.0, 2.0]) == 0.0
    assert M.relative_difference([0.0, 2.0], [0.0, 1.0]) == pytest.approx(0.5)
