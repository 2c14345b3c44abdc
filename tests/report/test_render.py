"""Rendering reports: the sweep table, JSON."""

from __future__ import annotations

import json
import shutil

import pytest

from sb3_diagnostics.cli import main as cli
from sb3_diagnostics.report import format_run, judge_run
from sb3_diagnostics.triage import first_problem, triage


def test_sweep_is_ranked_and_exported(plain_runs, sweep, capsys, tmp_path):
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
    assert len(data["runs"]) == len(plain_runs)
    assert data["runs"][-1]["status"] == "ok"
    assert {"code", "severity", "step", "message", "hint"} <= set(data["runs"][0]["findings"][0])
    # each run's final return (its last rollout/ep_rew_mean) and root cause, in the table and the JSON
    header = next(line for line in table.splitlines() if line.startswith("STATUS"))
    assert header.split() == ["STATUS", "RUN", "FINAL", "RETURN", "ROOT", "CAUSE", "ALSO"]
    for run in data["runs"]:
        name = next(n for n in plain_runs if f"/{n}/" in run["run"] + "/")
        expected_code = plain_runs[name][-1]
        report = judge_run(run["run"])
        last = report.scalars["rollout/ep_rew_mean"][-1][1]
        assert run["final_return"] == last and report.final_return == last
        row = next(line for line in lines if line.split()[1] == run["run"]).split()
        assert float(row[2]) == pytest.approx(last, rel=1e-3)
        root = first_problem(report.findings, spans=report.spans)
        assert run["root_cause"] == (root.code if root else None)
        if expected_code is None:
            assert row[3] == "-" and run["root_cause"] is None
        else:
            assert row[3] == root.code and row[5] == str(root.step)  # "<code> @ <step>"
    # the healthy run learned, the broken ones did not (the column says which runs reached what)
    returns = {n: next(r["final_return"] for r in data["runs"] if f"/{n}/" in r["run"] + "/") for n in plain_runs}
    assert returns["healthy"] > returns["lr_typo"]


def test_run_report_displays_as_an_escaped_table_in_jupyter(sweep, tmp_path, html_table):
    # a run whose directory name holds HTML: the notebook shows it as text, never as markup
    run = tmp_path / "lr <b>typo</b> & co"
    shutil.copytree(next(p.parent for p in (sweep / "lr_typo").rglob("*tfevents*")), run)
    report = judge_run(run)
    fragment = report._repr_html_()
    assert "<b>typo</b>" not in fragment and "&lt;b&gt;typo&lt;/b&gt; &amp; co" in fragment
    table = html_table(fragment)
    assert table.header == ["severity", "code", "steps", "message", "what to try", "caused by"]
    ordered = triage(report.findings, report.spans)
    assert [row[1].lstrip("\u21b3 ") for row in table.rows] == [f.code for f in ordered]
    assert table.rows[0][:2] == ["ERROR", "policy_not_updating"] and table.rows[0][3] == ordered[0].message
    assert repr(report).startswith(f"RunReport({str(run)!r}: error, ") and "first problem policy_not_updating" in repr(report)
    assert str(report) == format_run(report)
    # the healthy twin: no table; an unreadable run says it was not judged
    healthy = judge_run(next(p.parent for p in (sweep / "healthy").rglob("*tfevents*")))
    assert "table" not in html_table(healthy._repr_html_()).tags and "No findings" in healthy._repr_html_()
    assert ": ok, 0 finding(s); last step" in repr(healthy) or ": info, " in repr(healthy)
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "events.out.tfevents.0").write_bytes(b"")
    unreadable = judge_run(empty)
    assert "Not judged" in unreadable._repr_html_() and "unreadable" in repr(unreadable)
