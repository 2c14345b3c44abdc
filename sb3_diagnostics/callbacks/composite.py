"""DiagnosticsCallback: every check that applies to the model, sharing one core."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from stable_baselines3.common.callbacks import BaseCallback, CallbackList
from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm

from sb3_diagnostics.callbacks.base import DiagnosticCallback, StopOn, parse_stop_on
from sb3_diagnostics.callbacks.entropy import EntropyCollapseCallback
from sb3_diagnostics.callbacks.explained_variance import ExplainedVarianceCallback
from sb3_diagnostics.callbacks.gradients import GradientCallback
from sb3_diagnostics.callbacks.kl import KLWatchdogCallback
from sb3_diagnostics.callbacks.lstm import LSTMResetCallback
from sb3_diagnostics.callbacks.nan import NaNCallback
from sb3_diagnostics.callbacks.offpolicy import BufferShapeCallback, QValueCallback
from sb3_diagnostics.callbacks.reward import RewardSignalCallback
from sb3_diagnostics.callbacks.vecnormalize import VecNormalizeAuditCallback
from sb3_diagnostics.core import DiagnosticsCore
from sb3_diagnostics.errors import InvalidThresholdError, require_whole_number
from sb3_diagnostics.findings import Finding, Severity
from sb3_diagnostics.logkeys import CUSTOM_SCALARS_LAYOUT
from sb3_diagnostics.triage import format_report
from sb3_diagnostics.warnings import DiagnosticWarning

#: check name -> callback class, in the order they run
CHECKS: dict[str, type[DiagnosticCallback]] = {
    cls.check_name: cls
    for cls in (
        NaNCallback,
        BufferShapeCallback,
        VecNormalizeAuditCallback,
        LSTMResetCallback,
        ExplainedVarianceCallback,
        QValueCallback,
        EntropyCollapseCallback,
        GradientCallback,
        KLWatchdogCallback,
        RewardSignalCallback,
    )
}


class DiagnosticsCallback(CallbackList):
    """
    One line to add to an existing script: ``model.learn(N, callback=DiagnosticsCallback())``.

    Picks every check that applies to the model (algorithm, action space, wrappers, recurrent
    policy), runs them on one shared core (one cooldown per code, each metric measured once per
    update), warns as problems appear and logs ``diagnostics/*`` scalars to the model's logger.
    Afterwards, :attr:`findings` lists what was found and :meth:`report` gives the triage.

    :param thresholds: per-check overrides, keyed by check name (``"entropy"``, ``"value"``,
        ``"kl"``, ``"vecnormalize"``, ``"lstm"``, ``"reward"``, ``"gradients"``, ``"q_values"``): a
        thresholds dataclass or a dict of its fields,
        e.g. ``{"kl": {"kl_high": 0.3}}``
    :param checks: names of the checks to run (default: all that apply)
    :param stop_on: None (never stop), ``"error"`` / ``"warning"`` (stop training at the first
        finding at or above that severity), or a code / list of codes
    :param cooldown: updates a code must stay quiet before it is reported again
    :param seed: seed of the checks' own random generator (never the global RNG)
    :param off_policy_interval: for off-policy algorithms, measure at most once per this many timesteps
    :param verbose: 0 only Python warnings and ``logging``; 1 also prints info findings and which
        checks run; 2 also prints every update's metrics
    """

    def __init__(
        self,
        thresholds: dict[str, Any] | None = None,
        *,
        checks: list[str] | None = None,
        stop_on: StopOn = None,
        cooldown: int = 10,
        seed: int = 0,
        off_policy_interval: int = 1000,
        verbose: int = 0,
    ) -> None:
        super().__init__([])
        self.thresholds = dict(thresholds or {})
        unknown = (set(self.thresholds) | set(checks or [])) - set(CHECKS)
        if unknown:
            raise InvalidThresholdError(f"Unknown check(s) {sorted(unknown)}; the checks are {sorted(CHECKS)}.")
        self.check_names = list(checks) if checks is not None else list(CHECKS)
        parse_stop_on(stop_on)  # validate now, not at the first finding
        self.stop_on = stop_on
        self.seed = seed
        self.off_policy_interval = require_whole_number("off_policy_interval", off_policy_interval, 1, "steps")
        self.verbose = verbose
        self.core = DiagnosticsCore(cooldown=cooldown, verbose=verbose)
        # Validate thresholds eagerly so a typo fails before training starts.
        for name, value in self.thresholds.items():
            cls = CHECKS[name]
            if cls.thresholds_class is None:
                raise InvalidThresholdError(f"Check {name!r} takes no thresholds; remove it from thresholds=.")
            self.thresholds[name] = cls.thresholds_class.coerce(value)
        self.skipped: dict[str, str] = {}
        self._layouts: set[int] = set()
        self._steppers: list[DiagnosticCallback] = []
        #: the steppers' per-step work, in the same order
        self._step_work: list[Callable[[], None]] = []
        self._failed_seen = 0
        self._starters: list[BaseCallback] = []
        self._off_policy = False
        self._last_rollout_end = -math.inf
        #: children whose locals dict is not this callback's (None: not known yet)
        self._own_locals: list[BaseCallback] | None = None

    @property
    def findings(self) -> list[Finding]:
        """Every finding of every check, in order of detection."""
        return list(self.core.findings)

    def report(self, min_severity: Severity | str = Severity.INFO) -> str:
        """
        :param min_severity: leave out findings below this severity
        :return: the triage summary, most upstream cause first
        """
        return format_report(self.findings, min_severity=Severity.parse(min_severity))

    def _write_layout(self) -> None:
        """Group the diagnostics charts in TensorBoard's "Custom Scalars" tab (once per event file)."""
        from stable_baselines3.common.logger import TensorBoardOutputFormat

        for output in self.model.logger.output_formats:
            writer = getattr(output, "writer", None)
            if isinstance(output, TensorBoardOutputFormat) and writer is not None and id(writer) not in self._layouts:
                writer.add_custom_scalars(CUSTOM_SCALARS_LAYOUT)
                self._layouts.add(id(writer))

    def _init_callback(self) -> None:
        # Runs at every learn(); the checks (and their history) are built once, and rebuilt only
        # for checks that start or stop applying (e.g. set_env() added a VecNormalize).
        applicable: list[BaseCallback] = []
        for i, name in enumerate(self.check_names):
            cls = CHECKS[name]
            reason = cls.not_applicable(self.model)
            if reason is not None:
                self.skipped[name] = reason
                continue
            self.skipped.pop(name, None)
            existing = next((c for c in self.callbacks if isinstance(c, cls)), None)
            applicable.append(existing or cls(
                self.thresholds.get(name), stop_on=self.stop_on, seed=self.seed + i,
                off_policy_interval=self.off_policy_interval, verbose=self.verbose, core=self.core,
            ))
        self.callbacks = applicable
        self._set_steppers([c for c in applicable if isinstance(c, DiagnosticCallback)])
        self._starters = [c for c in applicable if type(c)._on_rollout_start is not BaseCallback._on_rollout_start]
        self._off_policy = not isinstance(self.model, OnPolicyAlgorithm)
        self._own_locals = None
        self._write_layout()
        if self.verbose >= 1:
            running = ", ".join(type(c).__name__ for c in applicable) or "none"
            print(f"sb3-diagnostics: running {running}" + "".join(f"; {n} skipped: {r}" for n, r in self.skipped.items()))
        super()._init_callback()

    # -- per environment step: the hot path ---------------------------------------------------
    def _on_step(self) -> bool:
        # Only the checks with per-step work are called, and straight at their work (CallbackList
        # calls every child's on_step(), which counts n_calls: none of the checks reads it), inside
        # one try (free in Python 3.11 until something raises) rather than one guard call per check.
        if self.core.checks_failed != self._failed_seen:  # a check failed since (in any of its hooks)
            self._set_steppers(self._steppers)
        i = 0
        try:
            for i, work in enumerate(self._step_work):  # noqa: B007 (i names the failed check below)
                work()
        except DiagnosticWarning:
            raise  # the user turned our warnings into errors (warnings.filterwarnings("error", ...))
        except Exception as exc:  # a bug in one check disables that check, never training
            self._steppers[i]._fail(exc)
            for callback in self._steppers[i + 1:]:  # the checks after it still see this step
                callback.step()
        return not self.core.stop_requested

    def _set_steppers(self, steppers: list[DiagnosticCallback]) -> None:
        """The checks to call at each environment step: those with per-step work that are still active."""
        self._steppers = [c for c in steppers if c.watches_steps and c._active]
        self._step_work = [c._on_env_step for c in self._steppers]
        self._failed_seen = self.core.checks_failed

    # -- per rollout: off-policy algorithms end one every train_freq steps -----------------------
    def _on_rollout_start(self) -> None:
        for callback in self._starters:
            callback.on_rollout_start()

    def _on_rollout_end(self) -> None:
        # The checks measure off-policy runs once per off_policy_interval steps (each check keeps
        # that rule too); gate here so the other rollout ends cost one comparison, not one call per check.
        if self._off_policy:
            if self.model.num_timesteps - self._last_rollout_end < self.off_policy_interval:
                return
            self._last_rollout_end = self.model.num_timesteps
        super()._on_rollout_end()

    def _on_training_start(self) -> None:
        super()._on_training_start()
        self._own_locals = None

    def update_child_locals(self, locals_: dict[str, Any]) -> None:
        # The children hold this callback's own locals dict (CallbackList passes it on at training
        # start), which update_locals() has just updated: copy only into a child that holds another.
        if self._own_locals is None:
            self._own_locals = [c for c in self.callbacks if c.locals is not self.locals]
        for callback in self._own_locals:
            callback.update_locals(locals_)
