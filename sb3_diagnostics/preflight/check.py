"""
Pre-flight: check an environment before training on it (seed 000 "Run this first", seed 003
tiers 1-2).

    from sb3_diagnostics import check_training_env
    report = check_training_env("CartPole-v1")
    print(report)                       # table + findings + the random-policy baseline
    report.random_return_mean           # the return a trained agent must beat

This is the *active* kind of check (like gymnasium's ``utils/env_checker.py``): it drives the
environment with random actions, replays it with the same seed, and tries different actions
from the same state. The live callbacks are the passive kind. Reward statistics are judged by
:class:`~sb3_diagnostics.rules.reward.RewardRule`, the same rule the live reward check feeds.

Nothing here touches the global NumPy / torch / ``random`` generators: actions come from seeded
copies of the action space, the environment is seeded through ``reset(seed=...)``
(``VecEnv.seed``). A ``VecNormalize`` in a VecEnv stack gets its running statistics back afterwards.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from stable_baselines3.common.preprocessing import is_image_space
from stable_baselines3.common.vec_env import VecEnv, VecEnvWrapper, VecNormalize

from sb3_diagnostics import metrics as M
from sb3_diagnostics.catalog import PreflightThresholds, RewardThresholds, entry
from sb3_diagnostics.core import warn_findings
from sb3_diagnostics.errors import EnvCrashedError, InvalidThresholdError, NotAnEnvironmentError
from sb3_diagnostics.findings import Finding, Severity
from sb3_diagnostics.rules.reward import RewardRule, reward_metrics
from sb3_diagnostics.triage import triage_order

#: reward codes judged under random actions (reward_low_snr is left to the live check: random actions are noise)
PREFLIGHT_REWARD_CODES = (
    "reward_all_zero", "reward_sparse", "reward_scale_tiny", "reward_scale_huge", "reward_constant",
    "reward_component_imbalance",
)
#: observation dims kept for statistics (larger observations are sub-sampled, deterministically)
_MAX_STAT_DIMS = 4096
#: obs x action products used in the learnability check: first this many obs dims x action dims
_MAX_PRODUCT_DIMS = 32
#: longest action prefix before the action-effect comparison
_MAX_PREFIX = 20
#: different actions compared at each state
_MAX_CANDIDATES = 6

EnvLike = str | gym.Env | VecEnv


# ---------------------------------------------------------------------------------------------
# The report
# ---------------------------------------------------------------------------------------------


class PreflightReport(list[Finding]):
    """
    The findings of :func:`check_training_env` (a ``list[Finding]``, most upstream first) plus
    a summary of what the random rollout saw.

    :param findings: the findings
    :param summary: measured context: episode statistics, the random policy's return, reward and
        observation statistics, notes on checks that were skipped or inconclusive
    """

    def __init__(self, findings: Sequence[Finding] = (), summary: dict[str, Any] | None = None) -> None:
        super().__init__(findings)
        self.summary: dict[str, Any] = summary or {}

    @property
    def random_return_mean(self) -> float:
        """Mean episode return of the random policy: the baseline a trained agent must beat (seed 003, 2.1)."""
        return float(self.summary.get("random_return_mean", math.nan))

    @property
    def random_return_std(self) -> float:
        """Standard deviation of the random policy's episode returns (nan with fewer than two episodes)."""
        return float(self.summary.get("random_return_std", math.nan))

    @property
    def ok(self) -> bool:
        """Whether no finding is at warning level or above."""
        return all(f.severity < Severity.WARNING for f in self)

    def format(self, min_severity: Severity | str = Severity.INFO) -> str:
        """
        :param min_severity: leave out findings below this severity
        :return: a readable table of the summary followed by the findings
        """
        s = self.summary
        rows = [
            ("environment", s.get("env", "?")),
            ("observation", f"{s.get('observation_space', '?')}: {s.get('obs_dims', '?')} flat dims"),
            ("action", str(s.get("action_space", "?"))),
            ("random steps", f"{s.get('steps', '?')} (seed {s.get('seed', '?')}, {s.get('n_envs', 1)} env(s))"),
        ]
        n_ep = s.get("episodes", 0)
        if n_ep:
            rows.append(("episodes", (
                f"{n_ep} finished, length {_pm(s.get('episode_length_mean'), s.get('episode_length_std'))} "
                f"(min {s.get('episode_length_min')}, max {s.get('episode_length_max')}), "
                f"{100 * s.get('truncated_frac', 0.0):.0f}% truncated"
            )))
            rows.append(("random return", (
                f"{_pm(self.random_return_mean, self.random_return_std)}   <- the baseline a trained agent must beat"
            )))
        else:
            rows.append(("episodes", "none finished: no random baseline"))
        if "reward_mean" in s:
            rows.append(("reward per step", (
                f"{_pm(s.get('reward_mean'), s.get('reward_std'))} in [{_g(s.get('reward_min'))}, "
                f"{_g(s.get('reward_max'))}], {100 * s.get('reward_nonzero_frac', math.nan):.1f}% non-zero, "
                f"|mean|/std {_g(s.get('reward_snr'))}"
            )))
        if s.get("return_abs_max") is not None:
            rows.append(("discounted ret.", f"max |G| {_g(s.get('return_abs_max'))} (gamma {s.get('gamma')})"))
        if s.get("obs_std_min") is not None:
            rows.append(("obs std", f"{_g(s.get('obs_std_min'))} .. {_g(s.get('obs_std_max'))} over continuous dims"))
        if s.get("reward_corr_best") is not None:
            rows.append(("reward corr.", f"best |corr| {_g(s.get('reward_corr_best'))} with {s.get('reward_corr_feature')}"))
        width = max(len(k) for k, _ in rows)
        lines = [f"sb3-diagnostics pre-flight: {s.get('env', 'environment')}"]
        lines += [f"  {k.ljust(width)}  {v}" for k, v in rows]
        for note in s.get("notes", []):
            lines.append(f"  note: {note}")
        level = Severity.parse(min_severity)
        shown = [f for f in self if f.severity >= level]
        if not shown:
            lines.append("No findings." if not self else f"No findings at {level} or above.")
        for f in shown:
            lines.append(f"[{f.severity}] {f.code}: {f.message}")
            lines.append(f"    -> {f.hint}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.format()

    def __repr__(self) -> str:
        codes = ", ".join(f"{f.code}({f.severity})" for f in self)
        return f"PreflightReport([{codes}], random_return={self.random_return_mean:.3g})"


def _g(x: Any) -> str:
    return "nan" if x is None else f"{float(x):.4g}"


def _pm(mean: Any, std: Any) -> str:
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return "n/a"
    return f"{float(mean):.4g} +- {_g(std)}"


# ---------------------------------------------------------------------------------------------
# Observations as flat float vectors, with a name and a kind per dim
# ---------------------------------------------------------------------------------------------


@dataclass
class _Layout:
    """How a (possibly nested) observation or action flattens: one name and kind per flat dim."""

    names: list[str] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)  # "box", "image" or "categorical"


