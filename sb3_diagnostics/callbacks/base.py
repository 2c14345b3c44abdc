"""The base diagnostic callback: measure -> judge (the engine) -> warn -> record, with every hook guarded."""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any, ClassVar

import numpy as np
from stable_baselines3.common.callbacks import BaseCallback

from sb3_diagnostics.catalog import entry
from sb3_diagnostics.engine import Engine
from sb3_diagnostics.errors import InvalidThresholdError
from sb3_diagnostics.findings import Finding, Severity
from sb3_diagnostics.rules.base import Rule
from sb3_diagnostics.rules.registry import check as registry_check
from sb3_diagnostics.sb3.gradient_tap import GradientTap
from sb3_diagnostics.sb3.models import is_on_policy, shares_step_locals
from sb3_diagnostics.sb3.state import MetricCache
from sb3_diagnostics.sb3.train_log import dump_final_update, updates_done
from sb3_diagnostics.thresholds import Thresholds, require_whole_number
from sb3_diagnostics.triage import ReportText, format_report
from sb3_diagnostics.warnings import DiagnosticWarning

log = logging.getLogger("sb3_diagnostics")

StopOn = None | str | Severity | Iterable[str]

#: codes that never stop training: they are about the library, not the run
_NEVER_STOP = frozenset({"check_not_applicable", "diagnostics_internal_error"})


def parse_stop_on(stop_on: StopOn) -> tuple[Severity | None, frozenset[str]]:
    """
    Read ``stop_on``: None (never stop), a severity name (``"error"``: stop on any finding at or
    above it), or finding codes (a code or a list of codes).

    :return: (minimum severity or None, set of codes)
    :raises InvalidThresholdError: for anything else (naming what is accepted)
    :raises UnknownCodeError: for a code not in the catalog (listing the valid ones)
    """
    if stop_on is None:
        return None, frozenset()
    if isinstance(stop_on, Severity):
        return stop_on, frozenset()
    if isinstance(stop_on, str):
        if stop_on.lower() in ("info", "warning", "error"):
            return Severity.parse(stop_on), frozenset()
        stop_on = [stop_on]
    if not isinstance(stop_on, Iterable) or not all(isinstance(c, str) for c in stop_on):
        raise InvalidThresholdError(
            f"stop_on={stop_on!r}: use None, 'error', 'warning', a finding code or a list of codes "
            "(e.g. stop_on='error' or stop_on=['nan_detected'])."
        )
    codes = frozenset(stop_on)
    severities = sorted(c for c in codes if c.lower() in ("info", "warning", "error"))
    if severities:
        raise InvalidThresholdError(
            f"stop_on={stop_on!r}: a severity is given alone, as a string (stop_on={severities[0]!r}); a list holds "
            "finding codes (e.g. stop_on=['nan_detected'])."
        )
    for code in codes:
        entry(code)  # raises UnknownCodeError listing the valid codes
    return None, codes


def require_verbose(verbose: object) -> int:
    """:return: ``verbose`` (0, 1 or 2) :raises InvalidThresholdError: for anything else"""
    if isinstance(verbose, bool) or not isinstance(verbose, (int, np.integer)) or not 0 <= verbose <= 2:
        raise InvalidThresholdError(f"verbose={verbose!r}: use 0 (warnings only), 1 (also info findings) or 2 (also metrics).")
    return int(verbose)


def require_seed(seed: object) -> int:
    """:return: ``seed`` :raises InvalidThresholdError: when it is not a whole number >= 0"""
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise InvalidThresholdError(f"seed={seed!r}: use a whole number >= 0 (it seeds the checks' own sampling).")
    return int(seed)


class MeasureGate:
    """
    When the checks measure: at every rollout end on-policy. Off-policy algorithms end a "rollout" every
    ``train_freq`` steps; they are measured at the first rollout end once ``updates`` gradient updates
    happened since the last measurement (so the checks keep pace with the algorithm's own training:
    SAC / TD3 / TQC with one update per step every ``updates`` steps, DQN with one update per 4 steps
    every ``4 * updates``), and in any case once ``interval`` timesteps passed (before ``learning_starts``,
    or with few updates, the checks that read the environment still run). One gate serves every check of a
    ``DiagnosticsCallback``, so they all measure at the same steps. A step counter that restarts
    (``learn(reset_num_timesteps=True)``, or the callback reused on a new model) restarts the gate.

    :param interval: off-policy: timesteps after which a measurement is due whatever the updates
    :param updates: off-policy: gradient updates after which a measurement is due (None: only ``interval``)
    """

    def __init__(self, interval: int, updates: int | None = None) -> None:
        self.interval = interval
        self.updates = updates
        self.last = -math.inf
        self.last_updates = 0

    def due(self, model: Any) -> bool:
        """:return: whether the checks measure at this rollout end (idempotent for one step)"""
        if is_on_policy(model):
            return True
        step = model.num_timesteps
        if step == self.last:
            return True
        updates = updates_done(model)
        if step < self.last or updates < self.last_updates:
            self.last = -math.inf
        if step - self.last < self.interval and (self.updates is None or updates - self.last_updates < self.updates):
            return False
        self.last, self.last_updates = step, updates
        return True


