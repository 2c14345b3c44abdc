"""The catalog, thresholds validation, severities and the core's cooldown."""

import re
import warnings

import pytest

from sb3_diagnostics import (
    CATALOG,
    DiagnosticsCallback,
    DiagnosticWarning,
    EntropyCollapseCallback,
    EntropyThresholds,
    InvalidThresholdError,
    KLThresholds,
    Severity,
    UnknownCodeError,
    ValueThresholds,
)
from sb3_diagnostics.catalog import STAGES
from sb3_diagnostics.core import DiagnosticsCore
from sb3_diagnostics.rules import Alert
from sb3_diagnostics.warnings import CATEGORIES, ExplorationWarning

SPEC_CODES = (
    "entropy_collapse", "action_std_collapse", "policy_stays_random", "explained_variance_negative",
    "advantage_zero_variance", "advantage_explosion", "kl_too_high", "clip_fraction_high", "policy_not_updating",
    "target_kl_early_stop", "line_search_failing", "grad_norm_exploding", "grad_norm_vanishing", "param_no_grad",
    "nan_detected", "reward_all_zero", "reward_sparse", "reward_scale_tiny", "reward_scale_huge",
    "reward_constant", "reward_low_snr", "reward_component_imbalance", "vecnormalize_reward_clipped",
    "vecnormalize_obs_clipped", "vecnormalize_stats_unstable", "lstm_state_not_reset", "q_value_divergence",
    "q_twin_divergence", "target_update_too_fast", "buffer_shape_mismatch", "episode_length_degenerate",
    "reward_decreasing", "obs_constant", "action_no_effect", "env_nondeterministic", "obs_nan_inf",
    "obs_dead_dims", "obs_scale_mismatch", "obs_too_large", "reward_not_learnable", "reset_not_randomized",
)


def test_every_spec_code_is_in_the_catalog_with_a_category_and_hint():
    assert set(SPEC_CODES) <= set(CATALOG)
    for row in CATALOG.values():
        assert row.family in CATEGORIES and issubclass(CATEGORIES[row.family], DiagnosticWarning)
        assert row.hint.strip() and 0 <= row.stage < len(STAGES)


def test_severity_is_ordered_and_prints_lower_case():
    assert Severity.INFO < Severity.WARNING < Severity.ERROR
    assert str(Severity.WARNING) == "warning"
    assert Severity.parse("Error") is Severity.ERROR
    with pytest.raises(ValueError, match="info, warning, error"):
        Severity.parse("fatal")


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
        (lambda: EntropyCollapseCallback(thresholds=[0.1]), "Expected EntropyThresholds"),
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


def test_stop_on_typo_lists_the_codes():
    with pytest.raises(UnknownCodeError, match="Known codes: .*entropy_collapse"):
        DiagnosticsCallback(stop_on=["entropy_colapse"])


def test_thresholds_accept_dicts_for_yaml_configs():
    assert EntropyThresholds.coerce({"collapse": 0.02}).collapse == 0.02
    cb = DiagnosticsCallback(thresholds={"entropy": {"collapse": 0.02}})
    assert cb.thresholds["entropy"] == EntropyThresholds(collapse=0.02)


def _alert(code="entropy_collapse", severity=None):
    return Alert(code, "entropy fell", 0.01, 0.05, severity=severity)


def test_cooldown_reports_once_per_episode_of_trouble():
    core = DiagnosticsCore(cooldown=3)
    reported = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for step in range(20):
            core.start_update(step, None)
            holds = step < 8 or step >= 15  # trouble, 7 quiet updates, trouble again
            if holds:
                reported.append(core.handle(_alert(), step, "entropy", None))
    new = [f for f in reported if f is not None]
    assert [f.step for f in new] == [0, 15]
    assert core.occurrences["entropy_collapse"] == 13
    assert len(caught) == 2 and all(issubclass(w.category, ExplorationWarning) for w in caught)
    assert re.match(r"\[entropy_collapse\] ", str(caught[0].message))


def test_escalation_is_reported_despite_cooldown():
    core = DiagnosticsCore(cooldown=10)
    core.start_update(1, None)
    assert core.handle(_alert("clip_fraction_high", Severity.INFO), 1, "kl", None) is not None
    core.start_update(2, None)
    assert core.handle(_alert("clip_fraction_high", Severity.INFO), 2, "kl", None) is None
    core.start_update(3, None)
    with pytest.warns(DiagnosticWarning):
        assert core.handle(_alert("clip_fraction_high"), 3, "kl", None).severity == Severity.WARNING
