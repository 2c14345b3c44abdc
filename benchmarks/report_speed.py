"""
How fast ``sb3-diagnostics report`` triages a sweep: writes N synthetic runs the size of a 1M-step
PPO run (500 dumps of SB3's usual 15 scalars, written by SB3's own logger), then times reading and
judging all of them with ``report_runs``.

    python benchmarks/report_speed.py              # 200 runs
    python benchmarks/report_speed.py --runs 50
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np
from stable_baselines3.common.logger import configure

from sb3_diagnostics.report import report_runs

KEYS = [
    "train/approx_kl", "train/clip_fraction", "train/entropy_loss", "train/explained_variance", "train/value_loss",
    "train/policy_gradient_loss", "train/loss", "train/learning_rate", "train/clip_range", "rollout/ep_rew_mean",
    "rollout/ep_len_mean", "time/fps", "train/std", "train/n_updates", "time/iterations",
]


def write_run(path: str, dumps: int, rng: np.random.Generator) -> None:
    logger = configure(path, ["tensorboard"])
    for i in range(dumps):
        for key in KEYS:
            logger.record(key, float(rng.random()))
        logger.dump(step=(i + 1) * 2048)
    logger.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--dumps", type=int, default=500, help="log dumps per run (500 = 1M steps at n_steps=2048)")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as root:
        start = time.perf_counter()
        for i in range(args.runs):
            write_run(os.path.join(root, f"PPO_{i + 1}"), args.dumps, rng)
        print(f"wrote {args.runs} runs x {args.dumps} dumps in {time.perf_counter() - start:.1f} s")
        for workers in (1, None):
            start = time.perf_counter()
            reports = report_runs(root, workers=workers)
            label = "1 process" if workers == 1 else f"{os.cpu_count()} processes"
            print(f"triaged {len(reports)} runs with {label} in {time.perf_counter() - start:.2f} s")


if __name__ == "__main__":
    main()
