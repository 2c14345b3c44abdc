"""Severity and Finding."""

from __future__ import annotations

import pytest

from sb3_diagnostics import (
    Severity,
)


def test_severity_is_ordered_and_prints_lower_case():
    assert Severity.INFO < Severity.WARNING < Severity.ERROR
    assert str(Severity.WARNING) == "warning"
    assert Severity.parse("Error") is Severity.ERROR
    with pytest.raises(ValueError, match="info, warning, error"):
        Severity.parse("fatal")


def test_preflight_report_displays_as_a_table_in_jupyter(html_table):
    import gymnasium as gym

    from sb3_diagnostics import check_training_env
    from sb3_diagnostics.faults import ConstantObsEnv

    report = check_training_env(ConstantObsEnv(), n_steps=300)
    serious = [f for f in report if f.severity >= Severity.WARNING]
    assert "obs_constant" in {f.code for f in serious}
    table = html_table(report._repr_html_())
    assert table.header == ["severity", "code", "steps", "message", "what to try", "caused by"]
    assert [row[1].lstrip("\u21b3 ") for row in table.rows] == [f.code for f in report]
    assert [row[3] for row in table.rows] == [f.message for f in report]
    healthy = check_training_env(gym.make("CartPole-v1"), n_steps=300)
    assert healthy.ok and all(row[0] == "INFO" for row in html_table(healthy._repr_html_()).rows)
    assert "ERROR" not in healthy._repr_html_() and "WARNING" not in healthy._repr_html_()


def test_report_text_survives_pickling():
    import pickle

    from sb3_diagnostics import Finding
    from sb3_diagnostics.triage import format_report

    text = format_report([Finding("kl_too_high", Severity.WARNING, 2048, "approx KL 0.9 > 0.2 <for 3 updates>.", "x & y")])
    again = pickle.loads(pickle.dumps(text))
    assert again == text and again._repr_html_() == text._repr_html_()
    assert "&lt;for 3 updates&gt;" in text._repr_html_() and "x &amp; y" in text._repr_html_()
