"""The buffer-shape rule on hand-made metric streams."""

from __future__ import annotations

from sb3_diagnostics.findings import Severity
from sb3_diagnostics.rules.buffers import BufferShapeRule


# -- buffer shapes -------------------------------------------------------------------------------
def test_buffer_shape_mismatch_is_error_raw_env_shape_is_warning():
    stored = {"buffer_shape_mismatch": 1.0, "env_obs_shape_mismatch": 0.0, "_shape:the replay buffer stores (1, 3)": 1.0}
    (alert,) = BufferShapeRule().observe(0, stored)
    assert alert.severity is None and "(1, 3)" in alert.message  # catalog default: error
    raw = {"buffer_shape_mismatch": 0.0, "env_obs_shape_mismatch": 1.0, "_shape:the env returns (1, 3)": 0.0}
    (alert,) = BufferShapeRule().observe(0, raw)
    assert alert.severity == Severity.WARNING and "DummyVecEnv" in alert.message
    assert BufferShapeRule().observe(0, {"buffer_shape_mismatch": 0.0, "env_obs_shape_mismatch": 0.0}) == []
