"""
``sb3-diagnostics demo``: the most common ways training goes wrong, each broken run beside its fixed twin.

Each story is a mistake users report (with the public thread it comes from), trained with
``DiagnosticsCallback`` on a built-in environment; its twin differs by the one change that fixes it.
The demo shows what the library said about each (root cause first), and what the fix changed in the
agent's results. The two twins of a story train side by side in two processes.
"""

from __future__ import annotations

import sys
import time
import warnings
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

#: the runs of the demo are short and seeded; the verdicts have wide margins on every seed tried


@dataclass(frozen=True)
class Story:
    """
    :param name: short id (``--scenario``)
    :param title: the mistake, in the user's words
    :param source: the public thread or guide it comes from
    :param broken: what the broken twin does
    :param fixed: what the fixed twin does differently
    :param root: the code the library must name first on the broken twin
    :param measure: what the results line compares (``length`` or ``return``)
    :param timesteps: full budget
    :param short_timesteps: budget in ``--short`` mode (tests)
    :param advice: what to do next, in plain words
    """

    name: str
    title: str
    source: str
    broken: str
    fixed: str
    root: str
    measure: str
    timesteps: int
    short_timesteps: int
    advice: str


STORIES: dict[str, Story] = {
    s.name: s
    for s in (
        Story("reward-scale", "Rewards in the thousands per step, not normalised",
              "https://github.com/DLR-RM/stable-baselines3/issues/2240",
              "CartPole with every reward x1000", "the same env inside VecNormalize(norm_reward=True)",
              "reward_scale_huge", "length", 12_000, 8_000,
              "Keep returns in roughly [-10, 10]: divide the reward, or wrap the env in VecNormalize(norm_reward=True)."),
        Story("learning-rate", "A learning rate 300x too high",
              "https://stable-baselines3.readthedocs.io/en/master/guide/rl_tips.html",
              "PPO with learning_rate=0.1", "learning_rate=3e-4 (SB3's default)",
              "kl_too_high", "length", 12_000, 6_000,
              "Lower learning_rate (3e-4 is SB3's default) or set target_kl=0.02 so no update moves the policy too far."),
        Story("learning-starts", "A DQN that never takes a gradient step",
              "https://github.com/DLR-RM/stable-baselines3/issues/526",
              "rl-zoo3's DQN, 6000 steps, learning_starts=50_000", "learning_starts=1000 (rl-zoo3's)",
              "policy_not_updating", "return", 6_000, 3_000,
              "Off-policy algorithms only collect data until learning_starts: keep it well below total_timesteps."),
    )
}

#: kept for callers of the first demo (``SCENARIOS`` and ``--scenario`` names)
SCENARIOS = STORIES


def _make(story: str, fixed: bool, seed: int) -> Any:
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import VecNormalize

    from sb3_diagnostics.faults import RewardScale

    small: dict[str, Any] = dict(n_steps=256, batch_size=64, seed=seed, policy_kwargs=dict(net_arch=[32, 32]))
    if story == "reward-scale":
        env = make_vec_env("CartPole-v1", n_envs=4, seed=seed, wrapper_class=RewardScale,  # type: ignore[arg-type]
                           wrapper_kwargs=dict(scale=1000.0))
        return PPO("MlpPolicy", VecNormalize(env, norm_obs=False) if fixed else env, **small)
    if story == "learning-rate":
        env = make_vec_env("CartPole-v1", n_envs=4, seed=seed)
        return PPO("MlpPolicy", env, learning_rate=3e-4 if fixed else 0.1, **small)
    if story == "learning-starts":
        from stable_baselines3 import DQN

        # rl-zoo3's tuned DQN for CartPole (hyperparams/dqn.yml), with learning_starts typed one zero too many; its
        # epsilon decays over half the budget (rl-zoo3's 0.16 of 50k ends it at step 8000, after learning starts)
        return DQN("MlpPolicy", make_vec_env("CartPole-v1", seed=seed), learning_starts=1000 if fixed else 50_000,
                   learning_rate=2.3e-3, batch_size=64, buffer_size=100_000, target_update_interval=10,
                   train_freq=256, gradient_steps=128, exploration_fraction=0.5, exploration_final_eps=0.04,
                   seed=seed, policy_kwargs=dict(net_arch=[256, 256]))
    raise KeyError(story)


@dataclass
class Twin:
    """What one twin's run gave."""

    findings: list[Any]
    triage: list[Any]
    episode_length: float
    episode_return: float
    seconds: float


