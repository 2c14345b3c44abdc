"""
Calibration benchmark: false alarms of DiagnosticsCallback on healthy training runs.

Trains every healthy run of ``runs.py`` (rl-zoo3's tuned configs, SB3 defaults until solved, and
small tasks with unusual but legitimate properties from ``envs.py``) with ``DiagnosticsCallback()``
attached, and reports every finding at warning or above: on these runs each one is a false alarm.
A run "with an error" had a finding at ERROR, which ``DiagnosticsCallback(stop_on="error")``
would have stopped training on.

    python benchmarks/calibration/run.py --quick          # 8 short runs, 1 seed; exit 1 on any alarm
    python benchmarks/calibration/run.py --workers 2      # the release calibration (54 runs x 3 seeds, and
                                                          # 25 Box2D runs when the bench extra is installed)
    python benchmarks/calibration/run.py --list
    python benchmarks/calibration/run.py zoo_sac_Pendulum-v1 tricky_dict_obs --seeds 0 1
    python benchmarks/calibration/run.py --json out.json  # every result, with the full messages
    python benchmarks/calibration/run.py --off-policy-cap 20000   # longer zoo off-policy runs

Time on this 2-core machine while another job used the other core, one worker: ``--quick`` 6.5
min; the full benchmark ~45 min a seed (~2.3 hours for 3 seeds; about half that with
``--workers 2`` on a quiet machine); the 25 Box2D runs add ~19 min a seed with 2 workers (QR-DQN and CrossQ
on their rl-zoo3 networks are the slowest). Off-policy updates are the cost (SAC/TQC/CrossQ run at 10-60
env steps a second here), hence the short off-policy caps in ``runs.py``.

Exit status: 0 when no run alarmed (or not ``--quick``), 1 with ``--quick`` when any run had a
finding at warning or above, 2 when a run crashed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import os
import sys
import time
from collections import Counter, defaultdict
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from runs import OFF_POLICY_CAP, ON_POLICY_CAP, QUICK, Run, all_runs  # noqa: E402

MESSAGE_CHARS = 160


def select_runs(args: argparse.Namespace) -> list[Run]:
    runs = all_runs(args.on_policy_cap, args.off_policy_cap)
    by_name = {run.name: run for run in runs}
    if args.names:
        unknown = [name for name in args.names if name not in by_name]
        if unknown:
            sys.exit(f"Unknown run(s): {', '.join(unknown)}. See --list.")
        runs = [by_name[name] for name in args.names]
    elif args.quick:
        runs = [by_name[name] for name in QUICK if name in by_name]
    return runs


def run_steps(run: Run, args: argparse.Namespace) -> int:
    if args.steps:
        return args.steps
    if args.quick and run.name in QUICK:
        return min(run.timesteps, QUICK[run.name])
    return run.timesteps


def train_one(name: str, seed: int, steps: int, on_policy_cap: int, off_policy_cap: int) -> dict[str, Any]:
    """Train one healthy run with DiagnosticsCallback in this (worker) process."""
    import shutil
    import tempfile
    import traceback
    import warnings

    warnings.simplefilter("ignore")
    import numpy as np
    import torch
    from runs import make_zoo
    from stable_baselines3.common.callbacks import BaseCallback

    from sb3_diagnostics import DiagnosticsCallback, Severity

    torch.set_num_threads(1)
    run = {r.name: r for r in all_runs(on_policy_cap, off_policy_cap)}[name]

    class EpisodeReturns(BaseCallback):
        """Every finished episode's return, from Monitor's ``info["episode"]``."""

        def __init__(self) -> None:
            super().__init__()
            self.returns: list[float] = []

        def _on_step(self) -> bool:
            for info in self.locals.get("infos") or ():
                if isinstance(info, dict) and "episode" in info:
                    self.returns.append(float(info["episode"]["r"]))
            return True

    class StopAt(BaseCallback):
        """Stops a run whose schedule is longer than the steps it trains here."""

        def __init__(self, steps: int) -> None:
            super().__init__()
            self.steps = steps

        def _on_step(self) -> bool:
            return self.num_timesteps < self.steps

    result: dict[str, Any] = {
        "name": run.name,
        "kind": run.kind,
        "algo": run.algo,
        "env": run.env,
        "seed": seed,
        "steps": 0,
        "planned_steps": steps,
        "final_return": None,
        "first_return": None,
        "last_return": None,
        "episodes": 0,
        "learned": None,
        "seconds": 0.0,
        "findings": [],
        "alarm": False,
        "error_finding": False,
        "crash": "",
    }
    start = time.perf_counter()
    log_folder = tempfile.mkdtemp(prefix="calibration_")
    model = recorder = diagnostics = None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            extra: list[Any] = []
            total = max(steps, run.schedule_timesteps)
            if run.kind == "zoo":
                model, extra = make_zoo(run.zoo_algo, run.env, seed, total, log_folder)
            else:
                from stable_baselines3.common.utils import set_random_seed

                set_random_seed(seed)
                assert run.make is not None
                model = run.make(seed)
            recorder = EpisodeReturns()
            diagnostics = DiagnosticsCallback()
            model.learn(total, callback=[*extra, recorder, diagnostics, StopAt(steps)])
    except Exception as exc:  # a crash is reported as such
        result["crash"] = f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=-3)}"
    finally:
        shutil.rmtree(log_folder, ignore_errors=True)
    result["seconds"] = round(time.perf_counter() - start, 1)
    if model is not None:
        result["steps"] = int(model.num_timesteps)
        buffer = list(model.ep_info_buffer or [])
        if buffer:
            result["final_return"] = float(np.mean([ep["r"] for ep in buffer]))
    if recorder is not None and recorder.returns:
        returns = recorder.returns
        result["episodes"] = len(returns)
        k = max(5, len(returns) // 10)
        result["first_return"] = float(np.mean(returns[:k]))
        result["last_return"] = float(np.mean(returns[-k:]))
    if run.min_final_return is not None and result["last_return"] is not None:
        result["learned"] = bool(result["last_return"] >= run.min_final_return)
    for finding in getattr(diagnostics, "findings", None) or []:
        if finding.severity < Severity.WARNING:
            continue
        result["findings"].append(
            {
                "code": finding.code,
                "severity": str(finding.severity),
                "step": int(finding.step),
                "value": _number(getattr(finding, "value", None)),
                "threshold": _number(getattr(finding, "threshold", None)),
                "message": finding.message,
            }
        )
        result["alarm"] = True
        if finding.severity >= Severity.ERROR:
            result["error_finding"] = True
    if model is not None and model.env is not None:
        with contextlib.suppress(Exception):
            model.env.close()
    return result


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if number != number else number  # NaN -> None (JSON)


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.4g}" if abs(value) < 1e5 else f"{value:.3e}"


def format_result(result: dict[str, Any]) -> str:
    learned = {True: "", False: " NOT-LEARNED", None: ""}[result["learned"]]
    status = "CRASH" if result["crash"] else ("ALARM" if result["alarm"] else "ok")
    lines = [
        f"{result['name']:<40} {result['algo']:<12} {result['env']:<30} seed={result['seed']:<3} "
        f"steps={result['steps']:<7} return={_fmt(result['final_return'])} "
        f"(first 10% {_fmt(result['first_return'])}, last 10% {_fmt(result['last_return'])}){learned} "
        f"{result['seconds']:.0f}s  {status}"
    ]
    for f in result["findings"]:
        message = " ".join(f["message"].split())[:MESSAGE_CHARS]
        lines.append(
            f"    {f['severity'].upper():<7} {f['code']} @ step {f['step']} "
            f"(value={_fmt(f['value'])}, threshold={_fmt(f['threshold'])}): {message}"
        )
    if result["crash"]:
        lines.extend("    " + line for line in result["crash"].rstrip().splitlines())
    return "\n".join(lines)


def format_totals(results: list[dict[str, Any]]) -> str:
    ok = [r for r in results if not r["crash"]]
    alarmed = [r for r in ok if r["alarm"]]
    errors = [r for r in ok if r["error_finding"]]
    by_code: dict[str, Counter] = defaultdict(Counter)
    runs_by_code: dict[str, set] = defaultdict(set)
    for r in ok:
        for f in r["findings"]:
            by_code[f["code"]][f["severity"]] += 1
            runs_by_code[f["code"]].add((r["name"], r["seed"]))
    lines = [
        "",
        "=" * 100,
        f"runs: {len(results)} ({len(ok)} trained, {len(results) - len(ok)} crashed)",
        f"algorithms ({len({r['algo'] for r in results})}): {', '.join(sorted({r['algo'] for r in results}))}",
        f"envs ({len({r['env'] for r in results})}): {', '.join(sorted({r['env'] for r in results}))}",
        f"seeds: {', '.join(str(s) for s in sorted({r['seed'] for r in results}))}",
        f"total training steps: {sum(r['steps'] for r in results):,}; seconds: {sum(r['seconds'] for r in results):,.0f}",
        f"runs with alarms (warning or above): {len(alarmed)} / {len(ok)}",
        f"runs with an error finding (stop_on='error' would stop them): {len(errors)} / {len(ok)}",
    ]
    not_learned = [r for r in ok if r["learned"] is False]
    if not_learned:
        lines.append("runs below their expected final return: " + ", ".join(f"{r['name']}/s{r['seed']}" for r in not_learned))
    lines.append("alarms by code (findings: warning / error; runs):")
    if not by_code:
        lines.append("    none")
    for code in sorted(by_code):
        c = by_code[code]
        lines.append(f"    {code:<32} warning {c['warning']:>3} / error {c['error']:>3}   in {len(runs_by_code[code])} run(s)")
    if alarmed:
        lines.append("alarmed runs:")
        for r in alarmed:
            codes = sorted({f["code"] for f in r["findings"]})
            lines.append(f"    {r['name']} seed={r['seed']}: {', '.join(codes)}")
    crashed = [r for r in results if r["crash"]]
    if crashed:
        lines.append("crashed runs:")
        for r in crashed:
            lines.append(f"    {r['name']} seed={r['seed']}: {r['crash'].splitlines()[0]}")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", help="runs to train (default: all, or the --quick set)")
    parser.add_argument("--quick", action="store_true", help="the short CI subset, one seed; exit 1 on any alarm")
    parser.add_argument("--workers", type=int, default=1, help="parallel worker processes (default 1)")
    parser.add_argument("--seeds", type=int, nargs="+", default=None, help="seeds (default: 0 1 2, or 0 with --quick)")
    parser.add_argument("--list", action="store_true", help="list the runs and exit")
    parser.add_argument("--json", metavar="PATH", help="write every result (full messages) to this JSON file")
    parser.add_argument("--steps", type=int, default=0, help="override every run's length (smoke tests)")
    parser.add_argument(
        "--on-policy-cap", type=int, default=ON_POLICY_CAP, help=f"cap on zoo on-policy runs (default {ON_POLICY_CAP})"
    )
    parser.add_argument(
        "--off-policy-cap", type=int, default=OFF_POLICY_CAP, help=f"cap on zoo off-policy runs (default {OFF_POLICY_CAP})"
    )
    args = parser.parse_args()

    runs = select_runs(args)
    if args.list:
        for run in runs:
            quick = "quick" if run.name in QUICK else ""
            print(f"{run.name:<42} {run.kind:<8} {run.algo:<12} {run.env:<34} {run_steps(run, args):>8} {quick:<6} {run.note}")
        print(f"{len(runs)} runs")
        return 0
    seeds = args.seeds if args.seeds is not None else ([0] if args.quick else [0, 1, 2])
    tasks = [(run.name, seed, run_steps(run, args)) for seed in seeds for run in runs]  # seed-major
    print(f"calibration: {len(tasks)} runs ({len(runs)} configs x {len(seeds)} seeds), {args.workers} worker(s)", flush=True)
    start = time.perf_counter()
    results: list[dict[str, Any]] = []

    def record(result: dict[str, Any]) -> None:
        results.append(result)
        print(f"[{len(results)}/{len(tasks)} {time.perf_counter() - start:.0f}s] " + format_result(result), flush=True)
        if args.json:
            _write_json(args.json, results, tasks, time.perf_counter() - start, done=False)

    caps = (args.on_policy_cap, args.off_policy_cap)
    if args.workers <= 1:
        for name, seed, steps in tasks:
            record(train_one(name, seed, steps, *caps))
    else:
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=args.workers, mp_context=context) as pool:
            futures = [pool.submit(train_one, name, seed, steps, *caps) for name, seed, steps in tasks]
            for future in as_completed(futures):
                record(future.result())
    elapsed = time.perf_counter() - start
    order = {(name, seed): i for i, (name, seed, _) in enumerate(tasks)}
    results.sort(key=lambda r: order[(r["name"], r["seed"])])
    print(format_totals(results))
    print(f"wall time: {elapsed / 60:.1f} min", flush=True)
    if args.json:
        _write_json(args.json, results, tasks, elapsed, done=True)
    if any(r["crash"] for r in results):
        return 2
    if args.quick and any(r["alarm"] for r in results):
        return 1
    return 0


def _write_json(path: str, results: list[dict[str, Any]], tasks: list, elapsed: float, done: bool) -> None:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump({"done": done, "planned_runs": len(tasks), "seconds": round(elapsed, 1), "results": results}, f, indent=1)
    os.replace(tmp, path)


if __name__ == "__main__":
    sys.exit(main())
