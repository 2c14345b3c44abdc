"""
sb3-diagnostics: tells you why your Stable-Baselines3 agent is not learning.

    from sb3_diagnostics import DiagnosticsCallback
    cb = DiagnosticsCallback()
    model.learn(100_000, callback=cb)
    print(cb.report())
"""

import logging

from sb3_diagnostics.callbacks import (
    BufferShapeCallback,
    DiagnosticCallback,
    DiagnosticsCallback,
    EntropyCollapseCallback,
    ExplainedVarianceCallback,
    GradientCallback,
    KLWatchdogCallback,
    LSTMResetCallback,
    NaNCallback,
    QValueCallback,
    VecNormalizeAuditCallback,
)
from sb3_diagnostics.callbacks.reward import RewardSignalCallback
from sb3_diagnostics.catalog import (
    CATALOG,
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
from sb3_diagnostics.errors import (
    DiagnosticsError,
    EnvCrashedError,
    InvalidThresholdError,
    NotAnEnvironmentError,
    UnknownCodeError,
)
from sb3_diagnostics.findings import Finding, Severity
from sb3_diagnostics.policy_check import PolicyCheckReport, check_policy, evaluate_recurrent, warn_missing_episode_start
from sb3_diagnostics.preflight import PreflightReport, check_training_env
from sb3_diagnostics.warnings import DiagnosticWarning

__version__ = "0.1.0"

# A library adds no handler of its own: without this, logging's last-resort handler would print
# every finding a second time next to its Python warning.
logging.getLogger("sb3_diagnostics").addHandler(logging.NullHandler())

__all__ = [
    "BufferShapeCallback",
    "CATALOG",
    "DiagnosticCallback",
    "DiagnosticWarning",
    "DiagnosticsCallback",
    "DiagnosticsError",
    "EntropyCollapseCallback",
    "EntropyThresholds",
    "EnvCrashedError",
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
    "QValueCallback",
    "QValueThresholds",
    "RewardSignalCallback",
    "RewardThresholds",
    "Severity",
    "UnknownCodeError",
    "ValueThresholds",
    "VecNormalizeAuditCallback",
    "VecNormalizeThresholds",
    "__version__",
    "check_policy",
    "check_training_env",
    "evaluate_recurrent",
    "warn_missing_episode_start",
]
