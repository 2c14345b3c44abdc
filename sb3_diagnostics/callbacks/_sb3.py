"""
Measuring a live SB3 model: what the checks need from SB3 internals, in one place.

Everything here is read-only with respect to training: no-grad forward passes, sampling with
the caller's own ``np.random.Generator``, never the global NumPy/torch RNG, never
``replay_buffer.sample()``, never the optimizer.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.distributions import (
    BernoulliDistribution,
    CategoricalDistribution,
    Distribution,
    MultiCategoricalDistribution,
    SquashedDiagGaussianDistribution,
)
from stable_baselines3.common.off_policy_algorithm import OffPolicyAlgorithm
from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm
from stable_baselines3.common.utils import obs_as_tensor

from sb3_diagnostics import metrics as M
from sb3_diagnostics.core import MetricCache
from sb3_diagnostics.logkeys import SB3_TRAIN_KEYS


def is_recurrent(model: BaseAlgorithm) -> bool:
    """:return: whether the model keeps LSTM states between steps (RecurrentPPO and its custom policies)."""
    return hasattr(model, "_last_lstm_states")


def is_kl_constrained(model: BaseAlgorithm) -> bool:
    """:return: whether the model logs a KL per update (PPO, MaskablePPO, RecurrentPPO, TRPO)."""
    return isinstance(model, OnPolicyAlgorithm) and (hasattr(model, "clip_range") or hasattr(model, "line_search_max_iter"))


def progress(model: BaseAlgorithm) -> float:
    """:return: fraction of the current ``learn()`` call done, from SB3's own progress counter."""
    return float(1.0 - model._current_progress_remaining)


def read_train_metrics(model: BaseAlgorithm) -> dict[str, float]:
    """
    The ``train/*`` values of the latest policy update, if there was one since the last call.

    SB3's on-policy ``learn()`` dumps logs *before* ``train()``, so the values of update k sit in
    ``model.logger.name_to_value`` until the dump after rollout k+1. Novelty is decided by
    ``model._n_updates``, shared per model through :class:`MetricCache`.

    :param model: an SB3 algorithm
    :return: metric name -> value (empty when no new update happened)
    """
    state = MetricCache.for_model(model).state
    n_updates = int(getattr(model, "_n_updates", 0))
    previous = state.get("n_updates")
    state["n_updates"] = n_updates
    if previous is None or n_updates == previous:
        # First look: we cannot tell whether the logged values are from this learn() call.
        return {}
    values = model.logger.name_to_value
    out: dict[str, float] = {}
    for key, name in SB3_TRAIN_KEYS.items():
        if key in values:
            out[name] = float(values[key])
    if "_learning_rate" in out:
        initial = float(model.lr_schedule(1.0))
        if initial > 0:
            out["_lr_ratio"] = out["_learning_rate"] / initial
    if hasattr(model, "n_epochs") and hasattr(model, "clip_range"):
        out["epochs_completed"] = float(n_updates - previous)
        out["n_epochs"] = float(model.n_epochs)
    return out


