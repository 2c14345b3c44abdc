"""
The engine: the only judge loop, and the only place findings are emitted.

Live callbacks, the post-hoc report and the pre-flight all hand their metrics to
:meth:`Engine.judge`, so a metric means the same thing wherever it was measured. The engine owns:

- the findings, in order of detection;
- the per-code cooldown: a code that keeps holding is reported once per *episode of trouble*;
  it is reported again only after it has been quiet for more than ``cooldown`` updates and more
  than ``cooldown_steps`` timesteps (A2C's tiny updates would otherwise repeat a code dozens of
  times), or when its severity escalates (``clip_fraction_high`` from info to warning);
- emission: Python warnings (category from the catalog family, ``stacklevel`` pointing at the
  user's ``learn()`` call), the SB3 logger (``diagnostics/<metric>`` scalars every update,
  ``diagnostics/alert/<code>`` series, ``diagnostics/findings/<code>`` TensorBoard text),
  the ``sb3_diagnostics`` :mod:`logging` logger, and an optional alert sink (:mod:`sb3_diagnostics.sinks`).

It knows nothing of torch or SB3: a "logger" is anything with SB3's ``record(key, value, exclude)``.
"""

from __future__ import annotations

import logging
import math
import os
import sys
import warnings
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from types import FrameType
from typing import Any

from sb3_diagnostics.catalog import entry
from sb3_diagnostics.errors import InvalidThresholdError
from sb3_diagnostics.findings import Alert, Finding, Severity
from sb3_diagnostics.rules.base import Rule
from sb3_diagnostics.sb3.train_log import LOGGED_BY_SB3
from sb3_diagnostics.thresholds import require_whole_number
from sb3_diagnostics.warnings import CATEGORIES

log = logging.getLogger("sb3_diagnostics")

#: prefix of every scalar this library records
PREFIX = "diagnostics/"
#: prefix of the context of an update where a code held (read back by the post-hoc report)
CONTEXT = f"{PREFIX}context/"

_LOG_LEVELS = {Severity.INFO: logging.INFO, Severity.WARNING: logging.WARNING, Severity.ERROR: logging.ERROR}
#: SB3 output formats that must not receive our text or our scalars (the stdout table stays SB3's own)
_TEXT_ONLY = ("stdout", "log", "json", "csv")
_NOT_STDOUT = ("stdout", "log")

#: TensorBoard custom-scalars layout: the ``diagnostics/`` charts in triage order, each on its own scale: one
#: quantity per chart, or several of one unit and size (the gradient norms of each network, the clipped fractions),
#: never a KL of 0.02 beside 10 epochs on one axis.
SCALARS_LAYOUT: dict[str, dict[str, list[Any]]] = {
    "sb3-diagnostics": {
        title: ["Multiline", tags] for title, tags in (
            ("gradient norm", [r"diagnostics/grad_norm.*", r"diagnostics/grad_peak.*"]),
            ("parameters without gradient (count)", [r"diagnostics/params_.*"]),
            ("VecNormalize: clipped fraction", [r"diagnostics/vecnorm_.*_clip_frac"]),
            ("VecNormalize: rewards made alike by clipping (x)", [r"diagnostics/vecnorm_reward_squeeze"]),
            ("VecNormalize: return scale", [r"diagnostics/vecnorm_ret_std"]),
            ("LSTM state norm", [r"diagnostics/lstm_state_norm.*"]),
            ("LSTM state not reset at episode starts", [r"diagnostics/lstm_hidden_boundaries",
                                                        r"diagnostics/lstm_reset_violation"]),
            ("explained variance", [r"diagnostics/explained_variance"]),
            ("critic error (relative to the returns)", [r"diagnostics/value_error_rel"]),
            ("Q-values: mean", [r"diagnostics/q_mean"]),
            ("Q-values: spread", [r"diagnostics/q_value_spread"]),
            ("target network speed", [r"diagnostics/target_drift_ratio"]),
            ("entropy (fraction of maximum)", [r"diagnostics/entropy_normalized"]),
            ("smallest action std (fraction of range)", [r"diagnostics/action_std_min"]),
            ("advantages: std", [r"diagnostics/advantage_std"]),
            ("advantages: largest |A|", [r"diagnostics/advantage_abs_max"]),
            ("approx KL", [r"train/approx_kl", r"train/kl_divergence_loss"]),
            ("clip fraction", [r"train/clip_fraction"]),
            ("epochs completed per update", [r"diagnostics/epochs_completed"]),
            ("reward: largest |r|", [r"diagnostics/reward_abs_max"]),
            ("reward: mean |r|", [r"diagnostics/reward_abs_mean"]),
            ("return: mean", [r"diagnostics/return_mean"]),
            ("return: std", [r"diagnostics/return_std"]),
            ("rewarded fraction of steps", [r"diagnostics/reward_nonzero_frac"]),
            ("reward signal-to-noise", [r"diagnostics/reward_snr"]),
            ("reward components", [r"diagnostics/reward_component/.*"]),
            ("truncated fraction of episodes", [r"diagnostics/truncation_frac"]),
            ("episodes finished per update", [r"diagnostics/episodes_finished"]),
            ("alerts (1 while a code holds)", [r"diagnostics/alert/.*"]),
        )
    }
}


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


