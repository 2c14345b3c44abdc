"""
What a model is and what it computes: one answer per question about SB3 / sb3-contrib models.

Every function reads only: no-grad passes (unless the caller differentiates, as ``check_policy``
does), module modes restored, no optimizer touched.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.distributions import (
    BernoulliDistribution,
    CategoricalDistribution,
    MultiCategoricalDistribution,
    SquashedDiagGaussianDistribution,
    StateDependentNoiseDistribution,
)
from stable_baselines3.common.off_policy_algorithm import OffPolicyAlgorithm
from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm
from stable_baselines3.common.policies import ActorCriticPolicy

from sb3_diagnostics import metrics as M

# ---------------------------------------------------------------------------------------------
# What kind of model
# ---------------------------------------------------------------------------------------------


def policy_of(model_or_policy: Any) -> Any:
    """:return: the policy of a model, or the argument itself when it is a policy"""
    return getattr(model_or_policy, "policy", model_or_policy)


def is_recurrent(model_or_policy: Any) -> bool:
    """
    :param model_or_policy: an SB3 model or its policy
    :return: whether the policy keeps an LSTM state between steps (RecurrentPPO's policies and
        custom ``RecurrentActorCriticPolicy`` subclasses: they have an ``lstm_actor`` module)
    """
    return isinstance(getattr(policy_of(model_or_policy), "lstm_actor", None), th.nn.Module)


def is_on_policy(model: Any) -> bool:
    """:return: whether the model collects rollouts and trains on them once (PPO, A2C, TRPO ...)"""
    return isinstance(model, OnPolicyAlgorithm)


def is_off_policy(model: Any) -> bool:
    """:return: whether the model trains from a replay buffer (DQN, SAC, TD3, DDPG, TQC, QR-DQN, CrossQ)"""
    return isinstance(model, OffPolicyAlgorithm)


def shares_step_locals(model: Any) -> bool:
    """
    :return: whether the model's training loop hands each environment step to its callbacks
        (``callback.update_locals`` with ``new_obs``, ``rewards``, ``dones``, ``infos``): every on- and
        off-policy algorithm does; ARS evaluates its candidates on its own and only calls ``on_step()``
    """
    return is_on_policy(model) or is_off_policy(model)


#: why a check that reads each environment step cannot apply to a model that does not share them
NO_STEP_LOCALS = "{name} does not hand its environment steps to callbacks (it evaluates candidates on its own)"


def is_kl_constrained(model: Any) -> bool:
    """:return: whether the model logs a KL per update (PPO, MaskablePPO, RecurrentPPO, TRPO)."""
    return is_on_policy(model) and (hasattr(model, "clip_range") or hasattr(model, "line_search_max_iter"))


def kl_is_logged_before_every_step(model: Any) -> bool:
    """
    PPO logs ``train/approx_kl`` as the mean over its minibatches, each measured before that minibatch's own
    gradient step. With one epoch of one minibatch per update (``n_epochs=1``, ``batch_size >= n_steps *
    n_envs``) it is therefore always 0, moving policy or not.

    :return: whether the logged KL says nothing about the policy's change
    """
    return hasattr(model, "clip_range") and is_kl_constrained(model) and expected_steps_per_update(model) == 1


def has_stochastic_actor(model: Any) -> bool:
    """:return: whether an off-policy model's actor is a distribution (SAC, TQC, CrossQ)"""
    return hasattr(getattr(model, "actor", None), "get_action_dist_params")


def critic_of(model: Any) -> str | None:
    """:return: the attribute holding the model's Q-function (``q_net``, ``quantile_net``, ``critic``), or None"""
    for attr in ("q_net", "quantile_net", "critic"):
        if isinstance(getattr(model, attr, None), th.nn.Module):
            return attr
    return None


def value_kind(model: Any) -> str | None:
    """
    :param model: an SB3 / sb3-contrib algorithm
    :return: how its value is read: ``"v"`` (``predict_values``), ``"q_discrete"`` (DQN, QR-DQN),
        ``"q_critic"`` (SAC, TD3, TQC, CrossQ), or None when it has no value function (ARS)
    """
    policy: Any = policy_of(model)
    if isinstance(policy, ActorCriticPolicy) or hasattr(policy, "predict_values"):
        return "v"
    if hasattr(policy, "quantile_net") or hasattr(policy, "q_net"):
        return "q_discrete"
    if getattr(policy, "critic", None) is not None and hasattr(policy, "actor"):
        return "q_critic"
    return None


