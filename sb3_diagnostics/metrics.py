"""
Pure numpy functions behind the checks. No SB3, no state: arrays in, numbers out.

Every function returns ``nan`` when its answer is undefined (empty input, zero variance
where a ratio needs it, NaN in the input); callers treat ``nan`` as "no evidence".
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

NAN = float("nan")


def _flat(x: ArrayLike) -> np.ndarray:
    return np.asarray(x, dtype=np.float64).reshape(-1)


def explained_variance(y_pred: ArrayLike, y_true: ArrayLike) -> float:
    """
    Fraction of the variance of ``y_true`` that ``y_pred`` explains: ``1 - Var[y - ypred] / Var[y]``.

    Read it as: 1 is a perfect critic, 0 is no better than predicting the mean, negative is
    worse than that (the critic is anti-correlated or badly offset). Same formula as
    ``stable_baselines3.common.utils.explained_variance`` and CleanRL's ``ppo.py``.

    :param y_pred: predicted values, any shape (flattened)
    :param y_true: targets (returns), same number of elements
    :return: explained variance, or nan when undefined (empty, NaN inside, or ``Var[y] == 0``)
    """
    pred, true = _flat(y_pred), _flat(y_true)
    if pred.size != true.size:
        raise ValueError(f"explained_variance: y_pred has {pred.size} elements but y_true has {true.size}.")
    if true.size == 0 or not (np.all(np.isfinite(pred)) and np.all(np.isfinite(true))):
        return NAN
    var_y = float(np.var(true))
    if var_y == 0.0:
        return NAN
    return float(1.0 - np.var(true - pred) / var_y)


def explained_variance_interval(y_pred: ArrayLike, y_true: ArrayLike, blocks: int = 16) -> tuple[float, float, float]:
    """
    Explained variance with its standard error and the critic's relative error, for judging a window of
    samples that are correlated in time (returns within an episode are).

    The standard error is a jackknife over ``blocks`` contiguous blocks: leave one block out, recompute,
    and look at the spread. Contiguous blocks keep most of the time correlation inside a block, so the
    error is not underestimated the way a per-sample formula would be.

    The relative error is ``rms(y_true - y_pred) / (std(y_true) + |mean(y_true)|)``: how far the critic is
    off (bias included), measured against the size of the returns. When every return is nearly the same (a
    solved task), explained variance divides by a variance near zero and becomes noise, while the relative
    error stays small: the critic is accurate, there is just nothing left to explain. A critic that outputs
    the mean return has a relative error of ``std / (std + |mean|)``; one that outputs ~0 for returns of
    -1e4 has ~1.

    Hand check: ``y_true = [0, 2] * 32``, ``y_pred = y_true`` -> ``(1.0, 0.0, 0.0)``.

    :param y_pred: predicted values, in time order
    :param y_true: targets (returns), same number of elements
    :param blocks: blocks of the jackknife (fewer when there are fewer than 8 samples per block)
    :return: (explained variance, its standard error, relative error); nan where undefined
    """
    pred, true = _flat(y_pred), _flat(y_true)
    ev = explained_variance(pred, true)
    if math.isnan(ev):
        return ev, NAN, NAN
    err = true - pred
    rel = float(np.sqrt(np.mean(err * err)) / (np.std(true) + abs(float(np.mean(true))))) if np.any(true) else NAN
    k = min(blocks, true.size // 8)
    if k < 2:
        return ev, NAN, rel
    edges = np.linspace(0, true.size, k + 1).astype(int)
    sums = np.array([[x[a:b].sum() for x in (err, err * err, true, true * true)] + [b - a]
                     for a, b in zip(edges[:-1], edges[1:], strict=True)])
    total = sums.sum(axis=0)
    rest = total[None, :] - sums  # the statistics without each block
    n = rest[:, 4]
    var_err = rest[:, 1] / n - (rest[:, 0] / n) ** 2
    var_true = rest[:, 3] / n - (rest[:, 2] / n) ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        left_out = 1.0 - var_err / var_true
    if not np.all(np.isfinite(left_out)):
        return ev, NAN, rel
    stderr = float(np.sqrt((k - 1) / k * np.sum((left_out - left_out.mean()) ** 2)))
    return ev, stderr, rel


def categorical_entropy(probs: ArrayLike) -> np.ndarray:
    """
    Entropy (nats) of each row of a probability table.

    :param probs: shape ``(batch, n_actions)``; rows sum to 1
    :return: shape ``(batch,)``
    """
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim == 1:
        p = p[None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, -p * np.log(p), 0.0)
    return terms.sum(axis=-1)


def normalized_categorical_entropy(probs: ArrayLike, valid: ArrayLike | None = None) -> float:
    """
    Mean entropy of categorical distributions divided by its maximum ``log(n_valid)``.

    1.0 is a uniformly random policy, 0.0 a deterministic one.

    :param probs: shape ``(batch, n_actions)``
    :param valid: optional boolean mask of the same shape (MaskablePPO's action masks); the
        maximum entropy of a row is ``log`` of its number of valid actions
    :return: mean normalised entropy over rows with at least two valid actions, nan if none
    """
    p = np.asarray(probs, dtype=np.float64)
    if p.size == 0:
        return NAN
    if p.ndim == 1:
        p = p[None, :]
    n_valid = p.shape[-1] * np.ones(p.shape[0]) if valid is None else np.asarray(valid, dtype=bool).sum(axis=-1)
    keep = n_valid >= 2
    if not np.any(keep):
        return NAN
    ent = categorical_entropy(p[keep])
    return float(np.mean(ent / np.log(n_valid[keep])))


def normalized_bernoulli_entropy(p: ArrayLike) -> np.ndarray:
    """
    Entropy of independent Bernoulli variables divided by ``log 2``, averaged over the batch.

    :param p: success probabilities, shape ``(batch, n_dims)``
    :return: shape ``(n_dims,)``, each in [0, 1]; empty when there is no data
    """
    q = np.asarray(p, dtype=np.float64)
    if q.size == 0:
        return np.zeros(0)
    if q.ndim == 1:
        q = q[None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        h = np.where((q > 0) & (q < 1), -(q * np.log(q) + (1 - q) * np.log(1 - q)), 0.0)
    return h.mean(axis=0) / math.log(2.0)


def approx_kl(log_ratio: ArrayLike) -> float:
    """
    Approximate KL divergence ``E[(r - 1) - log r]`` with ``r = exp(log_ratio)``.

    Schulman's low-variance unbiased estimator (http://joschu.net/blog/kl-approx.html), the
    one SB3's PPO logs as ``train/approx_kl``. Always >= 0.

    :param log_ratio: ``log pi_new(a|s) - log pi_old(a|s)`` per sample
    :return: the estimate, nan for empty input
    """
    lr = _flat(log_ratio)
    if lr.size == 0:
        return NAN
    return float(np.mean(np.expm1(lr) - lr))


def clip_fraction(ratio: ArrayLike, clip_range: float) -> float:
    """
    Fraction of probability ratios outside ``[1 - clip_range, 1 + clip_range]``, as PPO logs it.

    :param ratio: ``pi_new / pi_old`` per sample
    :param clip_range: PPO's ``clip_range``
    :return: fraction in [0, 1], nan for empty input
    """
    r = _flat(ratio)
    if r.size == 0:
        return NAN
    return float(np.mean(np.abs(r - 1.0) > clip_range))


def fraction_at_bound(values: ArrayLike, bound: float, rtol: float = 1e-6) -> float:
    """
    Fraction of entries whose magnitude reached a clipping bound (``|x| >= bound * (1 - rtol)``).

    :param values: clipped values, any shape
    :param bound: the clip value (``clip_obs``, ``clip_reward``)
    :param rtol: relative tolerance for float rounding
    :return: fraction in [0, 1], nan for empty input
    """
    x = _flat(values)
    if x.size == 0:
        return NAN
    return float(np.mean(np.abs(x) >= bound * (1.0 - rtol)))


def clipping_squeeze(raw: ArrayLike, normalized: ArrayLike, bound: float, distinct: float = 1.5) -> dict[str, float]:
    """
    How much clipping at ``bound`` made rewards of different size alike. For every clipped reward ``b``
    and every other reward ``a`` (of the same sign) that reaches the agent less than ``distinct`` times
    smaller than it: raw ratio ``|b| / |a|`` over seen ratio ``|b_seen| / |a_seen|``. Returns the worst.

    Hand check: raw ``[100, 20, 1]`` normalised by 10 and clipped at 1: seen ``[1, 1, 0.1]``: 100 and 20
    are 5x apart and reach the agent 1x apart -> squeeze 5.

    :param raw: rewards as the environment gave them
    :param normalized: the same rewards as the agent saw them (scaled and clipped)
    :param bound: the clip value
    :param distinct: rewards that reach the agent at least this many times apart are still told apart
    :return: ``squeeze`` (1.0 when clipping erased no difference), and for the worst pair ``big``,
        ``small`` (raw) ``seen`` (their seen ratio) and ``small_normalized``; empty when nothing was clipped
    """
    r, n = _flat(raw), _flat(normalized)
    clipped = np.abs(n) >= bound * (1 - 1e-6)
    if not clipped.any():
        return {}
    out = {"squeeze": 1.0}
    for sign in (1.0, -1.0):
        side = (np.sign(r) == sign) & (r != 0)
        cl = clipped & side
        if not cl.any():
            continue
        big = float(np.max(np.abs(r[cl])))
        # the other rewards of that sign, from the largest normalised down: the closest to the clip matter
        others = side & (np.abs(r) < big)
        if not others.any():
            continue
        a_raw, a_seen = np.abs(r[others]), np.abs(n[others])
        seen_ratio = bound / np.maximum(a_seen, 1e-12)
        raw_ratio = big / np.maximum(a_raw, 1e-12)
        alike = seen_ratio < distinct
        if not alike.any():
            continue
        squeeze = raw_ratio[alike] / seen_ratio[alike]
        k = int(np.argmax(squeeze))
        if squeeze[k] > out["squeeze"]:
            out.update(squeeze=float(squeeze[k]), big=sign * big, small=sign * float(a_raw[alike][k]),
                       seen=float(seen_ratio[alike][k]), small_normalized=sign * float(a_seen[alike][k]))
    return out


def max_abs(values: ArrayLike) -> float:
    """
    Largest absolute finite value.

    :param values: any shape
    :return: the maximum, nan when there is no finite value
    """
    x = _flat(values)
    x = x[np.isfinite(x)]
    return float(np.max(np.abs(x))) if x.size else NAN


def std(values: ArrayLike) -> float:
    """
    Population standard deviation of the finite values.

    :param values: any shape
    :return: the std, nan when there are fewer than two finite values
    """
    x = _flat(values)
    x = x[np.isfinite(x)]
    return float(np.std(x)) if x.size >= 2 else NAN


def relative_difference(a: ArrayLike, b: ArrayLike) -> float:
    """
    ``max |a - b| / max(max |a|, max |b|, 1e-8)``: 0 when equal, about 1 when unrelated.

    :param a: array
    :param b: array of the same shape
    :return: the relative difference, nan for empty input
    """
    x, y = _flat(a), _flat(b)
    if x.size == 0:
        return NAN
    scale = max(float(np.max(np.abs(x))), float(np.max(np.abs(y))), 1e-8)
    return float(np.max(np.abs(x - y)) / scale)


# ---------------------------------------------------------------------------------------------
# Reward and observation statistics (pre-flight and the reward check). Seed 003, tiers 1-2.
# ---------------------------------------------------------------------------------------------

from collections.abc import Mapping  # noqa: E402  (appended section)


def nonzero_fraction(values: ArrayLike, eps: float = 1e-3) -> float:
    """
    Fraction of entries with ``|x| > eps``: how often the agent gets feedback.

    :param values: rewards, any shape (flattened)
    :param eps: magnitude at or below which an entry counts as zero
    :return: fraction in [0, 1], nan for empty input
    """
    x = _flat(values)
    if x.size == 0:
        return NAN
    return float(np.mean(np.abs(x) > eps))


def typical_magnitude(values: ArrayLike) -> float:
    """
    Mean ``|x|`` over the finite entries that are not exactly zero: the size of a reward when there
    is one. Unlike the plain mean, it does not shrink when rewards are sparse.

    :param values: rewards, any shape
    :return: the mean magnitude, nan when every entry is 0 (or there is none)
    """
    x = _flat(values)
    x = x[np.isfinite(x) & (x != 0)]
    return float(np.mean(np.abs(x))) if x.size else NAN


def signal_to_noise(values: ArrayLike) -> float:
    """
    ``|mean| / std`` of the finite entries (below 0.1 the signal is drowned in noise).

    :param values: rewards, any shape
    :return: the ratio, nan when undefined (fewer than two values, or std 0)
    """
    x = _flat(values)
    x = x[np.isfinite(x)]
    if x.size < 2:
        return NAN
    s = float(np.std(x))
    return float(abs(np.mean(x)) / s) if s > 0 else NAN


def as_columns(a: ArrayLike) -> np.ndarray:
    x = np.asarray(a, dtype=np.float64)
    return x.reshape(x.shape[0], -1) if x.ndim else x.reshape(1, 1)


def discounted_returns(rewards: ArrayLike, dones: ArrayLike, gamma: float) -> np.ndarray:
    """
    Discounted reward-to-go ``G_t = r_t + gamma * G_{t+1}``, restarting after every ``done``.
    Episodes still running at the end are cut there, without bootstrapping.

    Hand check: rewards ``[1, 1, 1]``, dones ``[0, 1, 0]``, gamma 0.5 -> ``[1.5, 1, 1]``.

    :param rewards: shape ``(T,)`` or ``(T, n_envs)``
    :param dones: same shape; True where an episode ended with this step
    :param gamma: discount factor
    :return: same shape as ``rewards``
    """
    r = np.asarray(rewards, dtype=np.float64)
    d = np.asarray(dones, dtype=bool)
    if r.shape != d.shape:
        raise ValueError(f"discounted_returns: rewards have shape {r.shape} but dones {d.shape}.")
    # A linear recurrence, solved as a parallel scan in log2(T) vectorised steps instead of T:
    # invariant G_t = B_t + A_t * G_{t+k} (G beyond the window is 0), and k doubles each step.
    out = as_columns(r).copy()
    factor = gamma * (1.0 - as_columns(d))
    k = 1
    while k < out.shape[0]:
        out[:-k] += factor[:-k] * out[k:]
        factor[:-k] *= factor[k:].copy()
        k *= 2
    return out.reshape(r.shape)


def episode_returns(rewards: ArrayLike, dones: ArrayLike) -> np.ndarray:
    """
    Undiscounted returns of the episodes that end inside the window (the first episode of
    each column is assumed to start at index 0).

    Hand check: rewards ``[1, 2, 3, 4]``, dones ``[0, 1, 0, 0]`` -> ``[3]``.

    :param rewards: shape ``(T,)`` or ``(T, n_envs)``
    :param dones: same shape
    :return: shape ``(n_episodes,)``, in order of (column, end time)
    """
    r, d = as_columns(rewards), as_columns(np.asarray(dones, dtype=bool))
    out = [np.zeros(0)]
    for col in range(r.shape[1]):
        ends = np.flatnonzero(d[:, col])
        if ends.size:
            # one sum per episode: [0, end_0], [end_0 + 1, end_1], ...
            out.append(np.add.reduceat(r[: ends[-1] + 1, col], np.concatenate(([0], ends[:-1] + 1))))
    return np.concatenate(out)


def per_dim_std(x: ArrayLike) -> np.ndarray:
    """
    Standard deviation of each column over its finite entries.

    :param x: shape ``(n_samples, n_dims)``
    :return: shape ``(n_dims,)``; nan for a column with fewer than two finite entries
    """
    a = as_columns(x)
    finite = np.isfinite(a)
    counts = finite.sum(axis=0)
    filled = np.where(finite, a, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = filled.sum(axis=0) / counts
        var = np.where(finite, (a - mean) ** 2, 0.0).sum(axis=0) / counts
    out = np.sqrt(var)
    out[counts < 2] = np.nan
    return out


def std_ratio(stds: ArrayLike, floor: float = 1e-6) -> float:
    """
    ``max / min`` of the standard deviations above ``floor`` (dead dims left out): how different
    the scales of the observation dims are (above 100, normalise).

    :param stds: per-dim standard deviations
    :param floor: stds at or below it are dead dims and not counted
    :return: the ratio, nan with fewer than two live dims
    """
    s = _flat(stds)
    s = s[np.isfinite(s) & (s > floor)]
    return float(s.max() / s.min()) if s.size >= 2 else NAN


def correlations(x: ArrayLike, y: ArrayLike) -> np.ndarray:
    """
    Pearson correlation of each column of ``x`` with ``y``.

    :param x: shape ``(n_samples, n_features)``
    :param y: shape ``(n_samples,)``
    :return: shape ``(n_features,)``; nan for constant columns, or all nan when ``y`` is constant,
        or when a non-finite value is present in that column or in ``y``
    """
    a = as_columns(x)
    b = _flat(y)
    if a.shape[0] != b.size:
        raise ValueError(f"correlations: x has {a.shape[0]} rows but y has {b.size} entries.")
    out = np.full(a.shape[1], np.nan)
    if b.size < 2 or not np.all(np.isfinite(b)):
        return out
    bc = b - b.mean()
    sb = float(np.sqrt(np.sum(bc**2)))
    if sb == 0.0:
        return out
    finite = np.all(np.isfinite(a), axis=0)
    ac = a[:, finite] - a[:, finite].mean(axis=0)
    sa = np.sqrt(np.sum(ac**2, axis=0))
    with np.errstate(invalid="ignore", divide="ignore"):
        c = (ac.T @ bc) / (sa * sb)
    c[sa == 0.0] = np.nan
    out[finite] = np.clip(c, -1.0, 1.0)
    return out


def variance_shares(components: Mapping[str, ArrayLike], constant_std: float = 1e-8) -> dict[str, float]:
    """
    Share of the summed variance carried by each reward component.
    A component with std at or below ``constant_std`` counts as constant (share 0).

    Hand check: ``{"a": [0, 2], "b": [0, 1]}`` -> variances 1 and 0.25 -> ``{"a": 0.8, "b": 0.2}``.

    :param components: name -> per-step values (same length each)
    :param constant_std: std at or below which a component is constant
    :return: name -> share in [0, 1]; every share nan when no component varies
    """
    variances = {}
    for name, values in components.items():
        x = _flat(values)
        x = x[np.isfinite(x)]
        s = float(np.std(x)) if x.size >= 2 else 0.0
        variances[name] = s * s if s > constant_std else 0.0
    total = sum(variances.values())
    if total == 0.0:
        return {name: NAN for name in variances}
    return {name: v / total for name, v in variances.items()}
