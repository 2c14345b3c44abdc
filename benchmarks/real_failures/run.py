"""
Run the reproductions of real users' failures and tabulate what sb3-diagnostics said.

    python benchmarks/real_failures/run.py                 # every case, 2 at a time
    python benchmarks/real_failures/run.py case_env_never_ends --workers 1

Each ``case_<name>.py`` cites its public thread, builds the faulty setup the way the user made it
and its healthy twin (the fix from the thread), and prints one ``RESULT_JSON`` line. Logs go to
``logs/``; the table (``results.md``) lists, per run, the codes at warning or above.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))


def run_case(name: str) -> tuple[str, int, float]:
    start = time.perf_counter()
    os.makedirs(os.path.join(HERE, "logs"), exist_ok=True)
    with open(os.path.join(HERE, "logs", f"{name}.log"), "w") as log:
        rc = subprocess.call([sys.executable, "-W", "ignore", f"{name}.py"], cwd=HERE, stdout=log, stderr=subprocess.STDOUT)
    return name, rc, time.perf_counter() - start


def table(names: list[str]) -> str:
    out = ["| case | expected | run | codes (warning+) | return | s |", "|---|---|---|---|---|---|"]
    for name in names:
        path = os.path.join(HERE, "logs", f"{name}.log")
        with open(path) as f:
            results = [json.loads(line[len("RESULT_JSON "):]) for line in f if line.startswith("RESULT_JSON ")]
        if not results:
            out.append(f"| {name} | | (no result: see logs/{name}.log) | | | |")
        for r in results:
            for i, run in enumerate(r["runs"]):
                ret = "n/a" if run["return"] is None else f"{run['return']:.1f}"
                codes = ", ".join(run["codes"]) or "nothing"
                if run["crashed"]:
                    codes += f" (CRASH: {run['crashed'][:80]})"
                case, expected = (r["case"], "; ".join(r["expected"])) if i == 0 else ("", "")
                out.append(f"| {case} | {expected} | {run['label']} [{run['stage']}] | {codes} | {ret} | {run['seconds']} |")
    return "\n".join(out) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="cases to run (default: every case_*.py)")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    names = args.names or sorted(f[:-3] for f in os.listdir(HERE) if f.startswith("case_") and f.endswith(".py"))
    with ThreadPoolExecutor(max(1, args.workers)) as pool:
        for name, rc, seconds in pool.map(run_case, names):
            print(f"{name:45s} rc={rc} {seconds:5.0f}s", flush=True)
    text = table(names)
    with open(os.path.join(HERE, "results.md"), "w") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
