"""The recurrent-state rule on hand-made metric streams."""

from __future__ import annotations

from sb3_diagnostics.rules.lstm import RecurrentStateRule


def test_recurrent_state_rule(feed):
    assert feed(RecurrentStateRule(), [{"lstm_reset_violation": 0.0, "lstm_hidden_boundaries": 0}])[-1] == []
    assert feed(RecurrentStateRule(), [{"lstm_reset_violation": 0.3}])[-1] == ["lstm_state_not_reset"]
    assert feed(RecurrentStateRule(), [{"lstm_hidden_boundaries": 2}])[-1] == ["lstm_state_not_reset"]
