"""
Warning categories. Every finding at ``warning`` or above is raised as one of these, so
``warnings.filterwarnings("error", category=EntropyWarning)`` turns it into an exception
and ``warnings.filterwarnings("ignore", category=DiagnosticWarning)`` silences them all.
"""

from __future__ import annotations


class DiagnosticWarning(UserWarning):
    """Base class of every warning emitted by sb3-diagnostics."""


class NaNWarning(DiagnosticWarning):
    """NaN or Inf in observations, rewards, losses or parameters."""


class EnvironmentWarning(DiagnosticWarning):
    """The environment itself (observations, actions, resets, episode lengths) is faulty."""


class PipelineWarning(DiagnosticWarning):
    """Wrappers or buffers between the environment and the policy distort the data."""


class VecNormalizeWarning(PipelineWarning):
    """``VecNormalize`` clips or destabilises observations or rewards."""


class RecurrentStateWarning(PipelineWarning):
    """A recurrent policy carries hidden state across episode boundaries."""


class ValueFunctionWarning(DiagnosticWarning):
    """The critic does not explain the returns, or Q-values diverge."""


class ExplorationWarning(DiagnosticWarning):
    """The policy stopped exploring (entropy / action std collapsed) or never left random."""


class GradientWarning(DiagnosticWarning):
    """Gradients explode, vanish, or never reach some parameters."""


class AdvantageWarning(DiagnosticWarning):
    """Advantages carry no signal or are far too large."""


class PolicyUpdateWarning(DiagnosticWarning):
    """Policy updates are too large (KL, clipping) or do not happen at all."""


class RewardWarning(DiagnosticWarning):
    """The reward signal is zero, sparse, badly scaled, constant or decreasing."""


class DiagnosticsInternalWarning(DiagnosticWarning):
    """A check of sb3-diagnostics itself failed and was disabled; training continues."""


#: Family name used in the catalog -> warning category.
CATEGORIES: dict[str, type[DiagnosticWarning]] = {
    "nan": NaNWarning,
    "environment": EnvironmentWarning,
    "pipeline": PipelineWarning,
    "vecnormalize": VecNormalizeWarning,
    "recurrent": RecurrentStateWarning,
    "value": ValueFunctionWarning,
    "exploration": ExplorationWarning,
    "gradient": GradientWarning,
    "advantage": AdvantageWarning,
    "update": PolicyUpdateWarning,
    "reward": RewardWarning,
    "internal": DiagnosticsInternalWarning,
}
