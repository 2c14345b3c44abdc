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
