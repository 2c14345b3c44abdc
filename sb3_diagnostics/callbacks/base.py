"""The base diagnostic callback: measure -> judge -> warn -> record, with every hook guarded."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable
from typing import Any, ClassVar

import numpy as np
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm

from sb3_diagnostics.catalog import Thresholds, entry
from sb3_diagnostics.core import DiagnosticsCore, MetricCache
from sb3_diagnostics.errors import InvalidThresholdError, require_whole_number
from sb3_diagnostics.findings import Finding, Severity
from sb3_diagnostics.rules.base import Rule
from sb3_diagnostics.triage import format_report
from sb3_diagnostics.warnings import DiagnosticWarning

log = logging.getLogger("sb3_diagnostics")

StopOn = None | str | Severity | Iterable[str]


def parse_stop_on(stop_on: StopOn) -> tuple[Severity | None, frozenset[str]]:
    """
    Read ``stop_on``: None (never stop), a severity name (``"error"``: stop on any finding at or
    above it), or finding codes (a code or a list of codes).

    :return: (minimum severity or None, set of codes)
    """
    if stop_on is None:
        return None, frozenset()
    if isinstance(stop_on, Severity):
        return stop_on, frozenset()
    if isinstance(stop_on, str):
        if stop_on.lower() in ("info", "warning", "error"):
            return Severity.parse(stop_on), frozenset()
        stop_on = [stop_on]
    codes = frozenset(stop_on)
    for code in codes:
        entry(code)  # raises UnknownCodeError listing the valid codes
    return None, codes


class DiagnosticCallback(BaseCallback):
    """
    Base class of the checks. Subclasses measure and name their rules; this class judges,
    applies cooldowns, emits warnings and scalars, and keeps a bug in a check from ever
    crashing training (the check becomes one ``diagnostics_internal_error`` finding and
    disables itself).

    Subclasses override :meth:`not_applicable`, :meth:`_make_rules`, :meth:`_measure` (called
    once per update) and optionally :meth:`_on_env_step` (every environment step, keep it cheap)
    and :meth:`_measure_final` (at the end of ``learn()``).

    :param thresholds: a ``Thresholds`` dataclass of this check, or a dict of its fields, or None
    :param stop_on: None (never stop training), ``"error"`` / ``"warning"`` (stop on a finding at
        or above that severity), or a code / list of codes
    :param cooldown: updates a code must stay quiet before it is reported again
    :param seed: seed of the check's own random generator (for sub-sampling; never the global RNG)
    :param off_policy_interval: off-policy algorithms end a "rollout" every ``train_freq`` steps;
        measure at most once per this many timesteps there (on-policy: every rollout)
    :param verbose: 0 only Python warnings and ``logging``; 1 also prints info-level findings;
        2 also prints every update's metrics
    """

    #: name used in findings and messages
    check_name: ClassVar[str] = "diagnostic"
    #: the thresholds dataclass of the check, if it has one
    thresholds_class: ClassVar[type[Thresholds] | None] = None
    #: the rules the check feeds; each is built with the check's thresholds
    rule_classes: ClassVar[tuple[type[Rule], ...]] = ()

    def __init__(
        self,
        thresholds: Thresholds | dict[str, Any] | None = None,
        *,
        stop_on: StopOn = None,
        cooldown: int = 10,
        seed: int = 0,
        off_policy_interval: int = 1000,
        verbose: int = 0,
        core: DiagnosticsCore | None = None,
    ) -> None:
        super().__init__(verbose=verbose)
        if self.thresholds_class is not None:
            self.thresholds: Thresholds | None = self.thresholds_class.coerce(thresholds)
        elif thresholds is not None:
            raise InvalidThresholdError(f"{type(self).__name__} takes no thresholds.")
        else:
            self.thresholds = None
        self._stop_severity, self._stop_codes = parse_stop_on(stop_on)
        self.core = core if core is not None else DiagnosticsCore(cooldown=cooldown, verbose=verbose)
        self.off_policy_interval = require_whole_number("off_policy_interval", off_policy_interval, 1, "steps")
        self.rng = np.random.default_rng(seed)
        self._findings: list[Finding] = []
        self._rules: list[Rule] | None = None
        self._active = True
        self._reported_not_applicable = False
        self._stop_requested = False
        self._last_measured = -math.inf
        # Most checks only measure per update: skip the per-step call (the hot path) for them.
        #: whether the check has work at every environment step (it overrides ``_on_env_step``)
        self.watches_steps = type(self)._on_env_step is not DiagnosticCallback._on_env_step

    # -- public --------------------------------------------------------------------------------
    @property
    def findings(self) -> list[Finding]:
        """Findings of this check, in order of detection."""
        return list(self._findings)

    def report(self, min_severity: Severity | str = Severity.INFO) -> str:
        """
        :param min_severity: leave out findings below this severity
        :return: the triage summary of this check's findings, most upstream cause first
        """
        return format_report(self.findings, min_severity=Severity.parse(min_severity))

    @classmethod
    def make_rules(cls, thresholds: Thresholds | dict[str, Any] | None = None) -> list[Rule]:
        """
        The check's rules, fresh. The post-hoc report builds its judges here too, so live and
        offline judging share one definition.

        :param thresholds: this check's thresholds (dataclass, dict of fields, or None for defaults)
        :return: one new instance of each rule class
        """
        coerced = cls.thresholds_class.coerce(thresholds) if cls.thresholds_class is not None else None
        return [rule(coerced) for rule in cls.rule_classes]  # type: ignore[call-arg]

    @classmethod
    def not_applicable(cls, model: BaseAlgorithm) -> str | None:
        """
        :param model: the algorithm to be trained
        :return: why this check cannot apply to ``model``, or None when it can
        """
        return None

    # -- subclass hooks ------------------------------------------------------------------------
    def _make_rules(self) -> list[Rule]:
        return self.make_rules(self.thresholds)

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
        # Runs at every learn() call: rules (and their history) survive repeated calls.
        reason = self.not_applicable(self.model)
        if reason is not None:
            self._active = False
            if not self._reported_not_applicable:
                self._reported_not_applicable = True
                self._emit(Finding("check_not_applicable", Severity.INFO, self.model.num_timesteps,
                                   f"{type(self).__name__} does not apply: {reason}. It stays quiet.",
                                   entry("check_not_applicable").hint, check=self.check_name))
            return
        if self._rules is None:
            self._rules = self._guard(self._make_rules) or []
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
        if not self._active:
            return
        off_policy = not isinstance(self.model, OnPolicyAlgorithm)
        if off_policy and self.model.num_timesteps - self._last_measured < self.off_policy_interval:
            return
        self._last_measured = self.model.num_timesteps
        self._guard(lambda: self._judge(self._measure()))

    def _on_training_end(self) -> None:
        try:
            if self._active:
                self._guard(self._judge_final)
        finally:
            self._teardown()

    def _judge_final(self) -> None:
        metrics = self._measure_final()
        if metrics:
            self._judge(metrics)
            # SB3 never dumps the last update of learn(); write it, as EvalCallback dumps its results.
            self.model.logger.dump(self.model.num_timesteps)

    # -- judging -------------------------------------------------------------------------------
    def _judge(self, metrics: dict[str, float]) -> None:
        if not metrics:
            return
        step = self.model.num_timesteps
        logger = self.model.logger
        self.core.start_update(step, logger)
        self.core.record_metrics(logger, metrics)
        for rule in self._rules or []:
            for alert in rule.observe(step, metrics):
                finding = self.core.handle(alert, step, self.check_name, logger)
                if finding is not None:
                    self._after_finding(finding)

    def _emit(self, finding: Finding) -> None:
        self.core.add(finding, self.model.logger if self.model is not None else None)
        self._after_finding(finding)

    def _after_finding(self, finding: Finding) -> None:
        self._findings.append(finding)
        if finding.code in self._stop_codes or (
            self._stop_severity is not None and finding.severity >= self._stop_severity
            and finding.code not in ("check_not_applicable", "diagnostics_internal_error")
        ):
            self._stop_requested = True
            self.core.stop_requested = True

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
        self._active = False
        self.core.checks_failed += 1
        log.debug("check %s failed", self.check_name, exc_info=exc)
        self._emit(Finding(
            "diagnostics_internal_error", Severity.WARNING, int(getattr(self.model, "num_timesteps", 0)),
            f"check '{self.check_name}' failed with {type(exc).__name__}: {exc}. It is disabled for the rest of "
            "this run; training continues.",
            entry("diagnostics_internal_error").hint, check=self.check_name,
        ))

