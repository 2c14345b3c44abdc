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
