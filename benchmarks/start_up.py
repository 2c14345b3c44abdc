"""
How long the command line takes to start and judge one small run, against ``python -c pass``.

    python benchmarks/start_up.py            # 5 pairs of each command
    python benchmarks/start_up.py --pairs 11

It trains one tiny PPO run with TensorBoard logging (a few seconds), then times, pair by pair in
alternating order, ``sb3-diagnostics report RUN --json -`` and ``sb3-diagnostics --version`` against a
bare interpreter start, and prints the median wall time of each and the median of the pair ratios.
Also checks that the report imported no torch.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path


def _time(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def _tiny_run(root: Path) -> Path:
    import torch
    from stable_baselines3 import PPO

    from sb3_diagnostics import DiagnosticsCallback

    torch.set_num_threads(1)
    model = PPO("MlpPolicy", "CartPole-v1", n_steps=256, batch_size=64, seed=0, tensorboard_log=str(root),
                policy_kwargs=dict(net_arch=[32, 32]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.learn(2048, callback=DiagnosticsCallback())
    return next(p.parent for p in root.rglob("*tfevents*"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=5)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        run = _tiny_run(Path(tmp))
        report = [sys.executable, "-m", "sb3_diagnostics", "report", str(run), "--json", "-"]
        version = [sys.executable, "-m", "sb3_diagnostics", "--version"]
        bare = [sys.executable, "-c", "pass"]
        probe = [sys.executable, "-c", "import sys; from sb3_diagnostics.cli import main; "
                 "main(['report', sys.argv[1], '--json', '-']); "
                 "print('TORCH' if 'torch' in sys.modules else 'NOTORCH', file=sys.stderr)", str(run)]
        loaded = subprocess.run(probe, capture_output=True, text=True, check=False).stderr.strip().splitlines()[-1:]
        print(f"report imported torch: {'yes' if loaded == ['TORCH'] else 'no'}")
        for name, cmd in (("report RUN --json -", report), ("--version", version)):
            times, bases, ratios = [], [], []
            for i in range(args.pairs):
                order = (cmd, bare) if i % 2 == 0 else (bare, cmd)
                measured = {id(c): _time(c) for c in order}
                times.append(measured[id(cmd)])
                bases.append(measured[id(bare)])
                ratios.append(measured[id(cmd)] / measured[id(bare)])
            print(f"sb3-diagnostics {name:<22} median {statistics.median(times):.3f} s; python -c pass "
                  f"{statistics.median(bases):.3f} s; ratio {statistics.median(ratios):.1f}x ({args.pairs} pairs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
