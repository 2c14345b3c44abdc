"""
``sb3-diagnostics demo``: broken runs and their fixed twins, side by side.

Each scenario is a fault from the seeds, made the way users make it, trained with
``DiagnosticsCallback`` on a built-in environment; its twin differs by the one setting that
fixes it. The demo shows what the library said about each and what changed.
"""

from __future__ import annotations

import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback, CallbackList
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.vec_env import VecNormalize

from sb3_diagnostics.callbacks.composite import DiagnosticsCallback
from sb3_diagnostics.faults import WinBonusEnv
from sb3_diagnostics.findings import Severity


@dataclass(frozen=True)
class Scenario:
    """
    :param name: short id
    :param title: what the fault is, in the user's words
    :param setting: the setting that differs between the twins
    :param broken: its broken value
    :param fixed: its fixed value
    :param make: builds the model from the setting's value
    :param metric: the ``diagnostics/`` or SB3 logger key that shows why the fix worked
    :param timesteps: full budget
    :param short_timesteps: budget in ``--short`` mode (tests)
    """

    name: str
    title: str
    setting: str
    broken: Any
    fixed: Any
    make: Callable[[Any], BaseAlgorithm]
    metric: str
    timesteps: int
    short_timesteps: int


def _win_bonus(clip_reward: float) -> BaseAlgorithm:
    env = VecNormalize(make_vec_env(WinBonusEnv, n_envs=4, seed=0), clip_reward=clip_reward)
    return PPO("MlpPolicy", env, n_steps=256, batch_size=64, seed=0, policy_kwargs=dict(net_arch=[32, 32]))


def _learning_rate(learning_rate: float) -> BaseAlgorithm:
    env = make_vec_env("CartPole-v1", n_envs=4, seed=0)
    return PPO("MlpPolicy", env, learning_rate=learning_rate, n_epochs=20, n_steps=256, batch_size=64, seed=0,
               policy_kwargs=dict(net_arch=[32, 32]))


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario("vecnormalize", "a +100 win bonus under VecNormalize(clip_reward=10)",
                 "clip_reward", 10.0, 150.0, _win_bonus, "diagnostics/vecnorm_reward_clip_frac", 12_000, 10_240),
        Scenario("learning-rate", "PPO with learning_rate=0.1 and n_epochs=20",
                 "learning_rate", 0.1, 3e-4, _learning_rate, "train/approx_kl", 20_000, 6_000),
    )
}


class ProgressBar(BaseCallback):
    """A dependency-free progress bar on stderr: redrawn in place on a terminal, quarter marks otherwise."""

    def __init__(self, label: str, total: int, width: int = 30) -> None:
        super().__init__()
        self.label, self.total, self.width = label, total, width
        self._start = time.monotonic()
        self._tty = sys.stderr.isatty()
        self._quarter = -1

    def _on_step(self) -> bool:
        if self._tty and self.n_calls % 50 == 0:
            self._draw("\r")
        elif not self._tty and int(4 * self._done()) > self._quarter:
            self._quarter = int(4 * self._done())
            self._draw("\n" if self._quarter else "")
        return True

    def _done(self) -> float:
        return min(1.0, self.num_timesteps / self.total)

    def _draw(self, lead: str) -> None:
        bar = "#" * int(self._done() * self.width)
        shown = min(self.num_timesteps, self.total)
        sys.stderr.write(f"{lead}  {self.label:<8} [{bar:<{self.width}}] {shown:>6}/{self.total} "
                         f"{time.monotonic() - self._start:5.1f}s")
        sys.stderr.flush()

    def _on_training_end(self) -> None:
        self._draw("\r" if self._tty else "\n")
        sys.stderr.write("\n")


class _LastValue(BaseCallback):
    """Remembers the last values of a few logger keys before each dump clears them."""

    def __init__(self, keys: tuple[str, ...]) -> None:
        super().__init__()
        self.keys = keys
        self.values: dict[str, list[float]] = {k: [] for k in keys}

    def _on_step(self) -> bool:
        return True

    def _on_rollout_end(self) -> None:
        # Runs after the diagnostics callbacks recorded their scalars for this rollout.
        for key in self.keys:
            if key in self.model.logger.name_to_value:
                self.values[key].append(float(self.model.logger.name_to_value[key]))


