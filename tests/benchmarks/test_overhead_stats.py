"""The statistics the overhead benchmark prints."""

from __future__ import annotations

import importlib.util
import pathlib
import random

import pytest

_PATH = pathlib.Path(__file__).resolve().parents[2] / "benchmarks" / "overhead.py"


@pytest.fixture(scope="module")
def overhead():
    spec = importlib.util.spec_from_file_location("overhead_benchmark", _PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(("n", "rank"), [(5, 1), (6, 1), (8, 1), (9, 2), (12, 3), (20, 6), (40, 14)])
def test_median_interval_uses_the_textbook_order_statistics(overhead, n, rank):
    # Ranks of the 95% interval from the binomial table (e.g. Conover, Practical Nonparametric Statistics).
    values = [float(v) for v in range(1, n + 1)]
    random.Random(n).shuffle(values)
    assert overhead.median_interval(values) == (float(rank), float(n + 1 - rank))


def test_median_interval_covers_the_median_about_95_percent_of_the_time(overhead):
    rng = random.Random(0)
    trials, covered = 2000, 0
    for _ in range(trials):
        low, high = overhead.median_interval([rng.gauss(1.0, 0.03) for _ in range(40)])
        covered += low <= 1.0 <= high
    assert 0.93 <= covered / trials <= 0.99
