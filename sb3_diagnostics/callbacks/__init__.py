"""
Training-time checks (the sources: they measure and name metrics), each a ``BaseCallback``, one
module per check key; :class:`DiagnosticsCallback` runs every one that applies.
"""

from sb3_diagnostics.callbacks.base import DiagnosticCallback
from sb3_diagnostics.callbacks.buffers import BufferShapeCallback
from sb3_diagnostics.callbacks.composite import CHECKS, DiagnosticsCallback
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

__all__ = [
    "CHECKS",
    "BufferShapeCallback",
    "DiagnosticCallback",
    "DiagnosticsCallback",
    "EntropyCollapseCallback",
    "EpisodeCallback",
    "ExplainedVarianceCallback",
    "GradientCallback",
    "KLWatchdogCallback",
    "LSTMResetCallback",
    "NaNCallback",
    "QValueCallback",
    "RewardSignalCallback",
    "VecNormalizeAuditCallback",
]
