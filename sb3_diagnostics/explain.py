"""
What each finding code means, from the catalog: the text of ``sb3-diagnostics explain CODE`` and
``sb3-diagnostics codes``, and the pages of the documentation (one source, so none of them disagrees
with the callbacks). Torch-free.
"""

from __future__ import annotations

import dataclasses
import re

from sb3_diagnostics.catalog import CATALOG, STAGES, entry
from sb3_diagnostics.findings import Severity
from sb3_diagnostics.thresholds import PreflightThresholds, RewardThresholds, Thresholds

#: where a code is judged, by the key of its check
_WHERE = {
    "environment": "before training, by check_training_env (sb3-diagnostics check-env)",
    "policy": "on a model, by check_policy",
    "internal": "by the library itself",
}


@dataclasses.dataclass(frozen=True)
class ThresholdField:
    """
    One threshold of a check.

    :param name: field of the thresholds dataclass
    :param default: its default value
    :param doc: what it means (from the dataclass's docstring)
    """

    name: str
    default: object
    doc: str


@dataclasses.dataclass(frozen=True)
class Explanation:
    """
    Everything said about one finding code, as data (``explain`` renders it as text, the docs as a page).

    :param code: the finding code
    :param severity: its default severity
    :param stage: its triage stage (most upstream first)
    :param title: what it means, one line, capitalised
    :param where: where it is judged ("live, by the ... check of DiagnosticsCallback", ...)
    :param hint: what to try
    :param reference: a public URL
    :param thresholds_class: name of its thresholds dataclass (None: no thresholds)
    :param settings: how to change them, as code: live (and, after the fact, ``sb3-diagnostics report``), or
        for the pre-flight codes ``check_training_env``
    :param thresholds: the fields of its thresholds dataclass, with their defaults
    :param explains: codes it can explain (folded under it in the triage)
    :param explained_by: codes that can explain it
    """

    code: str
    severity: Severity
    stage: str
    title: str
    where: str
    hint: str
    reference: str
    thresholds_class: str | None = None
    settings: tuple[str, ...] = ()
    thresholds: tuple[ThresholdField, ...] = ()
    explains: tuple[str, ...] = ()
    explained_by: tuple[str, ...] = ()


def _thresholds_of(check: str, code: str) -> type[Thresholds] | None:
    from sb3_diagnostics.rules.registry import CHECKS

    if check in CHECKS:
        return CHECKS[check].thresholds
    if check == "environment":
        return RewardThresholds if code.startswith("reward_") else PreflightThresholds
    return None


def _field_docs(cls: type[Thresholds]) -> dict[str, str]:
    """``:param name: text`` of a thresholds dataclass's docstring, continuation lines joined."""
    docs: dict[str, str] = {}
    name = None
    for line in (cls.__doc__ or "").splitlines():
        match = re.match(r"\s*:param (\w+):\s*(.*)", line)
        if match:
            name = match.group(1)
            docs[name] = match.group(2).strip()
        elif name and line.strip():
            docs[name] += " " + line.strip()
    return docs


def explanation(code: str) -> Explanation:
    """
    :param code: a finding code
    :return: what it means, where and how it is judged, its thresholds and how to change them, what to try,
        its public reference and its causal edges
    :raises UnknownCodeError: with the list of codes
    """
    row = entry(code)
    settings: tuple[str, ...] = ()
    fields: tuple[ThresholdField, ...] = ()
    cls_name = None
    cls = _thresholds_of(row.check, row.code)
    if cls is not None:
        docs, defaults = _field_docs(cls), cls()
        key = row.check if row.check != "environment" else None
        example = next(iter(docs), None)
        if key is not None and example is not None:
            settings = (f'DiagnosticsCallback(thresholds={{"{key}": {{"{example}": ...}}}})',
                        f"sb3-diagnostics report RUN --threshold {key}.{example}=...")
        else:
            arg = "reward_thresholds" if cls is RewardThresholds else "thresholds"
            settings = (f"check_training_env(env, {arg}={{\"{example}\": ...}})",)
        cls_name = cls.__name__
        fields = tuple(ThresholdField(field.name, getattr(defaults, field.name), docs.get(field.name, ""))
                       for field in dataclasses.fields(cls) if not field.name.startswith("_"))
    causes = sorted(c for c, r in CATALOG.items() if c != code and (code in r.explains or "*" in r.explains))
    effects = sorted(CATALOG) if "*" in row.explains else list(row.explains)
    return Explanation(
        code=row.code,
        severity=row.severity,
        stage=STAGES[row.stage],
        title=row.title[:1].upper() + row.title[1:],
        where=_WHERE.get(row.check, f'live, by the "{row.check}" check of DiagnosticsCallback'),
        hint=row.hint,
        reference=row.reference,
        thresholds_class=cls_name,
        settings=settings,
        thresholds=fields,
        explains=tuple(e for e in effects if e != code),
        explained_by=tuple(causes),
    )


def explain(code: str) -> str:
    """
    :param code: a finding code
    :return: :func:`explanation` as text (what ``sb3-diagnostics explain CODE`` prints)
    :raises UnknownCodeError: with the list of codes
    """
    ex = explanation(code)
    lines = [f"{ex.code}  ({ex.severity} by default; stage: {ex.stage})", ex.title]
    lines += ["", f"Judged {ex.where}.", f"What to try: {ex.hint}", f"Reference: {ex.reference}"]
    if ex.thresholds_class is not None:
        lines += ["", f"Thresholds ({ex.thresholds_class}; set with {' or, after the fact, '.join(ex.settings)}):"]
        lines += [f"  {f.name} = {f.default!r}: {f.doc}".rstrip(": ") for f in ex.thresholds]
    if ex.explains:
        lines += ["", "Can explain (folded under it in the triage): " + ", ".join(ex.explains)]
    if ex.explained_by:
        lines += ["", "Can be explained by: " + ", ".join(ex.explained_by)]
    return "\n".join(lines)


def triage_order() -> list[str]:
    """:return: every code, in triage order (most upstream stage first, then by name), as ``codes`` lists them"""
    return [r.code for r in sorted(CATALOG.values(), key=lambda r: (r.stage, r.code))]


def codes_table() -> str:
    """:return: one line per code, in triage order (most upstream stage first): code, severity, check, meaning"""
    rows = [CATALOG[code] for code in triage_order()]
    width = max(len(r.code) for r in rows)
    out = [f"{'CODE':<{width}}  {'SEVERITY':<8}  {'CHECK':<12}  MEANING"]
    out += [f"{r.code:<{width}}  {str(r.severity):<8}  {r.check:<12}  {r.title}" for r in rows]
    out.append(f"\n{len(rows)} codes. `sb3-diagnostics explain CODE` says how each is judged and what to try.")
    return "\n".join(out)
