"""
Rules: judges of named metric streams, shared by the live callbacks and the post-hoc report.

Each rule reads metric names (see its ``inputs``) and returns :class:`Alert` s for its ``codes``.
"""

from sb3_diagnostics.rules.base import Alert, Metrics, Rule, Streak, Window
from sb3_diagnostics.rules.episodes import EpisodeRule
from sb3_diagnostics.rules.exploration import ActionStdRule, EntropyRule
from sb3_diagnostics.rules.pipeline import RecurrentStateRule, VecNormalizeRule
from sb3_diagnostics.rules.reward import RewardRule, reward_metrics
from sb3_diagnostics.rules.update import PolicyUpdateRule
from sb3_diagnostics.rules.value import AdvantageRule, ExplainedVarianceRule

__all__ = [
    "ActionStdRule",
    "AdvantageRule",
    "Alert",
    "EntropyRule",
    "EpisodeRule",
    "ExplainedVarianceRule",
    "Metrics",
    "PolicyUpdateRule",
    "RecurrentStateRule",
    "RewardRule",
    "Rule",
    "Streak",
    "VecNormalizeRule",
    "Window",
    "reward_metrics",
]
