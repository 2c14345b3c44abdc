"""
What a diagnosed Optuna trial carries: the names and values of the user attributes that
``DiagnosticsCallback(prune_on=...)`` writes on the trial, and that ``sb3-diagnostics report`` reads back
from the study's storage (also visible in optuna-dashboard and in ``study.trials_dataframe()``).

Torch-free and Optuna-free: a "trial" here is anything with Optuna's ``set_user_attr(key, value)``.

=========================  ==================================================================================
user attribute             value
=========================  ==================================================================================
``diagnosis_pruned``       True when the diagnosis pruned the trial, False when it ran to its end (or
                           Optuna's own pruner stopped it)
``diagnosis_code``         the finding that pruned the trial; on a trial not pruned by the diagnosis, its root
                           cause (warning or error); absent on a trial with no such finding
``diagnosis_severity``     ``"error"``, ``"warning"``
``diagnosis_step``         ``num_timesteps`` when it was found
``diagnosis_message``      what was seen, with the numbers, and what to try
``diagnosis_root_cause``   the triage's root cause (what to fix first): often ``diagnosis_code`` itself
``diagnosis_findings``     every code at warning or above, root causes first (``[]``: a healthy run)
``diagnosis_timesteps``    the environment steps the trial trained for (what it cost)
=========================  ==================================================================================
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sb3_diagnostics.findings import Finding, Severity
from sb3_diagnostics.triage import first_problem, triage

PREFIX = "diagnosis_"
PRUNED = PREFIX + "pruned"
CODE = PREFIX + "code"
SEVERITY = PREFIX + "severity"
STEP = PREFIX + "step"
MESSAGE = PREFIX + "message"
ROOT_CAUSE = PREFIX + "root_cause"
FINDINGS = PREFIX + "findings"
TIMESTEPS = PREFIX + "timesteps"

#: Optuna's storages keep a user attribute as JSON text; messages are a few hundred characters
_MAX_MESSAGE = 1000


def trial_attrs(
    findings: Sequence[Finding],
    spans: dict[str, list[list[int]]] | None = None,
    pruned_by: Finding | None = None,
    timesteps: int | None = None,
) -> dict[str, Any]:
    """
    :param findings: the findings of the trial's run so far (``DiagnosticsCallback.findings``)
    :param spans: ``Engine.spans``, for the triage
    :param pruned_by: the finding that pruned the trial, None when it was not pruned by the diagnosis
    :param timesteps: the environment steps the trial trained for
    :return: the user attributes to set on the trial (JSON-serialisable values)
    """
    ordered = triage(findings, spans)
    serious = [f.code for f in ordered if f.severity >= Severity.WARNING and f.code != "diagnostics_internal_error"]
    root = first_problem(findings, Severity.WARNING, spans)
    shown = pruned_by or root
    attrs: dict[str, Any] = {PRUNED: pruned_by is not None, FINDINGS: list(dict.fromkeys(serious))}
    if timesteps is not None:
        attrs[TIMESTEPS] = int(timesteps)
    if root is not None:
        attrs[ROOT_CAUSE] = root.code
    if shown is not None:
        text = f"{shown.message} {shown.hint}".strip()
        attrs.update({
            CODE: shown.code,
            SEVERITY: str(shown.severity),
            STEP: int(shown.step),
            MESSAGE: text if len(text) <= _MAX_MESSAGE else text[:_MAX_MESSAGE - 3] + "...",
        })
    return attrs


def write(trial: Any, attrs: dict[str, Any]) -> None:
    """Set ``attrs`` on ``trial`` (each one a ``set_user_attr`` call, which the storage records at once)."""
    for key, value in attrs.items():
        trial.set_user_attr(key, value)
