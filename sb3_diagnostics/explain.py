"""
What each finding code means, from the catalog: the text of ``sb3-diagnostics explain CODE`` and
``sb3-diagnostics codes`` (one source, so the two never disagree with the callbacks). Torch-free.
"""

from __future__ import annotations

import dataclasses
import re

from sb3_diagnostics.catalog import CATALOG, STAGES, entry
from sb3_diagnostics.thresholds import PreflightThresholds, RewardThresholds, Thresholds

#: where a code is judged, by the key of its check
_WHERE = {
    "environment": "before training, by check_training_env (sb3-diagnostics check-env)",
    "policy": "on a model, by check_policy",
    "internal": "by the library itself",
}


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


def explain(code: str) -> str:
    """
    :param code: a finding code
    :return: what it means, where and how it is judged, its thresholds and how to change them, what to try,
        its public reference and its causal edges
    :raises UnknownCodeError: with the list of codes
    """
    row = entry(code)
    lines = [f"{row.code}  ({row.severity} by default; stage: {STAGES[row.stage]})", row.title[:1].upper() + row.title[1:]]
    where = _WHERE.get(row.check, f'live, by the "{row.check}" check of DiagnosticsCallback')
    lines += ["", f"Judged {where}.", f"What to try: {row.hint}", f"Reference: {row.reference}"]
    cls = _thresholds_of(row.check, row.code)
    if cls is not None:
        docs, defaults = _field_docs(cls), cls()
        key = row.check if row.check != "environment" else None
        example = next(iter(docs), None)
        if key is not None and example is not None:
            how = (f'DiagnosticsCallback(thresholds={{"{key}": {{"{example}": ...}}}}) or, after the fact, '
                   f"sb3-diagnostics report RUN --threshold {key}.{example}=...")
        else:
            arg = "reward_thresholds" if cls is RewardThresholds else "thresholds"
            how = f"check_training_env(env, {arg}={{\"{example}\": ...}})"
        lines += ["", f"Thresholds ({cls.__name__}; set with {how}):"]
        for field in dataclasses.fields(cls):
            if not field.name.startswith("_"):
                lines.append(f"  {field.name} = {getattr(defaults, field.name)!r}: {docs.get(field.name, '')}".rstrip(": "))
    causes = sorted(c for c, r in CATALOG.items() if c != code and (code in r.explains or "*" in r.explains))
    effects = sorted(CATALOG) if "*" in row.explains else list(row.explains)
    if effects:
        lines += ["", "Can explain (folded under it in the triage): " + ", ".join(e for e in effects if e != code)]
    if causes:
        lines += ["", "Can be explained by: " + ", ".join(causes)]
    return "\n".join(lines)


def codes_table() -> str:
    """:return: one line per code, in triage order (most upstream stage first): code, severity, check, meaning"""
    rows = sorted(CATALOG.values(), key=lambda r: (r.stage, r.code))
    width = max(len(r.code) for r in rows)
    out = [f"{'CODE':<{width}}  {'SEVERITY':<8}  {'CHECK':<12}  MEANING"]
    out += [f"{r.code:<{width}}  {str(r.severity):<8}  {r.check:<12}  {r.title}" for r in rows]
    out.append(f"\n{len(rows)} codes. `sb3-diagnostics explain CODE` says how each is judged and what to try.")
    return "\n".join(out)
