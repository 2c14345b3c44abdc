"""
Triage: root causes first, each followed by the findings it explains, and the text every report uses.

A finding gets ``caused_by`` when a finding that can explain it (a causal edge of the catalog,
:attr:`~sb3_diagnostics.catalog.CatalogEntry.explains`) began at or before it. Roots are ordered the
way a practitioner rules causes out (:data:`~sb3_diagnostics.catalog.STAGES`: NaN, environment,
pipeline, value function, exploration, gradients, advantages, policy updates, reward, lagging
indicators), then by onset. Torch-free.
"""

from __future__ import annotations

import dataclasses
import html
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sb3_diagnostics.catalog import STAGES, entry, explains
from sb3_diagnostics.findings import Finding, Severity

HEALTHY_ADVICE = (
    "All trainer diagnostics look healthy. If the reward is still flat, the problem is the reward, the "
    "environment or the task design: log each reward component, compare the trained return with a random "
    "policy's (check_training_env prints it), check that observations contain what the reward depends on, and "
    "consider reward shaping or a curriculum (A. Jones, 'Debugging RL, Without the Agonizing Pain': "
    "https://andyljones.com/posts/rl-debugging.html)."
)

_INTERNAL = STAGES.index("diagnostics itself")


Spans = Mapping[str, list[list[int]]]


def _end(f: Finding, spans: Spans | None) -> int:
    """The last step ``f``'s problem held (its onset when unknown)."""
    for start, end in (spans or {}).get(f.code, []):
        if start == f.step:
            return end
    return f.step


def _precedes(cause: Finding, effect: Finding, spans: Spans | None = None) -> bool:
    """
    Whether ``cause`` can be the cause of ``effect``: it can explain it (a causal edge) and it began before
    the effect ended. A cause whose check needs more evidence (a reward window) is often seen after its
    consequences began, while they still hold. Where each can explain the other, the earlier onset wins,
    then the more upstream stage; NaN explains only what came after it.
    """
    if not explains(cause.code, effect.code):
        return False
    mutual = explains(effect.code, cause.code)
    if mutual or "*" in entry(cause.code).explains:
        if cause.step != effect.step:
            return cause.step < effect.step
        return not mutual or entry(cause.code).stage < entry(effect.code).stage
    return cause.step <= _end(effect, spans)


def triage(findings: Iterable[Finding], spans: Spans | None = None) -> list[Finding]:
    """
    Order findings for a reader: each root cause (ordered by stage; within a stage, a root that can explain
    another root first; then by severity and onset) followed by every finding it explains, directly or
    through another, in onset order. A consequence carries
    ``caused_by``: the code of the earliest finding that explains it.

    :param findings: findings in any order (e.g. ``DiagnosticsCallback.findings``)
    :param spans: per code, [first, last] step of each episode of trouble (``Engine.spans``): a cause
        seen while a consequence still held explains it too
    :return: new :class:`Finding` objects (``caused_by`` set), roots first
    """
    items = list(findings)
    cause_of: dict[int, int] = {}
    for i, f in enumerate(items):
        if entry(f.code).stage == _INTERNAL:
            continue
        candidates = [
            j for j, c in enumerate(items)
            if j != i and c.code != f.code and entry(c.code).stage != _INTERNAL and _precedes(c, f, spans)
        ]
        if candidates:
            cause_of[i] = min(candidates, key=lambda j: (items[j].step, entry(items[j].code).stage, j))
    # Chains of causes at one step can close a loop: the most upstream finding of a loop is its root.
    for i in range(len(items)):
        seen: list[int] = []
        r = i
        while r in cause_of and r not in seen:
            seen.append(r)
            r = cause_of[r]
        if r in seen:
            loop = seen[seen.index(r):]
            del cause_of[min(loop, key=lambda k: (entry(items[k].code).stage, k))]
    root_of: dict[int, int] = {}
    for i in range(len(items)):
        r = i
        while r in cause_of:
            r = cause_of[r]
        root_of[i] = r
    candidates = [i for i in range(len(items)) if i not in cause_of]

    def upstream_of_another(i: int) -> bool:
        """Whether root ``i`` can explain another root of its stage that cannot explain it (a KL blow-up and the
        clipped ratios it causes, each seen at a different moment): the explanation goes first."""
        return any(
            j != i and entry(items[j].code).stage == entry(items[i].code).stage
            and explains(items[i].code, items[j].code) and not explains(items[j].code, items[i].code)
            for j in candidates
        )

    roots = sorted(candidates, key=lambda i: (entry(items[i].code).stage, not upstream_of_another(i),
                                              -int(items[i].severity), items[i].step, i))
    out: list[Finding] = []
    for r in roots:
        out.append(dataclasses.replace(items[r], caused_by=None))
        followers = sorted((i for i in cause_of if root_of[i] == r), key=lambda i: (items[i].step, i))
        out += [dataclasses.replace(items[i], caused_by=items[cause_of[i]].code) for i in followers]
    return out


