"""
The capacity of a model's networks: hidden layers narrower than their input (a 1-2 unit bottleneck
in ``net_arch`` or ``features_dim``), and units that are dead (a ReLU that outputs 0 on every
observation) or saturated (a tanh / sigmoid at a bound on every observation, where its gradient
is ~0). Read only: no-grad passes in eval mode, activations read through forward hooks that exist
only during the pass.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import torch as th
from stable_baselines3.common.preprocessing import get_action_dim, get_flattened_obs_dim

from sb3_diagnostics.sb3.models import (
    actor_distribution,
    eval_mode,
    is_recurrent,
    policy_of,
    predict_actions,
    predict_values,
    q_table,
    value_kind,
)

#: activations that die at 0 (no gradient below it)
_RELU = (th.nn.ReLU, th.nn.ReLU6)
#: bounded activations, with their bounds: pinned at a bound, their gradient is ~0
_BOUNDED: dict[type, tuple[float, float]] = {th.nn.Tanh: (-1.0, 1.0), th.nn.Sigmoid: (0.0, 1.0),
                                              th.nn.Hardtanh: (-1.0, 1.0)}
#: a bounded unit within this fraction of its range from a bound is saturated
_SATURATED = 0.01


def _arches(policy: Any) -> Iterator[tuple[str, Any]]:
    """The policy's ``net_arch`` (else its actor's / critic's / Q-network's), by where it is declared."""
    owners = [("", policy)] if getattr(policy, "net_arch", None) is not None else [
        ("actor.", getattr(policy, "actor", None)), ("critic.", getattr(policy, "critic", None)),
        ("q_net.", getattr(policy, "q_net", None))]
    for owner, module in owners:
        arch = getattr(module, "net_arch", None)
        if isinstance(arch, dict):
            for key, widths in arch.items():
                yield f"{owner}net_arch['{key}']", widths
        elif isinstance(arch, list | tuple):
            yield f"{owner}net_arch", arch


def narrow_layers(model_or_policy: Any, max_width: int) -> list[str]:
    """
    Hidden layers of at most ``max_width`` units that are narrower than the observation they must carry:
    widths in ``net_arch`` (also ``pi`` / ``vf`` / ``qf``), the features extractor's ``features_dim``, and a
    custom ``mlp_extractor``'s ``latent_dim_pi`` / ``latent_dim_vf``.

    :return: one description per narrow layer, e.g. ``"net_arch['pi'][1] = 2"``
    """
    policy = policy_of(model_or_policy)
    try:
        carried = int(get_flattened_obs_dim(policy.observation_space))
    except (AttributeError, TypeError, ValueError, KeyError):
        return []
    found: list[str] = []

    def narrow(width: Any) -> bool:
        return isinstance(width, int | np.integer) and 0 < int(width) <= max_width and int(width) < carried

    for where, widths in _arches(policy):
        if isinstance(widths, list | tuple):
            found += [f"{where}[{i}] = {int(w)}" for i, w in enumerate(widths) if narrow(w)]
    extractors: dict[int, str] = {}  # shared extractors are one layer, named once
    for name in ("features_extractor", "pi_features_extractor", "vf_features_extractor"):
        extractor = getattr(policy, name, None)
        if extractor is not None:
            extractors.setdefault(id(extractor), name)
    for name in extractors.values():
        dim: Any = getattr(getattr(policy, name), "features_dim", None)
        if narrow(dim):
            found.append(f"{name}.features_dim = {int(dim)}")
    mlp = getattr(policy, "mlp_extractor", None)
    for name in ("latent_dim_pi", "latent_dim_vf"):
        dim = getattr(mlp, name, None)
        if narrow(dim):
            found.append(f"mlp_extractor.{name} = {int(dim)}")
    return list(dict.fromkeys(found))


def _kind(module: th.nn.Module) -> tuple[float, float] | None:
    """(low, high) of a bounded activation, (0, inf) for a ReLU, None for anything else."""
    if isinstance(module, _RELU):
        return (0.0, float("inf"))
    for cls, bounds in _BOUNDED.items():
        if isinstance(module, cls):
            return bounds
    return None


def unit_activity(model: Any, obs: np.ndarray) -> dict[str, tuple[int, int]]:
    """
    Per activation layer of the policy (target networks and a deterministic actor's output tanh left out):
    how many of its units are dead or saturated on every one of ``obs``, out of how many, after a no-grad
    pass of the model's value and deterministic action on them.

    :param model: an SB3 algorithm
    :param obs: observations as the policy receives them, shape ``(batch, *obs_shape)`` (a batch of 2+)
    :return: layer name -> (dead or saturated units, units)
    """
    policy = policy_of(model)
    stuck: dict[str, th.Tensor] = {}
    handles = []

    def watch(name: str, bounds: tuple[float, float]) -> Any:
        low, high = bounds

        def hook(module: th.nn.Module, inputs: Any, output: Any) -> None:
            if not isinstance(output, th.Tensor) or output.dim() < 2 or output.shape[0] < 2:
                return
            y = output.detach().reshape(output.shape[0], -1)
            if high == float("inf"):
                now = (y <= 0).all(dim=0)
            else:
                margin = _SATURATED * (high - low)
                # at either bound on every observation: no gradient passes on any of them
                now = ((y >= high - margin) | (y <= low + margin)).all(dim=0)
            before = stuck.get(name)
            # a module run twice (shared by two heads) is stuck only where it is stuck on both passes
            stuck[name] = now if before is None or before.shape != now.shape else before & now

        return hook

    # a deterministic actor's final tanh (TD3, DDPG) outputs the actions: pinned at a bound is bang-bang control
    action_dim = int(get_action_dim(policy.action_space)) if hasattr(policy, "action_space") else -1
    outputs = {id(seq[-1]) for seq in policy.modules() if isinstance(seq, th.nn.Sequential) and len(seq) > 1
               and isinstance(seq[-2], th.nn.Linear) and seq[-2].out_features == action_dim}
    for name, module in policy.named_modules():
        bounds = _kind(module)
        if bounds is not None and "target" not in name and id(module) not in outputs:
            handles.append(module.register_forward_hook(watch(name, bounds)))
    try:
        with th.no_grad(), eval_mode(policy):
            predict_actions(model, obs)
            if value_kind(model) is not None:
                predict_values(model, obs)
    finally:
        for handle in handles:
            handle.remove()
    return {name: (int(flags.sum()), int(flags.numel())) for name, flags in stuck.items()}


def policy_outputs(model: Any, obs: Any) -> np.ndarray | None:
    """
    What the policy computes on ``obs``, as one array, to tell whether an update changed it at all: the
    logits of categorical policies (probabilities saturate at 1 in float32, logits keep moving), mean and
    log std of Gaussian ones (on- and off-policy actors), the Q-values of DQN / QR-DQN, the actions of a
    deterministic actor (TD3, DDPG). A no-grad pass in eval mode, drawing no random number. None for
    recurrent policies (their output depends on a state) and policies of another shape.

    :param model: an SB3 algorithm
    :param obs: observations as the policy receives them, shape ``(batch, *obs_shape)``
    """
    policy: Any = policy_of(model)
    if is_recurrent(policy):
        return None
    with th.no_grad(), eval_mode(policy):
        obs_t, _ = policy.obs_to_tensor(obs)
        table = q_table(policy, obs_t)
        if table is not None:
            return table.cpu().numpy().astype(np.float64)
        if hasattr(policy, "get_distribution"):
            return _distribution_array(policy.get_distribution(obs_t))
        actor = getattr(policy, "actor", None)
        if actor is not None and hasattr(actor, "get_action_dist_params"):  # SAC, TQC, CrossQ (gSDE too)
            return _distribution_array(actor_distribution(model, obs_t))
        if actor is not None:  # TD3, DDPG: the deterministic action
            return actor(obs_t).reshape(len(obs_t), -1).cpu().numpy().astype(np.float64)
    return None


def _distribution_array(dist: Any) -> np.ndarray:
    inner = getattr(dist, "distribution", None)
    parts = inner if isinstance(inner, list) else [inner] if inner is not None else list(getattr(dist, "distributions", []))
    arrays = []
    for d in parts:
        if hasattr(d, "logits"):
            arrays.append(d.logits)
        else:
            arrays += [d.mean, th.log(d.stddev)]
    return th.cat([a.reshape(a.shape[0], -1) for a in arrays], dim=1).cpu().numpy().astype(np.float64)
