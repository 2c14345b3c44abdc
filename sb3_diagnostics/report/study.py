"""
Why the trials of an Optuna study failed: ``sb3-diagnostics report sqlite:///s.db --study x``.

Reads the trials of a study that ran with ``DiagnosticsCallback(prune_on=...)`` (rl-zoo3's ``--optimize``
with the callback in its YAML, or any Optuna objective), from an Optuna storage URL, a journal file (rl-zoo3's
``--storage study.log``) or the CSV rl-zoo3 writes at the end of a search (``logs/ppo/report_*.csv``), and
says per trial its state, value and diagnosis, then which problem ended how many trials and the
hyper-parameter ranges they came from, so the search space can be narrowed.

Torch-free; Optuna is imported only to read a storage (``pip install sb3-diagnostics[optuna]``).
"""

from __future__ import annotations

import csv
import json
import math
import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from sb3_diagnostics import trials as attrs
from sb3_diagnostics.errors import ReportInputError

#: paths read as an Optuna storage rather than a folder of TensorBoard runs
_SQLITE = (".db", ".sqlite", ".sqlite3")


@dataclass
class TrialRow:
    """
    One trial as the report sees it.

    :param number: the trial's number in the study
    :param state: ``COMPLETE``, ``PRUNED``, ``FAIL``, ``RUNNING`` or ``WAITING``
    :param value: its objective value (a pruned trial's last reported value), or None
    :param params: the sampled hyper-parameters
    :param diagnosis: the ``diagnosis_*`` user attributes, without their prefix (empty: not diagnosed)
    """

    number: int
    state: str
    value: float | None
    params: dict[str, Any] = field(default_factory=dict)
    diagnosis: dict[str, Any] = field(default_factory=dict)

    @property
    def diagnosed(self) -> bool:
        """Whether the callback recorded a diagnosis on the trial (a healthy one included)."""
        return attrs.PRUNED[len(attrs.PREFIX):] in self.diagnosis

    @property
    def code(self) -> str | None:
        """The finding that pruned the trial, or its root cause (warning or error), or None."""
        return self.diagnosis.get(attrs.CODE[len(attrs.PREFIX):])

    @property
    def ended_by(self) -> str:
        """``diagnosis``, ``optuna`` (its pruner), ``failed``, ``completed`` or ``running``."""
        if self.state == "PRUNED":
            return "diagnosis" if self.diagnosis.get("pruned") else "optuna"
        return {"COMPLETE": "completed", "FAIL": "failed"}.get(self.state, "running")


def is_study_source(path: str) -> bool:
    """Whether ``path`` names an Optuna storage or rl-zoo3's study CSV rather than a folder of runs."""
    return "://" in path or (os.path.isfile(path) and path.lower().endswith((*_SQLITE, ".log", ".csv")))


def _storage(path: str) -> Any:
    try:
        import optuna
    except ImportError:
        raise ReportInputError(f"reading the Optuna storage {path} needs Optuna: pip install "
                               "'sb3-diagnostics[optuna]'.") from None
    if path.startswith("sqlite:///") and not os.path.isfile(path[len("sqlite:///"):]):
        raise ReportInputError(f"{path}: no such database file {path[len('sqlite:///'):]!r}; check the path "
                               "(sqlite:///relative.db, sqlite:////absolute/path.db).")
    if "://" not in path and path.lower().endswith(_SQLITE):
        return f"sqlite:///{os.path.abspath(path)}"
    if "://" not in path:  # rl-zoo3's --storage study.log: Optuna's journal file
        backend = getattr(getattr(optuna.storages, "journal", None), "JournalFileBackend", None)
        backend = backend or optuna.storages.JournalFileStorage  # type: ignore[attr-defined]  # Optuna < 4
        return optuna.storages.JournalStorage(backend(path))
    return path


