"""Spaces: how observations and actions flatten (one name and kind per flat dim), and seeded samples."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.preprocessing import is_image_space

from sb3_diagnostics.errors import NotAnEnvironmentError


@dataclass
class Layout:
    """How a (possibly nested) observation or action flattens: one name and kind per flat dim."""

    names: list[str] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)  # "box", "image" or "categorical"


def _fill(space: spaces.Space, prefix: str, out: Layout) -> None:
    if isinstance(space, spaces.Dict):
        for key, sub in space.spaces.items():
            _fill(sub, f"{prefix}[{key!r}]", out)
    elif isinstance(space, spaces.Tuple):
        for i, sub in enumerate(space.spaces):
            _fill(sub, f"{prefix}[{i}]", out)
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
            f"SB3 trains on Box, Discrete, MultiDiscrete, MultiBinary, Dict and Tuple spaces; {prefix} is {space}. "
            "Convert it (e.g. with gymnasium.wrappers.FlattenObservation) or check a space SB3 supports."
        )


def shape_mismatch(space: spaces.Space, x: Any) -> str | None:
    """
    Why ``x`` does not have the shape ``space`` declares (Box, also inside Dict and Tuple), or None.
    ``flatten`` accepts a (1, n) array for an (n,) Box; SB3's buffers and networks do not always.
    """
    if isinstance(space, spaces.Dict) and isinstance(x, dict):
        for key, sub in space.spaces.items():
            if key in x and (why := shape_mismatch(sub, x[key])) is not None:
                return f"[{key!r}] {why}"
    elif isinstance(space, spaces.Tuple) and isinstance(x, tuple | list):
        for i, sub in enumerate(space.spaces):
            if i < len(x) and (why := shape_mismatch(sub, x[i])) is not None:
                return f"[{i}] {why}"
    elif isinstance(space, spaces.Box):
        shape = np.shape(x)
        if shape != tuple(space.shape):
            return f"has shape {shape}, but the space's shape is {tuple(space.shape)}"
    return None


def outside_space(space: spaces.Space, x: Any, check_dtype: bool = True) -> str | None:
    """
    Why ``x``, of the right shape, is not in the Box ``space`` (also inside Dict): a dtype of another kind or
    size (float64 for a float32 space), or values outside the bounds; None when it is in (or another check's
    business: shapes are :func:`shape_mismatch`'s).

    :param check_dtype: whether to compare dtypes (a VecEnv already cast the observation into its buffer)
    """
    if isinstance(space, spaces.Dict) and isinstance(x, dict):
        for key, sub in space.spaces.items():
            if key in x and (why := outside_space(sub, x[key], check_dtype)) is not None:
                return f"[{key!r}] {why}"
        return None
    if not isinstance(space, spaces.Box):
        return None
    a = np.asarray(x)
    if a.shape != tuple(space.shape) or a.dtype.kind not in "fiub":
        return None
    if check_dtype and a.dtype != space.dtype:
        return f"has dtype {a.dtype}, but the space's dtype is {space.dtype}"
    low, high = np.broadcast_to(space.low, a.shape), np.broadcast_to(space.high, a.shape)
    with np.errstate(invalid="ignore"):
        bad = (a < low) | (a > high)
    if np.any(bad):
        i = np.unravel_index(int(np.flatnonzero(bad)[0]), a.shape)
        where = f"[{', '.join(str(int(k)) for k in i)}]" if a.ndim else ""
        return (f"holds {float(a[i]):.4g} at index {where or '()'}, outside its bounds "
                f"[{float(low[i]):.4g}, {float(high[i]):.4g}]")
    return None


#: numpy >= 1.25 moved it to np.exceptions
_TOO_HARD: type[Exception] = getattr(getattr(np, "exceptions", np), "TooHardError", ArithmeticError)


def far_action_dims(space: spaces.Space, half_width: float, names: list[str] | None = None) -> list[str]:
    """
    Box action dimensions far from [-1, 1]: a half-width above ``half_width``, or a range that does not
    hold 0 strictly inside (SB3's Gaussian policies start at mean 0, std 1; squashed ones rescale from
    [-1, 1]). Dimensions of zero width or with infinite bounds are not counted here.

    :param space: an action space (anything but a Box has none)
    :param half_width: the largest half-width that is not far
    :param names: a label per dimension (default ``action[i]``)
    :return: ``"<label> in [low, high]"`` per far dimension
    """
    if not isinstance(space, spaces.Box):
        return []
    low, high = (np.asarray(b, dtype=np.float64).reshape(-1) for b in (space.low, space.high))
    labels = names if names is not None and len(names) == low.size else [f"action[{i}]" for i in range(low.size)]
    center, half = (high + low) / 2.0, (high - low) / 2.0
    finite = np.isfinite(low) & np.isfinite(high) & (high > low)
    far = finite & ((half > half_width) | (np.abs(center) >= half))
    return [f"{labels[i]} in [{low[i]:.4g}, {high[i]:.4g}]" for i in np.flatnonzero(far)]


def degenerate_action_dims(space: spaces.Space, names: list[str] | None = None) -> tuple[list[str], int]:
    """
    Action dimensions that offer no choice: a Box dimension with low = high (hill-a #553: ``high=action_min``),
    a Discrete(1) or a MultiDiscrete entry of 1.

    :param space: an action space (other kinds have none)
    :param names: a label per Box dimension (default ``action[i]``)
    :return: (a label per such dimension, the number of action dimensions; 0 for other kinds of space)
    """
    if isinstance(space, spaces.Box):
        low, high = (np.asarray(b, dtype=np.float64).reshape(-1) for b in (space.low, space.high))
        labels = names if names is not None and len(names) == low.size else [f"action[{i}]" for i in range(low.size)]
        zero = np.isfinite(low) & (high <= low)
        return [f"{labels[i]} (low = high = {low[i]:.4g})" for i in np.flatnonzero(zero)], int(low.size)
    if isinstance(space, (spaces.Discrete, spaces.MultiDiscrete)):
        nvec = np.asarray(space.n if isinstance(space, spaces.Discrete) else space.nvec).reshape(-1)
        return [f"{type(space).__name__} dimension {i} has 1 choice" for i in np.flatnonzero(nvec <= 1)], int(nvec.size)
    return [], 0


def shared_memory(a: Any, b: Any) -> str | None:
    """
    Where two observations (arrays, or dicts / tuples of arrays) are the same memory, or None: an env
    or VecEnv that returns one buffer mutated in place, so an observation kept by reference (SB3's
    ``_last_obs``, ``info["terminal_observation"]``, a frame stack) is overwritten by the next step.
    Exact (``np.shares_memory``), so distinct slices of one preallocated array do not count.
    """
    if isinstance(a, dict) and isinstance(b, dict):
        for key in a:
            if key in b and (where := shared_memory(a[key], b[key])) is not None:
                return f"[{key!r}]{where}"
        return None
    if isinstance(a, tuple | list) and isinstance(b, tuple | list):
        for i, (x, y) in enumerate(zip(a, b, strict=False)):
            if (where := shared_memory(x, y)) is not None:
                return f"[{i}]{where}"
        return None
    if type(a) is not np.ndarray or type(b) is not np.ndarray or a.size == 0 or not np.may_share_memory(a, b):
        return None
    try:
        return "" if np.shares_memory(a, b, max_work=10_000) else None  # type: ignore[arg-type]  # stubs: -1 or 0 only
    except _TOO_HARD:
        return None  # overlapping bounds with strides too intricate to tell: not reported


def float_image_max(space: spaces.Space, x: Any) -> float | None:
    """
    The largest value of the float image-shaped parts of an observation (a Box of 3 dims with 1, 3 or 4
    channels first or last and sides of 8+ pixels, also inside Dict), or None when it has none. SB3 divides
    only uint8 images by 255 (``is_image_space``); float images reach the CNN as they are.
    """
    if isinstance(space, spaces.Dict) and isinstance(x, dict):
        values = [float_image_max(sub, x[key]) for key, sub in space.spaces.items() if key in x]
        found = [v for v in values if v is not None]
        return max(found) if found else None
    if not isinstance(space, spaces.Box) or len(space.shape) != 3 or not np.issubdtype(space.dtype, np.floating):
        return None
    shape = space.shape
    channels_first = shape[0] in (1, 3, 4) and min(shape[1:]) >= 8
    channels_last = shape[-1] in (1, 3, 4) and min(shape[:2]) >= 8
    if not (channels_first or channels_last):
        return None
    a = np.asarray(x, dtype=np.float64)
    finite = a[np.isfinite(a)]
    return float(finite.max()) if finite.size else None


def fits_buffer(space: spaces.Space, x: Any) -> bool:
    """
    Whether SB3's VecEnv buffers take ``x`` as an observation of ``space`` anyway: numpy copies an array
    into a slot of the space's shape when it broadcasts (a (1, n) array into (n,), not (n, 1)).
    """
    if isinstance(space, spaces.Dict) and isinstance(x, dict):
        return all(key in x and fits_buffer(sub, x[key]) for key, sub in space.spaces.items())
    if isinstance(space, spaces.Tuple) and isinstance(x, tuple | list):
        return len(x) == len(space.spaces) and all(fits_buffer(sub, v) for sub, v in zip(space.spaces, x, strict=True))
    if isinstance(space, spaces.Box):
        shape, target = tuple(np.shape(x)), tuple(space.shape)
        while len(shape) > len(target) and shape[0] == 1:  # numpy's assignment drops leading 1s of the value
            shape = shape[1:]
        try:
            return np.broadcast_shapes(shape, target) == target and int(np.prod(shape)) == int(np.prod(target))
        except ValueError:
            return False
    return True


def flatten(space: spaces.Space, x: Any) -> np.ndarray:
    """Flatten one observation/action like ``gymnasium.spaces.flatten`` (one-hot for discrete), as float64."""
    if isinstance(space, spaces.Dict):
        return np.concatenate([flatten(sub, x[key]) for key, sub in space.spaces.items()])
    if isinstance(space, spaces.Tuple):
        return np.concatenate([flatten(sub, x[i]) for i, sub in enumerate(space.spaces)])
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


def layout(space: spaces.Space, prefix: str) -> Layout:
    """
    :param space: an observation or action space
    :param prefix: name of the whole (``"obs"``, ``"action"``)
    :return: one name (``obs[3]``, ``obs['image'][5]``, ``action==2``) and kind per flat dim
    :raises NotAnEnvironmentError: for a space SB3 cannot train on (Text, Graph, Sequence ...)
    """
    out = Layout()
    _fill(space, prefix, out)
    return out


class SeededSampler:
    """Samples of a space from a private, seeded copy of it (never the global RNG, never the space's own)."""

    def __init__(self, space: spaces.Space, seed: int) -> None:
        self.space = copy.deepcopy(space)
        self.space.seed(int(seed))

    def sample(self) -> Any:
        return self.space.sample()


def sample_batch(space: spaces.Space, n: int, seed: int) -> Any:
    """``n`` samples of ``space`` stacked along a new first axis (dicts per key), from a seeded copy."""
    sampler = SeededSampler(space, seed)
    samples = [sampler.sample() for _ in range(n)]
    if isinstance(space, spaces.Dict):
        return {k: np.stack([np.asarray(s[k]) for s in samples]) for k in space.spaces}
    return np.stack([np.asarray(s) for s in samples])


def action_tensor(policy: Any, space: spaces.Space, actions: np.ndarray, device: th.device) -> th.Tensor:
    """Actions in the form the algorithm's loss sees them (as stored in its buffers: scaled to [-1, 1] off-policy)."""
    if isinstance(space, spaces.Box):
        a = actions.astype(np.float32)
        off_policy_continuous = hasattr(policy, "actor") and getattr(policy, "critic", None) is not None
        if getattr(policy, "squash_output", False) or off_policy_continuous:
            a = np.clip(policy.scale_action(a), -1 + 1e-6, 1 - 1e-6)
        return th.as_tensor(a.reshape(len(a), -1), device=device)
    if isinstance(space, spaces.Discrete):
        return th.as_tensor(actions.reshape(-1) - int(space.start), device=device).long()
    if isinstance(space, spaces.MultiDiscrete):
        return th.as_tensor(actions.reshape(len(actions), -1), device=device).long()
    return th.as_tensor(actions.reshape(len(actions), -1), device=device).float()


def as_space_sample(space: spaces.Space, a: Any) -> Any:
    """One predicted action in the form ``space.contains`` accepts."""
    if isinstance(space, spaces.Discrete):
        return np.int64(np.asarray(a).reshape(-1)[0])
    return np.asarray(a).astype(space.dtype) if space.dtype is not None else a
