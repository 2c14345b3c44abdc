"""
A dashboard of one run: the charts of its findings first (each with the threshold it crossed), then the
key diagnostics, with a marker where each finding began.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sb3_diagnostics.findings import Finding, Severity
from sb3_diagnostics.report.judge import RunReport
from sb3_diagnostics.thresholds import EntropyThresholds, KLThresholds, ValueThresholds
from sb3_diagnostics.triage import triage

_ENTROPY = ["diagnostics/entropy_normalized", "train/entropy_loss"]
_KL = ["diagnostics/approx_kl", "train/approx_kl", "train/kl_divergence_loss"]
_EV = ["diagnostics/explained_variance", "train/explained_variance"]

#: panel title -> tags tried in order (the first present is drawn), and a reference line (label, value) from
#: the catalog defaults; drawn after the panels of the findings, in this order
PANELS: list[tuple[str, list[str], tuple[str, float] | None]] = [
    ("episode reward", ["rollout/ep_rew_mean"], None),
    ("entropy (fraction of maximum)", _ENTROPY, ("collapse", EntropyThresholds().collapse)),
    ("smallest action std (fraction of range)", ["diagnostics/action_std_min"],
     ("collapse", EntropyThresholds().std_collapse)),
    ("explained variance", _EV, ("critic broken below", ValueThresholds().ev_negative)),
    ("approx KL", _KL, ("too high", KLThresholds().kl_high)),
    ("clip fraction", ["diagnostics/clip_fraction", "train/clip_fraction"], ("high", KLThresholds().clip_fraction)),
    ("value loss", ["train/value_loss"], None),
]

#: finding code -> (panel title, tags tried in order): the chart that shows the finding; its value and
#: threshold are in the unit of these tags
CODE_PANELS: dict[str, tuple[str, list[str]]] = {
    "entropy_collapse": ("entropy (fraction of maximum)", _ENTROPY),
    "policy_stays_random": ("entropy (fraction of maximum)", _ENTROPY),
    "action_std_collapse": ("smallest action std (fraction of range)", ["diagnostics/action_std_min"]),
    "explained_variance_negative": ("explained variance", _EV),
    "critic_not_learning": ("critic error (relative to the returns)", ["diagnostics/value_error_rel"]),
    "kl_too_high": ("approx KL", _KL),
    "policy_not_updating": ("approx KL", _KL),
    "clip_fraction_high": ("clip fraction", ["diagnostics/clip_fraction", "train/clip_fraction"]),
    "target_kl_early_stop": ("epochs completed per update", ["diagnostics/epochs_completed"]),
    "advantage_explosion": ("advantages: largest |A|", ["diagnostics/advantage_abs_max"]),
    "advantage_zero_variance": ("advantages: std", ["diagnostics/advantage_std"]),
    "grad_norm_exploding": ("gradient norm", ["diagnostics/grad_norm"]),
    "grad_norm_vanishing": ("gradient norm", ["diagnostics/grad_norm"]),
    "q_value_divergence": ("Q-values: mean", ["diagnostics/q_mean"]),
    "target_update_too_fast": ("target network speed", ["diagnostics/target_drift_ratio"]),
    "vecnormalize_reward_clipped": ("VecNormalize: rewards made alike by clipping (x)",
                                    ["diagnostics/vecnorm_reward_squeeze"]),
    "vecnormalize_obs_clipped": ("VecNormalize: clipped fraction of observations", ["diagnostics/vecnorm_obs_clip_frac"]),
    "reward_sparse": ("rewarded fraction of steps", ["diagnostics/reward_nonzero_frac"]),
    "reward_low_snr": ("reward signal-to-noise", ["diagnostics/reward_snr"]),
    "reward_scale_huge": ("reward: largest |r|", ["diagnostics/reward_abs_max"]),
    "reward_scale_tiny": ("reward: largest |r|", ["diagnostics/reward_abs_max"]),
    "reward_decreasing": ("episode reward", ["rollout/ep_rew_mean"]),
}
#: panels drawn by default (``max_panels``): the findings' panels and the first key diagnostics
MAX_PANELS = 8
#: logged scalars that say nothing on a chart
_NOT_DRAWN = {"diagnostics/n_epochs"}
_STYLES: dict[Severity, tuple[Any, float]] = {
    Severity.ERROR: ("-", 1.6), Severity.WARNING: ("--", 1.2), Severity.INFO: (":", 1.0),
}


def _first_present(report: RunReport, tags: Sequence[str]) -> str | None:
    return next((t for t in tags if report.scalars.get(t)), None)


def _varies(points: Sequence[tuple[int, float]]) -> bool:
    return len({v for _, v in points}) > 1


def _steps(x: float, _: Any = None) -> str:
    """Step axis labels: 0, 500, 10k, 1.5M."""
    for scale, suffix in ((1e6, "M"), (1e3, "k")):
        if abs(x) >= scale:
            return f"{x / scale:.3g}{suffix}"
    return f"{x:.0f}"


def panels_of(report: RunReport, max_panels: int | None = MAX_PANELS) -> list[dict[str, Any]]:
    """
    The panels of the dashboard, in order: one per finding at warning or above (root causes first, with
    the threshold each crossed), then the key diagnostics (reward, entropy, explained variance, KL, clip
    fraction, value loss) with their default thresholds, then every other ``diagnostics/*`` series that varies.

    :param report: a judged run
    :param max_panels: at most this many (the findings' panels are always kept); None for all
    :return: dicts with ``title``, ``tag``, ``lines`` (label, value) and ``codes`` (the findings shown)
    """
    panels: list[dict[str, Any]] = []
    by_tag: dict[str, dict[str, Any]] = {}

    def add(title: str, tag: str, lines: list[tuple[str, float]]) -> dict[str, Any]:
        if tag in by_tag:
            panel = by_tag[tag]
        else:
            if tag == "train/entropy_loss":  # SB3's loss, not a fraction: no fraction threshold on it
                title, lines = "entropy loss (SB3)", []
            panel = by_tag[tag] = {"title": title, "tag": tag, "lines": [], "codes": []}
            panels.append(panel)
        for line in lines:
            if tag != "train/entropy_loss" and line not in panel["lines"]:
                panel["lines"].append(line)
        return panel

    for f in _serious(report):
        if f.code in CODE_PANELS:
            title, tags = CODE_PANELS[f.code]
            tag = _first_present(report, tags)
            if tag is not None:
                line = [(f"{f.code} threshold", f.threshold)] if math.isfinite(f.threshold) else []
                panel = add(title, tag, line)
                if f.code not in panel["codes"]:
                    panel["codes"].append(f.code)
    n_findings = len(panels)
    for title, tags, reference in PANELS:
        tag = _first_present(report, tags)
        if tag is not None and tag not in by_tag:
            add(title, tag, [reference] if reference is not None else [])
    used = {tag for _, tags, _ in PANELS for tag in tags} | set(by_tag)
    for tag in sorted(report.scalars):
        if (tag.startswith("diagnostics/") and not tag.startswith(("diagnostics/alert/", "diagnostics/context/"))
                and tag not in used and tag not in _NOT_DRAWN and _varies(report.scalars[tag])):
            add(tag[len("diagnostics/"):], tag, [])
    if max_panels is not None:
        panels = panels[:max(max_panels, n_findings)]
    return panels


def _serious(report: RunReport) -> list[Finding]:
    """The findings at warning or above, root causes first, one per code (its first onset)."""
    seen: dict[str, Finding] = {}
    for f in triage(report.findings, report.spans):
        if f.severity >= Severity.WARNING and f.code not in seen:
            seen[f.code] = f
    return list(seen.values())


def plot_run(report: RunReport, path: str | Path | None = None, max_panels: int | None = MAX_PANELS):  # type: ignore[no-untyped-def]
    """
    Draw the dashboard (see :func:`panels_of`). A vertical line marks where each finding at warning or above
    began (one colour per finding, solid for an error, dashed for a warning; the legend at the top names
    them); horizontal dotted lines are thresholds: the one each finding crossed on its own chart, the
    defaults elsewhere. Every chart has its own step axis labels (10k, 1.5M).

    :param report: a judged run (its ``scalars`` are drawn)
    :param path: where to write a PNG, or None to only return the figure
    :param max_panels: at most this many charts (the findings' charts are always drawn); None for every series
    :return: the matplotlib ``Figure``
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.ticker import FuncFormatter, SymmetricalLogLocator

    panels = panels_of(report, max_panels)
    serious = _serious(report)
    palette = [f"C{i}" for i in range(1, 10)]  # C0 (blue) draws the data
    colors = {f.code: palette[i % len(palette)] for i, f in enumerate(serious)}

    cols = 2
    rows = max(1, (len(panels) + cols - 1) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(12, 2.7 * rows + 0.5 + 0.2 * math.ceil(len(serious) / 3)),
                             squeeze=False)
    last = max((s for points in report.scalars.values() for s, _ in points), default=1)
    for ax, panel in zip(axes.flat, panels, strict=False):
        steps, values = zip(*report.scalars[panel["tag"]], strict=True)
        ax.plot(steps, values, linewidth=1.2, color="tab:blue")
        for label, value in panel["lines"]:
            ax.axhline(value, color="black", linestyle=":", linewidth=1.0, label=f"{label} ({value:g})")
        if panel["lines"]:
            ax.legend(fontsize=7, loc="best")
        for f in serious:
            style, width = _STYLES[f.severity]
            ax.axvline(f.step, color=colors[f.code], linestyle=style, linewidth=width, alpha=0.9)
        positive = [v for v in values if v > 0] + [v for _, v in panel["lines"] if v > 0]
        if "kl" in panel["tag"] and positive and max(positive) / min(positive) > 100:
            # healthy KL is ~0.01, a blow-up ~10, a frozen policy ~0: all must be visible
            ax.set_yscale("symlog", linthresh=min(positive))
            ax.set_ylim(bottom=0)
            ax.yaxis.set_major_locator(SymmetricalLogLocator(base=100, linthresh=min(positive)))
        shown = f"  [{', '.join(panel['codes'])}]" if panel["codes"] else ""
        ax.set_title(panel["title"] + shown, fontsize=10, color="black" if not panel["codes"] else "darkred")
        ax.set_xlim(0, last * 1.02)  # a finding at the last step stays visible
        ax.xaxis.set_major_formatter(FuncFormatter(_steps))
        ax.tick_params(labelsize=8)
        ax.grid(alpha=0.3)
    for ax in axes.flat[len(panels):]:
        ax.set_visible(False)
    for ax in axes[-1]:
        ax.set_xlabel("timesteps")
    handles = [Line2D([], [], color=colors[f.code], linestyle=_STYLES[f.severity][0], linewidth=_STYLES[f.severity][1],
                      label=f"{f.code} ({f.severity}) from step {_steps(f.step)}") for f in serious]
    title = f"{report.path}" + ("" if serious else "\nno finding at warning level")
    fig.suptitle(title, fontsize=10)
    if handles:
        fig.legend(handles=handles, loc="upper center", ncol=min(3, len(handles)), fontsize=8,
                   bbox_to_anchor=(0.5, 1 - 0.3 / fig.get_figheight()), frameon=False)
    top = 1 - (0.3 + 0.2 * math.ceil(len(handles) / 3)) / fig.get_figheight()
    fig.tight_layout(rect=(0, 0, 1, top))
    if path is not None:
        fig.savefig(path, dpi=110)
    return fig
