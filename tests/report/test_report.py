"""The post-hoc report on event files written by real SB3 runs, with and without the callbacks."""

import json
import os
import warnings

import pytest
from conftest import ppo_small, tiny
from stable_baselines3 import A2C, PPO

from sb3_diagnostics import DiagnosticsCallback, Severity
from sb3_diagnostics.cli import main as cli
from sb3_diagnostics.envs import NoisyRewardEnv
from sb3_diagnostics.report import ReportInputError, find_runs, judge_run, report_runs
from sb3_diagnostics.report.plot import plot_run

#: plain SB3 runs (no callback), each with a real fault, and the healthy twin.
#: From SB3's logs alone, entropy is train/entropy_loss averaged over an update's epochs while the
#: policy moves: blurrier than the live measurement, so the collapse case is an unambiguous one.
PLAIN_RUNS = {
    "entropy_collapse": (A2C, lambda: "CartPole-v1", tiny(learning_rate=0.05, n_steps=8), 2000, "entropy_collapse"),
    "kl_blowup": (PPO, lambda: "CartPole-v1", ppo_small(learning_rate=0.1, n_epochs=20), 3000, "kl_too_high"),
    "critic_broken": (PPO, NoisyRewardEnv, ppo_small(learning_rate=0.01, n_epochs=30), 8192,
                      "explained_variance_negative"),
    "lr_typo": (PPO, lambda: "CartPole-v1", ppo_small(learning_rate=3e-10), 3000, "policy_not_updating"),
    "healthy": (PPO, lambda: "CartPole-v1", ppo_small(), 6000, None),
}


def _learn(model, steps, callback=None):  # type: ignore[no-untyped-def]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.learn(steps, callback=callback, log_interval=1)  # A2C logs every 100 updates by default


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):  # type: ignore[no-untyped-def]
    root = tmp_path_factory.mktemp("sweep")
    for name, (algo, make_env, kwargs, steps, _) in PLAIN_RUNS.items():
        model = algo("MlpPolicy", make_env(), tensorboard_log=str(root / name), **kwargs)
        _learn(model, steps, None)
    return root


@pytest.mark.parametrize("name", list(PLAIN_RUNS))
def test_plain_sb3_logs_give_the_right_codes(sweep, name):
    expected = PLAIN_RUNS[name][4]
    [run] = find_runs(sweep / name)
    report = judge_run(run)
    assert report.sources == ["SB3 train/*"]
    serious = {f.code for f in report.findings if f.severity >= Severity.WARNING}
    if expected is None:
        assert serious == set()
    else:
        assert expected in serious


def test_sweep_is_ranked_and_exported(sweep, capsys, tmp_path):
    out = tmp_path / "report.json"
    code = cli(["report", str(sweep), "--json", str(out)])
    table = capsys.readouterr().out
    assert code == 1  # policy_not_updating is an error
    lines = [line for line in table.splitlines() if "sweep" in line]
    statuses = [line.split()[0] for line in lines]
    assert statuses == sorted(statuses, key=["ERROR", "WARNING", "INFO", "OK"].index)  # most broken first
    assert "lr_typo" in " ".join(line for line in lines if line.startswith("ERROR"))
    assert lines[-1].startswith("OK") and "healthy" in lines[-1]
    data = json.loads(out.read_text())
    assert len(data["runs"]) == len(PLAIN_RUNS)
    assert data["runs"][-1]["status"] == "ok"
    assert {"code", "severity", "step", "message", "hint"} <= set(data["runs"][0]["findings"][0])


def test_dashboard_has_the_key_panels(sweep, tmp_path):
    report = judge_run(find_runs(sweep / "kl_blowup")[0])
    png = tmp_path / "run.png"
    fig = plot_run(report, png)
    titles = [ax.get_title() for ax in fig.axes if ax.get_visible()]
    assert titles[:6] == ["episode reward", "entropy loss (SB3)", "explained variance", "approx KL", "clip fraction",
                          "value loss"]
    marked = [line for ax in fig.axes for line in ax.lines if line.get_linestyle() == "--"]
    assert marked  # a marker where each finding began
    assert png.stat().st_size > 10_000
    assert cli(["report", str(sweep / "healthy"), "--plot", str(tmp_path / "h.png")]) == 0


def test_live_callback_and_report_agree(tmp_path):
    model = PPO("MlpPolicy", NoisyRewardEnv(), tensorboard_log=str(tmp_path),
                **ppo_small(learning_rate=0.01, n_epochs=30))
    callback = DiagnosticsCallback()
    _learn(model, 8192, callback)
    [run] = find_runs(tmp_path)
    report = judge_run(run)
    assert "diagnostics/*" in report.sources
    live = [(f.code, f.severity, f.step) for f in callback.findings]
    offline = [(f.code, f.severity, f.step) for f in report.findings]
    assert live == offline and live


def test_bad_inputs_give_clear_messages(tmp_path, capsys):
    with pytest.raises(ReportInputError, match="does not exist"):
        find_runs(tmp_path / "nope")
    (tmp_path / "empty_dir").mkdir()
    assert cli(["report", str(tmp_path / "empty_dir")]) == 2
    assert "No TensorBoard event files" in capsys.readouterr().err

    run = tmp_path / "broken_run"
    run.mkdir()
    (run / "events.out.tfevents.1.host").write_bytes(b"")  # empty file
    report = judge_run(run)
    assert report.findings == [] and "no scalars the rules can read" in report.problems[-1]

    (run / "events.out.tfevents.2.host").write_bytes(b"\x50\x00\x00\x00\x00\x00\x00\x00garbage")  # truncated
    report = judge_run(run)
    assert any("truncated record" in p for p in report.problems)
    assert cli(["report", str(run)]) == 0
    assert "note: events.out.tfevents.2.host: truncated record" in capsys.readouterr().out


def test_truncated_copy_of_a_real_run_still_reads(sweep, tmp_path):
    [run] = find_runs(sweep / "lr_typo")
    [event_file] = [p for p in os.listdir(run) if "tfevents" in p]
    data = (run / event_file).read_bytes()
    (tmp_path / event_file).write_bytes(data[: len(data) * 2 // 3])  # the run was killed mid-write
    report = judge_run(tmp_path)
    assert any("truncated" in p for p in report.problems)
    assert "policy_not_updating" in {f.code for f in report.findings}


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
    with pytest.raises(SystemExit, match="CHECK.FIELD=NUMBER"):
        cli(["report", str(sweep), "--threshold", "kl_high=0.3"])


def test_demo_runs_end_to_end(capsys):
    assert cli(["demo", "--short", "--scenario", "learning-rate"]) == 0
    out = capsys.readouterr().out
    assert "BROKEN  learning_rate=0.1" in out and "FIXED  learning_rate=0.0003" in out
    assert "[kl_too_high]" in out and "silent: no finding at warning level" in out
