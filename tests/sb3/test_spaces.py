"""Spaces helpers: which observations are one buffer written in place."""

from __future__ import annotations

import numpy as np

from sb3_diagnostics.sb3.spaces import shared_memory


def test_shared_memory_finds_one_buffer_and_not_neighbouring_slices():
    buffer = np.zeros((4, 3), np.float32)
    assert shared_memory(buffer, buffer) == ""
    assert shared_memory(buffer[0], buffer[0:2]) == ""  # a view into the same rows
    # a ring buffer handing out distinct rows (or copies) is not aliasing
    assert shared_memory(buffer[0], buffer[1]) is None
    assert shared_memory(buffer, buffer.copy()) is None
    assert shared_memory(buffer[:, 0], buffer[:, 1]) is None  # interleaved columns: bounds overlap, memory does not
    # dicts and tuples name the part that is shared; scalars and lists are never reported
    obs = {"a": np.ones(2), "b": buffer}
    assert shared_memory(obs, {"a": np.ones(2), "b": buffer}) == "['b']"
    assert shared_memory((np.ones(2), buffer), (np.ones(2), buffer)) == "[1]"
    assert shared_memory(3, 3) is None and shared_memory([1.0], [1.0]) is None
