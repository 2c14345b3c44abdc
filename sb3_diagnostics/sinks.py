"""
Alert sinks: where a new finding goes besides Python warnings, ``logging`` and the SB3 logger.

A sink is any callable taking a :class:`~sb3_diagnostics.findings.Finding`. The engine calls it once
per new finding (after the per-code cooldown: once per episode of trouble, again when the severity
escalates), never for the repeats it keeps quiet. A sink that raises is switched off with one log
record; training goes on. ``DiagnosticsCallback(alert_sink="wandb")`` sends findings to
`W&B Alerts <https://docs.wandb.ai/guides/runs/alert>`_ (Slack or e-mail) through :class:`WandbAlertSink`.

Torch-free; ``wandb`` stays an optional dependency, imported only when its sink is built.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sb3_diagnostics.catalog import entry
from sb3_diagnostics.errors import InvalidThresholdError
from sb3_diagnostics.findings import Finding, Severity

log = logging.getLogger("sb3_diagnostics")

#: a sink: called with each new finding
Sink = Callable[[Finding], None]

#: names accepted by ``alert_sink=``
SINK_NAMES = ("wandb",)


class WandbAlertSink:
    """
    Send each new finding at ``min_severity`` or above to W&B Alerts with ``wandb.alert`` (title: severity,
    code and title of the finding; text: what was seen, the step, what to try). Needs ``pip install wandb``
    and a run started with ``wandb.init()`` (without one, findings are not sent and the log says so once).
    Turn on "Scriptable run alerts" in the W&B user settings to receive them on Slack or by e-mail.

    :param min_severity: the lowest severity sent (default ``"warning"``)
    :param wait_duration: seconds W&B waits before it sends another alert with the same title
        (the engine already sends a code once per episode of trouble)
    :raises ImportError: when ``wandb`` is not installed (the message says how to install it)
    """

    def __init__(self, min_severity: Severity | str = Severity.WARNING, wait_duration: float = 60.0) -> None:
        self.min_severity = Severity.parse(min_severity)
        if isinstance(wait_duration, bool) or not isinstance(wait_duration, (int, float)) or not wait_duration >= 0:
            raise InvalidThresholdError(f"wait_duration={wait_duration!r}: pass seconds >= 0, e.g. wait_duration=60.")
        self.wait_duration = float(wait_duration)
        try:
            self._wandb: Any = importlib.import_module("wandb")
        except ImportError as exc:
            raise ImportError(
                f"alert_sink='wandb' needs the wandb package ({exc}): pip install wandb, or leave alert_sink out."
            ) from exc
        #: findings sent so far (a run without ``wandb.init()`` sends none)
        self.sent = 0
        self._no_run_logged = False

    def __call__(self, finding: Finding) -> None:
        if finding.severity < self.min_severity:
            return
        wandb = self._wandb
        if getattr(wandb, "run", None) is None:
            if not self._no_run_logged:
                self._no_run_logged = True
                log.warning("sb3-diagnostics: W&B alerts are not sent: no W&B run (call wandb.init() before learn()).")
            return
        levels = wandb.AlertLevel
        level = {Severity.ERROR: levels.ERROR, Severity.WARNING: levels.WARN}.get(finding.severity, levels.INFO)
        where = f" at step {finding.step}" if finding.step else ""
        wandb.alert(
            title=f"sb3-diagnostics {str(finding.severity).upper()}: {finding.code}",
            text=f"{entry(finding.code).title}{where}. {finding.message}\nTry: {finding.hint}",
            level=level,
            wait_duration=timedelta(seconds=self.wait_duration),
        )
        self.sent += 1


def make_sink(sink: str | Sink | None) -> Sink | None:
    """
    Read ``alert_sink``: None, ``"wandb"`` (a :class:`WandbAlertSink`), or a callable taking a ``Finding``.

    :raises InvalidThresholdError: for anything else
    :raises ImportError: for ``"wandb"`` when wandb is not installed
    """
    if sink is None:
        return None
    if isinstance(sink, str):
        if sink.lower() == "wandb":
            return WandbAlertSink()
        raise InvalidThresholdError(f"alert_sink={sink!r}: use one of {', '.join(map(repr, SINK_NAMES))}, "
                                    "or a callable taking a Finding (e.g. WandbAlertSink(min_severity='error')).")
    if not callable(sink):
        raise InvalidThresholdError(f"alert_sink={sink!r}: pass 'wandb' or a callable taking a Finding.")
    return sink
