"""
Pre-flight: check an environment before training on it. The measuring (driving the env, the
random rollout, the seeded replays) is here; the verdicts are rules
(:mod:`sb3_diagnostics.rules.environment`, :mod:`sb3_diagnostics.rules.reward`).
"""

from sb3_diagnostics.preflight.check import check_training_env
from sb3_diagnostics.preflight.report import PreflightReport

__all__ = ["PreflightReport", "check_training_env"]
