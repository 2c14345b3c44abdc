"""The catalog: every code has a check, a category, a hint, a public reference and causal edges."""

from __future__ import annotations

from sb3_diagnostics import (
    CATALOG,
    DiagnosticWarning,
)
from sb3_diagnostics.catalog import STAGES
from sb3_diagnostics.warnings import CATEGORIES

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


def test_every_code_cites_a_public_reference_and_names_its_check():
    from sb3_diagnostics.rules.registry import CHECKS

    known_checks = set(CHECKS) | {"environment", "policy", "internal"}
    for row in CATALOG.values():
        assert row.reference.startswith(("https://", "http://")), row.code
        assert row.check in known_checks, row.code
        for text in (row.title, row.hint, row.reference):
            assert "seed 0" not in text and "Issue " not in text, row.code  # no internal write-ups


def test_causal_edges_point_at_known_codes():
    for row in CATALOG.values():
        assert set(row.explains) <= set(CATALOG) | {"*"}, row.code
        assert row.code not in row.explains, row.code


def test_no_user_visible_string_cites_an_internal_write_up():
    import pathlib
    import re

    package = pathlib.Path(__file__).resolve().parents[1] / "sb3_diagnostics"
    pattern = re.compile(r"seed 0\d\d|\(seed 00\d|Issue [A-E]\b")
    cited = [f"{p.name}:{i}" for p in package.rglob("*.py") for i, line in enumerate(p.read_text().splitlines(), 1)
             if pattern.search(line)]
    assert cited == []
