"""Triage: root causes first, consequences folded under them, the text every report uses."""

from __future__ import annotations

from sb3_diagnostics.findings import Finding, Severity
from sb3_diagnostics.triage import first_problem, format_report, triage


def _f(code: str, step: int, severity: Severity = Severity.WARNING) -> Finding:
    return Finding(code, severity, step, f"{code} seen", f"fix {code}")


def test_a_cause_seen_first_explains_what_follows():
    # A learning rate 300x too high: KL blows up, then entropy collapses and the policy stops moving.
    found = [_f("entropy_collapse", 512), _f("policy_not_updating", 1024, Severity.ERROR), _f("kl_too_high", 512)]
    ordered = triage(found)
    assert [(f.code, f.caused_by) for f in ordered] == [
        ("kl_too_high", None), ("entropy_collapse", "kl_too_high"), ("policy_not_updating", "entropy_collapse"),
    ]
    assert first_problem(found).code == "kl_too_high"


def test_a_slow_cause_explains_symptoms_that_still_hold_when_it_is_seen():
    # Rewards x1e4: the gradient check speaks at the first update, the reward check after two windows.
    found = [_f("grad_norm_exploding", 512), _f("reward_scale_huge", 2048)]
    spans = {"grad_norm_exploding": [[512, 6000]], "reward_scale_huge": [[2048, 6000]]}
    assert [(f.code, f.caused_by) for f in triage(found, spans)] == [
        ("reward_scale_huge", None), ("grad_norm_exploding", "reward_scale_huge"),
    ]
    # without spans (or once the symptom had stopped), a later finding cannot explain an earlier one
    assert all(f.caused_by is None for f in triage(found))
    ended = {"grad_norm_exploding": [[512, 1024]], "reward_scale_huge": [[2048, 6000]]}
    assert all(f.caused_by is None for f in triage(found, ended))


def test_codes_that_explain_each_other_are_decided_by_onset_then_stage():
    # gradients and KL can each explain the other (both come from a learning rate too high)
    assert triage([_f("kl_too_high", 100), _f("grad_norm_exploding", 200)])[1].caused_by == "kl_too_high"
    assert triage([_f("kl_too_high", 200), _f("grad_norm_exploding", 100)])[1].caused_by == "grad_norm_exploding"
    same = triage([_f("kl_too_high", 100), _f("grad_norm_exploding", 100)])
    assert [(f.code, f.caused_by) for f in same] == [("grad_norm_exploding", None), ("kl_too_high", "grad_norm_exploding")]


def test_nan_explains_only_what_came_after_it():
    ordered = triage([_f("entropy_collapse", 100), _f("nan_detected", 500, Severity.ERROR), _f("kl_too_high", 900)])
    causes = {f.code: f.caused_by for f in ordered}
    assert causes == {"entropy_collapse": None, "nan_detected": None, "kl_too_high": "nan_detected"}
    assert ordered[0].code == "nan_detected"  # the most upstream stage leads


def test_library_notes_are_never_causes_or_consequences():
    ordered = triage([_f("diagnostics_internal_error", 0), _f("kl_too_high", 100)])
    assert all(f.caused_by is None for f in ordered)


def test_report_folds_consequences_and_says_when_a_problem_stopped():
    found = [_f("kl_too_high", 512), _f("entropy_collapse", 512), _f("clip_fraction_high", 1024, Severity.INFO)]
    text = format_report(found, spans={"kl_too_high": [[512, 3072]], "entropy_collapse": [[512, 9000]]},
                         last_step=9000)
    assert text.index("[kl_too_high]") < text.index("[entropy_collapse]")
    assert "[kl_too_high] from step 512 to 3072 (then quiet)" in text
    assert "likely a consequence of [kl_too_high]" in text
    assert "Start with [kl_too_high]" in text
    assert "2 warnings, 1 info" in text
    assert format_report([_f("kl_too_high", 1)], min_severity=Severity.ERROR).endswith("lower min_severity to see them).")


def test_an_info_cause_that_explains_a_warning_is_the_first_problem():
    # A reward of pure noise: reward_low_snr (info) early, the critic that learns nothing (warning) later.
    # The warning shows the cause matters: start with the reward, not with the critic.
    found = [_f("reward_low_snr", 2048, Severity.INFO), _f("critic_not_learning", 9216)]
    assert first_problem(found).code == "reward_low_snr"
    assert "Start with [reward_low_snr]" in format_report(found)
    # alone, an info finding is no problem to start with
    assert first_problem(found[:1]) is None
    # and an info root that explains nothing does not hide the warning of another root
    other = [_f("reward_low_snr", 2048, Severity.INFO), _f("kl_too_high", 4096)]
    assert first_problem(other).code == "kl_too_high"


def test_within_a_stage_the_root_that_can_explain_another_goes_first():
    # PPO with learning_rate=0.1: clipped ratios for one rollout at 1536 (then the policy is wrecked and nothing
    # is clipped any more), the KL confirmed over two windows at 2048: the KL explains the clipping, not the reverse
    found = [_f("clip_fraction_high", 1536), _f("kl_too_high", 2048)]
    spans = {"clip_fraction_high": [[1536, 1536]], "kl_too_high": [[2048, 4096]]}
    assert [f.code for f in triage(found, spans) if f.caused_by is None] == ["kl_too_high", "clip_fraction_high"]
    assert first_problem(found, spans=spans).code == "kl_too_high"
