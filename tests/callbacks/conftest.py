"""Off-policy models with small settings, built by the tests that train them."""

from __future__ import annotations

import enum
import sys
import types

import pytest
from stable_baselines3 import DQN, PPO, SAC


@pytest.fixture
def sac(tiny):
    def make(env="Pendulum-v1", cls=SAC, **kwargs):  # type: ignore[no-untyped-def]
        return cls("MlpPolicy", env, learning_starts=100, batch_size=64, **tiny(**kwargs))

    return make


@pytest.fixture
def dqn(tiny):
    def make(cls=DQN, **kwargs):  # type: ignore[no-untyped-def]
        return cls("MlpPolicy", "CartPole-v1", learning_starts=100, **tiny(**kwargs))

    return make


@pytest.fixture
def broken_model(ppo_small):
    """``broken_model(**overrides)``: PPO whose learning rate was typed 3e-10 instead of 3e-4: the policy never changes."""
    return lambda **overrides: PPO("MlpPolicy", "CartPole-v1", **ppo_small(learning_rate=3e-10, **overrides))


class FakeWandb(types.ModuleType):
    """The part of wandb the sink uses: ``run``, ``AlertLevel``, ``alert`` (recording its calls)."""

    class AlertLevel(str, enum.Enum):
        INFO = "INFO"
        WARN = "WARN"
        ERROR = "ERROR"

    def __init__(self, run: object | None = object()) -> None:
        super().__init__("wandb")
        self.run = run
        self.calls: list[dict[str, object]] = []

    def alert(self, **kwargs: object) -> None:
        self.calls.append(kwargs)


@pytest.fixture
def fake_wandb(monkeypatch):  # type: ignore[no-untyped-def]
    """A stand-in ``wandb`` module (with a run) in ``sys.modules``: ``fake_wandb.calls`` records ``wandb.alert``."""
    module = FakeWandb()
    monkeypatch.setitem(sys.modules, "wandb", module)
    return module
