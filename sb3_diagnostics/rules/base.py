"""
Rules judge a stream of named metric values. They know nothing about SB3.

A rule sees one ``observe(step, metrics)`` call per policy update (one rollout for on-policy
algorithms, one logged point when reading TensorBoard files). ``metrics`` maps metric names
(``"approx_kl"``, ``"entropy_normalized"``...) to floats; a missing name or a nan value
means "not measured this time". Names with a leading underscore (``_progress``, ``_lr_ratio``)
are context: rules read them, but they are not logged as ``diagnostics/`` scalars. The rule
returns the :class:`~sb3_diagnostics.findings.Alert` s that hold now; the
engine turns them into findings, applies cooldowns and emits them.

Nothing under ``rules/`` imports torch, SB3 or gymnasium (``tests/test_architecture.py``).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Mapping

import numpy as np

from sb3_diagnostics.findings import Alert

Metrics = Mapping[str, float]


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

    Subclasses set :attr:`codes` (what they can report), document the metric names they read,
    and implement :meth:`_observe`. They keep whatever history they need, in memory that does not
    grow with the length of the run.
    """

    codes: tuple[str, ...] = ()

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


def standard_error(std: float | None, count: float | None) -> float | None:
    """The standard error of a mean of ``count`` values of spread ``std`` (None when either is unknown or 0)."""
    return std / math.sqrt(count) if std is not None and count else None


class ReturnProgress:
    """
    How the mean episode return moved over the run: its first value, its best, the current one, and the
    last few. Answers "did the agent get better, and is it at its best now?", the question that separates a
    policy that converged (deterministic, short successful episodes) from one that collapsed.

    When the spread of the episode returns behind each mean is known (live: ``_ep_rew_std`` and
    ``_ep_count``, from SB3's ``ep_info_buffer``), a rise counts only if it stands out from the noise of the
    two means it compares: the first mean stands on a handful of episodes, and on a reward of pure noise it
    can lie far below every later one. Post hoc (SB3 logs only the mean) the rise is taken at face value.

    :param plateau: updates the return must stay at its best to count as a plateau
    :param confidence: standard errors by which the best mean must lie above the first one
    """

    def __init__(self, plateau: int = 10, confidence: float = 2.0) -> None:
        self.first: float | None = None
        self.best: float | None = None
        self.current: float | None = None
        self.confidence = confidence
        self._recent: deque[float] = deque(maxlen=plateau)
        self._first_count: float | None = None
        #: the spread of single episode returns early in the run (the first time it stands on a few episodes)
        self._early_std: float | None = None
        self._best_se: float | None = None

    def observe(self, metrics: Metrics) -> None:
        """Push ``_ep_rew_mean`` with its spread (``_ep_rew_std``, ``_ep_count``) when the update has them."""
        self.push(get(metrics, "_ep_rew_mean"), get(metrics, "_ep_rew_std"), get(metrics, "_ep_count"))

    def push(self, value: float | None, std: float | None = None, count: float | None = None) -> None:
        """
        :param value: the current mean episode return (None: not known this update)
        :param std: the standard deviation of the episode returns behind it, when known
        :param count: how many episodes it averages, when known
        """
        if value is None:
            return
        if std is None or count is None or count < 1:
            std = count = None
        if self.first is None:
            self.first = value
            self._first_count = count
        if std is not None and count is not None and self._early_std is None and count >= 5:
            self._early_std = std
        if self.best is None or value > self.best:
            self.best = value
            self._best_se = standard_error(std, count)
        self.current = value
        self._recent.append(value)

    def _noise(self) -> float:
        """The standard error of best - first; 0 when the spread is not known."""
        if self._first_count is None or self._early_std is None or self._best_se is None:
            return 0.0
        first_se = self._early_std / math.sqrt(self._first_count)
        return self.confidence * math.sqrt(first_se**2 + self._best_se**2)

    def improved(self, gain: float, near: float = 0.2) -> bool:
        """
        Whether the agent got better and is at its best now: the best return rose above the first by more than
        ``gain`` of their size (and by more than their noise) and the current one is within ``near`` of that rise
        from the best; or, on a task it solves from early on, the return rose at all and has stayed at its best
        for the last updates.

        :param gain: how much better than the first return the best must be, as a fraction of their size
        :param near: how close to the best the current return must be, as a fraction of the rise
        """
        if self.first is None or self.best is None or self.current is None:
            return False
        rise = self.best - self.first
        if rise <= self._noise():
            return False
        size = max(abs(self.first), abs(self.best), 1e-8)
        if rise > gain * size and self.current >= self.best - near * rise:
            return True
        full = self._recent.maxlen is not None and len(self._recent) == self._recent.maxlen
        return rise > 0 and full and min(self._recent) >= self.best - 0.02 * size

    def describe(self) -> str:
        """``"the mean return went from 21.3 to 498 (best 500)"``"""
        return f"the mean return went from {self.first:.3g} to {self.current:.3g} (best {self.best:.3g})"


def labels(metrics: Metrics, prefix: str) -> list[str]:
    """
    The labels carried by context keys ``<prefix><label>`` (e.g. parameter names), in insertion order.

    :param metrics: the update's metrics
    :param prefix: key prefix, e.g. ``"_no_grad:"``
    :return: the labels
    """
    return [key[len(prefix):] for key in metrics if key.startswith(prefix)]


def listing(names: list[str], limit: int = 5) -> str:
    """
    :param names: what to list
    :param limit: how many to show
    :return: ``"a, b, c"`` or ``"a, b, c and 4 more"``
    """
    shown = ", ".join(names[:limit])
    return shown if len(names) <= limit else f"{shown} and {len(names) - limit} more"


__all__ = ["Alert", "Metrics", "ReturnProgress", "Rule", "Streak", "Window", "get", "labels", "listing",
           "standard_error"]
