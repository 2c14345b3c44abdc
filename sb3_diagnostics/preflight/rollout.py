"""
The pre-flight's measurements: one random rollout, and short seeded replays (determinism, resets,
the effect of actions). Random actions come from seeded copies of the action space, never the
global RNG.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from gymnasium import spaces

from sb3_diagnostics.preflight.driver import Driver, as_float
from sb3_diagnostics.sb3.spaces import (
    Layout,
    SeededSampler,
    fits_buffer,
    flatten,
    float_image_max,
    outside_space,
    shape_mismatch,
    shared_memory,
)

#: longest action prefix before the action-effect comparison
MAX_PREFIX = 20
#: different actions compared at each state
MAX_CANDIDATES = 6


@dataclass
class Rollout:
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
    shape_skipped: bool = False  # an observation SB3's buffers cannot take (not just of another shape)
    space_problem: str | None = None  # the first observation of the right shape that is not in the space
    image_max: float | None = None  # the largest value of float image observations
    aliased: str | None = None  # how two observations turned out to be one buffer mutated in place
    #: (N,) the step of its episode at which each row of ``obs`` was observed (0 at reset)
    positions: np.ndarray = field(default_factory=lambda: np.zeros(0))


def collect(
    driver: Driver, n_steps: int, seed: int, obs_layout: Layout, stat_dims: np.ndarray, act_layout: Layout
) -> Rollout:
    space, aspace = driver.observation_space, driver.action_space
    sampler = SeededSampler(aspace, seed)
    iterations = max(1, math.ceil(n_steps / driver.n_envs))
    current = driver.reset(seed)
    first_flat: np.ndarray | None = None
    shape_problem: str | None = None
    shape_skipped = False
    vectorized = driver.is_vec
    obs_rows, next_rows, act_rows, next_done, positions = [], [], [], [], []
    rewards = np.zeros((iterations, driver.n_envs))
    dones = np.zeros((iterations, driver.n_envs), dtype=bool)
    terminated = np.zeros((iterations, driver.n_envs), dtype=bool)
    components: dict[str, list[float]] = {}
    lengths, truncs = [], []
    running = [0] * driver.n_envs
    first_bad_obs: tuple[int, str] | None = None
    first_bad_reward: int | None = None
    changed = False
    space_problem: str | None = None
    image_max: float | None = None
    aliased: str | None = None
    raw = not any(getattr(w, "norm_obs", False) for w, _ in driver.normalizers)

    def flat(x: Any, where: str) -> np.ndarray | None:
        nonlocal shape_problem, shape_skipped, space_problem, image_max
        # behind VecNormalize(norm_obs=True) observations are normalised: neither their bounds nor their scale
        # are the env's
        if raw and space_problem is None and (why := outside_space(space, x, check_dtype=not vectorized)):
            space_problem = f"the observation from {where} {why}"
        if raw and (top := float_image_max(space, x)) is not None:
            image_max = top if image_max is None else max(image_max, top)
        if not vectorized and shape_problem is None:
            # a VecEnv already copied each observation into a buffer of the space's shape (a (1, n) array
            # broadcasts into an (n,) slot); a plain env hands over what step() returned
            why = shape_mismatch(space, x)
            if why is not None:
                shape_problem = f"the observation from {where} {why}"
                shape_skipped = not fits_buffer(space, x)  # SB3 fails to store it, or stores it misplaced
        try:
            return flatten(space, x)
        except (ValueError, TypeError, KeyError, IndexError) as exc:
            shape_skipped = True
            if shape_problem is None:
                shape_problem = f"the observation from {where} {exc}"
            return None

    for t in range(iterations):
        actions = [sampler.sample() for _ in range(driver.n_envs)]
        steps, following = driver.step(actions)
        for i, (step, a) in enumerate(zip(steps, actions, strict=True)):
            index = t * driver.n_envs + i  # transitions recorded before this one
            if aliased is None:
                for later in (step.next_obs, following[i]):
                    if (where := shared_memory(current[i], later)) is not None:
                        aliased = (f"the observations{where} before and after env step {index + 1} are the same "
                                   "array: the env writes each observation into one buffer and returns that buffer")
                        break
            rewards[t, i] = step.reward
            if first_bad_reward is None and not math.isfinite(step.reward):
                first_bad_reward = index + 1
            rc = step.info.get("reward_components")
            if isinstance(rc, dict):
                for name, value in rc.items():
                    components.setdefault(str(name), [0.0] * index).append(as_float(value))
            for values in components.values():  # a component missing at this step counts as 0
                values.extend([0.0] * (index + 1 - len(values)))
            position = running[i]
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
            positions.append(position)
            next_rows.append(o1[stat_dims])
            next_done.append(bool(dones[t, i]))
            try:
                act_rows.append(flatten(aspace, a))
            except (ValueError, TypeError, KeyError, IndexError):
                act_rows.append(np.zeros(len(act_layout.names)))
        current = following
    d = len(stat_dims)
    return Rollout(
        # d is 0 when every observation dim is an image dim: rows of nothing, not a reshape error
        obs=np.asarray(obs_rows, dtype=float).reshape(len(obs_rows), d),
        next_obs=np.asarray(next_rows, dtype=float).reshape(len(next_rows), d),
        next_done=np.asarray(next_done, dtype=bool),
        actions=np.asarray(act_rows).reshape(len(act_rows), -1), rewards=rewards, dones=dones, terminated=terminated,
        components={k: np.asarray(v) for k, v in components.items()}, episode_lengths=lengths,
        episode_truncated=truncs, first_nonfinite_obs=first_bad_obs, first_nonfinite_reward=first_bad_reward,
        obs_changed=changed, shape_problem=shape_problem, shape_skipped=shape_skipped,
        space_problem=space_problem, image_max=image_max, aliased=aliased, positions=np.asarray(positions, dtype=float),
    )


@dataclass
class Trace:
    """What env 0 did in a replay: flat observations, rewards, end flags."""

    obs: list[np.ndarray] = field(default_factory=list)
    rewards: list[float] = field(default_factory=list)
    ends: list[tuple[bool, bool]] = field(default_factory=list)

    def first_difference(self, other: Trace) -> tuple[int, str] | None:
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


def replay(driver: Driver, seed: int, actions: list[list[Any]], flat: Callable[[Any], np.ndarray],
            stop_at_end: bool = False) -> Trace:
    """reset(seed) then the given actions (one list per sub-env each step); records env 0."""
    trace = Trace()
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


def safe_flat(space: spaces.Space) -> Callable[[Any], np.ndarray]:
    def flat(x: Any) -> np.ndarray:
        try:
            return flatten(space, x)
        except (ValueError, TypeError, KeyError, IndexError):
            return np.asarray([hash(repr(x))], dtype=np.float64)

    return flat


def action_plan(driver: Driver, seed: int, length: int) -> list[list[Any]]:
    sampler = SeededSampler(driver.action_space, seed)
    return [[sampler.sample() for _ in range(driver.n_envs)] for _ in range(length)]


def candidates(space: spaces.Space, seed: int) -> list[Any]:
    """Different actions to compare: the extremes and the middle of a bounded Box, every discrete
    action up to :data:`MAX_CANDIDATES`, then random samples; duplicates removed."""
    out: list[Any] = []
    if isinstance(space, spaces.Discrete) and space.n <= MAX_CANDIDATES:
        out = [np.int64(space.start + i) for i in range(int(space.n))]
    elif isinstance(space, spaces.Box) and np.all(np.isfinite(space.low)) and np.all(np.isfinite(space.high)):
        low, high = space.low.astype(space.dtype), space.high.astype(space.dtype)
        out = [low, high, ((low.astype(np.float64) + high) / 2).astype(space.dtype)]
    sampler = SeededSampler(space, seed)
    tries = 0
    while len(out) < MAX_CANDIDATES and tries < 4 * MAX_CANDIDATES:
        tries += 1
        out.append(sampler.sample())
    unique: list[Any] = []
    for a in out:
        if not any(_same(a, b) for b in unique):
            unique.append(a)
    return unique[:MAX_CANDIDATES]


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, tuple) and isinstance(b, tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(np.array_equal(np.asarray(a), np.asarray(b)))
