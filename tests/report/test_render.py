"""Rendering reports: the sweep table, JSON."""

from __future__ import annotations

import json

from sb3_diagnostics.cli import main as cli


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
