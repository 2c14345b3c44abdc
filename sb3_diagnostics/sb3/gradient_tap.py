"""
The gradient tap: hooks on a model's policy optimizers and parameters, shared by every check that
reads gradients or optimizer steps (gradients, NaN, the target-network probe), and the
:class:`Schedule` that decides which optimizer steps are measured.

This is the one seam of the library's performance work: sampling, the short path of unsampled
steps and the hook bookkeeping live here, behind :meth:`GradientTap.attach` /
:meth:`GradientTap.detach` and the listeners. What they cost is measured in ``benchmarks/``.
"""

from __future__ import annotations

import functools
import math
import weakref
from collections.abc import Callable
from typing import Any

import torch as th

from sb3_diagnostics.sb3.models import policy_optimizers
from sb3_diagnostics.sb3.state import PerModel

#: called with (optimizer name, gradient norm, name of the first parameter whose gradient is NaN or Inf
#: or None, exact): at every sampled optimizer step with the total norm before clipping (``exact``
#: True), and at an unsampled step only when a gradient is NaN/Inf (``exact`` False, the norm of
#: that parameter's gradient as the optimizer is about to use it)
StepListener = Callable[[str, float, "str | None", bool], None]
#: called just before (``pre``) or after (``post``) an optimizer step, with the optimizer name
EventListener = Callable[[str], None]

#: default: measure the per-parameter gradient norms before clipping on one optimizer step in this many
NORM_EVERY = 16


