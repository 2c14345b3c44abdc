"""The sb3-diagnostics command as a user runs it."""

from __future__ import annotations

from sb3_diagnostics.cli import main as cli


def test_check_env_on_a_healthy_env(capsys):
    assert cli(["check-env", "CartPole-v1", "--steps", "500"]) == 0
    out = capsys.readouterr().out
    assert "random return" in out and "the baseline a trained agent must beat" in out


def test_check_env_on_an_entry_point_with_a_broken_reward(capsys):
    # a reward that ignores the action: reward_constant is an error, so the exit code says so
    assert cli(["check-env", "sb3_diagnostics.envs:BanditEnv", "--steps", "300"]) == 1
    assert "reward_constant" in capsys.readouterr().out


def test_check_env_and_probes_reject_unknown_names(capsys):
    assert cli(["check-env", "NoSuchEnv-v0"]) == 2
    assert "cannot make 'NoSuchEnv-v0'" in capsys.readouterr().err
    assert cli(["probes", "PPOO"]) == 2
    assert "unknown algorithm 'PPOO'" in capsys.readouterr().err


def test_probes_pass_for_a2c_and_fail_for_dqn_with_its_defaults(capsys):
    assert cli(["probes", "A2C", "--budget", "300"]) == 0
    assert "every probe that ran passed (1, 2, 3, 4, 5)" in capsys.readouterr().out
    # default DQN learns too little in 300 steps (learning_starts, target_update_interval): exit 1,
    # and the first failure names the component it isolates
    assert cli(["probes", "DQN", "--budget", "300"]) == 1
    assert "a failure here means: value loss or optimizer broken" in capsys.readouterr().out
