"""GradientCallback: gradient norms before clipping, and parameters that never receive a gradient."""

from __future__ import annotations

import functools
import math
import weakref
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np
import torch as th
from stable_baselines3.common.base_class import BaseAlgorithm

from sb3_diagnostics.callbacks.base import DiagnosticCallback
from sb3_diagnostics.catalog import GradientThresholds
from sb3_diagnostics.rules.gradients import NO_GRAD, NOT_IN_OPTIMIZER, GradientNormRule, ParamGradRule

#: called at every optimizer step with (optimizer name, total gradient norm before clipping, name of
#: the first parameter whose gradient norm is NaN or Inf, or None)
StepListener = Callable[[str, float, "str | None"], None]
#: called just before (``pre``) or after (``post``) an optimizer step, with the optimizer name
EventListener = Callable[[str], None]

#: SB3 ``train/*`` logger keys whose magnitude says whether the loss of an optimizer is ~0
_LOSS_KEYS: dict[str, tuple[str, ...]] = {
    "": ("train/loss", "train/value_loss", "train/policy_loss", "train/policy_gradient_loss"),
    "actor": ("train/actor_loss",),
    "critic": ("train/critic_loss",),
}


def policy_optimizers(model: BaseAlgorithm) -> dict[str, th.optim.Optimizer]:
    """
    The optimizers that train the policy's networks, by where they sit in the policy.

    SB3 keeps them on the module they train: ``policy.optimizer`` (PPO, A2C, DQN, TRPO...),
    ``policy.actor.optimizer`` and ``policy.critic.optimizer`` (SAC, TD3, DDPG, TQC, CrossQ).
    Optimizers outside the policy (SAC's ``ent_coef_optimizer``) train no network and are left out.

    :param model: an SB3 algorithm
    :return: module path (``""`` for the policy itself) -> optimizer
    """
    found: dict[str, th.optim.Optimizer] = {}
    seen: set[int] = set()
    for path, module in model.policy.named_modules():
        optimizer = getattr(module, "optimizer", None)
        if isinstance(optimizer, th.optim.Optimizer) and id(optimizer) not in seen:
            seen.add(id(optimizer))
            found[path] = optimizer
    return found