def triage_order(findings: Iterable[Finding]) -> list[Finding]:
    """
    Findings judged at one moment (a pre-flight, a policy check): most upstream stage first, then most severe.

    :param findings: findings in any order
    :return: the triage (see :func:`triage`)
    """
    return triage(findings)


def _trees(ordered: Sequence[Finding]) -> list[list[Finding]]:
    """Split a triage (roots first, each followed by its consequences) into [root, *consequences] groups."""
    trees: list[list[Finding]] = []
    for f in ordered:
        if f.caused_by is None or not trees:
            trees.append([f])
        else:
            trees[-1].append(f)
    return trees


def _serious(tree: list[Finding], min_severity: Severity) -> bool:
    """Whether a root or anything it explains is at ``min_severity`` or above."""
    return max(g.severity for g in tree) >= min_severity


def first_problem(
    findings: Sequence[Finding], min_severity: Severity = Severity.WARNING, spans: Spans | None = None
) -> Finding | None:
    """
    :return: the first root cause (what the reader should fix first) at ``min_severity`` or above, or below it
        but explaining a finding that is (an ``info`` "the reward is mostly noise" behind a critic that learns
        nothing: the consequence shows the cause matters); None when there is none
    """
    return next((tree[0] for tree in _trees(triage(findings, spans))
                 if entry(tree[0].code).stage != _INTERNAL and _serious(tree, min_severity)), None)


def _span_text(f: Finding, spans: Spans | None, last_step: int | None) -> str:
    """``from step 3072`` or, for a problem that stopped holding, ``from step 3072 to 9216``."""
    if spans and last_step is not None:
        for start, end in spans.get(f.code, []):
            if start == f.step and end < last_step:
                return f"from step {start} to {end} (then quiet)"
    return f"from step {f.step}"


_SEVERITY_COLORS = {Severity.ERROR: "#c62828", Severity.WARNING: "#e65100", Severity.INFO: "#607d8b"}


