"""The NaN rule on hand-made metric streams."""

from __future__ import annotations

from sb3_diagnostics.rules.nan import NonFiniteRule


# -- NaN -----------------------------------------------------------------------------------------
def test_first_nan_location_is_kept():
    rule = NonFiniteRule()
    (first,) = rule.observe(300, {"nonfinite_count": 1.0, "_nonfinite_at:the observation (env 0, index [2])": 300.0})
    assert first.code == "nan_detected" and "observation (env 0, index [2]) at step 300" in first.message
    (later,) = rule.observe(600, {"nonfinite_count": 40.0, "_nonfinite_at:the parameter q_net.0.weight": 512.0})
    assert "observation (env 0, index [2]) at step 300" in later.message and "q_net.0.weight" in later.message
    assert rule.observe(900, {"nonfinite_count": 0.0}) == []
