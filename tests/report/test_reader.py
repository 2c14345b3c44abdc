"""Reading event files: missing, empty, truncated."""

from __future__ import annotations

import os

import pytest

from sb3_diagnostics.cli import main as cli
from sb3_diagnostics.report import ReportInputError, find_runs, judge_run


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
    # nothing in it can be judged: that is bad input (exit 2 and what to pass instead), not a clean run (exit 0)
    assert cli(["report", str(run)]) == 2
    err = capsys.readouterr().err
    assert "nothing under" in err and "events.out.tfevents.2.host: truncated record" in err
    assert "tensorboard_log=" in err and ".;" not in err


def test_a_sweep_with_one_unreadable_run_is_judged_and_the_run_named(sweep, tmp_path, capsys):
    import shutil

    shutil.copytree(sweep / "healthy", tmp_path / "healthy")
    (tmp_path / "crashed").mkdir()
    (tmp_path / "crashed" / "events.out.tfevents.1.host").write_bytes(b"")
    assert cli(["report", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    assert "1 of 2 runs could not be read" in captured.err and "crashed" in captured.err
    assert "unreadable" in captured.out


def test_truncated_copy_of_a_real_run_still_reads(sweep, tmp_path):
    [run] = find_runs(sweep / "lr_typo")
    [event_file] = [p for p in os.listdir(run) if "tfevents" in p]
    data = (run / event_file).read_bytes()
    (tmp_path / event_file).write_bytes(data[: len(data) * 2 // 3])  # the run was killed mid-write
    report = judge_run(tmp_path)
    assert any("truncated" in p for p in report.problems)
    assert "policy_not_updating" in {f.code for f in report.findings}