def load_study(path: str, study_name: str | None = None) -> tuple[str, list[TrialRow]]:
    """
    :param path: an Optuna storage URL (``sqlite:///s.db``, ``postgresql://...``), a SQLite file, a journal
        file (``.log``) or rl-zoo3's study CSV
    :param study_name: the study (may be left out when the storage holds one)
    :return: the study's name and its trials, in number order
    :raises ReportInputError: unreadable storage, unknown or ambiguous study (naming the studies there)
    """
    if path.lower().endswith(".csv") and "://" not in path:
        return os.path.basename(path), _read_csv(path)
    import optuna

    storage = _storage(path)
    try:
        names = optuna.study.get_all_study_names(storage=storage)
    except Exception as exc:  # a URL of a database that cannot be reached, a file that is not a storage
        raise ReportInputError(f"cannot read the Optuna storage {path}: {type(exc).__name__}: {exc}") from exc
    if study_name is None:
        if len(names) != 1:
            listed = ", ".join(names) or "none"
            raise ReportInputError(f"{path} holds {len(names)} studies ({listed}); name one with --study NAME.")
        study_name = names[0]
    elif study_name not in names:
        raise ReportInputError(f"no study {study_name!r} in {path}; its studies: {', '.join(names) or 'none'}.")
    study = optuna.load_study(study_name=study_name, storage=storage)
    rows = []
    for t in study.get_trials(deepcopy=False):
        value = t.value if len(study.directions) == 1 else None
        if value is None and t.intermediate_values:  # a pruned trial: its last reported value
            value = t.intermediate_values[max(t.intermediate_values)]
        rows.append(TrialRow(t.number, t.state.name, value, dict(t.params), _diagnosis(t.user_attrs)))
    return study_name, sorted(rows, key=lambda r: r.number)


def _diagnosis(user_attrs: dict[str, Any]) -> dict[str, Any]:
    return {k[len(attrs.PREFIX):]: v for k, v in user_attrs.items() if k.startswith(attrs.PREFIX)}


def _cell(text: str) -> Any:
    """A CSV cell as pandas wrote it: number, bool, list, or text."""
    if text == "":
        return None
    if text in ("True", "False"):
        return text == "True"
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        pass
    if text.startswith("["):
        try:
            return json.loads(text.replace("'", '"'))
        except ValueError:
            return text
    return text


def _read_csv(path: str) -> list[TrialRow]:
    """rl-zoo3's ``study.trials_dataframe().to_csv(...)``: ``number``, ``value``, ``state``, ``params_*``, ``user_attrs_*``."""
    try:
        with open(path, newline="") as fh:
            records = list(csv.DictReader(fh))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ReportInputError(f"cannot read {path}: {exc}") from exc
    if not records or "number" not in records[0] or "state" not in records[0]:
        raise ReportInputError(f"{path} is not a study CSV (rl-zoo3's logs/<algo>/report_*.csv, with number, state, "
                               "params_* and user_attrs_* columns).")
    rows = []
    for rec in records:
        user = {k[len("user_attrs_"):]: _cell(v) for k, v in rec.items() if k.startswith("user_attrs_") and v != ""}
        params = {k[len("params_"):]: _cell(v) for k, v in rec.items() if k.startswith("params_") and v != ""}
        value = _cell(rec.get("value", ""))
        rows.append(TrialRow(int(rec["number"]), rec["state"].upper(), value if isinstance(value, (int, float)) else None,
                             params, _diagnosis(user)))
    return sorted(rows, key=lambda r: r.number)


# -- what the failures have in common ---------------------------------------------------------------
@dataclass(frozen=True)
class Range:
    """A region of the search space where a problem concentrates: ``learning_rate < 1.2e-07``."""

    param: str
    text: str
    hits: int  # trials in the region that ended in the code
    total: int  # trials in the region (with a diagnosis)


def _nice(value: float) -> str:
    return f"{value:.2g}"


def _cut(low: float, high: float) -> float:
    """A cut between two sampled values: geometric for positive ones (log-sampled rates), else the middle."""
    return math.sqrt(low * high) if low > 0 and high > 0 else (low + high) / 2


def ranges(rows: Sequence[TrialRow], code: str, top: int = 3) -> list[Range]:
    """
    The parameter regions that best separate the trials that ended in ``code`` from the other diagnosed ones
    (most trials of the code in the region, fewest others; a region must hold most of the code's trials).

    :param rows: the trials (only those with a diagnosis are counted)
    :param code: a finding code
    :param top: how many regions to return (each on its own parameter)
    """
    pool = [r for r in rows if r.diagnosed and r.state in ("COMPLETE", "PRUNED")]
    positives = sum(r.code == code for r in pool)
    if positives < 2 or positives == len(pool):
        return []  # one trial, or every trial: no range to tell apart
    best: dict[str, tuple[tuple[int, int], Range]] = {}
    names = sorted({k for r in pool for k in r.params})
    for name in names:
        have = [(r.params[name], r.code == code) for r in pool if name in r.params]
        numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v, _ in have)
        candidates: list[tuple[str, list[bool]]] = []
        if numeric and len({v for v, _ in have}) > 2:
            values = sorted({float(v) for v, _ in have})
            for lo, hi in zip(values, values[1:], strict=False):
                cut = _cut(lo, hi)
                candidates.append((f"{name} < {_nice(cut)}", [hit for v, hit in have if v < cut]))
                candidates.append((f"{name} > {_nice(cut)}", [hit for v, hit in have if v > cut]))
        else:
            for value in sorted({str(v) for v, _ in have}):
                candidates.append((f"{name} = {value}", [hit for v, hit in have if str(v) == value]))
        for text, region in candidates:
            hits, total = sum(region), len(region)
            if hits * 2 <= positives or hits * 3 < total * 2:  # most of the code's trials, and mostly them
                continue
            score = (hits - (total - hits), hits)
            if name not in best or score > best[name][0]:
                best[name] = (score, Range(name, text, hits, total))
    ordered = sorted(best.values(), key=lambda sr: sr[0], reverse=True)  # stable: ties keep the parameters' order
    return [r for _, r in ordered[:top]]