def require_updates(updates: object) -> int | None:
    """:return: ``off_policy_updates`` (None or a whole number >= 1) :raises InvalidThresholdError: otherwise"""
    if updates is None:
        return None
    return require_whole_number("off_policy_updates", updates, 1, "gradient updates")


class DiagnosticCallback(BaseCallback):
    """
    Base class of the checks. Subclasses measure; the rules of their check (from
    :data:`sb3_diagnostics.rules.registry.CHECKS`, found by :attr:`check_name`, the check key)
    judge through the engine, which applies cooldowns, emits warnings and scalars. A bug in a
    check never crashes training: it becomes one ``diagnostics_internal_error`` finding and the
    check disables itself.

    Subclasses override :meth:`not_applicable`, :meth:`_measure` (called once per update) and
    optionally :meth:`_init_state`, :meth:`_setup`, :meth:`_on_env_step` (every environment step, keep it cheap),
    :meth:`_measure_final` (at the end of ``learn()``) and :meth:`_teardown`.

    :param thresholds: the check's ``Thresholds`` dataclass, a dict of its fields, or None (defaults)
    :param stop_on: None (never stop training), ``"error"`` / ``"warning"`` (stop on a finding at
        or above that severity), or a code / list of codes
    :param cooldown: updates a code must stay quiet before it is reported again
    :param seed: seed of the check's own random generator (for sub-sampling; never the global RNG)
    :param off_policy_interval: off-policy algorithms end a "rollout" every ``train_freq`` steps; measure
        at least once per this many timesteps there (on-policy: every rollout)
    :param off_policy_updates: off-policy: also measure once this many gradient updates happened since the last
        measurement (None: only every ``off_policy_interval`` timesteps)
    :param verbose: 0 only Python warnings and ``logging``; 1 also prints info-level findings;
        2 also prints every update's metrics
    """

    #: the check key: names the rule module, this callback's module and the ``thresholds=`` entry
    check_name: ClassVar[str] = "diagnostic"
    #: whether the check listens to the model's :class:`~sb3_diagnostics.sb3.gradient_tap.GradientTap`
    uses_tap: ClassVar[bool] = False

    def __init__(
        self,
        thresholds: Thresholds | Mapping[str, Any] | None = None,
        *,
        stop_on: StopOn = None,
        cooldown: int = 10,
        seed: int = 0,
        off_policy_interval: int = 1000,
        off_policy_updates: int | None = 250,
        verbose: int = 0,
    ) -> None:
        super().__init__(verbose=require_verbose(verbose))
        self.thresholds: Thresholds | None = registry_check(self.check_name).coerce(thresholds)
        self._stop_severity, self._stop_codes = parse_stop_on(stop_on)
        self.engine = Engine(cooldown=cooldown, verbose=self.verbose)
        self.gate = MeasureGate(require_whole_number("off_policy_interval", off_policy_interval, 1, "steps"),
                                require_updates(off_policy_updates))
        self.seed = require_seed(seed)
        self.rng = np.random.default_rng(self.seed)
        self._findings: list[Finding] = []
        self._rules: list[Rule] | None = None
        self._active = True
        self._reported_not_applicable = False
        self._stop_requested = False
        self._shared = False
        #: whether the last ``learn()`` ended with metrics judged after the last update (to be dumped)
        self.judged_final = False
        # Most checks only measure per update: skip the per-step call (the hot path) for them.
        #: whether the check has work at every environment step (it overrides ``_on_env_step``)
        self._has_step_work = type(self)._on_env_step is not DiagnosticCallback._on_env_step
        self.watches_steps = self._has_step_work
        self._init_state()

    def share(self, engine: Engine, gate: MeasureGate) -> None:
        """
        Judge through ``engine`` and measure by ``gate``: those of the ``DiagnosticsCallback`` that runs
        this check, which also writes the last update's scalars once every check has judged it.
        """
        self.engine, self.gate = engine, gate
        self._shared = True

    # -- public --------------------------------------------------------------------------------
    @property
    def findings(self) -> list[Finding]:
        """Findings of this check, in order of detection."""
        return list(self._findings)

    def report(self, min_severity: Severity | str = Severity.INFO) -> ReportText:
        """
        :param min_severity: leave out findings below this severity
        :return: the triage summary of this check's findings, root causes first (a ``str``; in Jupyter it
            displays as a table)
        """
        engine = self.engine
        return format_report(self.findings, min_severity=Severity.parse(min_severity), spans=engine.spans,
                             last_step=engine.last_step)

    @classmethod
    def not_applicable(cls, model: Any) -> str | None:
        """
        :param model: the algorithm to be trained
        :return: why this check cannot apply to ``model``, or None when it can
        """
        return None

    # -- subclass hooks ------------------------------------------------------------------------
    def _init_state(self) -> None:
        """Create the check's own state (called once, at the end of the constructor)."""

    def _setup(self) -> None:
        """Called at the start of every ``learn()`` once the model is known (e.g. to find wrappers)."""

    def _on_env_step(self) -> None:
        """Called at every environment step; ``self.locals`` holds the algorithm's locals."""

    def _measure(self) -> dict[str, float]:
        """Measure one update; returns metric name -> value."""
        return {}

    def _measure_final(self) -> dict[str, float]:
        """Measure at the end of ``learn()`` (after the last ``train()``)."""
        return {}

    def _teardown(self) -> None:
        """
        Release what :meth:`_setup` acquired (e.g. hooks on the model) at the end of every ``learn()``,
        even when the check is disabled or a warning turned into an error is propagating.
        """

    # -- helpers for subclasses ----------------------------------------------------------------
    def _cached(self, name: str, compute: Callable[[], Any]) -> Any:
        """A measurement shared by every check on this model, computed once per update."""
        return MetricCache.for_model(self.model).get(self.model.num_timesteps, name, compute)

    # -- SB3 hooks -----------------------------------------------------------------------------
    def _init_callback(self) -> None:
        # Runs at every learn() call: rules (and their history) survive repeated calls; a stop
        # requested in an earlier learn() does not carry over.
        self._stop_requested = False
        reason = self._guard(lambda: self.not_applicable(self.model))
        if not self._active:
            return
        if reason is not None:
            self._active = False
            if not self._reported_not_applicable:
                self._reported_not_applicable = True
                self._emit(Finding("check_not_applicable", Severity.INFO, self.model.num_timesteps,
                                   f"{type(self).__name__} does not apply: {reason}. It stays quiet.",
                                   entry("check_not_applicable").hint, check=self.check_name))
            return
        if self._rules is None:
            self._rules = self._guard(lambda: registry_check(self.check_name).make_rules(self.thresholds)) or []
        # ARS calls on_step() without the step's locals: per-step work has nothing to read there
        self.watches_steps = self._has_step_work and shares_step_locals(self.model)
        if self._active:
            self._guard(self._setup)

    def _on_step(self) -> bool:
        if self.watches_steps:
            self.step()
        return not self._stop_requested

    def step(self) -> None:
        """
        The per-environment-step work (:meth:`_on_env_step`), guarded like every hook. This is
        the hot path: :class:`~sb3_diagnostics.callbacks.composite.DiagnosticsCallback` calls it
        directly, without SB3's per-callback bookkeeping.
        """
        if self._active:
            self._guard(self._on_env_step)

    def _on_rollout_end(self) -> None:
        if self.uses_tap:
            GradientTap.rollout_ended(self.model)
        if self._active and self._guard(lambda: self.gate.due(self.model)):
            self._guard(lambda: self._judge(self._measure()))

    def _on_training_end(self) -> None:
        self.judged_final = False
        try:
            if self._active:
                self._guard(self._judge_final)
        finally:
            self._guard(self._teardown)
        if self.judged_final and not self._shared:
            # SB3 never dumps the last update of learn(): write it to the files (not to SB3's stdout table).
            dump_final_update(self.model.logger, self.model.num_timesteps)

    def _judge_final(self) -> None:
        metrics = self._measure_final()
        if metrics:
            self._judge(metrics)
            self.judged_final = True

    # -- judging -------------------------------------------------------------------------------
    def _judge(self, metrics: dict[str, float]) -> None:
        if not metrics:
            return
        for finding in self.engine.judge(self.model.num_timesteps, metrics, self._rules or [], self.check_name,
                                         self.model.logger):
            self._after_finding(finding)

    def _emit(self, finding: Finding) -> None:
        self.engine.add(finding, self.model.logger if self.model is not None else None)
        self._after_finding(finding)

    def _after_finding(self, finding: Finding) -> None:
        self._findings.append(finding)
        if finding.code in _NEVER_STOP:
            return
        if finding.code in self._stop_codes or (
            self._stop_severity is not None and finding.severity >= self._stop_severity
        ):
            self._stop_requested = True
            self.engine.stop_requested = True

    def _guard(self, fn: Callable[[], Any]) -> Any:
        """Run a hook; on any exception record one internal-error finding and disable this check."""
        try:
            return fn()
        except DiagnosticWarning:
            raise  # the user turned our warnings into errors (warnings.filterwarnings("error", ...))
        except Exception as exc:  # a bug in a check must never crash the user's training
            self._fail(exc)
            return None

    def _fail(self, exc: Exception) -> None:
        """Record one internal-error finding for ``exc`` (a bug in this check) and disable the check."""
        if not self._active:
            return
        self._active = False
        self.engine.checks_failed += 1
        log.debug("check %s failed", self.check_name, exc_info=exc)
        self._emit(Finding(
            "diagnostics_internal_error", Severity.WARNING, int(getattr(self.model, "num_timesteps", 0)),
            f"check '{self.check_name}' failed with {type(exc).__name__}: {exc}. It is disabled for the rest of "
            "this run; training continues.",
            entry("diagnostics_internal_error").hint, check=self.check_name,
        ))
        with contextlib.suppress(Exception):  # the check is already reported and disabled
            self._teardown()
