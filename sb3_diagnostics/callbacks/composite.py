"""DiagnosticsCallback: every check that applies to the model, sharing one engine and one measurement gate."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from stable_baselines3.common.callbacks import BaseCallback, CallbackList

from sb3_diagnostics.callbacks.base import (
    DiagnosticCallback,
    MeasureGate,
    StopOn,
    parse_stop_on,
    require_seed,
    require_updates,
    require_verbose,
)
from sb3_diagnostics.callbacks.buffers import BufferShapeCallback
from sb3_diagnostics.callbacks.entropy import EntropyCollapseCallback
from sb3_diagnostics.callbacks.episodes import EpisodeCallback
from sb3_diagnostics.callbacks.gradients import GradientCallback
from sb3_diagnostics.callbacks.kl import KLWatchdogCallback
from sb3_diagnostics.callbacks.lstm import LSTMResetCallback
from sb3_diagnostics.callbacks.nan import NaNCallback
from sb3_diagnostics.callbacks.pruning import TrialPruning
from sb3_diagnostics.callbacks.q_values import QValueCallback
from sb3_diagnostics.callbacks.reward import RewardSignalCallback
from sb3_diagnostics.callbacks.value import ExplainedVarianceCallback
from sb3_diagnostics.callbacks.vecnormalize import VecNormalizeAuditCallback
from sb3_diagnostics.engine import SCALARS_LAYOUT, Engine
from sb3_diagnostics.errors import InvalidThresholdError
from sb3_diagnostics.findings import Finding, Severity
from sb3_diagnostics.rules.registry import CHECKS as RULES
from sb3_diagnostics.rules.registry import coerce_all
from sb3_diagnostics.sb3.gradient_tap import GradientTap
from sb3_diagnostics.sb3.train_log import dump_final_update
from sb3_diagnostics.sinks import Sink, make_sink
from sb3_diagnostics.thresholds import require_whole_number
from sb3_diagnostics.triage import ReportText, format_report, triage
from sb3_diagnostics.warnings import DiagnosticWarning

#: check key -> callback class, in the order they run (the order of the rule registry)
_CALLBACKS: tuple[type[DiagnosticCallback], ...] = (
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
    EpisodeCallback,
)
CHECKS: dict[str, type[DiagnosticCallback]] = {
    cls.check_name: cls for cls in sorted(_CALLBACKS, key=lambda c: list(RULES).index(c.check_name))
}


class DiagnosticsCallback(CallbackList):
    """
    One line to add to an existing script: ``model.learn(N, callback=DiagnosticsCallback())``.

    Picks every check that applies to the model (algorithm, action space, wrappers, recurrent
    policy), runs them on one shared engine (one cooldown per code, each metric measured once per
    update, every check measuring at the same steps), warns as problems appear and logs
    ``diagnostics/*`` scalars to the model's logger (TensorBoard, CSV, W&B; not SB3's stdout table).
    Afterwards, :attr:`findings` lists what was found, :meth:`triage` orders it root causes first
    and :meth:`report` says it in words.

    :param thresholds: per-check overrides, keyed by check key (``"entropy"``, ``"value"``, ``"kl"``,
        ``"vecnormalize"``, ``"lstm"``, ``"reward"``, ``"episodes"``, ``"gradients"``, ``"q_values"``): a
        thresholds dataclass or a dict of its fields, e.g. ``{"kl": {"kl_high": 0.3}}``
    :param checks: keys of the checks to run (default: all that apply)
    :param ignore: finding codes never to report (judged harmless for this run)
    :param stop_on: None (never stop), ``"error"`` / ``"warning"`` (stop training at the first
        finding at or above that severity), or a code / list of codes
    :param prune_on: inside an Optuna trial (e.g. rl-zoo3's ``--optimize``), end the trial as pruned at
        the first such finding (same values as ``stop_on``; ``"error"`` never fires on a healthy run), and
        record the diagnosis on the trial as user attributes (``diagnosis_code``, ``diagnosis_step``,
        ``diagnosis_message`` ..., see :mod:`sb3_diagnostics.trials`); ``[]`` records without pruning.
        Outside a trial it does nothing. Needs ``pip install sb3-diagnostics[optuna]``.
    :param trial: the Optuna trial, when you have it; by default it is found (rl-zoo3's trial callback, or
        the ``trial`` argument of the objective that called ``learn()``)
    :param cooldown: updates a code must stay quiet before it is reported again
    :param seed: seed of the checks' own random generators (never the global RNG)
    :param off_policy_interval: for off-policy algorithms, measure at least once per this many timesteps
        (also before ``learning_starts``, when no gradient update happens)
    :param off_policy_updates: for off-policy algorithms, also measure once this many gradient updates happened
        since the last measurement, so that the checks keep pace with the algorithm's training (SAC / TD3 with
        one update per step: every 250 steps); None: only every ``off_policy_interval`` timesteps
    :param alert_sink: where each new finding also goes: None, ``"wandb"`` (W&B Alerts, Slack or e-mail, for
        findings at warning or above: :class:`~sb3_diagnostics.sinks.WandbAlertSink`; needs ``pip install wandb``
        and ``wandb.init()``), or any callable taking a :class:`Finding`. Called once per episode of trouble of a
        code, like the warnings; a sink that raises is switched off, never training
    :param verbose: 0 only Python warnings and ``logging``; 1 also prints info findings, which checks
        run, and at the end of each ``learn()`` a summary (root causes first, consequences folded under
        them); 2 also prints every update's metrics
    """

    def __init__(
        self,
        thresholds: Mapping[str, Any] | None = None,
        *,
        checks: Iterable[str] | None = None,
        ignore: Iterable[str] | None = (),
        stop_on: StopOn = None,
        prune_on: StopOn = None,
        trial: Any = None,
        cooldown: int = 10,
        seed: int = 0,
        off_policy_interval: int = 1000,
        off_policy_updates: int | None = 250,
        alert_sink: str | Sink | None = None,
        verbose: int = 0,
    ) -> None:
        super().__init__([])
        self.verbose = require_verbose(verbose)
        self.thresholds = coerce_all(thresholds)  # a typo fails here, before training starts
        if isinstance(checks, str):
            raise InvalidThresholdError(f"checks={checks!r}: pass a list of check keys, e.g. checks=[{checks!r}].")
        if isinstance(checks, Iterable):
            checks = list(checks)  # a generator is read once
        if checks is not None and not (isinstance(checks, list) and all(isinstance(c, str) for c in checks)):
            raise InvalidThresholdError(f"checks={checks!r}: pass None (every check) or a list of check keys, "
                                        f"e.g. checks=['kl', 'entropy']; the checks are {', '.join(CHECKS)}.")
        names = list(dict.fromkeys(checks)) if checks is not None else list(CHECKS)
        unknown = [n for n in names if n not in CHECKS]
        if unknown:
            raise InvalidThresholdError(f"Unknown check(s) {unknown}; the checks are {', '.join(CHECKS)}.")
        self.check_names = names
        if isinstance(ignore, str):
            ignore = [ignore]
        parse_stop_on(stop_on)  # validate now, not at the first finding
        self.stop_on = stop_on
        self.prune_on = prune_on
        #: None when ``prune_on`` is None: no trial is looked for
        self.pruning = TrialPruning(prune_on, trial) if prune_on is not None or trial is not None else None
        self.seed = require_seed(seed)
        self.engine = Engine(cooldown=cooldown, verbose=self.verbose, ignore=ignore, sink=make_sink(alert_sink))
        self.gate = MeasureGate(require_whole_number("off_policy_interval", off_policy_interval, 1, "steps"),
                                require_updates(off_policy_updates))
        self.off_policy_interval = self.gate.interval
        self.off_policy_updates = self.gate.updates
        self.skipped: dict[str, str] = {}
        self._layouts: set[int] = set()
        self._steppers: list[DiagnosticCallback] = []
        #: the steppers' per-step work, in the same order
        self._step_work: list[Callable[[], None]] = []
        self._failed_seen = 0
        self._starters: list[BaseCallback] = []
        #: children whose locals dict is not this callback's (None: not known yet)
        self._own_locals: list[BaseCallback] | None = None

    @property
    def findings(self) -> list[Finding]:
        """Every finding of every check, in order of detection."""
        return list(self.engine.findings)

    def triage(self) -> list[Finding]:
        """
        :return: the findings, root causes first, each followed by the findings it explains (those
            carry ``caused_by``, the code of their cause)
        """
        return triage(self.engine.findings, self.engine.spans)

    def report(self, min_severity: Severity | str = Severity.INFO) -> ReportText:
        """
        :param min_severity: leave out findings below this severity
        :return: the triage as text, the root cause on top (a ``str``; in Jupyter it displays as a table)
        """
        return format_report(self.findings, min_severity=Severity.parse(min_severity), spans=self.engine.spans,
                             last_step=self.engine.last_step)

    def _write_layout(self) -> None:
        """Group the diagnostics charts in TensorBoard's "Custom Scalars" tab (once per event file)."""
        from stable_baselines3.common.logger import TensorBoardOutputFormat

        for output in self.model.logger.output_formats:
            writer = getattr(output, "writer", None)
            if isinstance(output, TensorBoardOutputFormat) and writer is not None and id(writer) not in self._layouts:
                writer.add_custom_scalars(SCALARS_LAYOUT)
                self._layouts.add(id(writer))

    def _build(self, index: int, name: str) -> DiagnosticCallback | None:
        """The check ``name`` for this model: the one built at an earlier ``learn()``, or a new one."""
        cls = CHECKS[name]
        existing = next((c for c in self.callbacks if isinstance(c, cls)), None)
        if existing is not None:
            return existing
        options: dict[str, Any] = {"stop_on": self.stop_on, "seed": self.seed + index, "verbose": self.verbose}
        if RULES[name].thresholds is not None:
            options["thresholds"] = self.thresholds.get(name)
        child = cls(**options)
        child.share(self.engine, self.gate)
        return child

    def _init_callback(self) -> None:
        # Runs at every learn(); the checks (and their history) are built once, and rebuilt only
        # for checks that start or stop applying (e.g. set_env() added a VecNormalize). Nothing a
        # check does here may crash training: a failing check is reported and left out.
        self.engine.stop_requested = False
        applicable: list[BaseCallback] = []
        for i, name in enumerate(self.check_names):
            try:
                reason = CHECKS[name].not_applicable(self.model)
                child = None if reason is not None else self._build(i, name)
            except DiagnosticWarning:
                raise
            except Exception as exc:  # a bug in a check's set-up: that check is out, training goes on
                self._internal_error(name, exc)
                continue
            if reason is not None:
                self.skipped[name] = reason
                continue
            self.skipped.pop(name, None)
            applicable.append(child)  # type: ignore[arg-type]
        self.callbacks = applicable
        self._starters = [c for c in applicable if type(c)._on_rollout_start is not BaseCallback._on_rollout_start]
        self._own_locals = None
        try:
            self._write_layout()
        except Exception as exc:  # a logger we cannot write a layout to: the charts stay ungrouped
            self._internal_error("layout", exc)
        if self.verbose >= 1:
            running = ", ".join(type(c).__name__ for c in applicable) or "none"
            print(f"sb3-diagnostics: running {running}" + "".join(f"; {n} skipped: {r}" for n, r in self.skipped.items()))
        super()._init_callback()
        self._set_steppers([c for c in applicable if isinstance(c, DiagnosticCallback)])

    def _internal_error(self, name: str, exc: Exception) -> None:
        from sb3_diagnostics.catalog import entry

        self.engine.add(Finding(
            "diagnostics_internal_error", Severity.WARNING, int(getattr(self.model, "num_timesteps", 0)),
            f"check '{name}' failed to start with {type(exc).__name__}: {exc}. It does not run; training continues.",
            entry("diagnostics_internal_error").hint, check=name,
        ), getattr(self.model, "logger", None))

    # -- per environment step: the hot path ---------------------------------------------------
    def _on_step(self) -> bool:
        # Only the checks with per-step work are called, and straight at their work (CallbackList
        # calls every child's on_step(), which counts n_calls: none of the checks reads it), inside
        # one try (free in Python 3.11 until something raises) rather than one guard call per check.
        if self.engine.checks_failed != self._failed_seen:  # a check failed since (in any of its hooks)
            self._set_steppers(self._steppers)
        pruning = self.pruning
        if pruning is not None and pruning.trial is not None and (
            pruning.matched is not None or (len(self.engine.findings) != pruning.seen and pruning.scan(self.engine.findings))
        ):
            return False  # learn() ends; _on_training_end records the finding and prunes the trial
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
        return not self.engine.stop_requested

    def _set_steppers(self, steppers: list[DiagnosticCallback]) -> None:
        """The checks to call at each environment step: those with per-step work that are still active."""
        self._steppers = [c for c in steppers if c.watches_steps and c._active]
        self._step_work = [c._on_env_step for c in self._steppers]
        self._failed_seen = self.engine.checks_failed

    # -- per rollout: off-policy algorithms end one every train_freq steps -----------------------
    def _on_rollout_start(self) -> None:
        pruning = self.pruning
        if pruning is not None and pruning.trial is not None and pruning.scan(self.engine.findings):
            # found at the last rollout end or in train() (a NaN gradient): prune before the next forward pass,
            # which a NaN would crash (rl-zoo3 then prunes the trial with no reason recorded)
            self._on_training_end()  # ends the checks as learn() would, records the diagnosis, raises TrialPruned
        for callback in self._starters:
            callback.on_rollout_start()

    def _on_rollout_end(self) -> None:
        GradientTap.rollout_ended(self.model)
        # The gate is the children's too: when it is closed, the rollout end costs one comparison.
        if self.gate.due(self.model):
            super()._on_rollout_end()

    def _on_training_start(self) -> None:
        super()._on_training_start()
        self._own_locals = None
        if self.pruning is not None:
            try:
                self.pruning.start(self.locals, len(self.engine.findings))
            except Exception as exc:  # looking for the trial must never stop training: then nothing is pruned
                self.pruning.trial = None
                self._internal_error("pruning", exc)
            if self.verbose >= 1:
                print(f"sb3-diagnostics: prune_on={self.prune_on!r}: " + (
                    "a matching finding prunes this Optuna trial" if self.pruning.trial is not None
                    else "no Optuna trial is running, nothing will be pruned"))

    def _on_training_end(self) -> None:
        super()._on_training_end()
        if any(getattr(c, "judged_final", False) for c in self.callbacks):
            # SB3 never dumps the last update of learn(): write it once, after every check judged it
            # (a dump clears the logger's train/* values that later checks read), to the files only:
            # SB3's stdout table stays as SB3 prints it, nothing appears after learn() returns.
            dump_final_update(self.model.logger, self.model.num_timesteps)
        if self.verbose >= 1:
            from sb3_diagnostics.triage import summary

            print(summary(self.engine.findings, self.engine.spans))
        if self.pruning is not None and self.pruning.trial is not None:
            self._end_trial(self.pruning)

    def _end_trial(self, pruning: TrialPruning) -> None:
        """Record the diagnosis on the trial and, when a finding matched ``prune_on``, prune it."""
        from sb3_diagnostics import trials

        pruned = pruning.scan(self.engine.findings)
        try:
            trials.write(pruning.trial, trials.trial_attrs(self.engine.findings, self.engine.spans, pruning.matched,
                                                        self.model.num_timesteps))
        except Exception as exc:  # a storage that cannot take the attributes: the pruning still happens
            from sb3_diagnostics.catalog import entry

            self.engine.add(Finding(
                "diagnostics_internal_error", Severity.WARNING, int(self.model.num_timesteps),
                f"could not record the diagnosis on Optuna trial {getattr(pruning.trial, 'number', '?')}: "
                f"{type(exc).__name__}: {exc}.", entry("diagnostics_internal_error").hint, check="pruning",
            ), self.model.logger)
        if pruned:
            raise pruning.pruned_exception()

    def update_child_locals(self, locals_: dict[str, Any]) -> None:
        # The children hold this callback's own locals dict (CallbackList passes it on at training
        # start), which update_locals() has just updated: copy only into a child that holds another.
        if self._own_locals is None:
            self._own_locals = [c for c in self.callbacks if c.locals is not self.locals]
        for callback in self._own_locals:
            callback.update_locals(locals_)