def findings_html(
    findings: Iterable[Finding],
    *,
    min_severity: Severity = Severity.INFO,
    spans: Spans | None = None,
    last_step: int | None = None,
    title: str = "sb3-diagnostics report",
    notes: Sequence[str] = (),
) -> str:
    """
    The triage as an HTML table (how reports display in Jupyter): one row per finding, root causes first,
    each consequence indented under its cause, with severity, code, steps, message, what to try and cause.
    Every text is escaped.

    :param findings: the findings of a run
    :param min_severity: leave out findings below this severity
    :param spans: per code, [first, last] step of each episode of trouble (``Engine.spans``)
    :param last_step: the last step of the run (with ``spans``)
    :param title: the heading
    :param notes: lines shown above the table (what was measured, what could not be read ...)
    :return: an HTML fragment
    """
    esc = html.escape
    every = triage(findings, spans)
    shown = [f for f in every if f.severity >= min_severity]
    parts = [f'<div class="sb3-diagnostics-report"><p><strong>{esc(title)}</strong>']
    if shown:
        counts = {s: sum(f.severity == s for f in shown) for s in Severity}
        parts.append(": " + ", ".join(f"{n} {s}{'s' if n > 1 else ''}" for s, n in reversed(counts.items()) if n)
                     + " (root causes first)")
    parts.append("</p>")
    parts += [f"<p>{esc(n)}</p>" for n in notes]
    if not shown:
        text = (f"No findings at {min_severity} or above ({len(every)} below it; lower min_severity to see them)."
                if every else f"No findings. {HEALTHY_ADVICE}")
        parts.append(f"<p>{esc(text)}</p></div>")
        return "".join(parts)
    cell = 'style="text-align:left; vertical-align:top"'
    parts.append('<table class="sb3-diagnostics-findings"><thead><tr>'
                 + "".join(f"<th {cell}>{h}</th>" for h in ("severity", "code", "steps", "message", "what to try",
                                                            "caused by"))
                 + "</tr></thead><tbody>")
    for f in shown:
        color = _SEVERITY_COLORS[f.severity]
        code = f"<code>{esc(f.code)}</code>" if f.caused_by is None else f"&#8627; <code>{esc(f.code)}</code>"
        cause = f"<code>{esc(f.caused_by)}</code>" if f.caused_by else ""
        parts.append(
            f'<tr class="sb3d-{f.severity}">'
            f'<td {cell}><strong style="color:{color}">{str(f.severity).upper()}</strong></td>'
            f"<td {cell}>{code}</td><td {cell}>{esc(_span_text(f, spans, last_step))}</td>"
            f"<td {cell}>{esc(f.message)}</td><td {cell}>{esc(f.hint)}</td><td {cell}>{cause}</td></tr>"
        )
    parts.append("</tbody></table>")
    first = first_problem(shown, spans=spans)
    if first is not None:
        parts.append(f"<p>Start with <code>{esc(first.code)}</code>: the findings folded under it are likely its "
                     "consequences and may go away with it.</p>")
    parts.append("</div>")
    return "".join(parts)


class ReportText(str):
    """
    The text of a report: a ``str`` (print it, search it, save it) that also shows as itself at the
    Python prompt (not as a quoted one-liner) and as an HTML table in Jupyter.
    """

    findings: list[Finding]
    spans: Spans | None
    last_step: int | None
    min_severity: Severity

    def __new__(
        cls, text: str, findings: Iterable[Finding] = (), *, min_severity: Severity = Severity.INFO,
        spans: Spans | None = None, last_step: int | None = None,
    ) -> ReportText:
        self = super().__new__(cls, text)
        self.findings, self.spans, self.last_step, self.min_severity = list(findings), spans, last_step, min_severity
        return self

    def __repr__(self) -> str:
        return str.__str__(self)

    def _repr_html_(self) -> str:
        return findings_html(self.findings, min_severity=self.min_severity, spans=self.spans, last_step=self.last_step)


def format_report(
    findings: Iterable[Finding],
    *,
    min_severity: Severity = Severity.INFO,
    spans: Spans | None = None,
    last_step: int | None = None,
) -> ReportText:
    """
    Render the triage as text: each root cause with what to try, and the findings it explains folded under it.

    :param findings: the findings of a run
    :param min_severity: leave out findings below this severity
    :param spans: per code, [first, last] step of each episode of trouble (``Engine.spans``), to say
        which problems stopped
    :param last_step: the last step of the run (with ``spans``)
    :return: multi-line text, ending with what to look at first (a ``str`` that displays as a table in Jupyter)
    """
    findings = list(findings)
    text = _format_report(findings, min_severity=min_severity, spans=spans, last_step=last_step)
    return ReportText(text, findings, min_severity=min_severity, spans=spans, last_step=last_step)


def _format_report(
    findings: list[Finding], *, min_severity: Severity, spans: Spans | None, last_step: int | None
) -> str:
    every = triage(findings, spans)
    shown = [f for f in every if f.severity >= min_severity]
    lines = ["sb3-diagnostics report"]
    if not shown:
        if every:
            lines.append(f"No findings at {min_severity} or above ({len(every)} below it; lower min_severity to see them).")
        else:
            lines += ["No findings.", HEALTHY_ADVICE]
        return "\n".join(lines)
    counts = {str(s): sum(f.severity == s for f in shown) for s in Severity}
    lines.append(", ".join(f"{n} {name}{'s' if n > 1 else ''}" for name, n in reversed(counts.items()) if n)
                 + " (root causes first)")
    shown_codes = {id(f) for f in shown}
    number = 0
    for f in every:
        if id(f) not in shown_codes:
            continue
        when = _span_text(f, spans, last_step)
        if f.caused_by is None:
            number += 1
            lines.append(f"\n{number}. {str(f.severity).upper():7s} [{f.code}] {when}")
            lines.append(f"   {f.message}")
            lines.append(f"   Try: {f.hint}")
        else:
            lines.append(f"   -> {str(f.severity).upper():7s} [{f.code}] {when}, likely a consequence of [{f.caused_by}]")
            lines.append(f"      {f.message}")
    serious = [f for f in shown if f.severity >= Severity.WARNING]
    first = first_problem(shown, spans=spans)
    if first is not None:
        lines.append(
            f"\nStart with [{first.code}]: the findings folded under it are likely its consequences "
            "and may go away with it."
        )
    elif not serious:
        lines.append("\nNothing at warning level. " + HEALTHY_ADVICE)
    return "\n".join(lines)


