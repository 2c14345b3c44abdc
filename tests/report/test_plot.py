"""The PNG dashboard."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pytest

from sb3_diagnostics.cli import main as cli
from sb3_diagnostics.findings import Severity
from sb3_diagnostics.report import find_runs, judge_run
from sb3_diagnostics.report.plot import CODE_PANELS, MAX_PANELS, plot_run
from sb3_diagnostics.triage import triage

# The dashboard reads the report's sweep of plain SB3 runs, which this file would train a second time on its own
# worker (~50 s): the default suite stays under 10 minutes on 2 cores, CI runs these with the slow tests.
pytestmark = pytest.mark.slow


def _visible(fig):  # type: ignore[no-untyped-def]
    return [ax for ax in fig.axes if ax.get_visible()]


def _horizontal(ax):  # type: ignore[no-untyped-def]
    return [line.get_ydata()[0] for line in ax.lines if len(set(line.get_ydata())) == 1 and list(line.get_xdata()) == [0, 1]]


def _vertical(ax):  # type: ignore[no-untyped-def]
    return [line for ax_line in [ax] for line in ax_line.lines if list(line.get_ydata()) == [0, 1]]


def test_dashboard_shows_the_findings_first_with_their_thresholds(sweep, tmp_path):
    report = judge_run(find_runs(sweep / "kl_blowup")[0])
    serious = list(dict.fromkeys(f.code for f in triage(report.findings, report.spans)
                                 if f.severity >= Severity.WARNING))
    assert "kl_too_high" in serious
    png = tmp_path / "run.png"
    fig = plot_run(report, png)
    axes = _visible(fig)
    titles = [ax.get_title() for ax in axes]
    # the charts of the findings come first (root cause first), each naming its findings, then the reward
    drawn = [code for code in serious if code in CODE_PANELS]
    first = [next(i for i, t in enumerate(titles) if code in t) for code in drawn]
    assert first == sorted(first) and max(first) < titles.index("episode reward")
    assert titles[0].startswith("approx KL") or titles[0].startswith(CODE_PANELS[drawn[0]][0])
    kl = axes[next(i for i, t in enumerate(titles) if "kl_too_high" in t)]
    finding = next(f for f in report.findings if f.code == "kl_too_high")
    assert finding.threshold in _horizontal(kl)  # the threshold it crossed, on its own chart
    assert "kl_too_high threshold" in " ".join(t.get_text() for t in kl.get_legend().get_texts())
    # one marker per finding on every chart, one colour per finding, named in the figure's legend
    for ax in axes:
        assert len(_vertical(ax)) == len(serious)
        assert len({str(line.get_color()) for line in _vertical(ax)}) == len(serious)
    legend = " ".join(t.get_text() for t in fig.legends[0].get_texts())
    assert all(code in legend for code in serious) and "from step" in legend
    # readable step axes on every chart (not only the bottom row): 0, 1k, 2k ...
    fig.canvas.draw()
    for ax in axes:
        labels = [t.get_text() for t in ax.get_xticklabels() if t.get_visible() and t.get_text()]
        assert "1k" in labels or "2k" in labels, (ax.get_title(), labels)
    assert len(axes) <= max(MAX_PANELS, len(drawn))
    few = [ax.get_title() for ax in _visible(plot_run(report, max_panels=1))]  # fewer charts: the findings' stay
    assert few == titles[:len(drawn)]
    assert png.stat().st_size > 10_000
    plt.close("all")


def test_dashboard_of_a_healthy_run_has_no_marker(sweep, tmp_path):
    report = judge_run(find_runs(sweep / "healthy")[0])
    fig = plot_run(report)
    axes = _visible(fig)
    assert axes[0].get_title() == "episode reward" and not fig.legends
    assert all(_vertical(ax) == [] for ax in axes)
    assert "no finding at warning level" in fig._suptitle.get_text()  # type: ignore[union-attr]
    assert cli(["report", str(sweep / "healthy"), "--plot", str(tmp_path / "h.png")]) == 0
    plt.close("all")