# ---------------------------------------------------------------------------------------------
# Parameters and optimizers
# ---------------------------------------------------------------------------------------------


def policy_optimizers(model: Any) -> dict[str, th.optim.Optimizer]:
    """
    The optimizers that train the policy's networks, by where they sit in the policy.

    SB3 keeps them on the module they train: ``policy.optimizer`` (PPO, A2C, DQN, TRPO...),
    ``policy.actor.optimizer`` and ``policy.critic.optimizer`` (SAC, TD3, DDPG, TQC, CrossQ).
    Optimizers outside the policy (SAC's ``ent_coef_optimizer``) train no network and are left out.

    :param model: an SB3 algorithm (or a policy)
    :return: module path (``""`` for the policy itself) -> optimizer
    """
    found: dict[str, th.optim.Optimizer] = {}
    seen: set[int] = set()
    for path, module in policy_of(model).named_modules():
        optimizer = getattr(module, "optimizer", None)
        if isinstance(optimizer, th.optim.Optimizer) and id(optimizer) not in seen:
            seen.add(id(optimizer))
            found[path] = optimizer
    return found


def optimizer_label(path: str) -> str:
    """:return: how a user names the optimizer at ``path``: ``policy.optimizer``, ``policy.actor.optimizer``"""
    return f"policy.{path}.optimizer" if path else "policy.optimizer"


def trainable_parameters(model_or_policy: Any) -> list[tuple[str, th.nn.Parameter]]:
    """
    :return: ``(name, parameter)`` of every parameter training should move: ``requires_grad``, not
        part of a target network, each tensor once
    """
    out: list[tuple[str, th.nn.Parameter]] = []
    seen: set[int] = set()
    for name, p in policy_of(model_or_policy).named_parameters():
        if p.requires_grad and "_target" not in name and id(p) not in seen:
            seen.add(id(p))
            out.append((name, p))
    return out


def unregistered_modules(root: th.nn.Module) -> list[str]:
    """
    Layers with parameters, and parameters, kept in a plain Python list, tuple or dict attribute (not an
    ``nn.ModuleList``/``ModuleDict``/``ParameterList``) and registered nowhere else: ``parameters()``,
    the optimizer, ``state_dict()``, ``.to(device)`` and ``save()`` never see them.

    :param root: a policy (or any module)
    :return: their paths, e.g. ``features_extractor.layers[1]``
    """
    registered = {id(m) for m in root.modules()} | {id(p) for p in root.parameters()}
    found: list[str] = []
    for path, module in root.named_modules():
        for attr, value in vars(module).items():
            if attr.startswith("_"):
                continue  # torch's own registries (_modules, _parameters, ...)
            if isinstance(value, dict):
                items = [(f"[{k!r}]", v) for k, v in value.items()]
            elif isinstance(value, list | tuple):
                items = [(f"[{i}]", v) for i, v in enumerate(value)]
            else:
                continue
            for where, item in items:
                if id(item) in registered or not isinstance(item, th.nn.Module | th.nn.Parameter):
                    continue
                if isinstance(item, th.nn.Module) and next(iter(item.parameters()), None) is None:
                    continue  # an activation or a pooling layer: nothing to train, save or move
                found.append(f"{path + '.' if path else ''}{attr}{where}")
    return found


