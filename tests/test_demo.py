"""The demo, end to end in its short mode, as `sb3-diagnostics demo --short` runs it."""

from __future__ import annotations

import pytest

from sb3_diagnostics.cli import main as cli


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 2])
def test_every_story_names_its_root_cause_first_and_every_fix_is_silent(capsys, seed):
    from sb3_diagnostics.demo import main

    assert main(short=True, seed=seed) == 0
    out = capsys.readouterr().out
    assert "WARNING [reward_scale_huge]" in out and "-> [grad_norm_exploding]" in out
    # the learning rate's KL is the root; the entropy collapse it may cause (whether it does within the short run
    # depends on the CPU's float trajectory) is never named as a root of its own
    assert "WARNING [kl_too_high]" in out and "WARNING [entropy_collapse]" not in out
    assert "ERROR [policy_not_updating]" in out and "learning_starts=50000" in out
    assert out.count("silent: no finding at warning level") == 3
    assert "seed 0" not in out and "Issue " not in out  # public references only


def test_an_unknown_scenario_is_bad_input(capsys):
    assert cli(["demo", "--scenario", "nope"]) == 2
    assert "unknown scenario 'nope'" in capsys.readouterr().err
