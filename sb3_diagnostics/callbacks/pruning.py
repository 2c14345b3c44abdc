"""
Pruning Optuna trials on a diagnosis: ``DiagnosticsCallback(prune_on="error")`` inside a trial.

The callback finds the running trial by itself, so that it works from rl-zoo3's hyper-parameter YAML
(``callback:``), where it is built without one:

1. the ``trial=`` given to the callback;
2. a callback trained next to it that holds the trial (rl-zoo3's ``TrialEvalCallback.trial``, Optuna's
   SB3 example, optuna-integration's callbacks);
3. the objective on the call stack: Optuna calls ``objective(trial)`` in the thread that trains, so a
   frame above ``learn()`` has a local ``trial`` that is an :class:`optuna.trial.Trial`.

Outside a trial (Optuna not imported, or no trial found) ``prune_on`` does nothing: the same YAML trains
the final model unchanged. Optuna itself is never imported here unless a trial is running (or given).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from types import FrameType
from typing import Any

from sb3_diagnostics.callbacks.base import _NEVER_STOP, StopOn, parse_stop_on
from sb3_diagnostics.findings import Finding

#: how far up the call stack the objective is looked for (rl-zoo3: ~10 frames above the callback)
_MAX_FRAMES = 60


def _is_trial(obj: Any) -> bool:
    optuna = sys.modules.get("optuna")
    trial_cls = getattr(getattr(optuna, "trial", None), "Trial", None)
    return trial_cls is not None and isinstance(obj, trial_cls)


def _callbacks(root: Any, depth: int = 0) -> Iterable[Any]:
    """``root`` and every callback under it (``CallbackList.callbacks``, ``EventCallback.callback``)."""
    if root is None or depth > 8:
        return
    yield root
    for child in getattr(root, "callbacks", None) or ():
        yield from _callbacks(child, depth + 1)
    yield from _callbacks(getattr(root, "callback", None), depth + 1)


def find_trial(learn_locals: dict[str, Any] | None, frame: FrameType | None = None) -> Any | None:
    """
    :param learn_locals: the locals of the algorithm's ``learn()`` (``callback.locals`` at training start)
    :param frame: where to start looking up the call stack (default: the caller's frame)
    :return: the running Optuna trial, or None (Optuna not imported, or no trial found)
    """
    if "optuna" not in sys.modules:
        return None  # no study can be running
    for cb in _callbacks((learn_locals or {}).get("callback")):
        trial = getattr(cb, "trial", None)
        if _is_trial(trial):
            return trial
    frame = frame or sys._getframe(1)
    for _ in range(_MAX_FRAMES):
        if frame is None:
            break
        trial = frame.f_locals.get("trial")
        if _is_trial(trial):
            return trial
        frame = frame.f_back
    return None


class TrialPruning:
    """
    The pruning half of :class:`~sb3_diagnostics.callbacks.composite.DiagnosticsCallback`: which findings
    prune, the trial they prune, and the first finding that matched.

    :param prune_on: None (never look for a trial), ``"error"`` / ``"warning"``, a code or a list of codes;
        ``[]`` records the diagnosis on the trial without ever pruning it
    :param trial: the trial, when known (else found at each ``learn()``)
    """

    def __init__(self, prune_on: StopOn, trial: Any = None) -> None:
        self.severity, self.codes = parse_stop_on(prune_on)  # a typo fails here, before training starts
        self.given = trial
        self.trial: Any = None
        self.matched: Finding | None = None
        self.seen = 0

    def start(self, learn_locals: dict[str, Any] | None, n_findings: int) -> None:
        """At training start: find the trial; findings of an earlier ``learn()`` prune nothing."""
        self.trial = self.given if self.given is not None else find_trial(learn_locals, sys._getframe(1))
        self.matched = None
        self.seen = n_findings

    def scan(self, findings: list[Finding]) -> bool:
        """:return: whether a finding since the last scan prunes the trial (the first one is kept in ``matched``)"""
        for finding in findings[self.seen:]:
            if self.matched is None and finding.code not in _NEVER_STOP and (
                finding.code in self.codes or (self.severity is not None and finding.severity >= self.severity)
            ):
                self.matched = finding
        self.seen = len(findings)
        return self.matched is not None

    def pruned_exception(self) -> BaseException:
        """:return: ``optuna.TrialPruned`` saying which finding pruned the trial"""
        import optuna

        f = self.matched
        assert f is not None
        return optuna.TrialPruned(f"sb3-diagnostics: pruned at step {f.step} by {f.code} ({f.severity}): {f.message}")

