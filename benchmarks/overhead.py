"""
What DiagnosticsCallback costs: wall time against plain SB3 in the same process, and the memory of
the callback's own state.

Wall time: interleaved A/B pairs (plain and with the callback, same seed, the order alternating
from pair to pair), the median of the per-pair ratios, so that drift of the machine's speed cancels out.
Memory: ``tracemalloc`` traces
allocated by sb3-diagnostics code and still alive at the end of training, at two training lengths;
if the callback's state grew with training, the second number would be larger.

    python benchmarks/overhead.py            # all algorithms, 5 pairs each
    python benchmarks/overhead.py --pairs 3 --algos ppo
"""

from __future__ import annotations

import argparse
import gc
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

#: name -> (model factory, timesteps per run, checks to run for the "cheap" column)
ALGOS: dict[str, tuple[Callable[[], BaseAlgorithm], int]] = {
    "ppo": (lambda: PPO("MlpPolicy", make_vec_env("CartPole-v1", n_envs=8, seed=0), seed=0), 16_384),
    "sac": (lambda: SAC("MlpPolicy", "Pendulum-v1", learning_starts=100, seed=0), 2_000),
    "recurrent_ppo": (
        lambda: RecurrentPPO("MlpLstmPolicy", make_vec_env("CartPole-v1", n_envs=4, seed=0), n_steps=128, seed=0),
        4_096,
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
    parser.add_argument("--pairs", type=int, default=5, help="interleaved A/B pairs per algorithm")
    parser.add_argument("--algos", nargs="+", default=list(ALGOS), choices=list(ALGOS))
    args = parser.parse_args()
    torch.set_num_threads(1)
    warnings.simplefilter("ignore")
    print(f"python {sys.version.split()[0]}, torch {torch.__version__}, {os.cpu_count()} cores, torch threads 1")
    print(f"{'algorithm':<15}{'steps':>8}{'plain s':>10}{'ratio all':>11}{'ratio cheap':>13}{'mem short':>11}{'mem 2x':>9}")
    for name in args.algos:
        make, steps = ALGOS[name]
        _time(make, steps // 4, None)  # warm-up: imports, env registration, first allocations
        plain, ratios_all, ratios_cheap = [], [], []
        for i in range(args.pairs):
            # Alternate which run of a pair goes first: the second run of a pair is often a little
            # slower or faster, and a fixed order turns that into a bias of several percent.
            for callback, ratios in ((DiagnosticsCallback(), ratios_all), (DiagnosticsCallback(checks=CHEAP), ratios_cheap)):
                if i % 2:
                    with_cb, base = _time(make, steps, callback), _time(make, steps, None)
                else:
                    base, with_cb = _time(make, steps, None), _time(make, steps, callback)
                plain.append(base)
                ratios.append(with_cb / base)
        short, double = _memory(make, steps // 2), _memory(make, steps)
        print(f"{name:<15}{steps:>8}{statistics.median(plain):>10.2f}{statistics.median(ratios_all):>11.3f}"
              f"{statistics.median(ratios_cheap):>13.3f}{short / 1024:>9.0f}KB{double / 1024:>7.0f}KB")


if __name__ == "__main__":
    main()
