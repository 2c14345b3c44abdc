"""Thresholds: validation of every field and of the per-check overrides."""

from __future__ import annotations

import numpy as np
import pytest
from stable_baselines3 import PPO

from sb3_diagnostics import (
    DiagnosticsCallback,
    EntropyCollapseCallback,
    EntropyThresholds,
    InvalidThresholdError,
    KLThresholds,
    KLWatchdogCallback,
    ValueThresholds,
)

#: the library crashes with Python's own TypeError deep inside instead of naming the argument


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
        (lambda: DiagnosticsCallback(seed="abc"), r"seed='abc': use a whole number >= 0"),  # type: ignore[arg-type]
        (lambda: DiagnosticsCallback(seed=1.5), r"seed=1\.5: use a whole number >= 0"),  # type: ignore[arg-type]
        (lambda: DiagnosticsCallback(seed=None), r"seed=None: use a whole number >= 0"),  # type: ignore[arg-type]
        (lambda: DiagnosticsCallback(verbose="1"), r"verbose='1': use 0 .*, 1 .* or 2"),  # type: ignore[arg-type]
        (lambda: DiagnosticsCallback(verbose=None), r"verbose=None: use 0 .*, 1 .* or 2"),  # type: ignore[arg-type]
        (lambda: DiagnosticsCallback(stop_on=5), r"stop_on=5: use None, 'error', 'warning', a finding code or a list"),  # type: ignore[arg-type]
        (lambda: DiagnosticsCallback(thresholds="kl"), r"thresholds must map check keys .*got str 'kl'"),  # type: ignore[arg-type]
        (lambda: DiagnosticsCallback(checks="kl"), r"checks='kl': pass a list of check keys, e\.g\. checks=\['kl'\]"),
        (lambda: DiagnosticsCallback(checks=5), r"checks=5: .*list of check keys"),  # type: ignore[arg-type]
        (lambda: DiagnosticsCallback(ignore=5), r"ignore=5: .*finding code"),  # type: ignore[arg-type]
        (lambda: DiagnosticsCallback(ignore=[5]), r"ignore=\[5\]: .*finding code"),  # type: ignore[arg-type,list-item]
        (lambda: DiagnosticsCallback(stop_on=["error"]), r"a severity is given alone, as a string \(stop_on='error'\)"),
    ],
)
def test_nonsense_settings_raise_clear_errors(make, pattern):
    with pytest.raises(InvalidThresholdError, match=pattern):
        make()


def test_thresholds_accept_dicts_for_yaml_configs():
    assert EntropyThresholds.coerce({"collapse": 0.02}).collapse == 0.02
    cb = DiagnosticsCallback(thresholds={"entropy": {"collapse": 0.02}})
    assert cb.thresholds["entropy"] == EntropyThresholds(collapse=0.02)


def test_numpy_numbers_are_accepted_as_settings():
    for kl in ({"kl_high": np.float32(0.3)}, KLThresholds(kl_high=np.float32(0.3))):
        cb = DiagnosticsCallback(thresholds={"kl": kl}, seed=np.int64(2), verbose=np.int64(0))
        assert cb.thresholds["kl"].kl_high == pytest.approx(0.3)
        assert cb.seed == 2 and cb.verbose == 0


def test_ignore_none_ignores_nothing_and_generators_are_read_once():
    assert DiagnosticsCallback(ignore=None).engine.ignore == frozenset()
    assert DiagnosticsCallback(ignore=(c for c in ["reward_sparse"])).engine.ignore == {"reward_sparse"}
    assert DiagnosticsCallback(checks=(c for c in ["kl", "entropy"])).check_names == ["kl", "entropy"]


def test_a_check_named_twice_runs_once(tiny):
    cb = DiagnosticsCallback(checks=["kl", "kl"])
    assert cb.check_names == ["kl"]
    model = PPO("MlpPolicy", "CartPole-v1", n_steps=64, batch_size=64, n_epochs=1, **tiny())
    model.learn(64, callback=cb)
    assert [type(c) for c in cb.callbacks] == [KLWatchdogCallback]
    assert len({(f.code, f.step) for f in cb.findings}) == len(cb.findings)
