"""
Run the fault zoo and score the library: what it caught, what it missed, what it falsely flagged,
and how many measurements after the fault began it spoke up.

    python benchmarks/fault_zoo/run.py                 # the whole zoo (~10 min on 2 cores)
    python benchmarks/fault_zoo/run.py --quick         # the CI subset; exit 1 if recall < 0.9 or a
                                                       # healthy run raises a warning
    python benchmarks/fault_zoo/run.py ppo_lr_typo healthy_sac_pendulum

Scores count codes at warning or above. Recall = required codes reported / required codes. A false
alarm is a code that is neither required nor listed as an acceptable consequence of the case's fault;
a false-alarm run is a run with at least one. Detection delay = measurements between the fault's onset
and the first report of each required code: 1 when the first measurement after the onset reports it,
0 when it is reported before any (pre-flight, or at the start of ``learn()``). On-policy the checks measure
at every rollout end (``n_steps * n_envs`` steps); off-policy once ``off_policy_updates`` gradient updates
happened (or ``off_policy_interval`` steps passed).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from cases import CASES, Case  # noqa: E402


@dataclass
class Result:
    case: str
    first: dict[str, int]  # code -> first step reported (warning or above)
    measured: list[int]  # the steps at which the checks measured
    seconds: float
    error: str = ""
    root: str | None = None  # the code the triage names first (warning or above)


def run_case(name: str) -> Result:
    """Train one case with DiagnosticsCallback in this process."""
    import torch

    from sb3_diagnostics import DiagnosticsCallback, Severity, check_training_env
    from sb3_diagnostics.triage import first_problem

    torch.set_num_threads(1)
    case = CASES[name]
    start = time.perf_counter()
    measured: list[int] = []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if case.env is not None:  # a pre-flight case: no training
                findings = list(check_training_env(case.env()))  # already in triage order
                triaged = findings
                spans = None
                model = None
            else:
                model = case.make()
                callback = DiagnosticsCallback(**case.options)
                _record_measurements(callback, measured)
                model.learn(case.timesteps, callback=callback)
                findings = callback.findings
                triaged = callback.triage()
                spans = callback.engine.spans
    except Exception as exc:  # a crash is reported as such, not as a miss
        return Result(name, {}, [], time.perf_counter() - start, f"{type(exc).__name__}: {exc}")
    first: dict[str, int] = {}
    for finding in findings:
        if finding.severity >= Severity.WARNING:
            first.setdefault(finding.code, finding.step)
    top = first_problem(triaged, spans=spans)
    root = top.code if top is not None else None
    return Result(name, first, measured, time.perf_counter() - start, root=root)


def _record_measurements(callback: object, measured: list[int]) -> None:
    """Append to ``measured`` each step at which the callback's checks measure (its gate said "due")."""
    gate = callback.gate  # type: ignore[attr-defined]
    due = gate.due

    def recording(model: object) -> bool:
        ok = due(model)
        step = model.num_timesteps  # type: ignore[attr-defined]
        if ok and (not measured or measured[-1] != step):
            measured.append(step)
        return ok

    gate.due = recording


def delay(first: int, onset: int, measured: list[int]) -> int:
    """Which measurement after ``onset`` first reported a code at step ``first`` (the one at the end of learn() counts)."""
    if first <= onset:
        return 0
    after = [s for s in measured if onset < s <= first]
    return len(after) + (not after or after[-1] < first)


def per_code(cases: list[Case], results: dict[str, Result]) -> str:
    """Per finding code: in how many fault cases it is required, in how many of those it was reported, and in
    how many runs it was reported without being required or listed as a consequence (false alarms)."""
    required: dict[str, int] = {}
    caught: dict[str, int] = {}
    false: dict[str, int] = {}
    for case in cases:
        found = set(results[case.name].first)
        for code in case.must:
            required[code] = required.get(code, 0) + 1
            caught[code] = caught.get(code, 0) + (code in found)
        for code in found - case.must - case.may:
            false[code] = false.get(code, 0) + 1
    lines = [f"{'code':<34}{'recall':>12}{'false alarms':>14}"]
    for code in sorted(set(required) | set(false)):
        n = required.get(code, 0)
        recall = f"{caught.get(code, 0)}/{n}" if n else "-"
        lines.append(f"{code:<34}{recall:>12}{false.get(code, 0):>14}")
    return "\n".join(lines)


