"""
What DiagnosticsCallback costs in CPU instructions: a noise-free companion to ``overhead.py``.

Wall-time ratios on a shared machine move by about ±2% from run to run, more than the effects
worth measuring here. Instruction counts under valgrind's callgrind do not: the same run gives the
same count to about 0.1%. Each configuration runs in its own process: imports and a warm-up
``learn()`` with the callback, then the measured ``learn()``. A third process does only the
imports and warm-up, and is subtracted from both, so the ratio is that of the measured
``learn()`` calls alone.

Instructions are not wall time (cache misses and branch mispredictions cost time and count
nothing), so use this to compare versions of the code and ``overhead.py`` to state a figure.

    python benchmarks/instructions.py                      # PPO CartPole x8, every check (~12 min on 2 cores)
    python benchmarks/instructions.py --checks nan reward  # a subset of the checks

Needs ``valgrind`` on the PATH (``apt install valgrind``).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor

#: one measured run (run in a fresh interpreter under callgrind)
RUN = """
import sys, warnings
import torch
warnings.simplefilter("ignore")
torch.set_num_threads(1)
from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env
from sb3_diagnostics import DiagnosticsCallback

variant, checks = sys.argv[1], (sys.argv[2].split(",") if sys.argv[2] else None)
make = lambda: PPO("MlpPolicy", make_vec_env("CartPole-v1", n_envs=8, seed=0), n_steps=256, seed=0)
make().learn(2048, callback=DiagnosticsCallback())  # imports and first-call costs, for every variant
if variant != "warm":
    make().learn(4096, callback=None if variant == "plain" else DiagnosticsCallback(checks=checks))
"""


def _instructions(variant: str, checks: list[str] | None, workdir: str) -> int:
    script = os.path.join(workdir, "run.py")
    out = os.path.join(workdir, f"{variant}.callgrind")
    result = subprocess.run(
        ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
         sys.executable, script, variant, ",".join(checks or [])],
        capture_output=True, text=True, check=False,
        # numpy's OpenBLAS threads spin while waiting for work: instructions that depend on timing, not on our code
        env={**os.environ, "OPENBLAS_NUM_THREADS": "1"},
    )
    match = re.search(r"refs:\s*([\d,]+)", result.stderr)
    if result.returncode != 0 or match is None:
        raise SystemExit(f"valgrind run {variant!r} failed:\n{result.stderr[-2000:]}")
    return int(match.group(1).replace(",", ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checks", nargs="+", default=None, help="checks to run (default: every applicable one)")
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed: apt install valgrind (or use benchmarks/overhead.py).")
    with tempfile.TemporaryDirectory() as workdir:
        with open(os.path.join(workdir, "run.py"), "w") as f:
            f.write(RUN)
        with ThreadPoolExecutor(max_workers=max(1, min(3, os.cpu_count() or 1))) as pool:
            warm, plain, diag = pool.map(lambda v: _instructions(v, args.checks, workdir), ["warm", "plain", "diag"])
    base, ours = plain - warm, diag - warm
    label = ", ".join(args.checks) if args.checks else "every check"
    print("PPO CartPole-v1 x8, n_steps=256, 4096 steps (2 updates, 640 optimizer steps)")
    print(f"plain learn():      {base / 1e9:8.3f} G instructions")
    print(f"with {label}: {ours / 1e9:8.3f} G instructions")
    print(f"ratio:              {ours / base:8.4f}")


if __name__ == "__main__":
    main()