@dataclass
class TwinResult:
    value: Any
    callback: DiagnosticsCallback
    metric: list[float]
    episode_reward: float
    seconds: float


def _train(scenario: Scenario, value: Any, label: str, timesteps: int) -> TwinResult:
    model = scenario.make(value)
    diagnostics = DiagnosticsCallback()
    watch = _LastValue((scenario.metric,))
    start = time.monotonic()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the demo prints the findings itself, side by side
        model.learn(timesteps, callback=CallbackList([diagnostics, watch, ProgressBar(label, timesteps)]))
    rewards = [ep["r"] for ep in model.ep_info_buffer] if model.ep_info_buffer else [float("nan")]
    return TwinResult(value, diagnostics, watch.values[scenario.metric], float(np.mean(rewards)),
                      time.monotonic() - start)


def _column(result: TwinResult) -> list[str]:
    serious = [f for f in result.callback.findings if f.severity >= Severity.WARNING]
    if not serious:
        return ["silent: no finding at warning level"]
    return [f"{str(f.severity).upper()} [{f.code}] at step {f.step}" for f in serious]


def _side_by_side(left: list[str], right: list[str], width: int = 58) -> str:
    rows = max(len(left), len(right))
    left, right = left + [""] * (rows - len(left)), right + [""] * (rows - len(right))
    return "\n".join(f"  {a:<{width}} | {b}" for a, b in zip(left, right, strict=True))


def run_scenario(scenario: Scenario, short: bool = False, out: Callable[[str], None] = print) -> tuple[TwinResult, TwinResult]:
    """
    Train the broken run and its fixed twin and print what the library said about each.

    :param scenario: what to run
    :param short: use the short budget (for tests)
    :param out: where lines go
    :return: (broken, fixed) results
    """
    timesteps = scenario.short_timesteps if short else scenario.timesteps
    out(f"\n=== {scenario.title} ===")
    broken = _train(scenario, scenario.broken, "broken", timesteps)
    fixed = _train(scenario, scenario.fixed, "fixed", timesteps)
    name = scenario.metric.split("/", 1)[-1]

    def metric_line(r: TwinResult) -> str:
        return f"{name}: last {r.metric[-1]:.3g}, max {max(r.metric):.3g}" if r.metric else f"{name}: not logged"

    out(_side_by_side([f"BROKEN  {scenario.setting}={scenario.broken}"], [f"FIXED  {scenario.setting}={scenario.fixed}"]))
    out(_side_by_side(_column(broken), _column(fixed)))
    out(_side_by_side([metric_line(broken)], [metric_line(fixed)]))
    out(_side_by_side([f"mean episode reward (last 100): {broken.episode_reward:.1f}"],
                      [f"mean episode reward (last 100): {fixed.episode_reward:.1f}"]))
    first = next((f for f in broken.callback.findings if f.severity >= Severity.WARNING), None)
    if first is not None:
        out(f"\n  What the library told the broken run first:\n    [{first.code}] {first.message}\n    Try: {first.hint}")
    return broken, fixed


def main(scenarios: list[str] | None = None, short: bool = False) -> int:
    """
    Run the demo.

    :param scenarios: names from :data:`SCENARIOS` (default: all)
    :param short: the short budgets (a smoke test)
    :return: 0 when every broken run was caught and every fixed twin stayed silent, else 1
    """
    torch.set_num_threads(1)
    ok = True
    for name in scenarios or list(SCENARIOS):
        broken, fixed = run_scenario(SCENARIOS[name], short=short)
        caught = any(f.severity >= Severity.WARNING for f in broken.callback.findings)
        silent = not any(f.severity >= Severity.WARNING for f in fixed.callback.findings)
        ok = ok and caught and silent
    print("\nAdd it to your own script: model.learn(N, callback=DiagnosticsCallback()); print(callback.report())")
    return 0 if ok else 1
