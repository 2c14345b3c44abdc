"""
Judging a finished run: the logged scalars become the same named metric stream the live
callbacks feed, and the same rules (built by each check's ``make_rules``) judge it.
"""

from __future__ import annotations

import html
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sb3_diagnostics.engine import CONTEXT, PREFIX, Engine
from sb3_diagnostics.findings import Finding, Severity
from sb3_diagnostics.report.reader import RunScalars, read_run
from sb3_diagnostics.rules.nan import NONFINITE_AT
from sb3_diagnostics.rules.registry import all_rules
from sb3_diagnostics.sb3.train_log import SB3_OFFLINE_KEYS, SB3_ROLLOUT_KEYS, SB3_TRAIN_KEYS
from sb3_diagnostics.triage import findings_html, first_problem, triage

Stream = list[tuple[int, dict[str, float]]]


@dataclass
class RunReport:
    """
    The verdict on one run.

    :param path: run directory
    :param findings: what the rules found, in order of detection
    :param last_step: the last logged step
    :param sources: which scalars fed the rules ("diagnostics/*", "SB3 train/*", ...)
    :param problems: what could not be read or judged, as sentences
    :param scalars: the raw series (for plotting)
    :param spans: per code, [first, last] step of each episode of trouble
    """

    path: Path
    findings: list[Finding] = field(default_factory=list)
    last_step: int = 0
    sources: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    scalars: dict[str, list[tuple[int, float]]] = field(default_factory=dict, repr=False)
    spans: dict[str, list[list[int]]] = field(default_factory=dict, repr=False)
    judged: bool = False

    @property
    def readable(self) -> bool:
        """Whether the run held scalars the rules could judge (False: empty, corrupted or not an SB3 run)."""
        return self.judged

    @property
    def final_return(self) -> float | None:
        """The last logged mean episode return (``rollout/ep_rew_mean``), None when the run logged none."""
        points = [v for _, v in self.scalars.get("rollout/ep_rew_mean", []) if math.isfinite(v)]
        return points[-1] if points else None

    @property
    def worst(self) -> Severity | None:
        """The highest severity found, or None for a clean run."""
        return max((f.severity for f in self.findings), default=None)

    def __str__(self) -> str:
        from sb3_diagnostics.report.render import format_run

        return format_run(self)

    def __repr__(self) -> str:
        if not self.judged:
            return f"RunReport({str(self.path)!r}: unreadable, {len(self.problems)} problem(s))"
        top = first_problem(self.findings, Severity.WARNING, self.spans)
        first = f"; first problem {top.code} at step {top.step}" if top else ""
        status = str(self.worst) if self.worst is not None else "ok"
        return (f"RunReport({str(self.path)!r}: {status}, {len(self.findings)} finding(s){first}; "
                f"last step {self.last_step})")

    def _repr_html_(self) -> str:
        """The run's triage as an HTML table (Jupyter)."""
        title = f"Run {self.path} (last step {self.last_step}; read {', '.join(self.sources) or 'nothing'})"
        notes = [f"note: {p}" for p in self.problems]
        if not self.judged:
            lines = [title, *notes, "Not judged: nothing in this run could be read, so nothing can be said about "
                     "its health."]
            return '<div class="sb3-diagnostics-report">' + "".join(f"<p>{html.escape(t)}</p>" for t in lines) + "</div>"
        return findings_html(self.findings, spans=self.spans, last_step=self.last_step, title=title, notes=notes)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary."""
        return {
            "run": str(self.path),
            "status": str(self.worst) if self.worst is not None else ("ok" if self.judged else "unreadable"),
            "last_step": self.last_step,
            "final_return": self.final_return,
            "root_cause": top.code if (top := first_problem(self.findings, Severity.WARNING, self.spans)) else None,
            "sources": self.sources,
            "problems": self.problems,
            "findings": [
                {"code": f.code, "severity": str(f.severity), "step": f.step, "caused_by": f.caused_by,
                 "message": f.message, "hint": f.hint, "value": f.value, "threshold": f.threshold}
                for f in triage(self.findings, self.spans)
            ],
        }


#: logged scalars that are NaN when undefined (SB3's explained_variance of returns that did not vary)
UNDEFINED_OK = frozenset({"train/explained_variance"})


def _nonfinite_points(points: list[tuple[int, float]]) -> list[int]:
    return [step for step, value in points if not math.isfinite(value)]


def metric_stream(scalars: Mapping[str, list[tuple[int, float]]]) -> tuple[Stream, list[str]]:
    """
    Group logged scalars by step into metric dicts, under the names the rules read.

    ``diagnostics/*`` (written by the callbacks) are used as they are. Without them, SB3's own
    ``train/*`` are translated: ``train/explained_variance`` is one window per rollout and, for
    discrete actions, normalised entropy is bounded from above by the entropy relative to the first
    logged update (a fresh SB3 policy starts near uniform) and by entropy / log(2) (with a coarse
    ``log_interval``, such as A2C's default of 100, the first logged update may already have
    collapsed). Context the live callbacks know directly is derived: training progress from the
    steps, the learning-rate ratio from ``train/learning_rate``, and a lower bound of the size of
    single rewards from ``rollout/ep_rew_mean / ep_len_mean``.

    :param scalars: tag -> (step, value) pairs
    :return: (stream sorted by step, sources used)
    """
    # Two dumps at one step (the last rollout, then the final update at the end of learn()) are two
    # updates: the n-th value of a tag at a step belongs to the n-th dump there.
    by_dump: dict[tuple[int, int], dict[str, float]] = defaultdict(dict)
    nonfinite: dict[tuple[int, int], list[str]] = defaultdict(list)
    nonfinite_only: dict[int, list[str]] = {}
    ours = any(tag.startswith(PREFIX) and not tag.startswith((f"{PREFIX}alert/", CONTEXT)) for tag in scalars)
    sources = ["diagnostics/*"] if ours else []
    observed: set[tuple[int, int]] = set()  # dumps that carry the callback's own measurements
    for tag, points in scalars.items():
        if tag.startswith(CONTEXT):
            name = "_" + tag[len(CONTEXT):]  # the context the live rules had where a code held
        elif tag.startswith(PREFIX):
            name = tag[len(PREFIX):]
            if "/" in name and not name.startswith("reward_component/"):
                continue  # alert series and finding text are outputs, not inputs
        else:
            offline = "" if ours else SB3_OFFLINE_KEYS.get(tag)  # the callback measured these itself
            name = SB3_TRAIN_KEYS.get(tag) or SB3_ROLLOUT_KEYS.get(tag) or offline or ""
            if not name:
                if tag.startswith(("train/", "rollout/")):  # other losses: only their NaNs matter
                    for step_value in _nonfinite_points(points):
                        nonfinite_only.setdefault(step_value, []).append(tag)
                continue
        seen: dict[int, int] = defaultdict(int)
        for step, value in points:
            key = (step, seen[step])
            seen[step] += 1
            if not math.isfinite(value):
                # a NaN/Inf in a logged loss or statistic is nan_detected, not a huge KL or a negative EV;
                # explained variance is NaN when the returns did not vary (undefined, not broken), and our
                # own diagnostics/* ratios may be undefined: those are just missing
                if tag not in UNDEFINED_OK and not tag.startswith(PREFIX):
                    nonfinite[key].append(tag)
                continue
            by_dump[key].setdefault(name, value)
            if tag.startswith(PREFIX) and not tag.startswith(CONTEXT):
                observed.add(key)
    if ours:
        # The callback judged at its own moments (off-policy: every off_policy_interval steps) while SB3 dumps
        # rollout/* more often (every log_interval episodes): judge where the callback did, as it did.
        by_dump = defaultdict(dict, {k: m for k, m in by_dump.items() if k in observed or k in nonfinite})
    if any(tag in SB3_TRAIN_KEYS for tag in scalars):
        sources.append("SB3 train/*")
    for step, tags in nonfinite_only.items():
        nonfinite[(step, 0)].extend(tags)
    for key, tags in nonfinite.items():
        m = by_dump[key]
        m["nonfinite_count"] = m.get("nonfinite_count", 0.0) + len(tags)
        for tag in tags:
            m.setdefault(f"{NONFINITE_AT}{tag}", float(key[0]))
    if not by_dump:
        return [], sources
    stream = [(step, metrics) for (step, _), metrics in sorted(by_dump.items())]
    last = stream[-1][0]
    first_lr = next((m["_learning_rate"] for _, m in stream if "_learning_rate" in m), None)
    first_entropy = next((m["_entropy_loss"] for _, m in stream if "_entropy_loss" in m), None)
    discrete = "_std" not in {k for _, m in stream for k in m}
    for step, m in stream:
        m.setdefault("_progress", step / last if last > 0 else 0.0)  # the live value, where it was recorded
        m["_offline"] = 1.0  # read from the logs: what only the live callback measures is not known
        if first_lr and "_learning_rate" in m:
            m.setdefault("_lr_ratio", m["_learning_rate"] / first_lr)
        if not ours:
            length = m.get("_ep_len_mean")
            if "_ep_rew_mean" in m and length:
                m["_reward_per_step"] = abs(m["_ep_rew_mean"]) / length
            if "_sb3_explained_variance" in m:
                m["explained_variance"] = ev = m["_sb3_explained_variance"]
                value_loss = m.get("_value_loss")
                if value_loss is not None and value_loss >= 0 and ev < 1:
                    # Var[returns] = value loss / (1 - EV); the returns' size is at most |ep_rew_mean| or their std
                    # (an approximation: SB3 logs no mean return): the critic's error against their size.
                    spread = math.sqrt(value_loss / (1.0 - ev))
                    size = max(abs(m.get("_ep_rew_mean", 0.0)), spread)
                    if size > 0:
                        m["value_error_rel"] = math.sqrt(value_loss) / size
            if discrete and first_entropy and first_entropy < 0 and "_entropy_loss" in m:
                # entropy / log(n) is at most entropy / its first value (a fresh policy is near uniform, entropy
                # <= log(n)) and at most entropy / log(2) (n >= 2): the tighter bound catches a policy that had
                # collapsed before its first log (A2C logs every 100 updates), and neither can overstate a collapse
                entropy = -m["_entropy_loss"]
                m["entropy_normalized"] = max(0.0, min(1.0, entropy / -first_entropy, entropy / math.log(2)))
    return stream, sources


def judge_stream(
    stream: Iterable[tuple[int, Mapping[str, float]]], thresholds: Mapping[str, Any] | None = None, cooldown: int = 10
) -> Engine:
    """
    Run every check's rules over a metric stream through the engine, as the live callbacks do (same
    rules, same cooldown), silently.

    :param stream: (step, metrics) in step order
    :param thresholds: per-check overrides keyed by check key
    :param cooldown: as in ``DiagnosticsCallback``
    :return: the engine, holding the findings and their spans
    """
    engine = Engine(cooldown=cooldown, emit=False)
    rules = all_rules(thresholds)
    for step, metrics in stream:
        for key, check_rules in rules.items():
            engine.judge(step, metrics, check_rules, key)
    return engine


def judge_run(run: RunScalars | str | Path, thresholds: Mapping[str, Any] | None = None) -> RunReport:
    """
    Read (if needed) and judge one run.

    :param run: a run directory, or scalars already read
    :param thresholds: per-check overrides keyed by check name
    :return: the run's report; problems explain missing inputs instead of raising
    """
    scalars = run if isinstance(run, RunScalars) else read_run(run)
    report = RunReport(scalars.path, problems=list(scalars.problems), scalars=scalars.scalars)
    stream, report.sources = metric_stream(scalars.scalars)
    if not stream:
        report.problems.append(
            "no scalars the rules can read (neither diagnostics/* nor SB3's train/*): was this an SB3 run with "
            "tensorboard_log set, and did it reach its first log dump?"
        )
        return report
    report.last_step, report.judged = stream[-1][0], True
    names = {k for _, m in stream for k in m}
    if "approx_kl" not in names and "entropy_normalized" not in names:
        report.problems.append("only some keys were logged: no KL and no entropy, so update checks were skipped.")
    engine = judge_stream(stream, thresholds)
    report.findings, report.spans = engine.findings, engine.spans
    return report
