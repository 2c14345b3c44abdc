"""
Rules: judges of named metric streams, shared by the live callbacks, the post-hoc report and the
pre-flight. One module per check key; :mod:`~sb3_diagnostics.rules.registry` maps each key to its
thresholds and rules. Nothing here imports torch, SB3 or gymnasium.
"""

from sb3_diagnostics.rules.base import Metrics, Rule, Streak, Window
from sb3_diagnostics.rules.registry import CHECKS, Check

__all__ = ["CHECKS", "Check", "Metrics", "Rule", "Streak", "Window"]