def score(cases: list[Case], results: dict[str, Result]) -> tuple[str, dict[str, float]]:
    """:return: the per-case table and the totals"""
    lines = [f"{'case':<38}{'kind':<13}{'caught':<48}{'missed':<26}{'false alarms':<28}{'root named first':<30}"
             f"{'delay (measurements)':<22}{'s':>5}"]
    required = caught = 0
    roots = roots_first = 0
    false_alarm_runs = healthy_alarm_runs = 0
    delays: list[int] = []
    for case in cases:
        r = results[case.name]
        found = set(r.first)
        hit, miss = sorted(case.must & found), sorted(case.must - found)
        false = sorted(found - case.must - case.may)
        required += len(case.must)
        caught += len(hit)
        false_alarm_runs += bool(false)
        healthy_alarm_runs += bool(false) and case.healthy
        case_delays = [delay(r.first[c], case.onset, r.measured) for c in hit]
        delays += case_delays
        shown = ", ".join(f"{d}" for d in case_delays) or "-"
        kind = ("healthy" if case.healthy else "fault") + (" env" if case.env is not None else "")
        root = "-"
        if case.root_code is not None:
            roots += 1
            roots_first += r.root == case.root_code
            root = "yes" if r.root == case.root_code else f"no: {r.root} (want {case.root_code})"
        lines.append(f"{case.name:<38}{kind:<13}{', '.join(hit) or '-':<48}{', '.join(miss) or '-':<26}"
                     f"{', '.join(false) or '-':<28}{root:<30}{shown:<22}{r.seconds:>5.0f}"
                     + (f"  CRASHED: {r.error}" if r.error else ""))
    totals = {
        "cases": len(cases),
        "fault_cases": sum(not c.healthy for c in cases),
        "healthy_cases": sum(c.healthy for c in cases),
        "recall": caught / required if required else float("nan"),
        "required": required,
        "caught": caught,
        "false_alarm_runs": false_alarm_runs,
        "healthy_runs_with_alarms": healthy_alarm_runs,
        "root_share": roots_first / roots if roots else float("nan"),
        "median_delay": statistics.median(delays) if delays else float("nan"),
        "crashed": sum(bool(results[c.name].error) for c in cases),
    }
    return "\n".join(lines), totals


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", help="case names (default: all, or the quick subset)")
    parser.add_argument("--quick", action="store_true", help="the CI subset, with pass/fail gates")
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    args = parser.parse_args(argv)
    unknown = set(args.names) - set(CASES)
    if unknown:
        parser.error(f"unknown cases {sorted(unknown)}; known: {sorted(CASES)}")
    cases = [CASES[n] for n in args.names] if args.names else [c for c in CASES.values() if c.quick or not args.quick]
    start = time.perf_counter()
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        results = {r.case: r for r in pool.map(run_case, [c.name for c in cases])}
    table, totals = score(cases, results)
    print(table)
    print("\n" + per_code(cases, results))
    print(f"\n{totals['fault_cases']} fault cases, {totals['healthy_cases']} healthy: recall {totals['recall']:.2f} "
          f"({totals['caught']}/{totals['required']} required codes), false-alarm runs {totals['false_alarm_runs']} "
          f"(healthy runs with alarms: {totals['healthy_runs_with_alarms']}), root named first "
          f"{totals['root_share']:.2f}, median detection delay "
          f"{totals['median_delay']:.0f} measurements, crashed {totals['crashed']}; "
          f"{time.perf_counter() - start:.0f} s with {args.workers} workers")
    if args.quick and (totals["recall"] < 0.9 or totals["healthy_runs_with_alarms"] or totals["crashed"]):
        print("FAILED: the quick zoo requires recall >= 0.9, no alarm on a healthy run and no crash.")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
