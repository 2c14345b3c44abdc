"""
Wall-time overhead of the gradient, NaN, Q-value and buffer-shape checks.

Runs interleaved A/B pairs (plain, then with the checks, same seed) of PPO on CartPole and SAC
on Pendulum and prints, per algorithm, the median over pairs of (time with checks / time
without). Interleaving cancels slow drifts of a shared machine; the median ignores outlier pairs.

    python benchmarks/overhead_gradients_offpolicy.py [--pairs 5] [--ppo-steps 8192] [--sac-steps 1500]
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings
from collections.abc import Callable
from typing import Any

import torch as th
from stable_baselines3 import PPO, SAC
from stable_baselines3.common.callbacks import CallbackList

from sb3_diagnostics import BufferShapeCallback, QValueCallback
from sb3_diagnostics.callbacks.gradients import GradientCallback
from sb3_diagnostics.callbacks.nan import NaNCallback


def checks() -> CallbackList:
    """Every check of this module, with the default measuring interval."""
    return CallbackList([GradientCallback(), NaNCallback(), QValueCallback(), BufferShapeCallback()])


def timed(make_model: Callable[[], Any], steps: int, callback: CallbackList | None) -> float:
    """Seconds spent in ``learn()`` (model construction excluded)."""
    model = make_model()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = time.perf_counter()
        model.learn(steps, callback=callback)
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--ppo-steps", type=int, default=8192)
    parser.add_argument("--sac-steps", type=int, default=1500)
    args = parser.parse_args()
    th.set_num_threads(1)
    cases = {
        "PPO CartPole-v1": (lambda: PPO("MlpPolicy", "CartPole-v1", seed=0), args.ppo_steps),
        "SAC Pendulum-v1": (lambda: SAC("MlpPolicy", "Pendulum-v1", learning_starts=100, seed=0), args.sac_steps),
    }
    for name, (make_model, steps) in cases.items():
        timed(make_model, min(steps, 500), None)  # warm-up: imports, first allocations
        ratios, plain_times = [], []
        for _ in range(args.pairs):
            plain = timed(make_model, steps, None)
            observed = timed(make_model, steps, checks())
            plain_times.append(plain)
            ratios.append(observed / plain)
        print(
            f"{name}: {steps} steps, {args.pairs} pairs, plain {statistics.median(plain_times):.2f}s, "
            f"ratio with checks: median {statistics.median(ratios):.3f} "
            f"(min {min(ratios):.3f}, max {max(ratios):.3f})"
        )


if __name__ == "__main__":
    main()
