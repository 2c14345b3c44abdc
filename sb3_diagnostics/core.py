"""
The shared metrics core: turns rule alerts into findings and emits them.

One :class:`DiagnosticsCore` serves every check of a ``DiagnosticsCallback``. It owns:

- the findings, in order of detection;
- the per-code cooldown: a code that keeps holding is reported once per *episode of trouble*;
  it is reported again only after it has been quiet for more than ``cooldown`` updates, or
  when its severity escalates (``clip_fraction_high`` from info to warning);
- emission: Python warnings (category from the catalog family, ``stacklevel`` pointing at the
  user's ``learn()`` call), the SB3 logger (``diagnostics/<metric>`` scalars every update,
  ``diagnostics/alert/<code>`` series, ``diagnostics/findings/<code>`` TensorBoard text),
  and the ``sb3_diagnostics`` :mod:`logging` logger.

:class:`MetricCache` lets several checks (or several standalone callbacks on one model) share
measurements, so each metric is computed once per update.
"""

from __future__ import annotations

import logging
import math
import os
import sys
import warnings
import weakref
from collections import Counter
from collections.abc import Callable, Mapping
from types import FrameType
from typing import Any, TypeVar

from sb3_diagnostics.catalog import entry
from sb3_diagnostics.errors import require_whole_number
from sb3_diagnostics.findings import Finding, Severity
from sb3_diagnostics.rules.base import Alert
from sb3_diagnostics.warnings import CATEGORIES

log = logging.getLogger("sb3_diagnostics")

_LOG_LEVELS = {Severity.INFO: logging.INFO, Severity.WARNING: logging.WARNING, Severity.ERROR: logging.ERROR}
_TEXT_ONLY = ("stdout", "log", "json", "csv")

V = TypeVar("V")


def _package_dir(name: str) -> str | None:
    module = sys.modules.get(name)
    path = getattr(module, "__file__", None)
    return os.path.dirname(path) + os.sep if path else None


def _user_stacklevel() -> int:
    """Stack level of the first frame outside sb3-diagnostics, SB3, sb3-contrib and torch (the user's ``learn`` call)."""
    packages = ("sb3_diagnostics", "stable_baselines3", "sb3_contrib", "torch")
    internal = tuple(d for d in map(_package_dir, packages) if d)
    frame: FrameType | None = sys._getframe(1)  # level 1 is our caller (the warnings.warn site)
    level = 1
    while frame is not None and frame.f_code.co_filename.startswith(internal):
        frame, level = frame.f_back, level + 1
    return level


