"""Training-time checks, each a ``BaseCallback``; :class:`DiagnosticsCallback` runs all that apply."""

from sb3_diagnostics.callbacks.base import DiagnosticCallback
from sb3_diagnostics.callbacks.composite import CHECKS, DiagnosticsCallback
from sb3_diagnostics.callbacks.entropy import EntropyCollapseCallback
from sb3_diagnostics.callbacks.explained_variance import ExplainedVarianceCallback
from sb3_diagnostics.callbacks.gradients import GradientCallback
from sb3_diagnostics.callbacks.kl import KLWatchdogCallback
from sb3_diagnostics.callbacks.lstm import LSTMResetCallback
from sb3_diagnostics.callbacks.nan import NaNCallback
from sb3_diagnostics.callbacks.offpolicy import BufferShapeCallback, QValueCallback
from sb3_diagnostics.callbacks.reward import RewardSignalCallback
from sb3_diagnostics.callbacks.vecnormalize import VecNormalizeAuditCallback

__all__ = [
    "BufferShapeCallback",
    "GradientCallback",
    "NaNCallback",
    "QValueCallback",
    "CHECKS",
    "DiagnosticCallback",
    "DiagnosticsCallback",
    "EntropyCollapseCallback",
    "ExplainedVarianceCallback",
    "KLWatchdogCallback",
    "LSTMResetCallback",
    "RewardSignalCallback",
    "VecNormalizeAuditCallback",
]
