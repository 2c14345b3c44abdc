"""
sb3-diagnostics: tells you why your Stable-Baselines3 agent is not learning.

    from sb3_diagnostics import DiagnosticsCallback
    cb = DiagnosticsCallback()
    model.learn(100_000, callback=cb)
    print(cb.report())

Names are exported lazily (PEP 562): ``import sb3_diagnostics.report`` or ``sb3-diagnostics report``
never load torch or SB3; the callbacks and the checks load them when first used.
"""

from __future__ import annotations

import importlib
import logging
from typing import TYPE_CHECKING, Any

__version__ = "0.2.0"

# A library adds no handler of its own: without this, logging's last-resort handler would print
# every finding a second time next to its Python warning.
logging.getLogger("sb3_diagnostics").addHandler(logging.NullHandler())

#: public name -> module that defines it
_EXPORTS: dict[str, str] = {
    # callbacks (load torch and SB3)
    "DiagnosticCallback": "sb3_diagnostics.callbacks.base",
    "DiagnosticsCallback": "sb3_diagnostics.callbacks.composite",
    "BufferShapeCallback": "sb3_diagnostics.callbacks.buffers",
    "EntropyCollapseCallback": "sb3_diagnostics.callbacks.entropy",
    "EpisodeCallback": "sb3_diagnostics.callbacks.episodes",
    "ExplainedVarianceCallback": "sb3_diagnostics.callbacks.value",
    "GradientCallback": "sb3_diagnostics.callbacks.gradients",
    "KLWatchdogCallback": "sb3_diagnostics.callbacks.kl",
    "LSTMResetCallback": "sb3_diagnostics.callbacks.lstm",
    "NaNCallback": "sb3_diagnostics.callbacks.nan",
    "QValueCallback": "sb3_diagnostics.callbacks.q_values",
    "RewardSignalCallback": "sb3_diagnostics.callbacks.reward",
    "VecNormalizeAuditCallback": "sb3_diagnostics.callbacks.vecnormalize",
    # checks before training (load torch and SB3)
    "PreflightReport": "sb3_diagnostics.preflight",
    "check_training_env": "sb3_diagnostics.preflight",
    "PolicyCheckReport": "sb3_diagnostics.policy",
    "check_policy": "sb3_diagnostics.policy",
    "evaluate_recurrent": "sb3_diagnostics.policy",
    "warn_missing_episode_start": "sb3_diagnostics.policy",
    # results, catalog, thresholds, errors (torch-free)
    "Finding": "sb3_diagnostics.findings",
    "Severity": "sb3_diagnostics.findings",
    "DiagnosticWarning": "sb3_diagnostics.warnings",
    "CATALOG": "sb3_diagnostics.catalog",
    "BufferThresholds": "sb3_diagnostics.thresholds",
    "EntropyThresholds": "sb3_diagnostics.thresholds",
    "EpisodeThresholds": "sb3_diagnostics.thresholds",
    "GradientThresholds": "sb3_diagnostics.thresholds",
    "KLThresholds": "sb3_diagnostics.thresholds",
    "LSTMThresholds": "sb3_diagnostics.thresholds",
    "PreflightThresholds": "sb3_diagnostics.thresholds",
    "QValueThresholds": "sb3_diagnostics.thresholds",
    "RewardThresholds": "sb3_diagnostics.thresholds",
    "ValueThresholds": "sb3_diagnostics.thresholds",
    "VecNormalizeThresholds": "sb3_diagnostics.thresholds",
    "DiagnosticsError": "sb3_diagnostics.errors",
    "EnvCrashedError": "sb3_diagnostics.errors",
    "InvalidThresholdError": "sb3_diagnostics.errors",
    "NotAnEnvironmentError": "sb3_diagnostics.errors",
    "ProbeSetupError": "sb3_diagnostics.errors",
    "ReportInputError": "sb3_diagnostics.errors",
    "UnknownCodeError": "sb3_diagnostics.errors",
    "WandbAlertSink": "sb3_diagnostics.sinks",
}

__all__ = [
    "BufferShapeCallback",
    "BufferThresholds",
    "CATALOG",
    "DiagnosticCallback",
    "DiagnosticWarning",
    "DiagnosticsCallback",
    "DiagnosticsError",
    "EntropyCollapseCallback",
    "EntropyThresholds",
    "EnvCrashedError",
    "EpisodeCallback",
    "EpisodeThresholds",
    "ExplainedVarianceCallback",
    "Finding",
    "GradientCallback",
    "GradientThresholds",
    "InvalidThresholdError",
    "KLThresholds",
    "KLWatchdogCallback",
    "LSTMResetCallback",
    "LSTMThresholds",
    "NaNCallback",
    "NotAnEnvironmentError",
    "PolicyCheckReport",
    "PreflightReport",
    "PreflightThresholds",
    "ProbeSetupError",
    "QValueCallback",
    "QValueThresholds",
    "ReportInputError",
    "RewardSignalCallback",
    "RewardThresholds",
    "Severity",
    "UnknownCodeError",
    "ValueThresholds",
    "VecNormalizeAuditCallback",
    "VecNormalizeThresholds",
    "WandbAlertSink",
    "__version__",
    "check_policy",
    "check_training_env",
    "evaluate_recurrent",
    "warn_missing_episode_start",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'sb3_diagnostics' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # the next access is a plain attribute lookup
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])


if TYPE_CHECKING:  # for IDEs and type checkers: the names above, eagerly
    from sb3_diagnostics.callbacks.base import DiagnosticCallback
    from sb3_diagnostics.callbacks.buffers import BufferShapeCallback
    from sb3_diagnostics.callbacks.composite import DiagnosticsCallback
    from sb3_diagnostics.callbacks.entropy import EntropyCollapseCallback
    from sb3_diagnostics.callbacks.episodes import EpisodeCallback
    from sb3_diagnostics.callbacks.gradients import GradientCallback
    from sb3_diagnostics.callbacks.kl import KLWatchdogCallback
    from sb3_diagnostics.callbacks.lstm import LSTMResetCallback
    from sb3_diagnostics.callbacks.nan import NaNCallback
    from sb3_diagnostics.callbacks.q_values import QValueCallback
    from sb3_diagnostics.callbacks.reward import RewardSignalCallback
    from sb3_diagnostics.callbacks.value import ExplainedVarianceCallback
    from sb3_diagnostics.callbacks.vecnormalize import VecNormalizeAuditCallback
    from sb3_diagnostics.catalog import CATALOG
    from sb3_diagnostics.errors import (
        DiagnosticsError,
        EnvCrashedError,
        InvalidThresholdError,
        NotAnEnvironmentError,
        ProbeSetupError,
        ReportInputError,
        UnknownCodeError,
    )
    from sb3_diagnostics.findings import Finding, Severity
    from sb3_diagnostics.policy import PolicyCheckReport, check_policy, evaluate_recurrent, warn_missing_episode_start
    from sb3_diagnostics.preflight import PreflightReport, check_training_env
    from sb3_diagnostics.sinks import WandbAlertSink
    from sb3_diagnostics.thresholds import (
        EntropyThresholds,
        EpisodeThresholds,
        GradientThresholds,
        KLThresholds,
        LSTMThresholds,
        PreflightThresholds,
        QValueThresholds,
        RewardThresholds,
        ValueThresholds,
        VecNormalizeThresholds,
    )
    from sb3_diagnostics.warnings import DiagnosticWarning