class GradientTap:
    """
    Hooks on one model's trainable policy parameters and policy optimizers, shared by every check
    that reads gradients or optimizer steps (one set of hooks per model, however many checks).

    - Per parameter, a tensor hook (``Tensor.register_hook``; unlike post-accumulate hooks it also
      fires inside ``torch.autograd.grad``, which TRPO uses for its actor) counts the gradients the
      parameter receives and takes the norm of the incoming gradient. That is the gradient *before*
      clipping: ``clip_grad_norm_`` runs after ``backward()`` returns.
    - Per optimizer, a step pre-hook closes one step: the total norm over the parameters of that
      optimizer that received a gradient since its previous step and still hold one (TRPO sets its
      actor's gradients to None before the critic's steps). Post-hooks only notify listeners.

    Nothing is computed twice and nothing is changed: every hook returns None. Hooks are installed
    by :meth:`attach` at the start of ``learn()`` and removed by :meth:`detach` at its end, so a
    model is never saved, copied or pickled with them; a ``learn()`` that raised leaves them in
    place until the next ``learn()`` reinstalls them. A failure inside a hook is stored in
    :attr:`error` (the hooks then do nothing) for the check to report; it never reaches training.
    """

    _by_model: ClassVar[weakref.WeakKeyDictionary[Any, GradientTap]] = weakref.WeakKeyDictionary()

    @classmethod
    def for_model(cls, model: BaseAlgorithm) -> GradientTap:
        """
        :param model: an SB3 algorithm
        :return: the tap shared by every check on that model
        """
        tap = cls._by_model.get(model)
        if tap is None:
            tap = cls._by_model[model] = cls()
        return tap

    def __init__(self) -> None:
        self.error: Exception | None = None
        self.params: list[th.nn.Parameter] = []
        self.names: list[str] = []
        self.optimizers: dict[str, th.optim.Optimizer] = {}
        #: optimizer name -> indices (into :attr:`params`) of the parameters it updates
        self.owned: dict[str, list[int]] = {}
        #: per parameter, the optimizers that update it
        self.owners: list[tuple[str, ...]] = []
        #: gradients received, per parameter (monotonic; readers keep their own baseline)
        self.grad_count: list[int] = []
        #: optimizer steps taken, per optimizer (monotonic)
        self.step_count: dict[str, int] = {}
        #: ``num_timesteps`` of the latest optimizer step
        self.last_step_timestep = 0
        # Weak: the tap is the value of a WeakKeyDictionary keyed by the model; a strong reference would keep it alive.
        self._model: Callable[[], Any] = lambda: None
        self._users: dict[int, tuple[StepListener | None, EventListener | None, EventListener | None]] = {}
        self._grads = False
        self._handles: list[Any] = []
        self._key: tuple[Any, ...] = ()
        self._norm: list[th.Tensor | None] = []
        self._stamp: list[int] = []
        self._clock = 0
        self._last_step_clock: dict[str, int] = {}

    # -- users ---------------------------------------------------------------------------------
    def attach(
        self,
        user: object,
        model: BaseAlgorithm,
        *,
        on_step: StepListener | None = None,
        on_pre: EventListener | None = None,
        on_post: EventListener | None = None,
    ) -> None:
        """
        Start (or keep) serving ``user``; (re)install the hooks if the model's parameters or optimizers changed.

        :param user: the check (identity only)
        :param model: the model being trained
        :param on_step: gradient listener; passing one turns the per-parameter hooks on
        :param on_pre: called just before every optimizer step
        :param on_post: called just after every optimizer step
        """
        self._users[id(user)] = (on_step, on_pre, on_post)
        self._install(model)

    def detach(self, user: object) -> None:
        """Stop serving ``user``; remove every hook when nobody is left (the checks all detach at the end of ``learn()``)."""
        self._users.pop(id(user), None)
        if not self._users:
            self._remove()

    # -- hooks ---------------------------------------------------------------------------------
    def _install(self, model: BaseAlgorithm) -> None:
        grads = any(s is not None for s, _, _ in self._users.values())
        params: list[th.nn.Parameter] = []
        names: list[str] = []
        seen: set[int] = set()
        for name, p in model.policy.named_parameters():
            if p.requires_grad and id(p) not in seen:
                seen.add(id(p))
                params.append(p)
                names.append(name)
        optimizers = policy_optimizers(model)
        key = (id(model), grads, tuple(map(id, params)), tuple((k, id(o)) for k, o in optimizers.items()))
        if key == self._key and self._handles:
            return
        self._remove()
        self._model, self._key, self._grads = weakref.ref(model), key, grads
        self.params, self.names, self.optimizers = params, names, optimizers
        index = {id(p): i for i, p in enumerate(params)}
        self.owned = {
            k: [index[id(p)] for group in o.param_groups for p in group["params"] if id(p) in index]
            for k, o in optimizers.items()
        }
        self.owners = [tuple(k for k, idx in self.owned.items() if i in idx) for i in range(len(params))]
        self.grad_count = [0] * len(params)
        self.step_count = {k: 0 for k in optimizers}
        self._norm = [None] * len(params)
        self._stamp = [-1] * len(params)
        self._last_step_clock = {k: 0 for k in optimizers}
        if grads:
            self._handles += [p.register_hook(functools.partial(self._on_grad, i)) for i, p in enumerate(params)]
        for k, optimizer in optimizers.items():
            self._handles.append(optimizer.register_step_pre_hook(functools.partial(self._on_pre_step, k)))
            self._handles.append(optimizer.register_step_post_hook(functools.partial(self._on_post_step, k)))

    def _remove(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []
        self._key = ()

    def _on_grad(self, i: int, grad: th.Tensor) -> None:
        if self.error is not None:
            return
        try:
            self.grad_count[i] += 1
            self._stamp[i] = self._clock
            if grad.requires_grad:  # a double-backward graph (TRPO's Hessian-vector products): no step uses it
                self._norm[i] = None
                return
            values = grad.coalesce().values() if grad.is_sparse else grad  # nn.Embedding(sparse=True)
            self._norm[i] = th.linalg.vector_norm(values)  # NaN if an entry is NaN; inf if one is, or beyond ~1e19
        except Exception as exc:  # never let a diagnostic break backward()
            self.error = exc

    def _on_pre_step(self, name: str, optimizer: th.optim.Optimizer, args: Any, kwargs: Any) -> None:
        if self.error is not None:
            return
        try:
            self.step_count[name] += 1
            self.last_step_timestep = int(getattr(self._model(), "num_timesteps", 0))
            if self._grads:
                self._close_step(name)
            for _, on_pre, _ in list(self._users.values()):
                if on_pre is not None:
                    on_pre(name)
        except Exception as exc:
            self.error = exc
        finally:
            self._clock += 1
            self._last_step_clock[name] = self._clock

    def _close_step(self, name: str) -> None:
        since = self._last_step_clock[name]
        fresh = [
            i for i in self.owned[name]
            if self._stamp[i] >= since and self._norm[i] is not None and self.params[i].grad is not None
        ]
        if not fresh:
            return
        norms = th.stack([self._norm[i] for i in fresh]).double()  # type: ignore[misc]
        total = float(th.linalg.vector_norm(norms))
        bad = None
        if not math.isfinite(total):
            bad = next((self.names[i] for i, n in zip(fresh, norms.tolist(), strict=True) if not math.isfinite(n)), None)
        for on_step, _, _ in list(self._users.values()):
            if on_step is not None:
                on_step(name, total, bad)

    def _on_post_step(self, name: str, optimizer: th.optim.Optimizer, args: Any, kwargs: Any) -> None:
        if self.error is not None:
            return
        try:
            for _, _, on_post in list(self._users.values()):
                if on_post is not None:
                    on_post(name)
        except Exception as exc:
            self.error = exc


def norm_metric(optimizer: str, n_optimizers: int) -> str:
    """
    :param optimizer: module path of the optimizer in the policy (``""``, ``"actor"``, ``"critic"``)
    :param n_optimizers: how many optimizers the policy has
    :return: ``grad_norm`` for a single optimizer, else ``grad_norm_<path>``
    """
    if n_optimizers == 1:
        return "grad_norm"
    return "grad_norm_" + (optimizer.replace(".", "_") or "policy")


class GradientCallback(DiagnosticCallback):
    """
    Gradient norms *before clipping*, per optimizer, at no extra forward or backward pass:
    ``grad_norm_exploding`` (median norm of an update's optimizer steps above 1e4 for two updates,
    or a single step above 1e5),
    ``grad_norm_vanishing`` (below 1e-6 while the loss is not ~0) and ``param_no_grad`` (a
    trainable parameter that gets no gradient although its optimizer steps, or one that gets
    gradients but belongs to no optimizer). Works for on- and off-policy algorithms; SAC, TD3,
    DDPG, TQC and CrossQ get separate actor and critic norms.

    Logs ``diagnostics/grad_norm`` (or ``grad_norm_actor`` and ``grad_norm_critic``): the median
    over the update's optimizer steps; ``diagnostics/grad_peak`` (``grad_peak_actor``...): the
    largest; ``diagnostics/params_without_grad`` and ``diagnostics/params_not_in_optimizer``.

    Each parameter is judged against the optimizers that own it: SAC's actor never gets critic
    gradients, TRPO updates its actor outside the optimizer (its gradients still count), and
    target networks, frozen parameters (``requires_grad=False``) and parameters that get no
    gradient and are in no optimizer are left alone. Measured by hooks (see :class:`GradientTap`)
    that exist only during ``learn()``.

    :param thresholds: :class:`~sb3_diagnostics.catalog.GradientThresholds` or a dict of its fields
    See :class:`~sb3_diagnostics.callbacks.base.DiagnosticCallback` for the other parameters.
    """

    check_name = "gradients"
    thresholds_class = GradientThresholds
    rule_classes = (GradientNormRule, ParamGradRule)

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self._tap: GradientTap | None = None
        self._norms: dict[str, list[float]] = {}
        self._grad_base: list[int] = []
        self._step_base: dict[str, int] = {}

    @classmethod
    def not_applicable(cls, model: BaseAlgorithm) -> str | None:
        if policy_optimizers(model):
            return None
        return f"{type(model.policy).__name__} has no optimizer attribute on the policy or its networks"

    def _setup(self) -> None:
        self._tap = GradientTap.for_model(self.model)
        self._tap.attach(self, self.model, on_step=self._on_optimizer_step)
        self._norms.clear()
        self._rebase()

    def _rebase(self) -> None:
        assert self._tap is not None
        self._grad_base = list(self._tap.grad_count)
        self._step_base = dict(self._tap.step_count)

    def _on_optimizer_step(self, optimizer: str, norm: float, bad: str | None) -> None:
        self._norms.setdefault(optimizer, []).append(norm)

    def _measure(self) -> dict[str, float]:
        tap = self._tap
        assert tap is not None
        if tap.error is not None:
            raise tap.error
        out: dict[str, float] = {}
        n_optimizers = len(tap.optimizers)
        values = self.model.logger.name_to_value
        for optimizer, all_norms in self._norms.items():
            norms = [n for n in all_norms if not math.isnan(n)]  # NaN gradients are NaNCallback's business
            if not norms:
                continue
            name = norm_metric(optimizer, n_optimizers)
            suffix = name[len("grad_norm"):]
            out[name] = float(np.median(norms))
            out["grad_peak" + suffix] = float(np.max(norms))
            losses = [abs(float(values[k])) for k in _LOSS_KEYS.get(optimizer, ()) if k in values]
            if losses:
                out["_loss" + suffix] = max(losses)
        self._norms.clear()
        out.update(self._parameter_flow(tap))
        self._rebase()
        return out

    def _parameter_flow(self, tap: GradientTap) -> dict[str, float]:
        stepped = {k for k, n in tap.step_count.items() if n > self._step_base.get(k, 0)}
        if not stepped or len(self._grad_base) != len(tap.grad_count):  # nothing to judge, or hooks reinstalled
            return {}
        received = [n - b for n, b in zip(tap.grad_count, self._grad_base, strict=True)]
        without = [
            tap.names[i] for i, owners in enumerate(tap.owners)
            if received[i] == 0 and stepped.intersection(owners) and tap.params[i].numel() > 0
        ]
        outside = [tap.names[i] for i, owners in enumerate(tap.owners) if not owners and received[i] > 0]
        out = {"params_without_grad": float(len(without)), "params_not_in_optimizer": float(len(outside))}
        out.update({NO_GRAD + name: 1.0 for name in without})
        out.update({NOT_IN_OPTIMIZER + name: 1.0 for name in outside})
        return out

    def _measure_final(self) -> dict[str, float]:
        return self._measure() if self._norms else {}

    def _teardown(self) -> None:
        if self._tap is not None:
            self._tap.detach(self)
