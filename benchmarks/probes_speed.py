"""
How long the five probes take for PPO with its default settings, on one core: what
``sb3-diagnostics probes ppo`` costs (target: under 30 s).

    python benchmarks/probes_speed.py            # 3 repeats, the best one per probe
    python benchmarks/probes_speed.py --repeats 1
    python benchmarks/probes_speed.py --budgets 2000 3000 3000 3000 5000   # the budgets before this change

Prints wall time and CPU time (``time.process_time``) per probe and in total. On a shared machine
the CPU time is the steadier number: other processes stretch wall time, not our CPU time. Each
repeat builds fresh models with the same seed, so every repeat does the same work.
"""

from __future__ import annotations

import argparse
import time

import torch
from stable_baselines3 import PPO

from sb3_diagnostics.probes import DEFAULT_BUDGETS, run_probe


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3, help="times to run the five probes (the best is kept)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--budgets", type=int, nargs=5, metavar="N", help="timesteps of probes 1-5 (default: "
                        "DEFAULT_BUDGETS)")
    args = parser.parse_args()
    torch.set_num_threads(1)  # as the CLI runs them
    best: dict[int, tuple[float, float]] = {}
    for repeat in range(args.repeats):
        for probe in DEFAULT_BUDGETS:
            wall, cpu = time.perf_counter(), time.process_time()
            budget = args.budgets[probe - 1] if args.budgets else None
            result = run_probe(lambda env: PPO("MlpPolicy", env, seed=args.seed), probe, budget)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            verdict = "passed" if result.passed else "FAILED"
            print(f"repeat {repeat + 1} probe {probe}: {result.timesteps} timesteps, {verdict}, "
                  f"{wall:.1f} s wall, {cpu:.1f} s CPU")
            if probe not in best or cpu < best[probe][1]:
                best[probe] = (wall, cpu)
    print("best of", args.repeats, "per probe:", ", ".join(f"{p}: {c:.1f} s CPU" for p, (_, c) in best.items()))
    print(f"five PPO probes, default settings, one thread: {sum(w for w, _ in best.values()):.1f} s wall, "
          f"{sum(c for _, c in best.values()):.1f} s CPU")


if __name__ == "__main__":
    main()
