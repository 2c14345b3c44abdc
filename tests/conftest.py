"""
Fixtures shared by the suite: tiny model settings, training with warnings captured, finding queries.

Every test that trains uses ``torch.set_num_threads(1)`` (set here) and small networks, so the default
suite stays fast on two cores; runs longer than a few CPU-seconds are marked ``slow``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from warnings import WarningMessage

import pytest
import torch
from stable_baselines3.common.callbacks import CallbackList

from sb3_diagnostics import DiagnosticWarning, Finding, Severity

torch.set_num_threads(1)


def _tiny(**overrides: Any) -> dict[str, Any]:
    return {"policy_kwargs": dict(net_arch=[32, 32]), "seed": 0, **overrides}


@pytest.fixture
def tiny() -> Callable[..., dict[str, Any]]:
    """Model keyword arguments with small networks and a seed: a fresh dict each call (SB3 writes into ``policy_kwargs``)."""
    return _tiny


@pytest.fixture
def ppo_small() -> Callable[..., dict[str, Any]]:
    """PPO keyword arguments: a rollout of 256 steps in minibatches of 64 (4 gradient steps per epoch)."""
    return lambda **overrides: _tiny(n_steps=256, batch_size=64, **overrides)


@dataclass
class Run:
    """What a training run reported."""

    findings: list[Finding]
    warnings: list[WarningMessage] = field(default_factory=list)
    callback: Any = None

    def codes(self, at_least: Severity = Severity.WARNING) -> set[str]:
        return {f.code for f in self.findings if f.severity >= at_least}

    def severity(self, code: str) -> Severity:
        found = [f.severity for f in self.findings if f.code == code]
        assert found, f"{code} not found; findings: {[(f.code, str(f.severity)) for f in self.findings]}"
        return max(found)

    def warned(self, code: str) -> list[WarningMessage]:
        return [w for w in self.warnings if str(w.message).startswith(f"[{code}]")]


class Together(CallbackList):
    """Several checks as one callback, with their findings together."""

    @property
    def findings(self) -> list[Finding]:
        return [f for cb in self.callbacks for f in getattr(cb, "findings", [])]


@pytest.fixture
def train() -> Callable[..., Run]:
    """``train(model, steps, callback)``: learn with every warning recorded; return the findings and our warnings.
    ``callback`` may be a list of checks (they run together)."""

    def run(model: Any, steps: int, callback: Any, **learn_kwargs: Any) -> Run:
        if isinstance(callback, list):
            callback = Together(callback)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model.learn(steps, callback=callback, **learn_kwargs)
        ours = [w for w in caught if issubclass(w.category, DiagnosticWarning)]
        return Run(list(callback.findings), ours, callback)

    return run


@pytest.fixture
def tmp_logdir(tmp_path: Any) -> str:
    return str(tmp_path / "tb")


class _Table(HTMLParser):
    """The header and rows (cell texts, unescaped) of the tables in an HTML fragment, and every tag seen."""

    def __init__(self) -> None:
        super().__init__()
        self.header: list[str] = []
        self.rows: list[list[str]] = []
        self.tags: list[str] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        self.tags.append(tag)
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            text = "".join(self._cell).strip()
            (self.header if tag == "th" else self.rows[-1]).append(text)
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


@pytest.fixture
def html_table() -> Callable[[str], _Table]:
    """``html_table(fragment)``: parse a report's ``_repr_html_()`` (header, rows of cell texts, tags)."""

    def parse(fragment: str) -> _Table:
        table = _Table()
        table.feed(fragment)
        table.close()
        table.rows = [row for row in table.rows if row]
        return table

    return parse
