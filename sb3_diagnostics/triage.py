"""Triage: order findings most-upstream first (seed 003's decision tree) and render them as text."""

from __future__ import annotations

from collections.abc import Iterable

from sb3_diagnostics.catalog import STAGES, entry
from sb3_diagnostics.findings import Finding, Severity

HEALTHY_ADVICE = (
    "All trainer diagnostics look healthy. If the reward is still flat, the problem is the reward, the "
    "environment or the task design (seed 003, phase 4): log each reward component, compare the trained "
    "return with a random policy's (check_training_env prints it), check that observations contain what the "
    "reward depends on, and consider reward shaping or a curriculum."
)


def triage_order(findings: Iterable[Finding]) -> list[Finding]:
    """
    Sort findings for a reader: most upstream stage first, then most severe, then earliest.

    :param findings: findings in any order
    :return: a new sorted list
    """
    return sorted(findings, key=lambda f: (entry(f.code).stage, -int(f.severity), f.step))


def format_report(findings: Iterable[Finding], *, min_severity: Severity = Severity.INFO) -> str:
    """
    Render a triage summary.

    :param findings: the findings of a run
    :param min_severity: leave out findings below this severity
    :return: multi-line text, ending with advice on what to look at first
    """
    every = triage_order(findings)
    shown = [f for f in every if f.severity >= min_severity]
    serious = [f for f in shown if f.severity >= Severity.WARNING]
    lines = ["sb3-diagnostics report"]
    if not shown:
        if every:
            lines.append(f"No findings at {min_severity} or above ({len(every)} below it; lower min_severity to see them).")
        else:
            lines += ["No findings.", HEALTHY_ADVICE]
        return "\n".join(lines)
    counts = {str(s): sum(f.severity == s for f in shown) for s in Severity}
    lines.append(", ".join(f"{n} {name}" for name, n in reversed(counts.items()) if n) + " (most upstream first)")
    stage = None
    for i, f in enumerate(shown, 1):
        this_stage = STAGES[entry(f.code).stage]
        if this_stage != stage:
            stage = this_stage
            lines.append(f"\n== {stage} ==")
        lines.append(f"{i}. {str(f.severity).upper():7s} [{f.code}] from step {f.step}")
        lines.append(f"   {f.message}")
        lines.append(f"   Try: {f.hint}")
    if serious:
        first = serious[0]
        lines.append(
            f"\nStart with [{first.code}]: problems further down the list are often its consequences."
        )
    else:
        lines.append("\nNothing at warning level. " + HEALTHY_ADVICE)
    return "\n".join(lines)
