"""
sb3-diagnostics: tells you why your Stable-Baselines3 agent is not learning.

    from sb3_diagnostics import DiagnosticsCallback
    cb = DiagnosticsCallback()
    model.learn(100_000, callback=cb)
    print(cb.report())
"""

import logging

from sb3_diagnostics.callbacks import (
    DiagnosticCallback,
    DiagnosticsCallback,
    EntropyCollapseCallback,
    ExplainedVarianceCallback,
    KLWatchdogCallback,
    LSTMResetCallback,
    VecNormalizeAuditCallback,
)
from sb3_diagnostics.catalog import (
    CATALOG,
    EntropyThresholds,
    KLThresholds,
    LSTMThresholds,
    ValueThresholds,
    VecNormalizeThresholds,
)
from sb3_diagnostics.errors import DiagnosticsError, InvalidThresholdError, UnknownCodeError
from sb3_diagnostics.findings import Finding, Severity
from sb3_diagnostics.warnings import DiagnosticWarning

__version__ = "0.1.0"

# A library adds no handler of its own: without this, logging's last-resort handler would print
# every finding a second time next to its Python warning.
logging.getLogger("sb3_diagnostics").addHandler(logging.NullHandler())

__all__ = [
    "CATALOG",
    "DiagnosticCallback",
    "DiagnosticWarning",
    "DiagnosticsCallback",
    "DiagnosticsError",
    "EntropyCollapseCallback",
    "EntropyThresholds",
    "ExplainedVarianceCallback",
    "Finding",
    "InvalidThresholdError",
    "KLThresholds",
    "KLWatchdogCallback",
    "LSTMResetCallback",
    "LSTMThresholds",
    "Severity",
    "UnknownCodeError",
    "ValueThresholds",
    "VecNormalizeAuditCallback",
    "VecNormalizeThresholds",
    "__version__",
]
