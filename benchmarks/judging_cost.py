"""
Does judging cost grow with the run? Per-update cost of the rules at 1x, 4x and 16x run length.

1. Rules: a real A2C run (SB3 defaults on CartPole, ``n_steps=5``, so one update every 5 steps) is
   logged once with ``DiagnosticsCallback``; its metric stream (every key the live rules read, as the
   callbacks log them to TensorBoard) is repeated to 2k, 8k and 32k updates and judged the way the live
   callback and ``sb3-diagnostics report`` do. If a rule did O(n) work per update (the episode rule
   used to: 0.3 / 3.3 / 39 s), the per-update cost would grow 4x and 16x; O(1) work keeps it flat.
2. Live (``--live``): A2C with SB3's defaults, plain and with the callback, at 1x and 4x the steps,
   in the same process; the ratio with/without should not grow with the length.

    python benchmarks/judging_cost.py            # rules only (~1 min)
    python benchmarks/judging_cost.py --live     # plus A2C 20k / 80k steps, plain vs callback (~4 min)
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings

import torch
from stable_baselines3 import A2C

from sb3_diagnostics import DiagnosticsCallback
from sb3_diagnostics.report.judge import judge_stream, metric_stream
from sb3_diagnostics.report.reader import read_run

BASE_UPDATES = 2_000


def recorded_stream(steps: int) -> list[tuple[int, dict[str, float]]]:
    """The diagnostics metric stream of a real A2C run (logged through TensorBoard, read back)."""
    with tempfile.TemporaryDirectory() as logdir, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = A2C("MlpPolicy", "CartPole-v1", seed=0, tensorboard_log=logdir, verbose=0)
        model.learn(steps, callback=DiagnosticsCallback(), log_interval=1, tb_log_name="a2c")
        scalars = read_run(f"{logdir}/a2c_1")
    stream, _ = metric_stream(scalars.scalars)
    return [(step, dict(m)) for step, m in stream]


def tiled(stream: list[tuple[int, dict[str, float]]], updates: int) -> list[tuple[int, dict[str, float]]]:
    """``stream`` repeated to ``updates`` entries, steps increasing, progress recomputed."""
    every = stream[1][0] - stream[0][0] if len(stream) > 1 else 5
    out = []
    for i in range(updates):
        _, m = stream[i % len(stream)]
        out.append(((i + 1) * every, {**m, "_progress": (i + 1) / updates}))
    return out


def rules_cost(stream: list[tuple[int, dict[str, float]]]) -> None:
    keys = {k for _, m in stream for k in m}
    print(f"rules: judging a real A2C metric stream ({len(stream)} updates, {len(keys)} keys) tiled")
    print(f"{'length':>7} {'updates':>8} {'total s':>8} {'us/update':>10} {'vs 1x':>6}")
    base = None
    for factor in (1, 4, 16):
        updates = BASE_UPDATES * factor
        data = tiled(stream, updates)
        start = time.perf_counter()
        judge_stream(data)
        total = time.perf_counter() - start
        per = total / updates * 1e6
        base = base or per
        print(f"{factor:>6}x {updates:>8} {total:>8.2f} {per:>10.1f} {per / base:>6.2f}")


def live_cost(steps: int) -> None:
    print("\nlive: A2C with SB3's defaults on CartPole-v1, plain vs DiagnosticsCallback, same process")
    print(f"{'length':>7} {'steps':>7} {'plain s':>8} {'callback s':>11} {'ratio':>6}")
    for factor in (1, 4):
        times = []
        for callback in (None, DiagnosticsCallback()):
            model = A2C("MlpPolicy", "CartPole-v1", seed=0)
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model.learn(steps * factor, callback=callback)
            times.append(time.perf_counter() - start)
        print(f"{factor:>6}x {steps * factor:>7} {times[0]:>8.1f} {times[1]:>11.1f} {times[1] / times[0]:>6.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--live", action="store_true", help="also time A2C runs plain vs with the callback")
    parser.add_argument("--steps", type=int, default=20_000, help="live run length at 1x")
    args = parser.parse_args()
    torch.set_num_threads(1)
    rules_cost(recorded_stream(BASE_UPDATES * 5))
    if args.live:
        live_cost(args.steps)


if __name__ == "__main__":
    main()