def _train(story: str, fixed: bool, timesteps: int, seed: int) -> Twin:
    """Train one twin (in a worker process)."""
    import numpy as np
    import torch

    from sb3_diagnostics import DiagnosticsCallback

    torch.set_num_threads(1)
    start = time.monotonic()
    model = _make(story, fixed, seed)
    callback = DiagnosticsCallback()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the demo prints the findings itself, side by side
        model.learn(timesteps, callback=callback)
    episodes = list(model.ep_info_buffer) or [{"l": float("nan"), "r": float("nan")}]
    return Twin(callback.findings, callback.triage(), float(np.mean([e["l"] for e in episodes])),
                float(np.mean([e["r"] for e in episodes])), time.monotonic() - start)


def _column(twin: Twin) -> list[str]:
    from sb3_diagnostics.findings import Severity

    serious = [f for f in twin.triage if f.severity >= Severity.WARNING]
    if not serious:
        return ["silent: no finding at warning level"]
    return [(f"  -> [{f.code}] step {f.step}" if f.caused_by else f"{str(f.severity).upper()} [{f.code}] step {f.step}")
            for f in serious]


def _side_by_side(left: list[str], right: list[str], width: int = 52) -> str:
    rows = max(len(left), len(right))
    left, right = left + [""] * (rows - len(left)), right + [""] * (rows - len(right))
    return "\n".join(f"  {a:<{width}} | {b}" for a, b in zip(left, right, strict=True))


def run_story(story: Story, short: bool = False, seed: int = 0, out: Callable[[str], None] = print,
              pool: ProcessPoolExecutor | None = None) -> tuple[Twin, Twin]:
    """
    Train the broken run and its fixed twin (in parallel when ``pool`` is given) and print what the library
    said about each, the root cause first, and what the fix changed.

    :return: (broken, fixed)
    """
    timesteps = story.short_timesteps if short else story.timesteps
    if pool is not None:
        jobs = [pool.submit(_train, story.name, fixed, timesteps, seed) for fixed in (False, True)]
        broken, fixed = (job.result() for job in jobs)
    else:
        broken, fixed = (_train(story.name, f, timesteps, seed) for f in (False, True))
    _tell(story, broken, fixed, out)
    return broken, fixed


def _tell(story: Story, broken: Twin, fixed: Twin, out: Callable[[str], None]) -> None:
    """Print one story: what the library said about each twin, the root cause first, and what the fix changed."""
    out(f"\n=== {story.title} ({story.source}) ===")
    out(_side_by_side([f"BROKEN  {story.broken}"], [f"FIXED  {story.fixed}"]))
    out(_side_by_side(["what the library said, root cause first:"], ["what the library said:"]))
    out(_side_by_side(_column(broken), _column(fixed)))
    unit, b, f = (("mean episode length", broken.episode_length, fixed.episode_length) if story.measure == "length"
                  else ("mean episode return", broken.episode_return, fixed.episode_return))
    out(_side_by_side([f"{unit} (last 100 episodes): {b:.1f}"], [f"{unit} (last 100 episodes): {f:.1f}"]))
    first = next((x for x in broken.triage if x.caused_by is None and x.severity >= 20), None)
    if first is not None:
        out(f"\n  The library's first line on the broken run:\n    [{first.code}] {first.message}\n    Try: {first.hint}")
    out(f"  In short: {story.advice}")


def main(scenarios: list[str] | None = None, short: bool = False, seed: int = 0) -> int:
    """
    Run the demo.

    :param scenarios: names from :data:`STORIES` (default: all)
    :param short: the short budgets (a smoke test)
    :param seed: seed of every run
    :return: 0 when every broken run was caught with its root cause named first and every fixed twin stayed silent
    """
    from sb3_diagnostics.findings import Severity

    ok = True
    start = time.monotonic()
    stories = [STORIES[name] for name in scenarios or list(STORIES)]
    with ProcessPoolExecutor(max_workers=2) as pool:
        # every twin is queued at once, longest first, so neither worker idles while a story's slower twin finishes
        jobs = {(story.name, fixed): pool.submit(_train, story.name, fixed,
                                                 story.short_timesteps if short else story.timesteps, seed)
                for story in sorted(stories, key=lambda s: -s.timesteps) for fixed in (False, True)}
        for story in stories:
            broken, fixed = jobs[story.name, False].result(), jobs[story.name, True].result()
            _tell(story, broken, fixed, print)
            root = next((f.code for f in broken.triage if f.caused_by is None and f.severity >= Severity.WARNING), None)
            silent = not any(f.severity >= Severity.WARNING for f in fixed.findings)
            if root != story.root or not silent:
                ok = False
                print(f"  !! expected the root [{story.root}] on the broken twin (got {root}) and silence on the fixed "
                      f"one (silent: {silent})", file=sys.stderr)
    print(f"\n{time.monotonic() - start:.0f} s. Add it to your own script: model.learn(N, callback=cb := "
          "DiagnosticsCallback()); print(cb.report())")
    return 0 if ok else 1
