"""Rendering run reports: the triage of one run, a ranked table for a sweep, JSON for scripts."""

from __future__ import annotations

import json
from collections.abc import Sequence

from sb3_diagnostics.findings import Severity
from sb3_diagnostics.report.judge import RunReport
from sb3_diagnostics.triage import first_problem, format_report

_RANK = {None: 0, Severity.INFO: 1, Severity.WARNING: 2, Severity.ERROR: 3}


def rank(reports: Sequence[RunReport]) -> list[RunReport]:
    """
    Most broken first: by worst severity, then by how many serious findings, then by path.

    :param reports: run reports
    :return: a new sorted list
    """
    def key(r: RunReport) -> tuple[int, int, str]:
        serious = sum(f.severity >= Severity.WARNING for f in r.findings)
        return (-_RANK[r.worst], -serious, str(r.path))

    return sorted(reports, key=key)


def format_run(report: RunReport, min_severity: Severity = Severity.INFO) -> str:
    """
    The triage of one run, with where the inputs came from and what could not be read.

    :param report: the run's report
    :param min_severity: leave out findings below this severity
    :return: text
    """
    head = f"Run {report.path} (last step {report.last_step}; read {', '.join(report.sources) or 'nothing'})"
    lines = [head]
    lines += [f"  note: {p}" for p in report.problems]
    if not report.readable:
        lines.append("Not judged: nothing in this run could be read (see the notes above), so nothing can be said "
                     "about its health.")
        return "\n".join(lines)
    lines.append(format_report(report.findings, min_severity=min_severity, spans=report.spans,
                               last_step=report.last_step))
    return "\n".join(lines)


def format_table(reports: Sequence[RunReport], min_severity: Severity = Severity.WARNING) -> str:
    """
    One line per run, most broken first: status, the final return (the last ``rollout/ep_rew_mean``), the
    root cause (the most upstream problem, :func:`~sb3_diagnostics.triage.first_problem`) and where it
    began, and the other codes.

    :param reports: run reports
    :param min_severity: findings below this severity do not make a run "broken"
    :return: text (a rich table when ``rich`` is installed and the output is a terminal is left to the CLI)
    """
    rows = []
    for r in rank(reports):
        shown = [f for f in r.findings if f.severity >= min_severity]
        status = str(max((f.severity for f in shown), default="ok" if r.readable else "??")).upper()
        top = first_problem(r.findings, min_severity, r.spans)
        first = f"{top.code} @ {top.step}" if top else ("-" if r.readable else "unreadable")
        others = ", ".join(dict.fromkeys(f.code for f in shown if top is None or f.code != top.code))
        final = r.final_return
        rows.append((status, str(r.path), "-" if final is None else f"{final:.4g}", first, others))
    head = ("STATUS", "RUN", "FINAL RETURN", "ROOT CAUSE", "ALSO")
    widths = [max(len(row[i]) for row in [*rows, head]) for i in range(4)]

    def line(row: tuple[str, ...]) -> str:
        s, p, ret, f, o = row
        return f"{s:<{widths[0]}}  {p:<{widths[1]}}  {ret:>{widths[2]}}  {f:<{widths[3]}}  {o}".rstrip()

    out = [line(head), *map(line, rows)]
    broken = sum(row[0] not in ("OK", "??") for row in rows)
    out.append(f"\n{broken} of {len(rows)} runs have findings at {min_severity} or above.")
    return "\n".join(out)


def to_json(reports: Sequence[RunReport]) -> str:
    """:return: the reports as a JSON document, most broken run first."""
    return json.dumps({"runs": [r.to_dict() for r in rank(reports)]}, indent=2)
