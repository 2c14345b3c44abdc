"""
Seeded samples of rollout and replay buffers, and what the policy computes on them.

Indices are drawn with the caller's ``np.random.Generator``: never ``replay_buffer.sample()``
(which uses the global ``np.random``), never the global torch RNG.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch as th
from stable_baselines3.common.distributions import Distribution
from stable_baselines3.common.utils import obs_as_tensor

from sb3_diagnostics.sb3.models import (
    actor_distribution,
    distribution_stats,
    eval_mode,
    has_stochastic_actor,
    is_off_policy,
    is_on_policy,
    is_recurrent,
    q_values,
)


def index_sample(n_steps: int, n_envs: int, size: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """
    :return: (step indices, env indices) of up to ``size`` distinct positions of an ``(n_steps, n_envs)`` buffer
    """
    total = n_steps * n_envs
    flat = rng.choice(total, size=min(size, total), replace=False) if total > size else np.arange(total)
    return flat // n_envs, flat % n_envs


def take(array: Any, t: np.ndarray, e: np.ndarray) -> Any:
    """Rows ``(t, e)`` of a buffer array, or of each array of a dict (Dict observations)."""
    if isinstance(array, dict):
        return {k: v[t, e] for k, v in array.items()}
    return array[t, e]


def device_obs(model: Any, obs: Any) -> Any:
    """Observations as tensors on the model's device (dicts per key)."""
    return obs_as_tensor(obs, model.device)


def filled(buffer: Any) -> int:
    """:return: how many steps of ``buffer`` hold data"""
    return int(buffer.buffer_size if buffer.full else buffer.pos)


def recent_actions(buffer: Any, steps: int) -> np.ndarray:
    """
    :param buffer: an off-policy replay buffer
    :param steps: how many of the last steps written to read (fewer when it holds fewer)
    :return: their actions, as stored (Box actions in SB3's [-1, 1] scaling), one row per step and env
    """
    n = min(int(steps), filled(buffer))
    if n <= 0:
        return np.zeros((0, int(np.prod(buffer.actions.shape[2:])) or 1))
    rows = (buffer.pos - 1 - np.arange(n)) % buffer.buffer_size
    actions = np.asarray(buffer.actions[rows], dtype=float)
    return actions.reshape(n * buffer.n_envs, -1)


def replay_sample(model: Any, rng: np.random.Generator, n_samples: int) -> tuple[Any, np.ndarray, np.ndarray] | None:
    """
    Observations of a random sample of an off-policy replay buffer, as the policy sees them
    (with ``VecNormalize``, the stored unnormalised observations are normalised).

    :param model: an off-policy algorithm
    :param rng: the caller's generator
    :param n_samples: transitions to draw (fewer when the buffer holds fewer)
    :return: (observations, step indices, env indices), or None while the buffer is empty
    """
    buf = model.replay_buffer
    t, e = index_sample(filled(buf), buf.n_envs, n_samples, rng)
    if t.size == 0:
        return None
    obs = take(buf.observations, t, e)
    vec_norm = model.get_vec_normalize_env()
    if vec_norm is not None:
        obs = vec_norm.normalize_obs(obs)
    return obs, t, e


class _Flattened:
    """A rollout buffer whose arrays ``train()`` flattened, seen with an env axis of size 1."""

    def __init__(self, buf: Any) -> None:
        self._buf = buf

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._buf, name)
        if isinstance(value, np.ndarray):
            return value[:, None]
        if isinstance(value, dict):
            return {k: v[:, None] for k, v in value.items()}
        return value


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


def _rollout_sample(model: Any, rng: np.random.Generator, n_samples: int) -> tuple[Any, np.ndarray, np.ndarray]:
    """An on-policy model's rollout buffer and a sample of its (step, env) indices, drawn with the caller's generator;
    once train() has flattened the arrays to (n_steps * n_envs, ...), the buffer is read as one env."""
    buf: Any = model.rollout_buffer
    if getattr(buf, "generator_ready", False):
        t, e = index_sample(filled(buf) * buf.n_envs, 1, n_samples, rng)
        return _Flattened(buf), t, e
    t, e = index_sample(filled(buf), buf.n_envs, n_samples, rng)
    return buf, t, e


