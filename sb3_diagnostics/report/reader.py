"""
Reading TensorBoard event files fast, without TensorFlow and without ``EventAccumulator``.

An event file is a sequence of TFRecords (``length: u64, crc: u32, data, crc: u32``) whose data
is a serialized ``Event`` protobuf. Parsing the records directly is ~25x faster than
TensorBoard's own loaders, which matters for sweeps of hundreds of runs.
"""

from __future__ import annotations

import os
import struct
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from sb3_diagnostics.errors import ReportInputError

EVENT_FILE_MARK = "tfevents"


@dataclass
class RunScalars:
    """
    The scalars of one run.

    :param path: the run directory
    :param scalars: tag -> list of (step, value), in file order
    :param problems: what could not be read (truncated or corrupted records), as sentences
    """

    path: Path
    scalars: dict[str, list[tuple[int, float]]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def find_runs(path: str | os.PathLike[str]) -> list[Path]:
    """
    Every directory under ``path`` (itself included) that directly contains an event file.

    :param path: one run directory or a tree of them (a sweep)
    :return: run directories, sorted
    :raises ReportInputError: when ``path`` does not exist or holds no event file
    """
    root = Path(path)
    if not root.exists():
        raise ReportInputError(f"{root} does not exist. Pass a run directory (e.g. ./tb/PPO_1) or a tree of runs.")
    if not os.access(root, os.R_OK | (0 if root.is_file() else os.X_OK)):
        raise ReportInputError(f"{root} cannot be read: permission denied. Run as a user who can read it, or copy the run.")
    if root.is_file():
        if EVENT_FILE_MARK in root.name:
            return [root.parent]
        raise ReportInputError(f"{root} is not a TensorBoard event file (events.out.tfevents.*).")
    runs = sorted({p.parent for p in root.rglob(f"*{EVENT_FILE_MARK}*") if p.is_file()})
    if not runs:
        raise ReportInputError(
            f"No TensorBoard event files under {root}. Train with tensorboard_log=... (SB3) or pass the "
            "directory that contains the PPO_1, PPO_2, ... folders."
        )
    return runs


def _records(data: bytes, name: str, problems: list[str]) -> list[bytes]:
    out: list[bytes] = []
    pos, size = 0, len(data)
    while pos < size:
        if pos + 12 > size:
            problems.append(f"{name}: truncated record header at byte {pos}; read {len(out)} records.")
            break
        (length,) = struct.unpack_from("<Q", data, pos)
        start, end = pos + 12, pos + 12 + length
        if end + 4 > size:
            problems.append(f"{name}: truncated record at byte {pos} (the run was still writing, or the file is "
                            f"cut); read {len(out)} records.")
            break
        out.append(data[start:end])
        pos = end + 4
    return out


def read_run(run_dir: str | os.PathLike[str]) -> RunScalars:
    """
    Read every scalar of one run directory (all its event files, in name order).

    Never raises for damaged files: what cannot be read is described in ``problems``.

    :param run_dir: directory holding ``events.out.tfevents.*`` files
    :return: the run's scalars
    """
    try:
        from google.protobuf.message import DecodeError
        from tensorboard.compat.proto import event_pb2
    except ImportError as exc:
        raise ReportInputError(
            f"reading TensorBoard event files needs the tensorboard package ({exc}): pip install tensorboard"
        ) from exc
    run = RunScalars(Path(run_dir))
    series: dict[str, list[tuple[int, float]]] = defaultdict(list)
    try:
        files = sorted(p for p in Path(run_dir).iterdir() if EVENT_FILE_MARK in p.name and p.is_file())
    except OSError as exc:
        run.problems.append(f"{run_dir}: cannot be listed ({exc}).")
        files = []
    for file in files:
        try:
            data = file.read_bytes()
        except OSError as exc:
            run.problems.append(f"{file.name}: cannot be read ({exc}).")
            continue
        for record in _records(data, file.name, run.problems):
            try:
                event = event_pb2.Event.FromString(record)
            except DecodeError:
                run.problems.append(f"{file.name}: a corrupted record was skipped.")
                continue
            for value in event.summary.value:
                if value.HasField("simple_value"):
                    series[value.tag].append((int(event.step), float(value.simple_value)))
    run.scalars = dict(series)
    return run
