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
    engine = Engine(cooldown=3, cooldown_steps=0)
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


def test_cooldown_also_counts_timesteps_so_tiny_updates_do_not_repeat_a_code():
    # A2C with n_steps=5: 20 updates are 100 timesteps; a code that comes and goes is reported once
    engine = Engine(cooldown=3, cooldown_steps=1000)
    new = []
    for update in range(200):
        step = 5 * (update + 1)
        engine.start_update(step, None)
        if update % 20 == 0:  # holds once every 20 updates (100 steps)
            new.append(engine.handle(_alert(), step, "entropy", None))
    reported = [f.step for f in new if f is not None]
    assert reported == [5]
    # quiet for more than 1000 timesteps: a new episode of trouble
    engine.start_update(2000, None)
    assert engine.handle(_alert(), 2000, "entropy", None) is not None
    # a step counter that restarted (learn(reset_num_timesteps=True)) starts afresh too
    for step in (10, 20, 30, 40, 50):
        engine.start_update(step, None)
    assert engine.handle(_alert(), 50, "entropy", None) is not None


def test_alert_series_keeps_a_one_until_the_logger_writes_it():
    # Off-policy, several measurements can fall between two of SB3's log dumps (every log_interval episodes):
    # a code that held at the first and not at the second must still reach TensorBoard as a 1 at that dump.
    from stable_baselines3.common.logger import Logger

    logger, engine = Logger(folder=None, output_formats=[]), Engine()
    engine.start_update(1, logger)
    engine.handle(_alert(), 1, "entropy", logger)
    engine.start_update(351, logger)  # quiet here, before any dump
    assert logger.name_to_value["diagnostics/alert/entropy_collapse"] == 1.0
    logger.dump(400)
    engine.start_update(601, logger)  # quiet after the dump: back to 0
    assert logger.name_to_value["diagnostics/alert/entropy_collapse"] == 0.0
