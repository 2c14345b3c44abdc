"""Shared helpers: tiny models, training with warnings captured, and finding queries."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import pytest
import torch

from sb3_diagnostics import DiagnosticWarning, Finding, Severity

torch.set_num_threads(1)

def tiny(**overrides):  # type: ignore[no-untyped-def]
    """Small networks keep every training run in the suite to a few seconds. A fresh dict each
    call: SB3 writes into ``policy_kwargs``."""
    return {"policy_kwargs": dict(net_arch=[32, 32]), "seed": 0, **overrides}


def ppo_small(**overrides):  # type: ignore[no-untyped-def]
    """A PPO rollout of 256 steps in minibatches of 64: 4 gradient steps per epoch."""
    return tiny(n_steps=256, batch_size=64, **overrides)


@dataclass
class Run:
    """What a training run reported."""

    findings: list[Finding]
    warnings: list[warnings.WarningMessage] = field(default_factory=list)

    def codes(self, at_least: Severity = Severity.WARNING) -> set[str]:
        return {f.code for f in self.findings if f.severity >= at_least}

    def severity(self, code: str) -> Severity:
        found = [f.severity for f in self.findings if f.code == code]
        assert found, f"{code} not found; findings: {[(f.code, str(f.severity)) for f in self.findings]}"
        return max(found)

    def warned(self, code: str) -> list[warnings.WarningMessage]:
        return [w for w in self.warnings if str(w.message).startswith(f"[{code}]")]


def train(model, steps: int, callback) -> Run:  # type: ignore[no-untyped-def]
    """Train with every warning recorded; return the callback's findings and our warnings."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.learn(steps, callback=callback)
    ours = [w for w in caught if issubclass(w.category, DiagnosticWarning)]
    return Run(list(callback.findings), ours)


@pytest.fixture
def tmp_logdir(tmp_path):  # type: ignore[no-untyped-def]
    return str(tmp_path / "tb")
