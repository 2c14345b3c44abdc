"""
Post-hoc triage of finished runs: read TensorBoard event files (SB3's own ``train/*`` and
``rollout/*``, and ``diagnostics/*`` when the callbacks were used), judge them with the same
rules as the live callbacks, and print, rank, export or plot the result.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from sb3_diagnostics.errors import ReportInputError
from sb3_diagnostics.report.judge import RunReport, judge_run, metric_stream
from sb3_diagnostics.report.reader import find_runs, read_run
from sb3_diagnostics.report.render import format_run, format_table, rank, to_json

#: Below this many runs, reading in one process beats starting workers.
_PARALLEL_FROM = 16


def report_runs(
    path: str | os.PathLike[str], thresholds: Mapping[str, Any] | None = None, workers: int | None = None
) -> list[RunReport]:
    """
    Judge every run under ``path`` (one run directory or a sweep of them).

    :param path: a run directory or a tree of runs
    :param thresholds: per-check overrides, as ``DiagnosticsCallback`` takes them
    :param workers: processes to read and judge with (default: all cores for large sweeps)
    :return: one report per run, in path order
    :raises ReportInputError: when ``path`` holds no TensorBoard run
    """
    runs = find_runs(path)
    if len(runs) < _PARALLEL_FROM or workers == 1:
        return [judge_run(run, thresholds) for run in runs]
    with ProcessPoolExecutor(max_workers=workers or os.cpu_count()) as pool:
        return list(pool.map(judge_run, runs, [thresholds] * len(runs), chunksize=8))


__all__ = [
    "ReportInputError",
    "RunReport",
    "find_runs",
    "format_run",
    "format_table",
    "judge_run",
    "metric_stream",
    "rank",
    "read_run",
    "report_runs",
    "to_json",
]