# -- text ------------------------------------------------------------------------------------------
def _value(v: float | None) -> str:
    return "-" if v is None else f"{v:.4g}"


def format_study(name: str, rows: Sequence[TrialRow]) -> str:
    """
    :param name: the study's name
    :param rows: its trials
    :return: per trial its state, value and diagnosis; then what ended how many trials, and where they came from
    """
    states = Counter(r.state for r in rows)
    head = ", ".join(f"{n} {s.lower()}" for s, n in sorted(states.items()))
    lines = [f"Study {name}: {len(rows)} trials ({head})", "",
             f"{'trial':>5}  {'state':9} {'value':>9}  diagnosis"]
    for r in rows:
        d = r.diagnosis
        if r.code is not None:
            text = f"{r.code} ({d.get('severity', '?')}, step {d.get('step', '?')})"
            if r.ended_by == "diagnosis":
                text += ": pruned"
            root = d.get("root_cause")
            if root and root != r.code:
                text += f"; root cause {root}"
        elif r.diagnosed:
            text = "healthy: no warning"
        else:
            text = "no diagnosis recorded"
        if r.ended_by == "optuna":
            text += (" (pruned by Optuna's pruner)" if r.diagnosed else
                     " (pruned: by Optuna's pruner, or an error in training the objective turned into a pruning)")
        lines.append(f"{r.number:>5}  {r.state:9} {_value(r.value):>9}  {text}")

    diagnosed = [r for r in rows if r.diagnosed]
    lines.append("")
    if not diagnosed:
        lines.append("No trial carries a diagnosis: run the search with DiagnosticsCallback(prune_on='error') (in "
                     "rl-zoo3's YAML: callback: - sb3_diagnostics.DiagnosticsCallback: {prune_on: error}).")
        return "\n".join(lines)
    codes = Counter(r.code for r in diagnosed if r.code is not None)
    healthy = sum(r.code is None for r in diagnosed)
    lines.append(f"What ended the trials ({len(diagnosed)} diagnosed, {healthy} without a warning):")
    narrow: list[str] = []
    if len(diagnosed) < 10:
        lines.append(f"  (with {len(diagnosed)} trials, a range below may be chance)")
    for code, n in codes.most_common():
        pruned = sum(r.code == code and r.ended_by == "diagnosis" for r in diagnosed)
        values = [r.value for r in diagnosed if r.code == code and r.value is not None]
        tail = f", best value {max(values):.4g}" if values else ""
        lines.append(f"  {code}: {n} trial{'s' if n > 1 else ''} ({pruned} pruned{tail})")
        for rng in ranges(rows, code):
            lines.append(f"    {rng.text}: {rng.hits} of {rng.total} trials ended in {code}")
            narrow.append(code)
    others = [r for r in rows if r.state == "PRUNED" and not r.diagnosis.get("pruned")]
    if others:
        lines.append(f"  pruned by Optuna's pruner (learning curve): {len(others)}")
    done = [r for r in rows if r.state == "COMPLETE" and r.value is not None]
    if done:
        best = max(done, key=lambda r: r.value or 0.0)
        lines.append(f"Best: trial {best.number}, value {_value(best.value)}"
                     + (f" ({best.code})" if best.code else ""))
    if codes:
        first = narrow[0] if narrow else codes.most_common(1)[0][0]
        lines.append(f"Narrow the search space away from the ranges above; sb3-diagnostics explain {first} says "
                     "what the problem is and what to try.")
    return "\n".join(lines)


def study_json(name: str, rows: Sequence[TrialRow]) -> str:
    """:return: the trials as JSON (for scripts)"""
    return json.dumps({"study": name, "trials": [{**asdict(r), "ended_by": r.ended_by} for r in rows]}, indent=2,
                      default=str)


def worst_is_error(rows: Sequence[TrialRow]) -> bool:
    """Whether a trial has an error-level diagnosis (the report's exit code 1)."""
    return any(r.diagnosis.get("severity") == "error" for r in rows)