def _layout(space: spaces.Space, prefix: str, out: _Layout) -> None:
    if isinstance(space, spaces.Dict):
        for key, sub in space.spaces.items():
            _layout(sub, f"{prefix}[{key!r}]", out)
    elif isinstance(space, spaces.Tuple):
        for i, sub in enumerate(space.spaces):
            _layout(sub, f"{prefix}[{i}]", out)
    elif isinstance(space, spaces.Box):
        kind = "image" if is_image_space(space, check_channels=False) else "box"
        n = int(np.prod(space.shape))
        out.names += [f"{prefix}[{i}]" if n > 1 else prefix for i in range(n)]
        out.kinds += [kind] * n
    elif isinstance(space, spaces.Discrete):
        out.names += [f"{prefix}=={int(space.start) + i}" for i in range(int(space.n))]
        out.kinds += ["categorical"] * int(space.n)
    elif isinstance(space, spaces.MultiDiscrete):
        nvec = np.asarray(space.nvec).reshape(-1)
        starts = np.asarray(getattr(space, "start", np.zeros_like(nvec))).reshape(-1)
        for i, (n, s) in enumerate(zip(nvec, starts, strict=True)):
            out.names += [f"{prefix}[{i}]=={int(s) + j}" for j in range(int(n))]
            out.kinds += ["categorical"] * int(n)
    elif isinstance(space, spaces.MultiBinary):
        n = int(np.prod(space.shape))
        out.names += [f"{prefix}[{i}]" for i in range(n)]
        out.kinds += ["categorical"] * n
    else:
        raise NotAnEnvironmentError(
            f"check_training_env supports Box, Discrete, MultiDiscrete, MultiBinary, Dict and Tuple spaces "
            f"(what SB3 can train on); {prefix} is {space}."
        )


def _flatten(space: spaces.Space, x: Any) -> np.ndarray:
    """Flatten one observation/action like ``gymnasium.spaces.flatten`` (one-hot for discrete), as float64."""
    if isinstance(space, spaces.Dict):
        return np.concatenate([_flatten(sub, x[key]) for key, sub in space.spaces.items()])
    if isinstance(space, spaces.Tuple):
        return np.concatenate([_flatten(sub, x[i]) for i, sub in enumerate(space.spaces)])
    if isinstance(space, spaces.Box):
        a = np.asarray(x, dtype=np.float64).reshape(-1)
        if a.size != int(np.prod(space.shape)):
            raise ValueError(f"has {a.size} values but {space} has {int(np.prod(space.shape))}")
        return a
    if isinstance(space, spaces.Discrete):
        out = np.zeros(int(space.n))
        k = int(np.asarray(x).reshape(-1)[0]) - int(space.start)
        if not 0 <= k < int(space.n):
            raise ValueError(f"is {int(np.asarray(x).reshape(-1)[0])}, outside {space}")
        out[k] = 1.0
        return out
    if isinstance(space, spaces.MultiDiscrete):
        nvec = np.asarray(space.nvec).reshape(-1)
        starts = np.asarray(getattr(space, "start", np.zeros_like(nvec))).reshape(-1)
        values = np.asarray(x).reshape(-1)
        parts = []
        for v, n, s in zip(values, nvec, starts, strict=True):
            one = np.zeros(int(n))
            if 0 <= int(v) - int(s) < int(n):
                one[int(v) - int(s)] = 1.0
            parts.append(one)
        return np.concatenate(parts)
    return np.asarray(x, dtype=np.float64).reshape(-1)


# ---------------------------------------------------------------------------------------------
# Driving a gymnasium Env or an SB3 VecEnv through one interface
# ---------------------------------------------------------------------------------------------


@dataclass
class _Step:
    next_obs: Any  # the true next observation (the terminal one when the episode ended)
    reward: float
    terminated: bool
    truncated: bool
    info: dict