def policy_stats(model: Any, rng: np.random.Generator, n_samples: int = 256) -> dict[str, float]:
    """
    Entropy / action-std statistics of the current policy on observations it actually saw.

    On-policy: a sample of the rollout buffer (with the stored LSTM state and episode starts for
    recurrent policies, and the stored action masks for MaskablePPO). Off-policy (SAC family):
    a sample of the replay buffer.

    :param model: the algorithm
    :param rng: the caller's generator
    :param n_samples: observations to evaluate
    :return: see :func:`~sb3_diagnostics.sb3.models.distribution_stats`; empty when nothing applies
    """
    with th.no_grad():
        if is_on_policy(model):
            buf, t, e = _rollout_sample(model, rng, n_samples)
            if t.size == 0 or (is_recurrent(model) and isinstance(buf, _Flattened)):
                return {}
            obs = device_obs(model, take(buf.observations, t, e))
            masks = getattr(buf, "action_masks", None)
            masks = None if masks is None else masks[t, e]
            if is_recurrent(model):
                dist = recurrent_distribution(model, buf, obs, t, e)
            elif masks is not None:
                policy: Any = model.policy  # MaskableActorCriticPolicy
                dist = policy.get_distribution(obs, action_masks=masks)
            else:
                dist = model.policy.get_distribution(obs)
            stats = distribution_stats(model, dist, None if masks is None else masks.astype(bool))
            return {**stats, "_policy_samples": float(t.size)}
        if is_off_policy(model) and has_stochastic_actor(model):
            sample = replay_sample(model, rng, n_samples)
            if sample is None:
                return {}
            stats = distribution_stats(model, actor_distribution(model, device_obs(model, sample[0])))
            return {**stats, "_policy_samples": float(sample[1].size)}
    return {}


def q_stats(model: Any, rng: np.random.Generator, n_samples: int) -> dict[str, float]:
    """
    Mean Q and twin-critic spread on a sample of the replay buffer, in a no-grad pass with every
    module in eval mode.

    :param model: an off-policy algorithm
    :param rng: the caller's generator
    :param n_samples: transitions to evaluate
    :return: ``q_mean`` and, with two or more critics, ``q_value_spread`` (mean of max - min over critics)
    """
    sample = replay_sample(model, rng, n_samples)
    if sample is None:
        return {}
    obs, t, e = sample
    actions = th.as_tensor(model.replay_buffer.actions[t, e], device=model.device)
    with th.no_grad(), eval_mode(model.policy):
        q = q_values(model, device_obs(model, obs), actions).double()
    out = {"q_mean": float(q.mean())}
    if q.shape[1] > 1:
        out["q_value_spread"] = float((q.max(dim=1).values - q.min(dim=1).values).mean())
    return out


def rollout_observations(model: Any, rng: np.random.Generator, n_samples: int) -> Any | None:
    """
    A copy of up to ``n_samples`` observations of a feed-forward on-policy model's rollout buffer (a fixed batch to
    compare the policy on later), drawn with the caller's generator; None when the buffer is empty or the policy
    is recurrent (its output depends on a state).
    """
    if not is_on_policy(model) or is_recurrent(model):
        return None
    buf, t, e = _rollout_sample(model, rng, n_samples)
    if t.size == 0:
        return None
    obs = take(buf.observations, t, e)
    return {k: np.array(v) for k, v in obs.items()} if isinstance(obs, dict) else np.array(obs)


def action_distributions(model: Any, obs: Any) -> list[Any]:
    """A feed-forward on-policy model's action distributions on ``obs`` (one per action part). No-grad, eval mode."""
    policy: Any = model.policy
    with th.no_grad(), eval_mode(policy):
        dist = policy.get_distribution(device_obs(model, obs))
    inner = getattr(dist, "distribution", None)
    return list(inner) if isinstance(inner, list) else [inner]


def mean_kl(old: list[Any], new: list[Any]) -> float:
    """The mean over observations of KL(old || new), summed over action parts and dims."""
    total = 0.0
    for p, q in zip(old, new, strict=True):
        kl = th.distributions.kl_divergence(p, q)
        total += float(kl.reshape(kl.shape[0], -1).sum(dim=1).mean())
    return total
