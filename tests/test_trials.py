"""The user attributes a diagnosed Optuna trial carries (written by the callback, read by the report)."""

from __future__ import annotations

import json

from sb3_diagnostics.findings import Finding, Severity
from sb3_diagnostics.trials import trial_attrs


def _f(code: str, severity: Severity, step: int, message: str = "seen") -> Finding:
    return Finding(code, severity, step, message, "try this")


def test_a_healthy_run_carries_an_empty_diagnosis():
    attrs = trial_attrs([_f("reward_sparse", Severity.INFO, 100)])
    assert attrs == {"diagnosis_pruned": False, "diagnosis_findings": []}
    assert trial_attrs([], timesteps=4096)["diagnosis_timesteps"] == 4096


def test_the_pruning_finding_is_recorded_and_the_root_cause_beside_it():
    kl = _f("kl_too_high", Severity.WARNING, 512, "KL was 0.9")
    collapse = _f("entropy_collapse", Severity.WARNING, 1024)
    nan = _f("nan_detected", Severity.ERROR, 2048, "NaN in the loss")
    attrs = trial_attrs([kl, collapse, nan], pruned_by=nan)
    assert attrs["diagnosis_pruned"] is True
    assert (attrs["diagnosis_code"], attrs["diagnosis_severity"], attrs["diagnosis_step"]) == ("nan_detected", "error", 2048)
    assert attrs["diagnosis_message"] == "NaN in the loss try this"
    assert attrs["diagnosis_root_cause"] == "nan_detected"  # NaN is the most upstream stage
    assert set(attrs["diagnosis_findings"]) == {"kl_too_high", "entropy_collapse", "nan_detected"}
    assert json.loads(json.dumps(attrs)) == attrs  # what an Optuna storage keeps


def test_a_run_not_pruned_shows_its_root_cause():
    attrs = trial_attrs([_f("entropy_collapse", Severity.WARNING, 1024), _f("kl_too_high", Severity.WARNING, 512,
                                                                             "x" * 5000)])
    assert attrs["diagnosis_pruned"] is False
    assert attrs["diagnosis_code"] == attrs["diagnosis_root_cause"] == "kl_too_high"
    assert attrs["diagnosis_findings"][0] == "kl_too_high"
    assert len(attrs["diagnosis_message"]) == 1000
