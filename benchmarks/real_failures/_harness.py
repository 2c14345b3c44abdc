"""
Shared runner for the real-failure reproductions in this folder.

Only the public API of sb3-diagnostics is used (DiagnosticsCallback, check_training_env,
Severity). Each case module calls ``live`` / ``preflight`` for its faulty setup and its
healthy twin, then ``report`` prints the findings at warning or above and the final mean
episode return, plus one machine-readable ``RESULT_JSON`` line for the summary table.
"""

from __future__ import annotations

import json
import math
import time
import traceback
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

torch.set_num_threads(1)

from sb3_diagnostics import DiagnosticsCallback, Severity, check_training_env  # noqa: E402


def _warn_plus(findings: Any) -> list[Any]:
    return [f for f in findings if f.severity >= Severity.WARNING]


def _fmt(f: Any) -> dict[str, Any]:
    return {"code": f.code, "severity": str(f.severity), "step": int(f.step), "message": f.message[:160]}


def mean_return(model: Any) -> float:
    """Mean return of the last (up to 100) finished training episodes, as Monitor logged them."""
    buf = getattr(model, "ep_info_buffer", None) or []
    return float(np.mean([e["r"] for e in buf])) if len(buf) else math.nan


def live(
    label: str,
    make_model: Callable[[], Any],
    timesteps: int,
    *,
    after: Callable[[Any], None] | None = None,
    score: Callable[[Any], float] | None = None,
    learn_kwargs: dict[str, Any] | None = None,
    callback_kwargs: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """
    Train ``make_model()`` for ``timesteps`` with a default DiagnosticsCallback.

    :param after: optional second phase, called with (model, callback) semantics via
        ``after(model_and_cb)`` -- used by cases whose fault happens on a second ``learn()``
    :param score: how to measure the final mean return (default: Monitor's episodes)
    """
    t0 = time.time()
    model = make_model()
    cb = DiagnosticsCallback(**(callback_kwargs or {}))
    crashed = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            model.learn(timesteps, callback=cb, **(learn_kwargs or {}))
            if after is not None:
                after({"model": model, "callback": cb})
        except Exception as exc:  # a crash is a result too (SB3's own NaN ValueError)
            crashed = f"{type(exc).__name__}: {str(exc).splitlines()[0][:160]}"
            traceback.print_exc(limit=1)
    ret = math.nan
    try:
        ret = score(model) if score is not None else mean_return(model)
    except Exception as exc:  # noqa: BLE001
        crashed = crashed or f"score failed: {exc}"
    findings = [_fmt(f) for f in _warn_plus(cb.findings)]
    return {"label": label, "stage": "live", "findings": findings, "return": ret, "crashed": crashed,
            "seconds": round(time.time() - t0, 1)}


def preflight(label: str, make_env: Callable[[], Any], n_steps: int = 1000, **kwargs: Any) -> dict[str, Any]:
    """Run check_training_env on ``make_env()``."""
    t0 = time.time()
    crashed = None
    findings: list[dict[str, Any]] = []
    summary: dict[str, Any] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            rep = check_training_env(make_env(), n_steps=n_steps, **kwargs)
            findings = [_fmt(f) for f in _warn_plus(rep)]
            summary = {"random_return_mean": getattr(rep, "random_return_mean", math.nan)}
        except Exception as exc:  # noqa: BLE001
            crashed = f"{type(exc).__name__}: {str(exc).splitlines()[0][:160]}"
    return {"label": label, "stage": "preflight", "findings": findings,
            "return": summary.get("random_return_mean", math.nan), "crashed": crashed,
            "seconds": round(time.time() - t0, 1)}


def report(case: str, expected: list[str], stage: str, results: list[dict[str, Any]]) -> None:
    print(f"=== {case}  expected={expected}  stage={stage}")
    for r in results:
        head = f"--- {r['label']} [{r['stage']}] {r['seconds']}s"
        missing = r["return"] is None or (isinstance(r["return"], float) and math.isnan(r["return"]))
        ret = "n/a" if missing else f"{r['return']:.2f}"
        what = "final mean episode return" if r["stage"] == "live" else "random-policy mean return"
        print(f"{head}  {what}: {ret}" + (f"  CRASHED: {r['crashed']}" if r["crashed"] else ""))
        if not r["findings"]:
            print("    (no finding at warning or above)")
        for f in r["findings"]:
            print(f"    {f['code']:<32} {f['severity']:<7} step={f['step']:<7} {f['message']}")
    summary = {
        "case": case,
        "expected": expected,
        "stage": stage,
        "runs": [
            {"label": r["label"], "stage": r["stage"], "codes": sorted({f["code"] for f in r["findings"]}),
             "return": None if (isinstance(r["return"], float) and math.isnan(r["return"])) else r["return"],
             "crashed": r["crashed"], "seconds": r["seconds"]}
            for r in results
        ],
    }
    print("RESULT_JSON " + json.dumps(summary))
