"""
Rules judge a stream of named metric values. They know nothing about SB3.

A rule sees one ``observe(step, metrics)`` call per policy update (one rollout for on-policy
algorithms, one logged point when reading TensorBoard files). ``metrics`` maps metric names
(``"approx_kl"``, ``"entropy_normalized"``...) to floats; a missing name or a nan value
means "not measured this time". Names with a leading underscore (``_progress``, ``_lr_ratio``)
are context: rules read them, but they are not logged as ``diagnostics/`` scalars. The rule
returns the :class:`Alert` s that hold now; the
core turns them into findings, applies cooldowns and emits them.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from sb3_diagnostics.findings import Severity

Metrics = Mapping[str, float]


@dataclass(frozen=True)
class Alert:
    """
    A rule's verdict that a code holds at this update.

    :param code: catalog code
    :param message: what was seen, with the numbers, and why it matters
    :param value: the measured value
    :param threshold: the threshold it crossed
    :param severity: overrides the catalog default when given (e.g. explained variance < -0.5 -> error)
    :param hint: overrides the catalog hint when given (e.g. with a computed suggestion)
    """

    code: str
    message: str
    value: float
    threshold: float
    severity: Severity | None = None
    hint: str | None = None


def get(metrics: Metrics, name: str) -> float | None:
    """
    Read a metric, treating missing, None and nan alike.

    :param metrics: the update's metrics
    :param name: metric name
    :return: the value, or None when it was not measured
    """
    value = metrics.get(name)
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) else value


class Streak:
    """Counts how many consecutive observations satisfied a condition."""

    def __init__(self) -> None:
        self.count = 0

    def update(self, condition: bool) -> int:
        """
        :param condition: whether the condition holds at this observation
        :return: the length of the current run of True (0 after a False)
        """
        self.count = self.count + 1 if condition else 0
        return self.count


class Window:
    """The last ``size`` values of a metric, with the statistics rules need."""

    def __init__(self, size: int) -> None:
        self.values: deque[float] = deque(maxlen=size)

    def push(self, value: float) -> None:
        self.values.append(value)

    @property
    def full(self) -> bool:
        return len(self.values) == self.values.maxlen

    def __len__(self) -> int:
        return len(self.values)

    def median(self) -> float:
        return float(np.median(self.values)) if self.values else float("nan")

    def mean(self) -> float:
        return float(np.mean(self.values)) if self.values else float("nan")

    def first(self) -> float:
        return self.values[0] if self.values else float("nan")


class Rule(ABC):
    """
    Judges one family of codes from a stream of metrics.

    Subclasses set :attr:`codes` (what they can report) and :attr:`inputs` (metric names they
    read) and implement :meth:`observe`. They keep whatever history they need.
    """

    codes: tuple[str, ...] = ()
    inputs: tuple[str, ...] = ()

    def __init__(self) -> None:
        self.updates = 0

    def observe(self, step: int, metrics: Metrics) -> list[Alert]:
        """
        Feed one update's metrics.

        :param step: ``num_timesteps`` of the update
        :param metrics: metric name -> value (missing or nan: not measured)
        :return: the alerts that hold now
        """
        self.updates += 1
        return self._observe(step, metrics)

    @abstractmethod
    def _observe(self, step: int, metrics: Metrics) -> list[Alert]:
        """Judge one update; ``self.updates`` already counts it."""
