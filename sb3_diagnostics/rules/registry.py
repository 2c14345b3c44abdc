"""
The checks: check key -> thresholds dataclass and rule classes.

The check key is the one name of a concern: it names the rule module (``rules/<key>.py``), the
callback module (``callbacks/<key>.py``), the ``thresholds=`` entry of ``DiagnosticsCallback`` and
``--threshold <key>.<field>=...`` of the CLI, and the ``check`` column of the catalog. The live
callbacks and the post-hoc report both build their judges from this table, so they judge alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sb3_diagnostics.errors import InvalidThresholdError
from sb3_diagnostics.rules.base import Rule
from sb3_diagnostics.rules.buffers import BufferShapeRule
from sb3_diagnostics.rules.entropy import ActionNoiseRule, ActionStdRule, EntropyRule, ExplorationScheduleRule
from sb3_diagnostics.rules.episodes import EpisodeRule
from sb3_diagnostics.rules.gradients import GradientNormRule, NetworkRule, ParamGradRule, RegistrationRule
from sb3_diagnostics.rules.kl import NoUpdateRule, PolicyUpdateRule
from sb3_diagnostics.rules.lstm import RecurrentStateRule
from sb3_diagnostics.rules.nan import NonFiniteRule
from sb3_diagnostics.rules.q_values import QValueRule, TargetUpdateRule
from sb3_diagnostics.rules.reward import RewardRule
from sb3_diagnostics.rules.value import AdvantageRule, ExplainedVarianceRule
from sb3_diagnostics.rules.vecnormalize import VecNormalizeRule
from sb3_diagnostics.thresholds import (
    BufferThresholds,
    EntropyThresholds,
    EpisodeThresholds,
    GradientThresholds,
    KLThresholds,
    LSTMThresholds,
    QValueThresholds,
    RewardThresholds,
    Thresholds,
    ValueThresholds,
    VecNormalizeThresholds,
)


@dataclass(frozen=True)
class Check:
    """
    One check of the live callbacks.

    :param key: the check key
    :param thresholds: its thresholds dataclass (None: nothing to tune)
    :param rules: its rule classes, each built with the check's thresholds
    """

    key: str
    thresholds: type[Thresholds] | None
    rules: tuple[type[Rule], ...]

    def coerce(self, value: Thresholds | Mapping[str, Any] | None) -> Thresholds | None:
        """
        :param value: the user's thresholds for this check (dataclass, mapping of fields, or None)
        :return: a validated thresholds instance (None for a check without thresholds)
        :raises InvalidThresholdError: for unknown fields or values that cannot work
        """
        if self.thresholds is None:
            if value is not None:
                raise InvalidThresholdError(f"Check {self.key!r} takes no thresholds; remove it from thresholds=.")
            return None
        return self.thresholds.coerce(value)

    def make_rules(self, thresholds: Thresholds | Mapping[str, Any] | None = None) -> list[Rule]:
        """
        :param thresholds: this check's thresholds (dataclass, mapping of fields, or None for defaults)
        :return: one fresh instance of each rule class
        """
        coerced = self.coerce(thresholds)
        return [rule(coerced) for rule in self.rules]  # type: ignore[call-arg]


#: every live check, in the order the callbacks run them
CHECKS: dict[str, Check] = {
    c.key: c
    for c in (
        Check("nan", None, (NonFiniteRule,)),
        Check("buffers", BufferThresholds, (BufferShapeRule,)),
        Check("vecnormalize", VecNormalizeThresholds, (VecNormalizeRule,)),
        Check("lstm", LSTMThresholds, (RecurrentStateRule,)),
        Check("value", ValueThresholds, (ExplainedVarianceRule, AdvantageRule)),
        Check("q_values", QValueThresholds, (QValueRule, TargetUpdateRule)),
        Check("entropy", EntropyThresholds, (EntropyRule, ActionStdRule, ExplorationScheduleRule, ActionNoiseRule)),
        Check("gradients", GradientThresholds, (GradientNormRule, ParamGradRule, NetworkRule, RegistrationRule)),
        Check("kl", KLThresholds, (PolicyUpdateRule, NoUpdateRule)),
        Check("reward", RewardThresholds, (RewardRule,)),
        Check("episodes", EpisodeThresholds, (EpisodeRule,)),
    )
}


def check(key: str) -> Check:
    """
    :param key: a check key
    :return: its entry
    :raises InvalidThresholdError: naming the known checks
    """
    try:
        return CHECKS[key]
    except KeyError:
        raise InvalidThresholdError(f"Unknown check {key!r}; the checks are {', '.join(CHECKS)}.") from None


def coerce_all(thresholds: Mapping[str, Any] | None) -> dict[str, Thresholds | None]:
    """
    Validate per-check overrides, as ``DiagnosticsCallback(thresholds=...)`` and the CLI take them.

    :param thresholds: check key -> thresholds dataclass or mapping of fields (None: defaults)
    :return: check key -> validated thresholds, for the keys given
    :raises InvalidThresholdError: for an unknown check, field or value, or when ``thresholds`` is not a mapping
    """
    if thresholds is None:
        return {}
    if not isinstance(thresholds, Mapping):
        raise InvalidThresholdError(
            f"thresholds must map check keys to their thresholds, e.g. {{'kl': {{'kl_high': 0.3}}}}; got "
            f"{type(thresholds).__name__} {thresholds!r}. The checks are {', '.join(CHECKS)}."
        )
    return {str(key): check(str(key)).coerce(value) for key, value in thresholds.items()}


def all_rules(thresholds: Mapping[str, Any] | None = None) -> dict[str, list[Rule]]:
    """
    One fresh set of rules per check, built the way the callbacks build them.

    :param thresholds: per-check overrides keyed by check key
    :return: check key -> its rules
    """
    given = coerce_all(thresholds)
    return {key: c.make_rules(given.get(key)) for key, c in CHECKS.items()}
