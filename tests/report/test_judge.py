"""Judging finished runs: plain SB3 logs, runs logged with the callback, partial logs."""

from __future__ import annotations

import pytest
from stable_baselines3 import PPO

from sb3_diagnostics import DiagnosticsCallback, Severity
from sb3_diagnostics.cli import main as cli
from sb3_diagnostics.faults import NoisyRewardEnv
from sb3_diagnostics.report import find_runs, judge_run, report_runs


@pytest.mark.parametrize("name", ["entropy_collapse", "kl_blowup", "critic_broken", "lr_typo", "healthy"])
def test_plain_sb3_logs_give_the_right_codes(plain_runs, sweep, name):
    expected = plain_runs[name][4]
    [run] = find_runs(sweep / name)
    report = judge_run(run)
    assert report.sources == ["SB3 train/*"]
    serious = {f.code for f in report.findings if f.severity >= Severity.WARNING}
    if expected is None:
        assert serious == set()
    else:
        assert expected in serious


def test_live_callback_and_report_agree(learn, ppo_small, tmp_path):
    model = PPO("MlpPolicy", NoisyRewardEnv(), tensorboard_log=str(tmp_path),
                **ppo_small(learning_rate=0.01, n_epochs=30))
    callback = DiagnosticsCallback()
    learn(model, 8192, callback)
    [run] = find_runs(tmp_path)
    report = judge_run(run)
    assert "diagnostics/*" in report.sources
    live = [(f.code, f.severity, f.step) for f in callback.findings]
    offline = [(f.code, f.severity, f.step) for f in report.findings]
    assert live == offline and live


def test_run_with_only_some_keys(tmp_path):
    from stable_baselines3.common.logger import configure

    logger = configure(str(tmp_path), ["tensorboard"])
    for i in range(5):
        logger.record("rollout/ep_rew_mean", float(i))
        logger.dump(step=(i + 1) * 100)
    logger.close()
    [report] = report_runs(tmp_path)
    assert report.findings == []
    assert any("only some keys" in p for p in report.problems)


def test_thresholds_override_from_the_command_line(sweep, capsys):
    assert cli(["report", str(sweep / "kl_blowup"), "--threshold", "kl.kl_extreme=1000", "--threshold",
                "kl.kl_high=1000", "--min-severity", "warning"]) == 0
    assert "[kl_too_high]" not in capsys.readouterr().out
    assert cli(["report", str(sweep), "--threshold", "kl_high=0.3"]) == 2
    assert "expected CHECK.FIELD=NUMBER" in capsys.readouterr().err