def expected_steps_per_update(model: Any) -> int | None:
    """
    Optimizer steps one on-policy update takes, from the hyperparameters: ``n_epochs`` (PPO,
    RecurrentPPO, MaskablePPO) or ``n_critic_updates`` (TRPO) passes over ``n_steps * n_envs``
    samples in minibatches of ``batch_size``. None when the algorithm has no such epochs (A2C: one
    step per update; off-policy algorithms: ``gradient_steps`` per rollout).
    """
    if not is_on_policy(model):
        return None
    epochs = getattr(model, "n_epochs", None) or getattr(model, "n_critic_updates", None)
    batch, n_steps = getattr(model, "batch_size", None), getattr(model, "n_steps", None)
    if not (isinstance(epochs, int) and isinstance(batch, int) and isinstance(n_steps, int) and batch > 0):
        return None
    return epochs * -(-n_steps * model.n_envs // batch)


@contextmanager
def eval_mode(module: th.nn.Module) -> Iterator[None]:
    """Run with every submodule in eval mode (no batch-norm statistics update), then restore each flag exactly."""
    modes = [(m, m.training) for m in module.modules()]
    module.train(False)
    try:
        yield
    finally:
        for m, mode in modes:
            m.training = mode


@contextmanager
def own_sde_noise(policy: th.nn.Module, seed: int = 0) -> Iterator[None]:
    """
    Give every gSDE distribution of ``policy`` (``use_sde=True``) exploration matrices of its own for the
    duration, then put the model's back.

    SB3 samples them once per ``reset_noise`` and keeps the graph back to ``log_std``; after the
    algorithm's own backward pass that graph is freed, so differentiating through them again fails
    ("Trying to backward through the graph a second time"). They are drawn from a forked torch RNG:
    the global RNG and the model's noise are left as they were.
    """
    saved = []
    for module in policy.modules():
        dist = getattr(module, "action_dist", None)
        log_std = getattr(module, "log_std", None)
        if isinstance(dist, StateDependentNoiseDistribution) and isinstance(log_std, th.Tensor):
            saved.append((dist, {k: dist.__dict__[k] for k in ("weights_dist", "exploration_mat",
                                                               "exploration_matrices") if k in dist.__dict__}))
            with th.random.fork_rng(devices=[]):
                th.manual_seed(seed)
                dist.sample_weights(log_std)
    try:
        yield
    finally:
        for dist, attrs in saved:
            for k in ("weights_dist", "exploration_mat", "exploration_matrices"):
                if k in attrs:
                    setattr(dist, k, attrs[k])
                else:
                    dist.__dict__.pop(k, None)


# ---------------------------------------------------------------------------------------------
# Distributions
# ---------------------------------------------------------------------------------------------


def _action_range(model: Any, squashed: bool) -> np.ndarray:
    space = model.action_space
    if squashed:
        return np.full(int(np.prod(space.shape)), 2.0)
    width = (space.high - space.low).reshape(-1).astype(np.float64)
    return np.where(np.isfinite(width) & (width > 0), width, 1.0)


def _categoricals(dist: Any) -> list[Any] | None:
    """
    The torch ``Categorical`` s of a discrete distribution, one per action dimension, for every SB3
    and sb3-contrib family (sb3-contrib's maskable distributions are not subclasses of SB3's: the
    multi-categorical one keeps its list in ``distributions``); None for other families.
    """
    if isinstance(dist, BernoulliDistribution):
        return None
    inner = getattr(dist, "distribution", None)
    if isinstance(dist, (CategoricalDistribution, MultiCategoricalDistribution)) or hasattr(dist, "apply_masking"):
        if isinstance(inner, list):
            return inner
        if inner is not None:
            return [inner]
        listed = getattr(dist, "distributions", None)
        return list(listed) if isinstance(listed, (list, tuple)) else None
    return None


def distribution_stats(model: Any, dist: Any, masks: np.ndarray | None = None) -> dict[str, float]:
    """
    Normalised entropy (discrete spaces) or smallest relative action std (Box) of a batch of distributions.

    :param model: the algorithm (for its action space)
    :param dist: an SB3 or sb3-contrib distribution over a batch of observations
    :param masks: MaskablePPO action masks for the batch (concatenated over action dims), or None
    :return: ``{"entropy_normalized": ...}`` or ``{"action_std_min": ...}``; empty for a family it cannot read
    """
    categoricals = _categoricals(dist)
    if categoricals is not None:
        per_dim: list[float] = []
        offset = 0
        for d in categoricals:
            probs = d.probs.detach().cpu().numpy()
            sub_mask = None if masks is None else masks[:, offset : offset + probs.shape[-1]]
            offset += probs.shape[-1]
            per_dim.append(M.normalized_categorical_entropy(probs, sub_mask))
        finite = [v for v in per_dim if not math.isnan(v)]
        return {"entropy_normalized": min(finite) if finite else M.NAN}
    if isinstance(dist, BernoulliDistribution):
        bits = M.normalized_bernoulli_entropy(dist.distribution.probs.detach().cpu().numpy())
        return {"entropy_normalized": float(bits.min()) if bits.size else M.NAN}
    normal: Any = getattr(dist, "distribution", None)
    if not isinstance(getattr(model, "action_space", None), spaces.Box) or not hasattr(normal, "stddev"):
        return {}
    # Gaussian families (diagonal, gSDE, squashed): std of the underlying Normal.
    stddev = normal.stddev.detach().cpu().numpy().reshape(normal.stddev.shape[0], -1)
    squashed = isinstance(dist, SquashedDiagGaussianDistribution) or bool(getattr(dist, "use_squash", False))
    squashed = squashed or bool(getattr(policy_of(model), "squash_output", False))
    relative = stddev.mean(axis=0) / _action_range(model, squashed)
    return {"action_std_min": float(relative.min())}


def distribution_params(dist: Any) -> np.ndarray:
    """
    The parameters of a batch of distributions as one array ``(batch, k)``, to compare two policies' outputs.

    :param dist: an SB3 or sb3-contrib distribution
    :return: probabilities (categorical families) or mean and std (Gaussian families)
    """
    categoricals = _categoricals(dist)
    if categoricals is not None:
        parts: list[Any] = categoricals
    else:
        inner = dist.distribution
        parts = inner if isinstance(inner, list) else [inner]
    arrays = []
    for d in parts:
        if hasattr(d, "probs"):
            arrays.append(d.probs)
        else:
            arrays += [d.mean, d.stddev]
    return th.cat([a.reshape(a.shape[0], -1) for a in arrays], dim=1).detach().cpu().numpy()


def actor_distribution(model: Any, obs_t: Any) -> Any:
    """The action distribution of an off-policy stochastic actor (SAC, TQC, CrossQ) at ``obs_t``."""
    actor: Any = model.actor
    mean, log_std, kwargs = actor.get_action_dist_params(obs_t)
    return actor.action_dist.proba_distribution(mean, log_std, **kwargs)


# ---------------------------------------------------------------------------------------------
# Recurrent state
# ---------------------------------------------------------------------------------------------


def lstm_states(policy: Any, batch: int, device: th.device, generator: th.Generator | None = None) -> Any:
    """
    Recurrent states for ``batch`` sequences: zeros (the state at an episode start), or random with ``generator``.

    :return: sb3-contrib's ``RNNStates(pi, vf)``
    """
    from sb3_contrib.common.recurrent.type_aliases import RNNStates

    def pair(lstm: Any) -> tuple[th.Tensor, th.Tensor]:
        shape = (lstm.num_layers, batch, lstm.hidden_size)
        if generator is None:
            return th.zeros(shape, device=device), th.zeros(shape, device=device)
        return th.randn(shape, generator=generator).to(device), th.randn(shape, generator=generator).to(device)

    pi = pair(policy.lstm_actor)
    critic = getattr(policy, "lstm_critic", None)
    vf = pair(critic) if critic is not None else (pi[0].clone(), pi[1].clone())
    return RNNStates(pi, vf)


# ---------------------------------------------------------------------------------------------
# Values and Q-values
# ---------------------------------------------------------------------------------------------


def q_table(model_or_policy: Any, obs_t: Any) -> th.Tensor | None:
    """
    Q-values of every action for DQN (``q_net``) and QR-DQN (``quantile_net``, mean over quantiles).

    :return: shape ``(batch, n_actions)``, or None for models without a discrete Q-network
    """
    policy = policy_of(model_or_policy)
    net = getattr(policy, "q_net", None)
    if net is None:
        net = getattr(policy, "quantile_net", None)
    if net is None:
        return None
    out = net(obs_t)
    return out.mean(dim=1) if out.dim() == 3 else out  # (batch, n_quantiles, n_actions) -> mean over quantiles


def q_values(model_or_policy: Any, obs_t: Any, actions_t: th.Tensor) -> th.Tensor:
    """
    Q-values of (observation, action) pairs, one column per critic, for every off-policy algorithm of
    SB3 and sb3-contrib: DQN and QR-DQN (the action's entry of :func:`q_table`), SAC / TD3 / DDPG /
    CrossQ (``critic`` returns one tensor per critic) and TQC (``critic`` returns quantiles of shape
    ``(batch, n_critics, n_quantiles)``, averaged over quantiles). Differentiable: wrap in
    ``torch.no_grad()`` to only measure.

    :param model_or_policy: the algorithm or its policy
    :param obs_t: observations as tensors (normalised the way the networks expect)
    :param actions_t: actions as the algorithm stores them (indices, or scaled to [-1, 1])
    :return: shape ``(batch, n_critics)``
    """
    table = q_table(model_or_policy, obs_t)
    if table is not None:
        return th.gather(table, 1, actions_t.long().reshape(-1, 1))
    out = policy_of(model_or_policy).critic(obs_t, actions_t)
    if isinstance(out, (tuple, list)):
        return th.cat([q.reshape(q.shape[0], -1).mean(dim=1, keepdim=True) for q in out], dim=1)
    return out.mean(dim=2) if out.dim() == 3 else out.reshape(out.shape[0], -1)


def predict_values(model: Any, obs: np.ndarray, episode_starts: np.ndarray | None = None) -> np.ndarray:
    """
    The value the model assigns to each observation: ``V(s)`` for actor-critic policies, and
    ``Q(s, a*)`` at the model's own deterministic action ``a*`` for Q-learners (mean over critics).

    :param model: a model
    :param obs: observations, shape ``(batch, *obs_shape)``
    :param episode_starts: recurrent policies only: None (every observation starts an episode), or
        flags marking ``obs`` as one trajectory (e.g. ``[1, 0]``: a first and a second step)
    :return: shape ``(batch,)``
    :raises ValueError: when the model has no value function
    """
    kind = value_kind(model)
    if kind is None:
        raise ValueError(f"{type(model).__name__} has no value function to measure.")
    policy: Any = model.policy
    was_training = policy.training
    policy.set_training_mode(False)
    try:
        with th.no_grad():
            obs_t, _ = policy.obs_to_tensor(obs)
            if kind == "v":
                if is_recurrent(policy):
                    one_sequence = episode_starts is not None
                    batch = 1 if one_sequence else obs.shape[0]
                    states = lstm_states(policy, batch, model.device).pi
                    flags = np.asarray(episode_starts, dtype=np.float32) if one_sequence else np.ones(obs.shape[0])
                    starts = th.as_tensor(flags, dtype=th.float32, device=model.device)
                    values = policy.predict_values(obs_t, states, starts)
                else:
                    values = policy.predict_values(obs_t)
            elif kind == "q_discrete":
                table = q_table(policy, obs_t)
                assert table is not None
                values = table.max(dim=1).values
            else:
                actions_t = policy._predict(obs_t, deterministic=True)
                values = q_values(policy, obs_t, actions_t.reshape(obs_t.shape[0], -1).float()).mean(dim=1)
    finally:
        policy.set_training_mode(was_training)
    return values.reshape(-1).cpu().numpy().astype(np.float64)


def predict_actions(model: BaseAlgorithm, obs: np.ndarray) -> np.ndarray:
    """
    The model's deterministic action for each observation, each one the first step of an episode.

    :param model: a model
    :param obs: observations, shape ``(batch, *obs_shape)``
    :return: actions, shape ``(batch, ...)``
    """
    if is_recurrent(model):
        actions, _ = model.predict(obs, state=None, episode_start=np.ones(obs.shape[0], dtype=bool), deterministic=True)
    else:
        actions, _ = model.predict(obs, deterministic=True)
    return np.asarray(actions)


def soft_value_bonus(model: Any, obs: np.ndarray, seed: int = 0) -> float:
    """
    For maximum-entropy critics (SAC, TQC, CrossQ): ``alpha * H(pi(.|s))`` at ``obs`` (batch of 1),
    the entropy bonus a soft Q-value adds to the discounted reward. 0 for every other model.

    Samples with its own ``torch.Generator``, never the global RNG.
    """
    alpha_t = None
    log_ent_coef, ent_coef_tensor = getattr(model, "log_ent_coef", None), getattr(model, "ent_coef_tensor", None)
    if log_ent_coef is not None:
        alpha_t = th.exp(log_ent_coef.detach())
    elif ent_coef_tensor is not None:
        alpha_t = ent_coef_tensor
    if alpha_t is None or not has_stochastic_actor(model):
        return 0.0
    generator = th.Generator(device=model.device).manual_seed(seed)
    n = 1024
    with th.no_grad():
        obs_t, _ = model.policy.obs_to_tensor(np.repeat(obs[:1], n, axis=0))
        dist = actor_distribution(model, obs_t)
        normal = dist.distribution
        eps = th.randn(normal.mean.shape, generator=generator, device=model.device)
        gaussian = normal.mean + normal.stddev * eps
        log_prob = dist.log_prob(th.tanh(gaussian), gaussian)
    return float(alpha_t.reshape(-1)[0]) * float(-log_prob.mean())
