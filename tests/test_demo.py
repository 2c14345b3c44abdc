"""The demo, end to end in its short mode."""

from __future__ import annotations

from sb3_diagnostics.cli import main as cli


def test_demo_runs_end_to_end(capsys):
    assert cli(["demo", "--short", "--scenario", "learning-rate"]) == 0
    out = capsys.readouterr().out
    assert "BROKEN  learning_rate=0.1" in out and "FIXED  learning_rate=0.0003" in out
    assert "[kl_too_high]" in out and "silent: no finding at warning level" in out