class _Driver:
    """Resets and steps a gymnasium ``Env`` or an SB3 ``VecEnv``; every env call is guarded."""

    def __init__(self, env: gym.Env | VecEnv) -> None:
        self.env = env
        self.is_vec = isinstance(env, VecEnv)
        self.n_envs = env.num_envs if isinstance(env, VecEnv) else 1
        self.observation_space = env.observation_space
        self.action_space = env.action_space
        self.phase = "random rollout"
        self.calls = 0
        #: VecNormalize wrappers and their statistics before the check (restored before every replay)
        self.normalizers: list[tuple[VecNormalize, dict[str, Any]]] = _vecnormalize_states(env)

    def restore_normalization(self) -> None:
        """Put VecNormalize statistics back to where they were, so that replays see identical normalisation."""
        for wrapper, state in self.normalizers:
            for key, value in copy.deepcopy(state).items():
                setattr(wrapper, key, value)

    def _crash(self, call: str, exc: Exception, action: Any = None) -> EnvCrashedError:
        what = f" with action {action!r}" if action is not None else ""
        return EnvCrashedError(
            f"the environment raised {type(exc).__name__} in {call}{what}, at env step {self.calls} of "
            f"check_training_env ({self.phase}): {exc}. This is a bug in the environment (or in a wrapper): "
            "reproduce it with the same seed and action, then fix step()/reset()."
        )

    def reset(self, seed: int | None) -> list[Any]:
        """:return: the first observation of each sub-env"""
        call = f"reset(seed={seed})"
        try:
            if isinstance(self.env, VecEnv):
                if seed is not None:
                    self.env.seed(seed)
                return self._split(self.env.reset())
            result = self.env.reset(seed=seed)
        except Exception as exc:
            raise self._crash(call, exc) from exc
        if not (isinstance(result, tuple) and len(result) == 2):
            raise NotAnEnvironmentError(
                f"{call} returned {type(result).__name__}; a gymnasium env returns (obs, info). An old gym env? "
                "Wrap it with shimmy's GymV26CompatibilityV0 or port it to gymnasium."
            )
        return [result[0]]

    def step(self, actions: list[Any]) -> tuple[list[_Step], list[Any]]:
        """:return: one step per sub-env, and the observation each sub-env continues from (after auto-reset)"""
        self.calls += 1
        try:
            if isinstance(self.env, VecEnv):
                batch = np.stack([np.asarray(a) for a in actions])
                obs, rewards, dones, infos = self.env.step(batch)
            else:
                result = self.env.step(actions[0])
        except Exception as exc:
            raise self._crash("step()", exc, actions[0] if len(actions) == 1 else actions) from exc
        if not isinstance(self.env, VecEnv):
            if not (isinstance(result, tuple) and len(result) == 5):
                raise NotAnEnvironmentError(
                    f"step() returned {len(result) if isinstance(result, tuple) else type(result).__name__} values; a "
                    "gymnasium env returns (obs, reward, terminated, truncated, info)."
                )
            obs1, reward, terminated, truncated, info = result
            step = _Step(obs1, _as_float(reward), bool(terminated), bool(truncated), info if isinstance(info, dict) else {})
            following = obs1
            if terminated or truncated:
                try:
                    following = self.env.reset()[0]
                except Exception as exc:
                    raise self._crash("reset() after the episode ended", exc) from exc
            return [step], [following]
        split = self._split(obs)
        steps = []
        for i in range(self.n_envs):
            info = infos[i]
            next_obs = info.get("terminal_observation", split[i]) if dones[i] else split[i]
            truncated = bool(info.get("TimeLimit.truncated", False))
            steps.append(_Step(next_obs, _as_float(rewards[i]), bool(dones[i]) and not truncated, truncated, info))
        return steps, split

    def _split(self, batch: Any) -> list[Any]:
        if isinstance(batch, dict):
            return [{k: v[i] for k, v in batch.items()} for i in range(self.n_envs)]
        if isinstance(batch, tuple):
            return [tuple(v[i] for v in batch) for i in range(self.n_envs)]
        return [batch[i] for i in range(self.n_envs)]


def _as_float(x: Any) -> float:
    try:
        return float(np.asarray(x, dtype=np.float64).reshape(-1)[0])
    except (TypeError, ValueError, IndexError):
        return math.nan


class _Actions:
    """Seeded action sampling from a private copy of the action space (never the global RNG)."""

    def __init__(self, space: spaces.Space, seed: int) -> None:
        self.space = copy.deepcopy(space)
        self.space.seed(int(seed))

    def sample(self) -> Any:
        return self.space.sample()


# ---------------------------------------------------------------------------------------------
# The random rollout
# ---------------------------------------------------------------------------------------------


@dataclass
class _Rollout:
    obs: np.ndarray  # (N, D_stat) observation before each step, flat
    next_obs: np.ndarray  # (N, D_stat) true next observation
    next_done: np.ndarray  # (N,) whether next_obs is the last observation of an episode
    actions: np.ndarray  # (N, D_action) flat (one-hot for discrete)
    rewards: np.ndarray  # (T, n_envs)
    dones: np.ndarray  # (T, n_envs)
    terminated: np.ndarray  # (T, n_envs)
    components: dict[str, np.ndarray]
    episode_lengths: list[int]
    episode_truncated: list[bool]
    first_nonfinite_obs: tuple[int, str] | None
    first_nonfinite_reward: int | None
    obs_changed: bool
    shape_problem: str | None


