"""
Checks of a policy, not of a training run: :func:`check_policy` (one gradient step's worth of checks,
without training) and the evaluation helpers of recurrent policies.
"""

from sb3_diagnostics.policy.check import PolicyCheckReport, check_policy
from sb3_diagnostics.policy.recurrent import evaluate_recurrent, warn_missing_episode_start

__all__ = ["PolicyCheckReport", "check_policy", "evaluate_recurrent", "warn_missing_episode_start"]
