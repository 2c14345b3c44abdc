"""The PNG dashboard."""

from __future__ import annotations

from sb3_diagnostics.cli import main as cli
from sb3_diagnostics.report import find_runs, judge_run
from sb3_diagnostics.report.plot import plot_run


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
