"""A dashboard of one run: the key diagnostics over time, with a marker where each finding began."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from sb3_diagnostics.findings import Severity
from sb3_diagnostics.report.judge import RunReport
from sb3_diagnostics.thresholds import EntropyThresholds, KLThresholds, ValueThresholds

#: panel title -> tags tried in order (the first present is drawn; tags starting with "+" are all
#: drawn together when present), and a threshold line (label, value) from the catalog defaults
PANELS: list[tuple[str, list[str], tuple[str, float] | None]] = [
    ("episode reward", ["rollout/ep_rew_mean"], None),
    ("entropy (fraction of maximum)", ["diagnostics/entropy_normalized", "train/entropy_loss"],
     ("collapse", EntropyThresholds().collapse)),
    ("smallest action std (fraction of range)", ["diagnostics/action_std_min"],
     ("collapse", EntropyThresholds().std_collapse)),
    ("explained variance", ["diagnostics/explained_variance", "train/explained_variance"],
     ("critic broken below", ValueThresholds().ev_negative)),
    ("approx KL", ["diagnostics/approx_kl", "train/approx_kl", "train/kl_divergence_loss"],
     ("too high", KLThresholds().kl_high)),
    ("clip fraction", ["diagnostics/clip_fraction", "train/clip_fraction"], ("high", KLThresholds().clip_fraction)),
    ("value loss", ["train/value_loss"], None),
]
#: logged scalars that say nothing on a chart
_NOT_DRAWN = {"diagnostics/n_epochs"}
_COLORS = {Severity.ERROR: "tab:red", Severity.WARNING: "tab:orange", Severity.INFO: "tab:gray"}


def _first_present(report: RunReport, tags: Sequence[str]) -> str | None:
    return next((t for t in tags if report.scalars.get(t)), None)


def _varies(points: Sequence[tuple[int, float]]) -> bool:
    return len({v for _, v in points}) > 1


def plot_run(report: RunReport, path: str | Path | None = None):  # type: ignore[no-untyped-def]
    """
    Draw the dashboard: reward, entropy, explained variance, KL, clip fraction, value loss, then
    every other ``diagnostics/*`` series that varies. Dashed lines mark where each finding began
    (red error, orange warning), dotted lines the default thresholds.

    :param report: a judged run (its ``scalars`` are drawn)
    :param path: where to write a PNG, or None to only return the figure
    :return: the matplotlib ``Figure``
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    panels: list[tuple[str, str, tuple[str, float] | None]] = []
    for title, tags, reference in PANELS:
        tag = _first_present(report, tags)
        if tag is not None:
            panels.append((title if tag != "train/entropy_loss" else "entropy loss (SB3)", tag,
                           reference if tag != "train/entropy_loss" else None))
    used = {tag for _, tags, _ in PANELS for tag in tags}
    for tag in sorted(report.scalars):
        if (tag.startswith("diagnostics/") and not tag.startswith(("diagnostics/alert/", "diagnostics/context/"))
                and tag not in used and tag not in _NOT_DRAWN
                and _varies(report.scalars[tag])):
            panels.append((tag[len("diagnostics/"):], tag, None))

    cols = 2
    rows = max(1, (len(panels) + cols - 1) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(12, 2.6 * rows + 0.8), squeeze=False, sharex=True)
    first_seen: dict[str, tuple[int, Severity]] = {}
    for f in report.findings:
        if f.severity >= Severity.WARNING:
            first_seen.setdefault(f.code, (f.step, f.severity))
    for i, (ax, (title, tag, reference)) in enumerate(zip(axes.flat, panels, strict=False)):
        steps, values = zip(*report.scalars[tag], strict=True)
        ax.plot(steps, values, linewidth=1.2, color="tab:blue")
        if reference is not None:
            ax.axhline(reference[1], color="black", linestyle=":", linewidth=0.9, label=f"{reference[0]} ({reference[1]:g})")
            ax.legend(fontsize=7, loc="best")
        for code, (step, severity) in first_seen.items():
            ax.axvline(step, color=_COLORS[severity], linestyle="--", linewidth=0.9, alpha=0.8)
            if i < cols:  # label the markers once, on the top row
                ax.annotate(code, (step, 1.0), xycoords=("data", "axes fraction"), rotation=90, fontsize=7,
                            va="top", ha="right", color=_COLORS[severity])
        if "kl" in tag and min(values) > 0:
            ax.set_yscale("log")  # healthy KL is ~0.01, a blow-up ~10: both must be visible
        ax.set_title(title, fontsize=10)
        ax.grid(alpha=0.3)
    for ax in axes.flat[len(panels):]:
        ax.set_visible(False)
    for ax in axes[-1]:
        ax.set_xlabel("timesteps")
    summary = ", ".join(f"{code} @ {step}" for code, (step, _) in sorted(first_seen.items(), key=lambda kv: kv[1][0]))
    fig.suptitle(f"{report.path}\n{summary or 'no finding at warning level'}", fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    if path is not None:
        fig.savefig(path, dpi=110)
    return fig
