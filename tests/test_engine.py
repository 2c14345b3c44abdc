"""The engine: cooldowns, escalation, emission."""

from __future__ import annotations

import re
import warnings

import pytest

from sb3_diagnostics import (
    DiagnosticWarning,
    Severity,
)
from sb3_diagnostics.engine import Engine
from sb3_diagnostics.findings import Alert
from sb3_diagnostics.warnings import ExplorationWarning


def _alert(code="entropy_collapse", severity=None):
    return Alert(code, "entropy fell", 0.01, 0.05, severity=severity)


def test_cooldown_reports_once_per_episode_of_trouble():
    engine = Engine(cooldown=3)
    reported = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for step in range(20):
            engine.start_update(step, None)
            holds = step < 8 or step >= 15  # trouble, 7 quiet updates, trouble again
            if holds:
                reported.append(engine.handle(_alert(), step, "entropy", None))
    new = [f for f in reported if f is not None]
    assert [f.step for f in new] == [0, 15]
    assert engine.occurrences["entropy_collapse"] == 13
    assert len(caught) == 2 and all(issubclass(w.category, ExplorationWarning) for w in caught)
    assert re.match(r"\[entropy_collapse\] ", str(caught[0].message))


def test_escalation_is_reported_despite_cooldown():
    engine = Engine(cooldown=10)
    engine.start_update(1, None)
    assert engine.handle(_alert("clip_fraction_high", Severity.INFO), 1, "kl", None) is not None
    engine.start_update(2, None)
    assert engine.handle(_alert("clip_fraction_high", Severity.INFO), 2, "kl", None) is None
    engine.start_update(3, None)
    with pytest.warns(DiagnosticWarning):
        assert engine.handle(_alert("clip_fraction_high"), 3, "kl", None).severity == Severity.WARNING
