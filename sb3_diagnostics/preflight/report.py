"""What ``check_training_env`` returns: the findings, and what the random rollout measured."""

from __future__ import annotations

import math
from typing import Any

from sb3_diagnostics.triage import Report


class PreflightReport(Report):
    """
    The findings of :func:`check_training_env` (a ``list[Finding]``, most upstream first) plus
    a summary of what the random rollout saw.

    :param findings: the findings
    :param summary: measured context: episode statistics, the random policy's return, reward and
        observation statistics, notes on checks that were skipped or inconclusive
    """

    @property
    def random_return_mean(self) -> float:
        """Mean episode return of the random policy: the baseline a trained agent must beat."""
        return float(self.summary.get("random_return_mean", math.nan))

    @property
    def random_return_std(self) -> float:
        """Standard deviation of the random policy's episode returns (nan with fewer than two episodes)."""
        return float(self.summary.get("random_return_std", math.nan))

    @property
    def title(self) -> str:  # type: ignore[override]
        return f"sb3-diagnostics pre-flight: {self.summary.get('env', 'environment')}"

    def _rows(self) -> list[tuple[str, str]]:
        s = self.summary
        rows = [
            ("environment", s.get("env", "?")),
            ("observation", f"{s.get('observation_space', '?')}: {s.get('obs_dims', '?')} flat dims"),
            ("action", str(s.get("action_space", "?"))),
            ("random steps", f"{s.get('steps', '?')} (seed {s.get('seed', '?')}, {s.get('n_envs', 1)} env(s))"),
        ]
        n_ep = s.get("episodes", 0)
        if n_ep:
            rows.append(("episodes", (
                f"{n_ep} finished, length {_pm(s.get('episode_length_mean'), s.get('episode_length_std'))} "
                f"(min {s.get('episode_length_min')}, max {s.get('episode_length_max')}), "
                f"{100 * s.get('truncated_frac', 0.0):.0f}% truncated"
            )))
            rows.append(("random return", (
                f"{_pm(self.random_return_mean, self.random_return_std)}   <- the baseline a trained agent must beat"
            )))
        else:
            rows.append(("episodes", "none finished: no random baseline"))
        if "reward_mean" in s:
            rows.append(("reward per step", (
                f"{_pm(s.get('reward_mean'), s.get('reward_std'))} in [{_g(s.get('reward_min'))}, "
                f"{_g(s.get('reward_max'))}], {100 * s.get('reward_nonzero_frac', math.nan):.1f}% non-zero, "
                f"|mean|/std {_g(s.get('reward_snr'))}"
            )))
        if s.get("return_abs_max") is not None:
            rows.append(("discounted ret.", f"max |G| {_g(s.get('return_abs_max'))} (gamma {s.get('gamma')})"))
        if s.get("obs_std_min") is not None:
            rows.append(("obs std", f"{_g(s.get('obs_std_min'))} .. {_g(s.get('obs_std_max'))} over continuous dims"))
        if s.get("reward_corr_best") is not None:
            rows.append(("reward corr.", f"best |corr| {_g(s.get('reward_corr_best'))} with {s.get('reward_corr_feature')}"))
        return rows

    def __repr__(self) -> str:
        codes = ", ".join(f"{f.code}({f.severity})" for f in self)
        return f"PreflightReport([{codes}], random_return={self.random_return_mean:.3g})"


def _g(x: Any) -> str:
    return "nan" if x is None else f"{float(x):.4g}"


def _pm(mean: Any, std: Any) -> str:
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return "n/a"
    return f"{float(mean):.4g} +- {_g(std)}"
