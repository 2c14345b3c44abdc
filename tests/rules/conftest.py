"""Feeding hand-made metric streams to a rule."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import pytest

from sb3_diagnostics.findings import Alert
from sb3_diagnostics.rules.base import Rule

Stream = Iterable[Mapping[str, float]]


@pytest.fixture
def observe() -> Callable[..., list[list[Alert]]]:
    """``observe(rule, stream, step0=1000, every=1000)``: the alerts of each observation, steps step0, step0 + every ..."""

    def run(rule: Rule, stream: Stream, step0: int = 1000, every: int = 1000) -> list[list[Alert]]:
        return [rule.observe(step0 + i * every, metrics) for i, metrics in enumerate(stream)]

    return run


@pytest.fixture
def feed(observe: Callable[..., list[list[Alert]]]) -> Callable[..., list[list[str]]]:
    """``feed(rule, stream, step0=10_000, every=1000)``: the codes of each observation's alerts."""

    def run(rule: Rule, stream: Stream, step0: int = 10_000, every: int = 1000) -> list[list[str]]:
        return [[a.code for a in alerts] for alerts in observe(rule, stream, step0, every)]

    return run


@pytest.fixture
def codes() -> Callable[[Iterable[Alert]], list[str]]:
    """``codes(alerts)``: their codes."""
    return lambda alerts: [a.code for a in alerts]


__all__: list[Any] = []