class Engine:
    """
    Judges metrics with rules, applies cooldowns and emits findings, for every check of one callback
    (or one report, or one pre-flight).

    :param cooldown: updates a code must stay quiet before it is reported again
    :param cooldown_steps: ... and timesteps
    :param verbose: 0 only warnings (and ``logging``); 1 also prints info findings;
        2 also prints every update's metrics
    :param emit: False to only collect findings (the post-hoc report): no warnings, no logging
    :param ignore: codes never reported (judged harmless by the user)
    :param sink: called with each new finding (e.g. :class:`~sb3_diagnostics.sinks.WandbAlertSink`); a sink
        that raises is switched off, training goes on
    """

    def __init__(
        self,
        *,
        cooldown: int = 10,
        cooldown_steps: int = 20_000,
        verbose: int = 0,
        emit: bool = True,
        ignore: Iterable[str] | None = (),
        sink: Callable[[Finding], None] | None = None,
    ) -> None:
        self.sink = sink
        self.cooldown = require_whole_number("cooldown", cooldown, 0, "updates")
        self.cooldown_steps = require_whole_number("cooldown_steps", cooldown_steps, 0, "timesteps")
        self.verbose = verbose
        self.emit = emit
        codes: tuple[Any, ...] = (
            () if ignore is None else (ignore,) if isinstance(ignore, str)
            else tuple(ignore) if isinstance(ignore, Iterable) else (ignore,)  # a generator is read once
        )
        if not all(isinstance(c, str) for c in codes):
            raise InvalidThresholdError(f"ignore={ignore!r}: pass finding codes, e.g. ignore=['reward_sparse'].")
        self.ignore = frozenset(codes)
        for code in self.ignore:
            entry(code)  # raises UnknownCodeError listing the valid codes
        self.findings: list[Finding] = []
        #: how often each code held, including the repeats the cooldown kept quiet
        self.occurrences: Counter[str] = Counter()
        #: per code, [first step, last step] of each episode of trouble (one per finding of that code)
        self.spans: dict[str, list[list[int]]] = {}
        self.update_index = 0
        #: a check of this engine asked training to stop (its ``stop_on`` matched a finding)
        self.stop_requested = False
        #: checks of this engine disabled by a bug in them so far (the composite stops calling them)
        self.checks_failed = 0
        self._current_step: int | None = None
        #: the latest step judged (the end of the run so far)
        self.last_step = 0
        self._last_held: dict[str, int] = {}
        self._episode_severity: dict[str, Severity] = {}

    # -- the judge loop ------------------------------------------------------------------------
    def judge(
        self, step: int, metrics: Mapping[str, float], rules: Iterable[Rule], check: str, logger: Any | None = None
    ) -> list[Finding]:
        """
        Judge one update: record its metrics, feed them to every rule, turn alerts into findings.

        :param step: ``num_timesteps`` of the update (0 before training)
        :param metrics: metric name -> value (names starting with ``_`` are context, not recorded)
        :param rules: the rules of the check, each keeping its own history
        :param check: the check key, stored on the findings
        :param logger: the model's SB3 logger, or None
        :return: the new findings (the cooldown keeps repeats out)
        """
        self.start_update(step, logger)
        self.record_metrics(logger, metrics)
        new: list[Finding] = []
        alerted = False
        for rule in rules:
            for alert in rule.observe(step, metrics):
                alerted = True
                finding = self.handle(alert, step, check, logger)
                if finding is not None:
                    new.append(finding)
        if alerted and logger is not None:
            self.record_context(logger, metrics)
        return new

    def record_context(self, logger: Any, metrics: Mapping[str, float]) -> None:
        """
        Record the context of an update where a code held (``_clip_reward``, the rewards clipping made alike...)
        under ``diagnostics/context/<name>``, so that the post-hoc report, judging the logged run with the same
        rules, writes the same message and hint, with the same numbers. Only at such updates, and only to
        TensorBoard (what the report reads), not to CSV or JSON.

        :param logger: the model's SB3 logger
        :param metrics: the update's metrics
        """
        for name, value in metrics.items():
            if name.startswith("_") and ":" not in name and isinstance(value, (int, float)) and math.isfinite(value):
                logger.record(f"{CONTEXT}{name[1:]}", float(value), exclude=_TEXT_ONLY)  # for the report: TensorBoard

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
        self.last_step = max(self.last_step, int(step))
        self.update_index += 1
        if logger is not None:
            # A 1 the logger still holds has not been written yet (off-policy, several measurements can fall
            # between two of SB3's dumps): it stays, so that the dump says the code held since the last one.
            pending = getattr(logger, "name_to_value", None) or {}
            for code in self._last_held:
                key = f"{PREFIX}alert/{code}"
                if pending.get(key) != 1.0:
                    logger.record(key, 0.0, exclude=_NOT_STDOUT)

    def record_metrics(self, logger: Any | None, metrics: Mapping[str, float]) -> None:
        """
        Record ``diagnostics/<name>`` scalars: not the context (names starting with ``_``), not what
        SB3 already logs itself, and not in SB3's stdout table (TensorBoard, CSV, W&B get them).

        :param logger: the model's SB3 logger, or None
        :param metrics: metric name -> value
        """
        public = {
            k: float(v) for k, v in metrics.items() if not k.startswith("_") and v is not None and k not in LOGGED_BY_SB3
        }
        if logger is not None:
            for name, value in public.items():
                if math.isfinite(value):
                    logger.record(f"{PREFIX}{name}", value, exclude=_NOT_STDOUT)
        if self.verbose >= 2 and public:
            shown = ", ".join(f"{k}={v:.4g}" for k, v in sorted(public.items()))
            print(f"sb3-diagnostics step {self._current_step}: {shown}")

    def handle(self, alert: Alert, step: int, check: str, logger: Any | None) -> Finding | None:
        """
        Apply the cooldown to an alert; emit and return a new finding when it starts an episode of trouble.

        :param alert: what the rule saw
        :param step: ``num_timesteps``
        :param check: key of the reporting check
        :param logger: the model's SB3 logger, or None
        :return: the new finding, or None when the cooldown kept it quiet (or the code is ignored)
        """
        if alert.code in self.ignore:
            return None
        row = entry(alert.code)
        severity = alert.severity or row.severity
        last = self._last_held.get(alert.code)
        quiet_since = self.spans[alert.code][-1][1] if alert.code in self.spans else None
        new_episode = last is None or (
            self.update_index - last > self.cooldown
            and (quiet_since is None or step < quiet_since or step - quiet_since > self.cooldown_steps)
        )
        escalated = not new_episode and severity > self._episode_severity.get(alert.code, severity)
        self._last_held[alert.code] = self.update_index
        self.occurrences[alert.code] += 1
        if logger is not None:
            logger.record(f"{PREFIX}alert/{alert.code}", 1.0, exclude=_NOT_STDOUT)
        if not (new_episode or escalated):
            self.spans[alert.code][-1][1] = int(step)
            return None
        if new_episode:
            self.spans.setdefault(alert.code, []).append([int(step), int(step)])
        else:
            self.spans[alert.code][-1][1] = int(step)
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
        Store a finding and emit it, bypassing the cooldown (internal errors, not-applicable notes,
        pre-flight findings).

        :param finding: the finding
        :param logger: the model's SB3 logger, or None
        """
        if finding.code in self.ignore:
            return
        self.findings.append(finding)
        if not self.emit:
            return
        text = str(finding)
        log.log(_LOG_LEVELS[finding.severity], text)
        if logger is not None:
            logger.record(
                f"{PREFIX}findings/{finding.code}",
                f"**{finding.severity}** at step {finding.step}: {finding.message}\n\n{finding.hint}",
                exclude=_TEXT_ONLY,
            )
        if self.sink is not None:
            try:
                self.sink(finding)
            except Exception as exc:  # a bug in a sink never crashes training: that sink is switched off
                log.warning("sb3-diagnostics: the alert sink %r failed with %s: %s. It is switched off; training "
                            "continues and findings are still warned and logged.", self.sink, type(exc).__name__, exc)
                self.sink = None
        if finding.severity >= Severity.WARNING:
            category = CATEGORIES[entry(finding.code).family]
            warnings.warn(text, category, stacklevel=_user_stacklevel())
        elif self.verbose >= 1:
            print(f"sb3-diagnostics info: {text}")


def warn_findings(findings: Iterable[Finding]) -> None:
    """
    Emit findings judged outside training (pre-flight, policy checks) the way the callbacks do:
    a Python warning and a log record for each one at ``warning`` or above.

    :param findings: the findings, already in the order they should be read
    """
    engine = Engine(cooldown=0)
    for finding in findings:
        if finding.severity >= Severity.WARNING:
            engine.add(finding)
