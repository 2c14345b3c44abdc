"""
What DiagnosticsCallback costs: wall time against plain SB3 in the same process, and the memory of
the callback's own state.

Wall time: interleaved A/B pairs (plain and with the callback, same seed, the order alternating
from pair to pair), the median of the per-pair ratios, so that drift of the machine's speed cancels out.
Memory: ``tracemalloc`` traces
allocated by sb3-diagnostics code and still alive at the end of training, at two training lengths;
if the callback's state grew with training, the second number would be larger.

    python benchmarks/overhead.py            # all algorithms, 8 pairs each (~25 min here, plus the memory pass)
    python benchmarks/overhead.py --pairs 3 --algos ppo --no-memory
    python benchmarks/overhead.py --pairs 40 --algos ppo --only all --no-memory   # a tighter PPO figure

Each ratio is printed as ``median [low, high]``: the distribution-free 95% confidence interval of the
median (order statistics of the pairs). On a shared 2-core machine a single pair moves by ±3%, so
8 pairs only bound the median to a few percent; 40 pairs to about ±1%.
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import statistics
import sys
import time
import tracemalloc
import warnings
from collections.abc import Callable

import torch
from sb3_contrib import RecurrentPPO
from stable_baselines3 import PPO, SAC
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.env_util import make_vec_env

import sb3_diagnostics
from sb3_diagnostics import DiagnosticsCallback

PACKAGE_DIR = os.path.dirname(sb3_diagnostics.__file__)

#: name -> (model factory, timesteps per run)
ALGOS: dict[str, tuple[Callable[[], BaseAlgorithm], int]] = {
    "ppo": (lambda: PPO("MlpPolicy", make_vec_env("CartPole-v1", n_envs=8, seed=0), seed=0), 16_384),
    "sac": (lambda: SAC("MlpPolicy", "Pendulum-v1", learning_starts=100, seed=0), 2_000),
    "recurrent_ppo": (
        lambda: RecurrentPPO("MlpLstmPolicy", make_vec_env("CartPole-v1", n_envs=4, seed=0), n_steps=128, seed=0),
        2_048,  # 4 updates; the LSTM's backward makes this ~18 s per run here
    ),
}
#: checks that only read what SB3 already computed (no extra forward pass)
CHEAP = ["kl", "value", "vecnormalize"]


def _time(make: Callable[[], BaseAlgorithm], steps: int, callback: DiagnosticsCallback | None) -> float:
    model = make()
    gc.collect()
    start = time.perf_counter()
    model.learn(steps, callback=callback)
    return time.perf_counter() - start


def _memory(make: Callable[[], BaseAlgorithm], steps: int) -> int:
    """Bytes allocated by sb3-diagnostics code and still alive after ``steps`` of training."""
    model = make()
    callback = DiagnosticsCallback()
    tracemalloc.start(5)
    model.learn(steps, callback=callback)
    snapshot = tracemalloc.take_snapshot().filter_traces([tracemalloc.Filter(True, os.path.join(PACKAGE_DIR, "*"))])
    tracemalloc.stop()
    return sum(stat.size for stat in snapshot.statistics("filename"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=8, help="interleaved A/B pairs per algorithm")
    parser.add_argument("--algos", nargs="+", default=list(ALGOS), choices=list(ALGOS))
    parser.add_argument("--no-memory", action="store_true", help="skip the tracemalloc pass (the slow part)")
    parser.add_argument("--only", choices=["all", "cheap"], default=None, help="time one column only (half the runs)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    warnings.simplefilter("ignore")
    print(f"python {sys.version.split()[0]}, torch {torch.__version__}, {os.cpu_count()} cores, torch threads 1")
    print("ratios: median of the pairs [95% confidence interval of the median]")
    print(f"{'algorithm':<15}{'steps':>8}{'plain s':>10}{'ratio all':>23}{'ratio cheap':>23}{'mem short':>11}{'mem 2x':>9}")
    for name in args.algos:
        make, steps = ALGOS[name]
        # Warm-up: imports (numpy.ma on the first median...), env registration, first allocations,
        # all one-off costs of the process rather than of a run.
        _time(make, steps // 4, None)
        _time(make, steps // 4, DiagnosticsCallback())
        plain, ratios_all, ratios_cheap = [], [], []
        for i in range(args.pairs):
            # Alternate which run of a pair goes first: the second run of a pair is often a little
            # slower or faster, and a fixed order turns that into a bias of several percent.
            columns = {"all": (DiagnosticsCallback(), ratios_all), "cheap": (DiagnosticsCallback(checks=CHEAP), ratios_cheap)}
            for column, (callback, ratios) in columns.items():
                if args.only not in (None, column):
                    continue
                if i % 2:
                    with_cb, base = _time(make, steps, callback), _time(make, steps, None)
                else:
                    base, with_cb = _time(make, steps, None), _time(make, steps, callback)
                plain.append(base)
                ratios.append(with_cb / base)
        memory = "        -        -"
        if not args.no_memory:
            short, double = _memory(make, steps // 2), _memory(make, steps)
            memory = f"{short / 1024:>9.0f}KB{double / 1024:>7.0f}KB"
        print(f"{name:<15}{steps:>8}{statistics.median(plain):>10.2f}{_spread(ratios_all):>23}"
              f"{_spread(ratios_cheap):>23}{memory}", flush=True)


def _spread(ratios: list[float]) -> str:
    """``median [low, high]`` of the pair ratios, with the 95% confidence interval of the median (``-`` if none ran)."""
    if not ratios:
        return "-"
    low, high = median_interval(ratios)
    return f"{statistics.median(ratios):.3f} [{low:.3f}, {high:.3f}]"


def median_interval(values: list[float], confidence: float = 0.95) -> tuple[float, float]:
    """
    Distribution-free confidence interval of the median: order statistics ``k`` and ``n + 1 - k``
    of the sorted values, with the largest ``k`` for which the chance that fewer than ``k`` of
    ``n`` values fall below the median (Binomial(n, 1/2)) is at most ``(1 - confidence) / 2``.
    With too few values for that (n < 6 at 95%), the full range.
    """
    ordered = sorted(values)
    n = len(ordered)
    tail, k, below = (1 - confidence) / 2, 1, 0.0
    while k < n // 2 + 1:
        below += math.comb(n, k - 1) / 2**n  # P(B <= k - 1)
        if below > tail:
            break
        k += 1
    k = max(k - 1, 1)
    return ordered[k - 1], ordered[n - k]


if __name__ == "__main__":
    main()