def _collect(
    driver: _Driver, n_steps: int, seed: int, obs_layout: _Layout, stat_dims: np.ndarray, act_layout: _Layout
) -> _Rollout:
    space, aspace = driver.observation_space, driver.action_space
    sampler = _Actions(aspace, seed)
    iterations = max(1, math.ceil(n_steps / driver.n_envs))
    current = driver.reset(seed)
    first_flat: np.ndarray | None = None
    shape_problem: str | None = None
    obs_rows, next_rows, act_rows, next_done = [], [], [], []
    rewards = np.zeros((iterations, driver.n_envs))
    dones = np.zeros((iterations, driver.n_envs), dtype=bool)
    terminated = np.zeros((iterations, driver.n_envs), dtype=bool)
    components: dict[str, list[float]] = {}
    lengths, truncs = [], []
    running = [0] * driver.n_envs
    first_bad_obs: tuple[int, str] | None = None
    first_bad_reward: int | None = None
    changed = False

    def flat(x: Any, where: str) -> np.ndarray | None:
        nonlocal shape_problem
        try:
            return _flatten(space, x)
        except (ValueError, TypeError, KeyError, IndexError) as exc:
            if shape_problem is None:
                shape_problem = f"the observation from {where} {exc}"
            return None

    for t in range(iterations):
        actions = [sampler.sample() for _ in range(driver.n_envs)]
        steps, following = driver.step(actions)
        for i, (step, a) in enumerate(zip(steps, actions, strict=True)):
            index = t * driver.n_envs + i  # transitions recorded before this one
            rewards[t, i] = step.reward
            if first_bad_reward is None and not math.isfinite(step.reward):
                first_bad_reward = index + 1
            rc = step.info.get("reward_components")
            if isinstance(rc, dict):
                for name, value in rc.items():
                    components.setdefault(str(name), [0.0] * index).append(_as_float(value))
            for values in components.values():  # a component missing at this step counts as 0
                values.extend([0.0] * (index + 1 - len(values)))
            running[i] += 1
            if step.terminated or step.truncated:
                dones[t, i] = True
                terminated[t, i] = step.terminated
                lengths.append(running[i])
                truncs.append(step.truncated and not step.terminated)
                running[i] = 0
            o0 = flat(current[i], f"reset()/step() before env step {index + 1}")
            o1 = flat(step.next_obs, f"step() at env step {index + 1}")
            if o0 is None or o1 is None:
                continue
            for o, k in ((o0, index), (o1, index + 1)):
                if first_bad_obs is None and not np.all(np.isfinite(o)):
                    bad = int(np.flatnonzero(~np.isfinite(o))[0])
                    first_bad_obs = (k, obs_layout.names[bad])
            if first_flat is None:
                first_flat = o0
            if not changed and not (np.array_equal(o0, first_flat, equal_nan=True)
                                    and np.array_equal(o1, first_flat, equal_nan=True)):
                changed = True
            obs_rows.append(o0[stat_dims])
            next_rows.append(o1[stat_dims])
            next_done.append(bool(dones[t, i]))
            try:
                act_rows.append(_flatten(aspace, a))
            except (ValueError, TypeError, KeyError, IndexError):
                act_rows.append(np.zeros(len(act_layout.names)))
        current = following
    d = len(stat_dims)
    return _Rollout(
        obs=np.asarray(obs_rows).reshape(-1, d), next_obs=np.asarray(next_rows).reshape(-1, d),
        next_done=np.asarray(next_done, dtype=bool),
        actions=np.asarray(act_rows).reshape(len(act_rows), -1), rewards=rewards, dones=dones, terminated=terminated,
        components={k: np.asarray(v) for k, v in components.items()}, episode_lengths=lengths,
        episode_truncated=truncs, first_nonfinite_obs=first_bad_obs, first_nonfinite_reward=first_bad_reward,
        obs_changed=changed, shape_problem=shape_problem,
    )


# ---------------------------------------------------------------------------------------------
# Replays: determinism, reset randomisation, action effect
# ---------------------------------------------------------------------------------------------


@dataclass
class _Trace:
    """What env 0 did in a replay: flat observations, rewards, end flags."""

    obs: list[np.ndarray] = field(default_factory=list)
    rewards: list[float] = field(default_factory=list)
    ends: list[tuple[bool, bool]] = field(default_factory=list)

    def first_difference(self, other: _Trace) -> tuple[int, str] | None:
        """:return: (step, what differs) at the first difference, or None when identical"""
        for k in range(min(len(self.obs), len(other.obs))):
            a, b = self.obs[k], other.obs[k]
            if a.shape != b.shape or not np.array_equal(a, b, equal_nan=True):
                gap = float(np.nanmax(np.abs(a - b))) if a.shape == b.shape else math.nan
                return k, f"observations differ (max |difference| {gap:.3g})"
            if k > 0:
                ra, rb = self.rewards[k - 1], other.rewards[k - 1]
                if not (ra == rb or (math.isnan(ra) and math.isnan(rb))):
                    return k, f"rewards differ ({ra:.6g} vs {rb:.6g})"
                if self.ends[k - 1] != other.ends[k - 1]:
                    return k, "one episode ended and the other did not"
        if len(self.obs) != len(other.obs):
            return min(len(self.obs), len(other.obs)), "one replay ended earlier"
        return None


def _replay(driver: _Driver, seed: int, actions: list[list[Any]], flat: Callable[[Any], np.ndarray],
            stop_at_end: bool = False) -> _Trace:
    """reset(seed) then the given actions (one list per sub-env each step); records env 0."""
    trace = _Trace()
    driver.restore_normalization()
    current = driver.reset(seed)
    trace.obs.append(flat(current[0]))
    for step_actions in actions:
        steps, current = driver.step(step_actions)
        s = steps[0]
        trace.obs.append(flat(s.next_obs))
        trace.rewards.append(s.reward)
        trace.ends.append((s.terminated, s.truncated))
        if stop_at_end and (s.terminated or s.truncated):
            break
    return trace


