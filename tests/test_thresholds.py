"""Thresholds: validation of every field and of the per-check overrides."""

from __future__ import annotations

import pytest

from sb3_diagnostics import (
    DiagnosticsCallback,
    EntropyCollapseCallback,
    EntropyThresholds,
    InvalidThresholdError,
    KLThresholds,
    ValueThresholds,
)


@pytest.mark.parametrize(
    "make, pattern",
    [
        (lambda: ValueThresholds(window_samples=-5), "window_samples=-5: must be a whole number >= 1"),
        (lambda: ValueThresholds(consecutive=0), "consecutive=0"),
        (lambda: EntropyThresholds(collapse=1.5), "fraction between 0 and 1"),
        (lambda: KLThresholds(kl_high=-0.1), "must be >= 0"),
        (lambda: KLThresholds(kl_high=float("nan")), "finite number"),
        (lambda: ValueThresholds(ev_error=0.5), "must not be above ev_negative"),
        (lambda: EntropyThresholds.coerce({"colapse": 0.1}), r"no field\(s\) \['colapse'\]"),
        (lambda: EntropyCollapseCallback(thresholds=[0.1]), "Expected EntropyThresholds"),  # type: ignore[arg-type]
        (lambda: DiagnosticsCallback(thresholds={"entropyy": {}}), "Unknown check"),
        (lambda: DiagnosticsCallback(thresholds={"kl": {"kl_high": -1}}), "kl_high=-1"),
        (lambda: DiagnosticsCallback(cooldown=-1), "cooldown=-1"),
        (lambda: DiagnosticsCallback(off_policy_interval=0), "off_policy_interval=0"),
        (lambda: DiagnosticsCallback(thresholds={"nan": {}}), "takes no thresholds"),
    ],
)
def test_nonsense_settings_raise_clear_errors(make, pattern):
    with pytest.raises(InvalidThresholdError, match=pattern):
        make()


def test_thresholds_accept_dicts_for_yaml_configs():
    assert EntropyThresholds.coerce({"collapse": 0.02}).collapse == 0.02
    cb = DiagnosticsCallback(thresholds={"entropy": {"collapse": 0.02}})
    assert cb.thresholds["entropy"] == EntropyThresholds(collapse=0.02)