class Schedule:
    """
    Which optimizer steps are sampled (their per-parameter gradient norms measured).

    Steps are counted on one clock for all optimizers of the policy; they are sampled in blocks of
    :attr:`block` consecutive steps (one per optimizer, so SAC's critic and actor steps are sampled
    together), one block in :attr:`norm_every`, the smallest interval any user asked for. Between
    two sampled blocks, :attr:`fast` counts the steps that neither close nor open a sampled window:
    those take the tap's short path.
    """

    def __init__(self) -> None:
        self.block = 1
        self.norm_every = NORM_EVERY
        #: whether the coming backward pass is measured
        self.sampling = True
        #: coming optimizer steps that take the short path
        self.fast = 0
        self._requests: dict[int, int] = {}

    def request(self, user: int, every: int | None) -> None:
        """Serve ``user`` one sampled step in ``every`` (None: withdraw its request); the smallest request wins."""
        if every is None:
            self._requests.pop(user, None)
        else:
            self._requests[user] = every
        self.norm_every = min(self._requests.values(), default=NORM_EVERY)
        self.fast = 0  # the next step recomputes where the next window opens

    def restart(self, block: int) -> None:
        """New hooks: blocks of ``block`` steps, and the next step is sampled."""
        self.block = max(block, 1)
        self.sample_next()

    def sample_next(self) -> None:
        """Sample the next optimizer step."""
        self.sampling = True
        self.fast = 0

    def after_step(self, clock: int) -> bool:
        """
        :param clock: the clock after the step just counted
        :return: whether the next step is sampled (and set :attr:`fast` when it is not)
        """
        period = self.block * self.norm_every
        sampling = self.sampling = clock % period < self.block
        # the steps before the one that opens the next window: clock .. next sampled clock - 2
        self.fast = 0 if sampling else (clock // period + 1) * period - 1 - clock
        return sampling


class GradientTap(PerModel):
    """
    Hooks on one model's trainable policy parameters and policy optimizers, shared by every check
    that reads gradients or optimizer steps (one set of hooks per model, however many checks).

    - Per parameter, a tensor hook (``Tensor.register_hook``; unlike post-accumulate hooks it also
      fires inside ``torch.autograd.grad``, which TRPO uses for its actor) counts the gradients the
      parameter receives and takes the norm of each: the gradient *before* clipping, since
      ``clip_grad_norm_`` runs after ``backward()`` returns. These hooks exist only for the backward
      passes of sampled optimizer steps (see :class:`Schedule`): registered by the pre-hook of the
      step before and removed by the pre-hook of the sampled step, so :attr:`grad_count` counts the
      gradients received in sampled windows.
    - Per optimizer, a step pre-hook closes one step. On a sampled step: the total norm over the
      parameters of that optimizer that received a gradient since its previous step and still hold
      one (TRPO sets its actor's gradients to None before the critic's steps). On the others: one
      sum over the gradient of a single small parameter (a sentinel) that says whether the step is
      about to write NaN/Inf into the parameters. A NaN loss makes every gradient NaN (and
      ``clip_grad_norm_`` spreads a NaN from one gradient to all), so that is seen at the step it
      happens, before the next forward pass crashes SB3 on NaN parameters. Post-hooks only notify
      listeners.

    Nothing is computed twice and nothing is changed: every hook returns None. Hooks are installed
    by :meth:`attach` at the start of ``learn()`` and removed by :meth:`detach` at its end, so a
    model is never saved, copied or pickled with them. An optimizer step in a ``train()`` whose
    rollout no user saw end (a plain ``learn()`` after one that raised) turns the hooks off. A
    failure never reaches training: an exception raised by a user's listener is stored for that
    user only (:meth:`error_of`) and its listeners stop; a failure of the tap itself is stored for
    every user and the hooks then do nothing.
    """

    def __init__(self) -> None:
        self.schedule = Schedule()
        self.params: list[th.nn.Parameter] = []
        self.names: list[str] = []
        self.optimizers: dict[str, th.optim.Optimizer] = {}
        #: optimizer name -> indices (into :attr:`params`) of the parameters it updates
        self.owned: dict[str, list[int]] = {}
        #: per parameter, the optimizers that update it
        self.owners: list[tuple[str, ...]] = []
        #: gradients received in sampled windows, per parameter (monotonic; readers keep their own baseline)
        self.grad_count: list[int] = []
        #: optimizer steps taken, per optimizer (monotonic)
        self.step_count: dict[str, int] = {}
        #: ... of which were sampled (their gradients measured), per optimizer (monotonic). An optimizer that
        #: steps only now and then (a delayed actor: TD3's policy_delay, CrossQ) may have no sampled step in
        #: a window: only its sampled steps say whether its parameters got gradients.
        self.sampled_count: dict[str, int] = {}
        #: ``num_timesteps`` of the latest optimizer step
        self.last_step_timestep = 0
        # Weak: the tap is the value of a WeakKeyDictionary keyed by the model; a strong reference would keep it alive.
        self._model: Callable[[], Any] = lambda: None
        self._users: dict[int, tuple[StepListener | None, EventListener | None, EventListener | None]] = {}
        self._errors: dict[int, Exception] = {}
        self._broken: Exception | None = None
        self._on_step: list[tuple[int, StepListener]] = []
        self._on_pre: list[tuple[int, EventListener]] = []
        self._on_post: list[tuple[int, EventListener]] = []
        self._grads = False
        self._handles: list[Any] = []
        #: the per-parameter tensor hooks, present only while a sampled window is open
        self._grad_handles: list[Any] = []
        self._key: tuple[Any, ...] = ()
        self._norm: list[th.Tensor | None] = []
        self._stamp: list[int] = []
        self._clock = 0
        self._last_step_clock: dict[str, int] = {}
        #: optimizer name -> index of the small parameter whose gradient is checked for NaN/Inf on unsampled steps
        self._sentinel: dict[str, int] = {}
        #: ``num_timesteps`` at the last rollout end a user saw: SB3 trains right after it, at that same step
        #: (num_timesteps, start_time of the learn() call) when a check last saw a rollout end; SB3 sets
        #: start_time in every learn(), so a later plain learn() that happens to reach the same
        #: num_timesteps (reset_num_timesteps=True) is still told apart
        self._rollout_end: tuple[int, Any] | None = None

    # -- users ---------------------------------------------------------------------------------
    def attach(
        self,
        user: object,
        model: Any,
        *,
        on_step: StepListener | None = None,
        on_pre: EventListener | None = None,
        on_post: EventListener | None = None,
        norm_every: int | None = None,
    ) -> None:
        """
        Start (or keep) serving ``user``; (re)install the hooks if the model's parameters or optimizers changed.

        :param user: the check (identity only)
        :param model: the model being trained
        :param on_step: gradient listener; passing one turns the per-parameter hooks on. It is called at
            every sampled optimizer step that received a gradient, with the total norm, and at an
            unsampled step whose gradients are NaN/Inf (see :data:`StepListener`)
        :param on_pre: called just before every optimizer step
        :param on_post: called just after every optimizer step
        :param norm_every: sample one optimizer step in this many (default :data:`NORM_EVERY`)
        """
        uid = id(user)
        self._users[uid] = (on_step, on_pre, on_post)
        self._errors.pop(uid, None)
        self._listeners()
        if norm_every is not None:
            self.schedule.request(uid, norm_every)
        self._install(model)

    def late_parameters(self) -> list[str]:
        """
        Trainable parameters the policy gained after the hooks were installed (a layer built in ``forward()``,
        SB3 #1271) that have a gradient and belong to no optimizer: they are never stepped.

        :return: their names
        """
        model = self._model()
        if model is None:
            return []
        known = {id(p) for p in self.params}
        owned = {id(p) for o in self.optimizers.values() for group in o.param_groups for p in group["params"]}
        return [name for name, p in model.policy.named_parameters()
                if p.requires_grad and p.grad is not None and id(p) not in known and id(p) not in owned]

    def error_of(self, user: object) -> Exception | None:
        """:return: what broke ``user``'s part of the tap (its listener raised, or the tap itself failed), or None"""
        return self._errors.get(id(user))

    def measure_every(self, user: object, every: int) -> None:
        """Ask for the norms of one optimizer step in ``every`` (the tap serves the smallest request)."""
        self.schedule.request(id(user), every)

    def sample_next(self) -> None:
        """Measure the next optimizer step in full (a check starting a new window wants at least one exact norm)."""
        self.schedule.sample_next()
        self._arm()

    def detach(self, user: object) -> None:
        """Stop serving ``user``; remove every hook when nobody is left (the checks all detach at the end of ``learn()``)."""
        uid = id(user)
        self._users.pop(uid, None)
        self._errors.pop(uid, None)
        self._listeners()
        self.schedule.request(uid, None)
        if not self._users:
            self._remove()

    def _listeners(self) -> None:
        users = [(uid, fns) for uid, fns in self._users.items() if uid not in self._errors]
        self._on_step = [(uid, s) for uid, (s, _, _) in users if s is not None]
        self._on_pre = [(uid, p) for uid, (_, p, _) in users if p is not None]
        self._on_post = [(uid, p) for uid, (_, _, p) in users if p is not None]

    def _user_failed(self, uid: int, exc: Exception) -> None:
        """A listener of ``uid`` raised: blame that user alone and stop calling it."""
        self._errors[uid] = exc
        self._listeners()

    def _tap_failed(self, exc: Exception) -> None:
        """The tap itself failed: every user is told, and the hooks do nothing from now on."""
        self._broken = exc
        for uid in self._users:
            self._errors.setdefault(uid, exc)
        self._listeners()
        self.schedule.fast = 0

    # -- hooks ---------------------------------------------------------------------------------
    def _install(self, model: Any) -> None:
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
        post = any(p is not None for _, _, p in self._users.values())
        key = (id(model), grads, post, tuple(map(id, params)), tuple((k, id(o)) for k, o in optimizers.items()))
        if key == self._key and self._handles:
            return
        self._remove()
        self._broken = None
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
        self.sampled_count = {k: 0 for k in optimizers}
        self._norm = [None] * len(params)
        self._stamp = [-1] * len(params)
        self._last_step_clock = {k: 0 for k in optimizers}
        self._sentinel = {}
        self.schedule.restart(len(optimizers))
        self._arm()
        for k, optimizer in optimizers.items():
            self._handles.append(optimizer.register_step_pre_hook(functools.partial(self._on_pre_step, k)))
            if post:  # only the off-policy target-update probe listens after a step
                self._handles.append(optimizer.register_step_post_hook(functools.partial(self._on_post_step, k)))

    def _remove(self) -> None:
        self._disarm()
        for handle in self._handles:
            handle.remove()
        self._handles = []
        self._key = ()

    def _arm(self) -> None:
        """Open a sampled window: hook every parameter (if a listener wants gradients and it is not hooked yet)."""
        if self._grads and not self._grad_handles:
            self._grad_handles = [p.register_hook(functools.partial(self._on_grad, i)) for i, p in enumerate(self.params)]

    def _disarm(self) -> None:
        if not self._grad_handles:
            return
        for handle in self._grad_handles:
            handle.remove()
        self._grad_handles = []
        _drop_empty_hook_dicts(self.params)

    def _on_grad(self, i: int, grad: th.Tensor) -> None:
        if self._broken is not None:
            return
        try:
            self.grad_count[i] += 1
            self._stamp[i] = self._clock
            # a double-backward graph (TRPO's Hessian-vector products) is used by no step
            self._norm[i] = None if grad.requires_grad else _norm(grad)
        except Exception as exc:  # never let a diagnostic break backward()
            self._tap_failed(exc)

    def _count_step(self, name: str) -> int | None:
        """
        Count one step of optimizer ``name``.

        :return: the clock of its previous step (where its window began), or None when the step belongs
            to a ``train()`` no user saw the rollout of: a ``learn()`` without the checks, after one that
            raised and left the hooks behind. The hooks then remove themselves.
        """
        model = self._model()
        timestep = model.num_timesteps
        if (timestep, getattr(model, "start_time", None)) != self._rollout_end:
            self._release_stale()
            return None
        self.step_count[name] += 1
        since = self._last_step_clock[name]
        clock = self._clock = self._clock + 1
        self._last_step_clock[name] = clock
        self.last_step_timestep = timestep
        return since

    @classmethod
    def rollout_ended(cls, model: Any) -> None:
        """A check saw a rollout end: the optimizer steps of the ``train()`` that follows belong to its ``learn()``."""
        tap = cls._by_model.get(model)
        if tap is not None:
            tap._rollout_end = (model.num_timesteps, getattr(model, "start_time", None))

    def _on_pre_step(self, name: str, optimizer: th.optim.Optimizer, args: Any, kwargs: Any) -> None:
        schedule = self.schedule
        if schedule.fast:
            # Most steps: unsampled, no window to open or close. The Python run here is cold
            # (right after backward), so every line costs several times what it would in a loop.
            schedule.fast -= 1
            try:
                if self._count_step(name) is None:
                    return
                self._check_sentinel(name)
            except Exception as exc:
                self._tap_failed(exc)
            self._notify_pre(name)
            return
        if self._broken is not None:
            return
        try:
            since = self._count_step(name)
            if since is None:
                return
            if self._grads:
                if schedule.sampling:
                    self._close_step(name, since)
                else:
                    self._check_sentinel(name)
            sampling = schedule.after_step(self._clock)
            if sampling != bool(self._grad_handles):  # open or close a window
                self._arm() if sampling else self._disarm()
        except Exception as exc:
            self._tap_failed(exc)
            return
        self._notify_pre(name)

    def _notify_pre(self, name: str) -> None:
        for uid, on_pre in self._on_pre:
            try:
                on_pre(name)
            except Exception as exc:
                self._user_failed(uid, exc)

    def _notify_step(self, name: str, norm: float, bad: str | None, exact: bool) -> None:
        for uid, on_step in self._on_step:
            try:
                on_step(name, norm, bad, exact)
            except Exception as exc:
                self._user_failed(uid, exc)

    def _check_sentinel(self, name: str) -> None:
        sentinel = self._sentinel.get(name)
        if sentinel is not None and not _finite_grad(self.params[sentinel].grad):
            self._report_nonfinite(name)

    def _report_nonfinite(self, name: str) -> None:
        """An unsampled step about to write NaN/Inf: name the first parameter of ``name`` whose gradient is not finite."""
        for i in self.owned[name]:
            g = self.params[i].grad
            if g is not None and not g.is_sparse and not bool(th.isfinite(g).all()):
                self._notify_step(name, float(th.linalg.vector_norm(g.double())), self.names[i], False)
                return

    def _close_step(self, name: str, since: int) -> None:
        self.sampled_count[name] += 1
        fresh = [
            i for i in self.owned[name]
            if self._stamp[i] >= since and self._norm[i] is not None and self.params[i].grad is not None
        ]
        if not fresh:
            return
        # the smallest dense parameter that gets a gradient watches the unsampled steps
        dense = [i for i in fresh if not self.params[i].is_sparse]
        if dense:
            self._sentinel[name] = min(dense, key=lambda i: (self.params[i].dim() != 1, self.params[i].numel()))
        norms = th.stack([self._norm[i] for i in fresh]).double()  # type: ignore[misc]
        total = float(th.linalg.vector_norm(norms))
        bad = None
        if not math.isfinite(total):
            bad = next((self.names[i] for i, n in zip(fresh, norms.tolist(), strict=True) if not math.isfinite(n)), None)
        self._notify_step(name, total, bad, True)

    def _on_post_step(self, name: str, optimizer: th.optim.Optimizer, args: Any, kwargs: Any) -> None:
        if self._broken is not None:
            return
        for uid, on_post in self._on_post:
            try:
                on_post(name)
            except Exception as exc:
                self._user_failed(uid, exc)

    def _release_stale(self) -> None:
        """
        Called from inside an optimizer pre-hook when no user is training: forget every user, remove the
        tensor hooks, and turn the optimizer hooks into no-ops in place (torch is iterating over them
        right now, so they cannot be deleted before the next :meth:`attach`, which removes them).
        """
        self._users.clear()
        self._errors.clear()
        self._listeners()
        self.schedule = Schedule()
        self._disarm()
        for handle in self._handles:
            hooks = handle.hooks_dict_ref()
            if hooks is not None and handle.id in hooks:
                hooks[handle.id] = _noop  # same size: safe while torch iterates the dict


def _noop(*args: Any, **kwargs: Any) -> None:
    """What a stale optimizer hook becomes until it can be removed."""


def _drop_empty_hook_dicts(params: list[th.nn.Parameter]) -> None:
    """
    Leave no trace of removed tensor hooks. ``handle.remove()`` empties a tensor's hook dict but
    autograd keeps calling into Python for it (GIL, wrapping the gradient) at every backward pass:
    about a microsecond per parameter, which would slow every later ``learn()`` of the model,
    with or without this library. A tensor whose dict is empty gets ``None`` back, as before its
    first hook. Best effort: ``_backward_hooks`` is private to torch, so any surprise leaves it as is.
    """
    for p in params:
        try:
            hooks = p._backward_hooks
            if hooks is not None and not hooks:
                p._backward_hooks = None
        except Exception:  # noqa: S112 (an optimisation only)
            continue


def _finite_grad(grad: th.Tensor | None) -> bool:
    """Fast: True unless ``grad`` holds a NaN/Inf (or finite entries whose sum overflows; callers then check exactly)."""
    if grad is None:
        return True
    if grad.dim() == 1 and grad.shape[0] <= 256:  # a bias: Python floats beat a tensor reduction's dispatch
        return math.isfinite(grad.item() if grad.shape[0] == 1 else sum(grad.tolist()))
    return math.isfinite(grad.sum())


def _norm(grad: th.Tensor) -> th.Tensor:
    """The norm of a gradient: NaN if an entry is NaN; Inf if one is, or if it is beyond ~1e19 (float32)."""
    return th.linalg.vector_norm(grad.coalesce().values() if grad.is_sparse else grad)  # nn.Embedding(sparse=True)