def _safe_flat(space: spaces.Space) -> Callable[[Any], np.ndarray]:
    def flat(x: Any) -> np.ndarray:
        try:
            return _flatten(space, x)
        except (ValueError, TypeError, KeyError, IndexError):
            return np.asarray([hash(repr(x))], dtype=np.float64)

    return flat


def _action_plan(driver: _Driver, seed: int, length: int) -> list[list[Any]]:
    sampler = _Actions(driver.action_space, seed)
    return [[sampler.sample() for _ in range(driver.n_envs)] for _ in range(length)]


def _candidates(space: spaces.Space, seed: int) -> list[Any]:
    """Different actions to compare: the extremes and the middle of a bounded Box, every discrete
    action up to :data:`_MAX_CANDIDATES`, then random samples; duplicates removed."""
    out: list[Any] = []
    if isinstance(space, spaces.Discrete) and space.n <= _MAX_CANDIDATES:
        out = [np.int64(space.start + i) for i in range(int(space.n))]
    elif isinstance(space, spaces.Box) and np.all(np.isfinite(space.low)) and np.all(np.isfinite(space.high)):
        low, high = space.low.astype(space.dtype), space.high.astype(space.dtype)
        out = [low, high, ((low.astype(np.float64) + high) / 2).astype(space.dtype)]
    sampler = _Actions(space, seed)
    tries = 0
    while len(out) < _MAX_CANDIDATES and tries < 4 * _MAX_CANDIDATES:
        tries += 1
        out.append(sampler.sample())
    unique: list[Any] = []
    for a in out:
        if not any(_same(a, b) for b in unique):
            unique.append(a)
    return unique[:_MAX_CANDIDATES]


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, tuple) and isinstance(b, tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(np.array_equal(np.asarray(a), np.asarray(b)))


# ---------------------------------------------------------------------------------------------
# The checks
# ---------------------------------------------------------------------------------------------


class _Checker:
    """Runs every pre-flight check on one driver and collects findings and summary notes."""

    def __init__(self, driver: _Driver, n_steps: int, seed: int, gamma: float, th: PreflightThresholds,
                 reward_th: RewardThresholds) -> None:
        self.driver = driver
        self.n_steps = n_steps
        self.seed = seed
        self.gamma = gamma
        self.th = th
        self.reward_th = reward_th
        self.findings: list[Finding] = []
        self.summary: dict[str, Any] = {"notes": []}
        self.obs_layout = _Layout()
        _layout(driver.observation_space, "obs", self.obs_layout)
        self.act_layout = _Layout()
        _layout(driver.action_space, "action", self.act_layout)
        self.flat = _safe_flat(driver.observation_space)

    def note(self, text: str) -> None:
        self.summary["notes"].append(text)

    def add(self, code: str, message: str, value: float = math.nan, threshold: float = math.nan,
            severity: Severity | None = None, hint: str | None = None) -> None:
        row = entry(code)
        self.findings.append(Finding(code, severity or row.severity, 0, message, hint or row.hint, float(value),
                                     float(threshold), check="preflight"))

    # -- statistics of the random rollout ------------------------------------------------------
    def _stat_dims(self) -> np.ndarray:
        """Flat dims kept for statistics: every non-image dim (sub-sampled above :data:`_MAX_STAT_DIMS`)."""
        dims = np.array([i for i, k in enumerate(self.obs_layout.kinds) if k != "image"], dtype=np.int64)
        if dims.size > _MAX_STAT_DIMS:
            rng = np.random.default_rng(self.seed)
            dims = np.sort(rng.choice(dims, size=_MAX_STAT_DIMS, replace=False))
            self.note(f"{len(self.obs_layout.kinds)} observation dims: statistics use {_MAX_STAT_DIMS} of them")
        return dims

    def run(self) -> None:
        d, s = self.driver, self.summary
        stat_dims = self._stat_dims()
        roll = _collect(d, self.n_steps, self.seed, self.obs_layout, stat_dims, self.act_layout)
        s["steps"] = int(roll.rewards.size)
        self._check_shapes(roll)
        self._check_observations(roll, stat_dims)
        metrics = self._check_rewards(roll)
        self._check_episodes(roll)
        self._check_learnable(roll, metrics, stat_dims)
        d.phase = "determinism check"
        deterministic = self._check_determinism()
        d.phase = "reset check"
        self._check_reset()
        d.phase = "action-effect check"
        self._check_action_effect(deterministic)

    def _check_shapes(self, roll: _Rollout) -> None:
        if roll.shape_problem:
            self.add("buffer_shape_mismatch", (
                f"{roll.shape_problem}: it does not fit observation_space {self.driver.observation_space}. SB3 stores "
                "observations with the space's shape, so mismatched ones are reshaped wrongly or crash training; "
                "the observation checks skipped those steps."
            ), hint="Return observations of exactly observation_space.shape (and dtype) from reset() and step().")

    def _check_observations(self, roll: _Rollout, stat_dims: np.ndarray) -> None:
        th, s = self.th, self.summary
        kinds = np.array(self.obs_layout.kinds)
        s["obs_dims"] = len(kinds)
        mlp_dims = int(np.sum(kinds != "image"))
        if roll.first_nonfinite_obs is not None:
            step, name = roll.first_nonfinite_obs
            self.add("obs_nan_inf", (
                f"the observation contained NaN or Inf (first at env step {step}, in {name}): one such value makes "
                "the network output NaN and training diverges."
            ), float(step))
        if not roll.obs_changed and roll.obs.shape[0] > 0:
            self.add("obs_constant", (
                f"the observation was the same at every one of {roll.obs.shape[0]} random steps: the policy cannot "
                "tell states apart, so it can only learn one fixed action."
            ))
        if mlp_dims > th.max_mlp_dims:
            self.add("obs_too_large", (
                f"the observation has {mlp_dims} non-image dims (threshold {th.max_mlp_dims}): an MLP policy on that "
                "many inputs learns slowly and overfits."
            ), mlp_dims, th.max_mlp_dims)
        if roll.obs.shape[0] < 2:
            return
        everything = np.concatenate([roll.obs, roll.next_obs[roll.next_done]])  # terminal observations too
        stds = M.per_dim_std(everything)
        box = kinds[stat_dims] == "box"
        names = [self.obs_layout.names[i] for i in stat_dims]
        if not np.any(box):
            return
        box_stds = stds[box]
        box_names = [n for n, b in zip(names, box, strict=True) if b]
        finite = np.isfinite(box_stds)
        if np.any(finite):
            s["obs_std_min"], s["obs_std_max"] = float(np.min(box_stds[finite])), float(np.max(box_stds[finite]))
        if roll.obs_changed:
            dead = [n for n, v in zip(box_names, box_stds, strict=True) if np.isfinite(v) and v < th.dead_dim_std]
            if dead:
                shown = ", ".join(dead[:8]) + (f" and {len(dead) - 8} more" if len(dead) > 8 else "")
                self.add("obs_dead_dims", (
                    f"{len(dead)} of {len(box_names)} continuous observation dims never changed under random actions "
                    f"(std < {th.dead_dim_std:g}): {shown}. They carry no information, and normalisation divides them "
                    "by ~0 (a flag that only changes in states random actions never reach, e.g. 'goal reached', is "
                    "fine)."
                ), len(dead), th.dead_dim_std)
        ratio = M.std_ratio(box_stds, th.dead_dim_std)
        if not math.isnan(ratio) and ratio > th.scale_ratio:
            live = [(n, v) for n, v in zip(box_names, box_stds, strict=True) if np.isfinite(v) and v > th.dead_dim_std]
            big = max(live, key=lambda nv: nv[1])
            small = min(live, key=lambda nv: nv[1])
            self.add("obs_scale_mismatch", (
                f"observation dims differ in scale by {ratio:.3g}x (threshold {th.scale_ratio:g}x): {big[0]} has std "
                f"{big[1]:.3g} but {small[0]} only {small[1]:.3g}. The large dims dominate the first layer and the "
                "small ones are effectively ignored."
            ), ratio, th.scale_ratio)

    def _check_rewards(self, roll: _Rollout) -> dict[str, float]:
        s = self.summary
        if roll.first_nonfinite_reward is not None:
            self.add("nan_detected", (
                f"the reward was NaN or Inf (first at env step {roll.first_nonfinite_reward}): value targets and "
                "advantages become NaN and so does every network weight after the next update."
            ), float(roll.first_nonfinite_reward))
        metrics = reward_metrics(
            roll.rewards, roll.dones, gamma=self.gamma, terminated=roll.terminated,
            components=roll.components or None, thresholds=self.reward_th,
        )
        if metrics["_reward_samples"] < self.reward_th.min_samples:
            self.note(
                f"only {int(metrics['_reward_samples'])} finite rewards (RewardThresholds.min_samples = "
                f"{self.reward_th.min_samples}): the reward checks were skipped; raise n_steps"
            )
        rule = RewardRule(self.reward_th, enabled=PREFLIGHT_REWARD_CODES)
        for alert in rule.observe(0, metrics):
            self.add(alert.code, f"under random actions, {alert.message}", alert.value, alert.threshold,
                     alert.severity, alert.hint)
        finite = roll.rewards[np.isfinite(roll.rewards)]
        if finite.size:
            s.update(reward_mean=float(finite.mean()), reward_std=float(finite.std()), reward_min=float(finite.min()),
                     reward_max=float(finite.max()))
        s.update(reward_nonzero_frac=metrics["reward_nonzero_frac"], reward_snr=metrics["reward_snr"],
                 return_abs_max=metrics["return_abs_max"], gamma=self.gamma)
        if roll.components:
            s["reward_component_shares"] = {
                k[len("reward_component/"):]: v for k, v in metrics.items() if k.startswith("reward_component/")
            }
        s["reward_metrics"] = metrics
        return metrics

    def _check_episodes(self, roll: _Rollout) -> None:
        th, s = self.th, self.summary
        lengths = np.asarray(roll.episode_lengths)
        returns = M.episode_returns(roll.rewards, roll.dones)
        s["episodes"] = int(lengths.size)
        if lengths.size:
            s.update(
                episode_length_mean=float(lengths.mean()), episode_length_std=float(lengths.std()),
                episode_length_min=int(lengths.min()), episode_length_max=int(lengths.max()),
                truncated_frac=float(np.mean(roll.episode_truncated)),
                random_return_mean=float(returns.mean()) if returns.size else math.nan,
                random_return_std=float(returns.std()) if returns.size >= 2 else math.nan,
            )
            if lengths.max() < th.short_episode:
                self.add("episode_length_degenerate", (
                    f"under random actions every one of {lengths.size} episodes ended within {int(lengths.max())} "
                    f"step(s) (threshold: all shorter than {th.short_episode}): the agent has no time to act, and "
                    "returns barely depend on what it does."
                ), float(lengths.max()), th.short_episode)
            return
        per_env = roll.rewards.shape[0]
        limit = _time_limit(self.driver.env)
        if limit is not None and limit > per_env:
            self.note(
                f"no episode finished within {per_env} steps per env (time limit {limit}): raise n_steps above "
                f"{limit * self.driver.n_envs} for a random baseline"
            )
            return
        self.add("episode_length_degenerate", (
            f"no episode ended in {per_env} random steps per env: without a time limit (TimeLimit, "
            "max_episode_steps) SB3 never logs an episode return, and a stuck agent is never reset."
        ), float(per_env), float(per_env), hint=(
            "Give the env a time limit (gym.make(..., max_episode_steps=N) or gymnasium.wrappers.TimeLimit) and "
            "make sure terminated is returned when the task ends."
        ))

    def _check_learnable(self, roll: _Rollout, metrics: dict[str, float], stat_dims: np.ndarray) -> None:
        """Seed 003, 1.5: does any observation feature (or action) correlate with the reward?"""
        th, s = self.th, self.summary
        codes = {f.code for f in self.findings}
        if codes & {"reward_all_zero", "reward_constant", "reward_sparse", "obs_constant", "obs_nan_inf"}:
            return
        rewards = roll.rewards.reshape(-1)
        if rewards.size != roll.obs.shape[0] or rewards.size < self.reward_th.min_samples:
            return
        std = metrics.get("reward_std")
        if std is None or not std > self.reward_th.constant_std:
            return
        names = [self.obs_layout.names[i] for i in stat_dims]
        features, labels = [], []
        for prefix, block in (("", roll.obs), ("next ", roll.next_obs)):
            features.append(block)
            labels += [f"{prefix}{n}" for n in names]
            features.append(np.abs(block - np.nanmean(block, axis=0)))
            labels += [f"|{prefix}{n} - mean|" for n in names]
        if roll.actions.size:
            features.append(roll.actions)
            labels += self.act_layout.names
            obs_part = roll.obs[:, :_MAX_PRODUCT_DIMS]
            act_part = roll.actions[:, :_MAX_PRODUCT_DIMS // 4]
            products = (obs_part[:, :, None] * act_part[:, None, :]).reshape(obs_part.shape[0], -1)
            features.append(products)
            labels += [f"{o} x {a}" for o in names[:_MAX_PRODUCT_DIMS] for a in self.act_layout.names[:_MAX_PRODUCT_DIMS // 4]]
        corr = np.abs(M.correlations(np.concatenate(features, axis=1), rewards))
        if not np.any(np.isfinite(corr)):
            return
        best = int(np.nanargmax(corr))
        s["reward_corr_best"], s["reward_corr_feature"] = float(corr[best]), labels[best]
        if corr[best] < th.reward_corr:
            self.add("reward_not_learnable", (
                f"no observation dim correlates with the reward under random actions: the best of {len(labels)} "
                f"features (observations before and after the step, their distance from the mean, actions, obs x "
                f"action) reaches |corr| = {corr[best]:.3f} ({labels[best]}; threshold {th.reward_corr}). The critic "
                "cannot predict a reward the observation says nothing about."
            ), float(corr[best]), th.reward_corr)

    def _check_determinism(self) -> bool:
        d, th = self.driver, self.th
        plan = _action_plan(d, self.seed + 1, th.determinism_steps)
        first = _replay(d, self.seed, plan, self.flat)
        second = _replay(d, self.seed, plan, self.flat)
        diff = first.first_difference(second)
        if diff is None:
            return True
        step, what = diff
        where = "right after reset(seed)" if step == 0 else f"at step {step}"
        self.add("env_nondeterministic", (
            f"reset(seed={self.seed}) twice and the same {len(plan)} actions gave different results: {where}, "
            f"{what}. Runs cannot be reproduced, and evaluation differences are partly noise. The usual cause is "
            "randomness drawn from the global random / np.random instead of self.np_random."
        ), float(step))
        return False

    def _check_reset(self) -> None:
        th, d = self.th, self.driver
        firsts = [self.flat(d.reset(self.seed + 1000 + k)[0]) for k in range(th.reset_seeds)]
        if all(np.array_equal(firsts[0], f, equal_nan=True) for f in firsts[1:]):
            self.add("reset_not_randomized", (
                f"reset() with {th.reset_seeds} different seeds returned the identical first observation every time: "
                "the agent always starts from the same state, so the policy may not generalise beyond it (fine for "
                "a fixed-start task)."
            ))

    def _check_action_effect(self, deterministic: bool) -> None:
        """Seed 000 #2, seed 003 2.4: from the same state, do different actions change what happens?"""
        d, th = self.driver, self.th
        candidates = _candidates(d.action_space, self.seed + 2)
        if len(candidates) < 2:
            self.note("the action space has a single action: the action-effect check does not apply")
            return
        if not deterministic:
            self.note("action-effect check skipped: the environment is not deterministic, so replays differ anyway")
            return
        prefix_plan = _action_plan(d, self.seed + 3, _MAX_PREFIX)
        probe = _replay(d, self.seed, prefix_plan, self.flat, stop_at_end=True)
        episode_end = next((k + 1 for k, (te, tr) in enumerate(probe.ends) if te or tr), _MAX_PREFIX + 1)
        usable = max(episode_end - 1, 0)  # prefix lengths that keep the episode running
        prefixes = sorted({int(round(usable * k / max(th.action_states - 1, 1))) for k in range(th.action_states)})
        tail = _action_plan(d, self.seed + 4, th.action_horizon - 1)
        for prefix in prefixes:
            traces = []
            for a in candidates:
                plan = prefix_plan[:prefix] + [[a] + prefix_plan[0][1:]] + tail
                traces.append(_replay(d, self.seed, plan, self.flat, stop_at_end=True))
            if any(traces[0].first_difference(t) is not None for t in traces[1:]):
                return
        self.add("action_no_effect", (
            f"from the same state (reset(seed={self.seed}) then {', '.join(str(p) for p in prefixes)} random steps), "
            f"{len(candidates)} different actions led to identical observations, rewards and episode ends over the "
            f"next {th.action_horizon} step(s): the agent's choices change nothing, so there is nothing to learn."
        ), float(len(candidates)))


def _time_limit(env: Any) -> int | None:
    """max_episode_steps of a gymnasium env (or the first sub-env of a VecEnv), when known."""
    try:
        spec = env.get_attr("spec", [0])[0] if isinstance(env, VecEnv) else getattr(env, "spec", None)
        limit = getattr(spec, "max_episode_steps", None)
        return int(limit) if limit else None
    except Exception:  # a VecEnv that cannot answer get_attr: no limit known
        return None


def _vecnormalize_states(env: Any) -> list[tuple[VecNormalize, dict[str, Any]]]:
    out = []
    while isinstance(env, VecEnvWrapper):
        if isinstance(env, VecNormalize):
            out.append((env, copy.deepcopy({k: getattr(env, k) for k in ("obs_rms", "ret_rms", "returns")})))
        env = env.venv
    return out


def _describe(env: Any, name: str | None) -> str:
    if name:
        return name
    spec = getattr(env, "spec", None)
    if spec is not None and getattr(spec, "id", None):
        return str(spec.id)
    return type(env).__name__


def check_training_env(
    env: EnvLike,
    n_steps: int = 1000,
    seed: int = 0,
    *,
    gamma: float = 0.99,
    thresholds: PreflightThresholds | dict[str, Any] | None = None,
    reward_thresholds: RewardThresholds | dict[str, Any] | None = None,
    warn: bool = True,
    verbose: int = 0,
) -> PreflightReport:
    """
    Run the environment with random actions (plus short seeded replays) and report what would
    keep an agent from learning on it, before any training (seed 000 "Run this first", seed 003
    tiers 1-2): constant / NaN / dead / badly scaled observations, actions without effect,
    non-determinism, degenerate episodes, resets that ignore the seed, and reward problems
    (all zero, sparse, tiny or huge, constant, one component dominating, unrelated to the
    observation).

    The report's summary holds the random policy's mean and std episode return: the baseline a
    trained agent must beat (seed 003, 2.1).

    The env is left in an arbitrary state and seeded by this check: reset it before use.

    :param env: an env id (``"CartPole-v1"``, made with ``gym.make`` and closed afterwards), a
        gymnasium ``Env``, or an SB3 ``VecEnv`` (checked as the agent sees it, wrappers included;
        VecNormalize statistics are restored afterwards)
    :param n_steps: random env steps of the main rollout (over all sub-envs of a VecEnv); the
        replays add a few hundred more
    :param seed: seed of the env resets and of the action sampling
    :param gamma: discount used for the discounted returns (``reward_scale_huge``)
    :param thresholds: :class:`~sb3_diagnostics.catalog.PreflightThresholds` or a dict of its fields
    :param reward_thresholds: :class:`~sb3_diagnostics.catalog.RewardThresholds` or a dict of its fields
    :param warn: also raise a Python warning (a ``DiagnosticWarning`` subclass) per finding at
        warning level or above
    :param verbose: 0 silent; 1 print the report
    :return: a :class:`PreflightReport`: the findings (a ``list[Finding]``), most upstream first,
        with ``.summary``, ``.random_return_mean``, ``.random_return_std`` and ``.format()``
    :raises NotAnEnvironmentError: when ``env`` is not an env id, ``gymnasium.Env`` or ``VecEnv``
    :raises InvalidThresholdError: when ``n_steps`` is not a whole number >= 1
    :raises EnvCrashedError: when the environment raises; names the call, step and action
    """
    if isinstance(n_steps, bool) or not isinstance(n_steps, (int, np.integer)) or n_steps < 1:
        # A rollout needs at least one step; rewards are judged from RewardThresholds.min_samples (100) steps on.
        raise InvalidThresholdError(f"n_steps={n_steps!r}: must be a whole number of env steps >= 1 (default 1000).")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise InvalidThresholdError(f"seed={seed!r}: must be an int.")
    if not 0.0 <= gamma <= 1.0:
        raise InvalidThresholdError(f"gamma={gamma!r}: must be in [0, 1].")
    th = PreflightThresholds.coerce(thresholds)
    reward_th = replace(RewardThresholds.coerce(reward_thresholds), consecutive=1)  # one rollout, one window
    made = False
    name = None
    if isinstance(env, str):
        name = env
        env = gym.make(env)
        made = True
    if not isinstance(env, (gym.Env, VecEnv)):
        raise NotAnEnvironmentError(
            f"check_training_env needs an env id, a gymnasium.Env or an SB3 VecEnv; got {type(env).__name__}. "
            "Pass e.g. gym.make('CartPole-v1') or the VecEnv you train on."
        )
    driver = _Driver(env)
    try:
        checker = _Checker(driver, int(n_steps), int(seed), gamma, th, reward_th)
        checker.summary.update(
            env=_describe(env, name), seed=int(seed), n_envs=driver.n_envs,
            observation_space=str(driver.observation_space), action_space=str(driver.action_space),
        )
        if driver.normalizers:
            checker.note("VecNormalize in the stack: checked what the agent sees (normalised); its statistics were "
                         "restored afterwards")
        checker.run()
    finally:
        driver.restore_normalization()
        if made:
            env.close()
    findings = triage_order(checker.findings)
    report = PreflightReport(findings, checker.summary)
    if warn:
        warn_findings(findings)
    if verbose >= 1:
        print(report.format())
    return report