def _index_sample(n_steps: int, n_envs: int, size: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    total = n_steps * n_envs
    flat = rng.choice(total, size=min(size, total), replace=False) if total > size else np.arange(total)
    return flat // n_envs, flat % n_envs


def _take(array: Any, t: np.ndarray, e: np.ndarray) -> Any:
    if isinstance(array, dict):
        return {k: v[t, e] for k, v in array.items()}
    return array[t, e]


def replay_sample(model: Any, rng: np.random.Generator, n_samples: int) -> tuple[Any, np.ndarray, np.ndarray] | None:
    """
    Observations of a random sample of an off-policy replay buffer, as the policy sees them.

    Indices are drawn with ``rng`` (never ``replay_buffer.sample()``, which uses the global
    ``np.random``); with ``VecNormalize`` the stored (unnormalised) observations are normalised.

    :param model: an off-policy algorithm
    :param rng: the caller's generator
    :param n_samples: transitions to draw (fewer when the buffer holds fewer)
    :return: (observations, step indices, env indices), or None while the buffer is empty
    """
    buf = model.replay_buffer
    t, e = _index_sample(buf.buffer_size if buf.full else buf.pos, buf.n_envs, n_samples, rng)
    if t.size == 0:
        return None
    obs = _take(buf.observations, t, e)
    vec_norm = model.get_vec_normalize_env()
    if vec_norm is not None:
        obs = vec_norm.normalize_obs(obs)
    return obs, t, e


def _device_obs(model: BaseAlgorithm, obs: Any) -> Any:
    return obs_as_tensor(obs, model.device)


def _action_range(model: BaseAlgorithm, squashed: bool) -> np.ndarray:
    space = model.action_space
    assert isinstance(space, spaces.Box)
    if squashed:
        return np.full(int(np.prod(space.shape)), 2.0)
    width = (space.high - space.low).reshape(-1).astype(np.float64)
    return np.where(np.isfinite(width) & (width > 0), width, 1.0)


def distribution_stats(model: BaseAlgorithm, dist: Any, masks: np.ndarray | None = None) -> dict[str, float]:
    """
    Normalised entropy (discrete spaces) or smallest relative action std (Box) of a batch of distributions.

    :param model: the algorithm (for its action space)
    :param dist: an SB3 distribution over a batch of observations (duck-typed: sb3-contrib's
        maskable distributions are not subclasses of SB3's)
    :param masks: MaskablePPO action masks for the batch, or None
    :return: ``{"entropy_normalized": ...}`` or ``{"action_std_min": ...}``
    """
    if isinstance(dist, CategoricalDistribution) or hasattr(dist, "apply_masking") and not isinstance(
        dist.distribution, list
    ):
        probs = dist.distribution.probs.detach().cpu().numpy()
        return {"entropy_normalized": M.normalized_categorical_entropy(probs, masks)}
    if isinstance(dist, MultiCategoricalDistribution) or isinstance(getattr(dist, "distribution", None), list):
        per_dim: list[float] = []
        offset = 0
        for d in dist.distribution:
            probs = d.probs.detach().cpu().numpy()
            sub_mask = None if masks is None else masks[:, offset : offset + probs.shape[-1]]
            offset += probs.shape[-1]
            per_dim.append(M.normalized_categorical_entropy(probs, sub_mask))
        finite = [v for v in per_dim if not math.isnan(v)]
        return {"entropy_normalized": min(finite) if finite else M.NAN}
    if isinstance(dist, BernoulliDistribution):
        bits = M.normalized_bernoulli_entropy(dist.distribution.probs.detach().cpu().numpy())
        return {"entropy_normalized": float(bits.min()) if bits.size else M.NAN}
    # Gaussian families (diagonal, gSDE, squashed): std of the underlying Normal.
    normal = dist.distribution
    stddev = normal.stddev.detach().cpu().numpy().reshape(normal.stddev.shape[0], -1)
    squashed = isinstance(dist, SquashedDiagGaussianDistribution) or bool(getattr(dist, "use_squash", False))
    squashed = squashed or bool(getattr(getattr(model, "policy", None), "squash_output", False))
    relative = stddev.mean(axis=0) / _action_range(model, squashed)
    return {"action_std_min": float(relative.min())}


def policy_stats(model: Any, rng: np.random.Generator, n_samples: int = 256) -> dict[str, float]:
    """
    Entropy / action-std statistics of the current policy on observations it actually saw.

    On-policy: a sample of the rollout buffer (with the stored LSTM state and episode starts for
    recurrent policies, and the stored action masks for MaskablePPO). Off-policy (SAC family):
    a sample of the replay buffer, indexed with ``rng`` (never ``replay_buffer.sample()``).

    :param model: the algorithm (duck-typed: recurrent, maskable and SAC-family policies differ)
    :param rng: the caller's generator
    :param n_samples: observations to evaluate
    :return: see :func:`distribution_stats`; empty when nothing applies
    """
    with th.no_grad():
        if isinstance(model, OnPolicyAlgorithm):
            buf: Any = model.rollout_buffer
            t, e = _index_sample(buf.buffer_size if buf.full else buf.pos, buf.n_envs, n_samples, rng)
            if t.size == 0:
                return {}
            obs = _device_obs(model, _take(buf.observations, t, e))
            masks = getattr(buf, "action_masks", None)
            masks = None if masks is None else masks[t, e]
            if is_recurrent(model):
                dist = recurrent_distribution(model, buf, obs, t, e)
            elif masks is not None:
                policy: Any = model.policy  # MaskableActorCriticPolicy
                dist = policy.get_distribution(obs, action_masks=masks)
            else:
                dist = model.policy.get_distribution(obs)
            return distribution_stats(model, dist, None if masks is None else masks.astype(bool))
        if isinstance(model, OffPolicyAlgorithm) and hasattr(getattr(model, "actor", None), "get_action_dist_params"):
            sample = replay_sample(model, rng, n_samples)
            if sample is None:
                return {}
            obs = sample[0]
            actor: Any = model.actor
            mean, log_std, kwargs = actor.get_action_dist_params(_device_obs(model, obs))
            dist = actor.action_dist.proba_distribution(mean, log_std, **kwargs)
            return distribution_stats(model, dist)
    return {}


def recurrent_states(
    buf: Any, t: np.ndarray, e: np.ndarray, device: th.device, actor: bool = True
) -> tuple[th.Tensor, th.Tensor]:
    """
    The LSTM (hidden, cell) state a recurrent policy received at buffer positions ``(t, e)``.

    :return: tensors of shape ``(n_layers, batch, hidden)``
    """
    h = buf.hidden_states_pi if actor else buf.hidden_states_vf
    c = buf.cell_states_pi if actor else buf.cell_states_vf
    # buffer shape: (n_steps, n_layers, n_envs, hidden) -> (batch, n_layers, hidden) -> (n_layers, batch, hidden)
    as_tensor = lambda a: th.as_tensor(a[t, :, e].swapaxes(0, 1).copy(), device=device)  # noqa: E731
    return as_tensor(h), as_tensor(c)


def recurrent_distribution(model: Any, buf: Any, obs: Any, t: np.ndarray, e: np.ndarray) -> Distribution:
    """The distribution a recurrent policy produced at buffer positions ``(t, e)``, from the stored state."""
    starts = th.as_tensor(buf.episode_starts[t, e], dtype=th.float32, device=model.device)
    dist, _ = model.policy.get_distribution(obs, recurrent_states(buf, t, e, model.device), starts)
    return dist


def distribution_params(dist: Any) -> np.ndarray:
    """
    The parameters of a batch of distributions as one array ``(batch, k)``, to compare two policies' outputs.

    :param dist: SB3 distribution
    :return: probabilities (categorical families) or mean and std (Gaussian families)
    """
    inner = dist.distribution
    parts = inner if isinstance(inner, list) else [inner]
    arrays = []
    for d in parts:
        if hasattr(d, "probs"):
            arrays.append(d.probs)
        else:
            arrays += [d.mean, d.stddev]
    return th.cat([a.reshape(a.shape[0], -1) for a in arrays], dim=1).detach().cpu().numpy()