class Report(list[Finding]):
    """
    The findings of a check run at one moment (``check_training_env``, ``check_policy``): a
    ``list[Finding]`` in triage order, with a ``summary`` of what was measured.

    :param findings: the findings (put in triage order)
    :param summary: what was measured, for :meth:`format`; ``notes`` holds sentences
    """

    #: first line of :meth:`format`
    title = "sb3-diagnostics"

    def __init__(self, findings: Iterable[Finding] = (), summary: dict[str, Any] | None = None) -> None:
        super().__init__(triage(findings))
        self.summary: dict[str, Any] = summary or {}

    @property
    def ok(self) -> bool:
        """Whether no finding is at warning level or above."""
        return all(f.severity < Severity.WARNING for f in self)

    def _rows(self) -> list[tuple[str, str]]:
        """(label, text) rows of what was measured, shown above the findings."""
        return []

    def format(self, min_severity: Severity | str = Severity.INFO) -> str:
        """
        :param min_severity: leave out findings below this severity
        :return: what was measured, then the findings (root causes first) with what to try
        """
        level = Severity.parse(min_severity)
        rows = self._rows()
        width = max((len(k) for k, _ in rows), default=0)
        lines = [self.title]
        lines += [f"  {k:<{width}}  {v}" for k, v in rows]
        lines += [f"  note: {n}" for n in self.summary.get("notes", [])]
        shown = [f for f in self if f.severity >= level]
        if not shown:
            lines.append("No findings." if not self else f"No findings at {level} or above.")
        for f in shown:
            cause = f" (likely a consequence of {f.caused_by})" if f.caused_by else ""
            lines.append(f"[{f.severity}] {f.code}{cause}: {f.message}")
            lines.append(f"    -> {f.hint}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.format()

    def _repr_html_(self) -> str:
        notes = [f"{k}: {v}" for k, v in self._rows()] + [f"note: {n}" for n in self.summary.get("notes", [])]
        return findings_html(self, title=self.title, notes=notes)

    def __repr__(self) -> str:
        codes = ", ".join(f"{f.code}({f.severity})" for f in self)
        return f"{type(self).__name__}([{codes}])"


def summary(findings: Iterable[Finding], spans: Spans | None = None, min_severity: Severity = Severity.WARNING) -> str:
    """
    The end-of-``learn()`` summary (``DiagnosticsCallback(verbose=1)``): each root cause at ``min_severity``
    or above (or explaining one that is) on one line with what to try, its consequences folded under it.

    :param findings: the findings of the run
    :param spans: per code, the steps each problem held (``Engine.spans``)
    :param min_severity: leave out findings below this severity (unless they explain one above it)
    :return: a few lines of text
    """
    trees = [tree for tree in _trees(triage(findings, spans)) if _serious(tree, min_severity)]
    lines: list[str] = []
    for number, (root, *consequences) in enumerate(trees, 1):
        lines.append(f"  {number}. {str(root.severity).upper()} [{root.code}] from step {root.step}: "
                     f"{entry(root.code).title}. Try: {root.hint}")
        lines += [f"     -> [{g.code}] from step {g.step}, likely a consequence" for g in consequences
                  if g.severity >= min_severity]
    if not lines:
        return f"sb3-diagnostics: nothing at {min_severity} or above in this run."
    return "\n".join([f"sb3-diagnostics: {len(trees)} root cause(s), most upstream first:", *lines])