class DiagnosticsCore:
    """
    Findings, cooldowns and emission, shared by the checks of one callback.

    :param cooldown: updates a code must stay quiet before it is reported again
    :param verbose: 0 only warnings (and ``logging``); 1 also prints info findings;
        2 also prints every update's metrics
    :param emit: False to only collect findings (the post-hoc report): no warnings, no logging
    """

    def __init__(self, cooldown: int = 10, verbose: int = 0, emit: bool = True) -> None:
        self.cooldown = require_whole_number("cooldown", cooldown, 0, "updates")
        self.verbose = verbose
        self.emit = emit
        self.findings: list[Finding] = []
        #: how often each code held, including the repeats the cooldown kept quiet
        self.occurrences: Counter[str] = Counter()
        self.update_index = 0
        #: a check of this core asked training to stop (its ``stop_on`` matched a finding)
        self.stop_requested = False
        #: checks of this core disabled by a bug in them so far (the composite stops calling them)
        self.checks_failed = 0
        self._current_step: int | None = None
        self._last_held: dict[str, int] = {}
        self._episode_severity: dict[str, Severity] = {}

    # -- updates -------------------------------------------------------------------------------
    def start_update(self, step: int, logger: Any | None) -> None:
        """
        Mark the start of the judging for one update. Idempotent per step, so every check of a
        composite may call it. Resets the ``diagnostics/alert/<code>`` series to 0 for codes
        that fired before; a code that holds again sets it back to 1.

        :param step: ``num_timesteps`` of the update
        :param logger: the model's SB3 logger, or None
        """
        if step == self._current_step:
            return
        self._current_step = step
        self.update_index += 1
        if logger is not None:
            for code in self._last_held:
                logger.record(f"diagnostics/alert/{code}", 0.0)

    def record_metrics(self, logger: Any | None, metrics: Mapping[str, float]) -> None:
        """
        Record ``diagnostics/<name>`` scalars (names starting with ``_`` are context, not recorded).

        :param logger: the model's SB3 logger, or None
        :param metrics: metric name -> value
        """
        public = {k: float(v) for k, v in metrics.items() if not k.startswith("_") and v is not None}
        if logger is not None:
            for name, value in public.items():
                if math.isfinite(value):
                    logger.record(f"diagnostics/{name}", value)
        if self.verbose >= 2 and public:
            shown = ", ".join(f"{k}={v:.4g}" for k, v in sorted(public.items()))
            print(f"sb3-diagnostics step {self._current_step}: {shown}")

    # -- findings ------------------------------------------------------------------------------
    def handle(self, alert: Alert, step: int, check: str, logger: Any | None) -> Finding | None:
        """
        Apply the cooldown to an alert; emit and return a new finding when it starts an episode of trouble.

        :param alert: what the rule saw
        :param step: ``num_timesteps``
        :param check: name of the reporting check
        :param logger: the model's SB3 logger, or None
        :return: the new finding, or None when the cooldown kept it quiet
        """
        row = entry(alert.code)
        severity = alert.severity or row.severity
        last = self._last_held.get(alert.code)
        new_episode = last is None or self.update_index - last > self.cooldown
        escalated = not new_episode and severity > self._episode_severity.get(alert.code, severity)
        self._last_held[alert.code] = self.update_index
        self.occurrences[alert.code] += 1
        if logger is not None:
            logger.record(f"diagnostics/alert/{alert.code}", 1.0)
        if not (new_episode or escalated):
            return None
        self._episode_severity[alert.code] = severity
        finding = Finding(
            code=alert.code,
            severity=severity,
            step=int(step),
            message=alert.message,
            hint=alert.hint or row.hint,
            value=float(alert.value),
            threshold=float(alert.threshold),
            check=check,
        )
        self.add(finding, logger)
        return finding

    def add(self, finding: Finding, logger: Any | None = None) -> None:
        """
        Store a finding and emit it, bypassing the cooldown (internal errors, not-applicable notes).

        :param finding: the finding
        :param logger: the model's SB3 logger, or None
        """
        self.findings.append(finding)
        if not self.emit:
            return
        text = str(finding)
        log.log(_LOG_LEVELS[finding.severity], text)
        if logger is not None:
            logger.record(
                f"diagnostics/findings/{finding.code}",
                f"**{finding.severity}** at step {finding.step}: {finding.message}\n\n{finding.hint}",
                exclude=_TEXT_ONLY,
            )
        if finding.severity >= Severity.WARNING:
            category = CATEGORIES[entry(finding.code).family]
            warnings.warn(text, category, stacklevel=_user_stacklevel())
        elif self.verbose >= 1:
            print(f"sb3-diagnostics info: {text}")


def warn_findings(findings: list[Finding]) -> None:
    """
    Emit findings judged outside training (pre-flight, policy checks) the way the callbacks do:
    a Python warning and a log record for each one at ``warning`` or above.

    :param findings: the findings, already in the order they should be read
    """
    core = DiagnosticsCore(cooldown=0, verbose=0)
    for finding in findings:
        if finding.severity >= Severity.WARNING:
            core.add(finding)


P = TypeVar("P", bound="PerModel")


class PerModel:
    """
    Base for state that exists once per model and is shared by every check on it (the metric cache,
    the gradient hooks). Kept in a per-class ``WeakKeyDictionary``: it goes away with the model.
    Subclasses are built with no arguments.
    """

    _by_model: weakref.WeakKeyDictionary[Any, Any]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._by_model = weakref.WeakKeyDictionary()

    @classmethod
    def for_model(cls: type[P], model: Any) -> P:
        """
        :param model: an SB3 algorithm
        :return: the instance shared by every check on that model
        """
        found = cls._by_model.get(model)
        if found is None:
            found = cls._by_model[model] = cls()
        return found  # type: ignore[no-any-return]


class MetricCache(PerModel):
    """
    Measurements of the current update, shared by every check on one model.

    Values are keyed by ``(step, name)``; entries of older steps are dropped when a new step
    begins. ``state`` keeps small per-model bookkeeping between updates (e.g. the last
    ``_n_updates`` seen).
    """

    def __init__(self) -> None:
        self._step: int | None = None
        self._values: dict[str, Any] = {}
        self.state: dict[str, Any] = {}

    def get(self, step: int, name: str, compute: Callable[[], V]) -> V:
        """
        Return the value of ``name`` at ``step``, computing it once.

        :param step: ``num_timesteps``
        :param name: measurement name
        :param compute: called on the first request at this step
        :return: the (cached) value
        """
        if step != self._step:
            self._step, self._values = step, {}
        if name not in self._values:
            self._values[name] = compute()
        return self._values[name]  # type: ignore[no-any-return]
