"""GradientCallback: gradient norms before clipping, and parameters that never receive a gradient."""

from __future__ import annotations

import functools
import math
import weakref
from collections.abc import Callable
from typing import Any

import numpy as np
import torch as th
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm

from sb3_diagnostics.callbacks.base import DiagnosticCallback
from sb3_diagnostics.catalog import GradientThresholds
from sb3_diagnostics.core import PerModel
from sb3_diagnostics.errors import require_whole_number
from sb3_diagnostics.rules.gradients import NO_GRAD, NOT_IN_OPTIMIZER, GradientNormRule, ParamGradRule

#: called with (optimizer name, gradient norm, name of the first parameter whose gradient is NaN or Inf
#: or None, exact): at every sampled optimizer step with the total norm before clipping (``exact``
#: True), and at an unsampled step only when a gradient is NaN/Inf (``exact`` False, the norm of
#: that parameter's gradient as the optimizer is about to use it)
StepListener = Callable[[str, float, "str | None", bool], None]
#: called just before (``pre``) or after (``post``) an optimizer step, with the optimizer name
EventListener = Callable[[str], None]

#: default: measure the per-parameter gradient norms before clipping on one optimizer step in this many
NORM_EVERY = 16
#: default: in updates of many optimizer steps, measure about this many (a median needs no more)
NORMS_PER_UPDATE = 32

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


class GradientTap(PerModel):
    """
    Hooks on one model's trainable policy parameters and policy optimizers, shared by every check
    that reads gradients or optimizer steps (one set of hooks per model, however many checks).

    - Per parameter, a tensor hook (``Tensor.register_hook``; unlike post-accumulate hooks it also
      fires inside ``torch.autograd.grad``, which TRPO uses for its actor) counts the gradients the
      parameter receives and takes the norm of each: the gradient *before* clipping, since
      ``clip_grad_norm_`` runs after ``backward()`` returns. These hooks exist only for the backward
      passes of sampled optimizer steps (one in :attr:`norm_every`, in blocks that give every
      optimizer of the policy its turn, plus the step after :meth:`sample_next`): they are
      registered by the pre-hook of the step before and removed by the pre-hook of the sampled
      step, so :attr:`grad_count` counts the gradients received in sampled windows.
    - Per optimizer, a step pre-hook closes one step. On a sampled step: the total norm over the
      parameters of that optimizer that received a gradient since its previous step and still hold
      one (TRPO sets its actor's gradients to None before the critic's steps). On the others: one
      sum over the gradient of a single small parameter (a sentinel) that says whether the step is
      about to write NaN/Inf into the parameters. A NaN loss makes every gradient NaN (and
      ``clip_grad_norm_`` spreads a NaN from one gradient to all), so that is seen at the step it
      happens, before the next forward pass crashes SB3 on NaN parameters. Post-hooks only notify
      listeners.

    Sampling is what keeps this cheap: a Python hook per parameter per backward pass (even one
    that only counts) is dispatch work that costs about a percent of a small-network PPO run, a
    norm per parameter several; the median of an update's gradient norms needs only a sample of
    its steps, and a parameter that never gets a gradient gets none in the sampled ones either.

    Nothing is computed twice and nothing is changed: every hook returns None. Hooks are installed
    by :meth:`attach` at the start of ``learn()`` and removed by :meth:`detach` at its end, so a
    model is never saved, copied or pickled with them; a ``learn()`` that raised leaves them in
    place until the next ``learn()`` reinstalls them. A failure inside a hook is stored in
    :attr:`error` (the hooks then do nothing) for the check to report; it never reaches training.
    """

    def __init__(self) -> None:
        self.error: Exception | None = None
        #: measure the norms before clipping on one optimizer step in this many (the smallest any user asked for)
        self.norm_every = NORM_EVERY
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
        #: ``num_timesteps`` of the latest optimizer step
        self.last_step_timestep = 0
        # Weak: the tap is the value of a WeakKeyDictionary keyed by the model; a strong reference would keep it alive.
        self._model: Callable[[], Any] = lambda: None
        self._block = 1
        self._users: dict[int, tuple[StepListener | None, EventListener | None, EventListener | None]] = {}
        self._every: dict[int, int] = {}
        self._on_step: list[StepListener] = []
        self._on_pre: list[EventListener] = []
        self._on_post: list[EventListener] = []
        self._grads = False
        #: whether the coming backward pass is measured (set after every optimizer step)
        self._sampling = True
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
        #: coming optimizer steps that neither close nor open a sampled window: they take the short
        #: path of :meth:`_on_pre_step` (count, check the sentinel, call the pre-step listeners)
        self._fast = 0

    # -- users ---------------------------------------------------------------------------------
    def attach(
        self,
        user: object,
        model: BaseAlgorithm,
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
        self._users[id(user)] = (on_step, on_pre, on_post)
        self._listeners()
        if norm_every is not None:
            self._every[id(user)] = norm_every
        self._serve_smallest_request()
        self._install(model)

    def _listeners(self) -> None:
        users = list(self._users.values())
        self._on_step = [s for s, _, _ in users if s is not None]
        self._on_pre = [p for _, p, _ in users if p is not None]
        self._on_post = [p for _, _, p in users if p is not None]

    def measure_every(self, user: object, every: int) -> None:
        """Ask for the norms of one optimizer step in ``every`` (the tap serves the smallest request)."""
        self._every[id(user)] = every
        self._serve_smallest_request()

    def _serve_smallest_request(self) -> None:
        self.norm_every = min(self._every.values(), default=NORM_EVERY)
        self._fast = 0  # the next step recomputes the schedule

    def sample_next(self) -> None:
        """Measure the next optimizer step in full (a check starting a new window wants at least one exact norm)."""
        self._sampling = True
        self._fast = 0
        self._arm()

    def detach(self, user: object) -> None:
        """Stop serving ``user``; remove every hook when nobody is left (the checks all detach at the end of ``learn()``)."""
        self._users.pop(id(user), None)
        self._listeners()
        self._every.pop(id(user), None)
        self._serve_smallest_request()
        if not self._users:
            self._remove()

    # -- hooks ---------------------------------------------------------------------------------
    def _install(self, model: BaseAlgorithm) -> None:
        grads = bool(self._on_step)
        params: list[th.nn.Parameter] = []
        names: list[str] = []
        seen: set[int] = set()
        for name, p in model.policy.named_parameters():
            if p.requires_grad and id(p) not in seen:
                seen.add(id(p))
                params.append(p)
                names.append(name)
        optimizers = policy_optimizers(model)
        post = bool(self._on_post)
        key = (id(model), grads, post, tuple(map(id, params)), tuple((k, id(o)) for k, o in optimizers.items()))
        if key == self._key and self._handles:
            return
        self._remove()
        self._model, self._key, self._grads = weakref.ref(model), key, grads
        self._block = max(len(optimizers), 1)
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
        self._sampling = True
        self._sentinel = {}
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
        if self.error is not None:
            return
        try:
            self.grad_count[i] += 1
            self._stamp[i] = self._clock
            # a double-backward graph (TRPO's Hessian-vector products) is used by no step
            self._norm[i] = None if grad.requires_grad else _norm(grad)
        except Exception as exc:  # never let a diagnostic break backward()
            self.error = exc

    def _on_pre_step(self, name: str, optimizer: th.optim.Optimizer, args: Any, kwargs: Any) -> None:
        if self._fast:
            # Most steps: unsampled, no window to open or close. The Python run here is cold
            # (right after backward), so every line costs several times what it would in a loop.
            try:
                self._fast -= 1
                self.step_count[name] += 1
                clock = self._clock = self._clock + 1
                self._last_step_clock[name] = clock
                self.last_step_timestep = self._model().num_timesteps
                sentinel = self._sentinel.get(name)
                if sentinel is not None and not _finite_grad(self.params[sentinel].grad):
                    self._report_nonfinite(name)
                for on_pre in self._on_pre:
                    on_pre(name)
            except Exception as exc:
                self.error, self._fast = exc, 0
            return
        if self.error is not None:
            return
        try:
            self.step_count[name] += 1
            self.last_step_timestep = self._model().num_timesteps
            if self._grads:
                if self._sampling:
                    self._close_step(name)
                else:
                    sentinel = self._sentinel.get(name)
                    if sentinel is not None and not _finite_grad(self.params[sentinel].grad):
                        self._report_nonfinite(name)
            for on_pre in self._on_pre:
                on_pre(name)
        except Exception as exc:
            self.error = exc
        finally:
            clock = self._clock = self._clock + 1
            self._last_step_clock[name] = clock
            # Blocks of len(optimizers) steps, so SAC's critic and actor steps are sampled together.
            period = self._block * self.norm_every
            sampling = self._sampling = clock % period < self._block
            if sampling != bool(self._grad_handles):  # open or close a window
                try:
                    self._arm() if sampling else self._disarm()
                except Exception as exc:
                    self.error = exc
            if not sampling and self.error is None:
                # the steps before the one that opens the next window: clock .. next sampled clock - 2
                self._fast = (clock // period + 1) * period - 1 - clock

    def _report_nonfinite(self, name: str) -> None:
        """An unsampled step about to write NaN/Inf: name the first parameter of ``name`` whose gradient is not finite."""
        for i in self.owned[name]:
            g = self.params[i].grad
            if g is not None and not g.is_sparse and not bool(th.isfinite(g).all()):
                value = float(th.linalg.vector_norm(g.double()))
                for on_step in self._on_step:
                    on_step(name, value, self.names[i], False)
                return

    def _close_step(self, name: str) -> None:
        since = self._last_step_clock[name]
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
        for on_step in self._on_step:
            on_step(name, total, bad, True)

    def _on_post_step(self, name: str, optimizer: th.optim.Optimizer, args: Any, kwargs: Any) -> None:
        if self.error is not None:
            return
        try:
            for on_post in self._on_post:
                on_post(name)
        except Exception as exc:
            self.error = exc


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


def expected_steps_per_update(model: BaseAlgorithm) -> int | None:
    """
    Optimizer steps one on-policy update takes, from the hyperparameters: ``n_epochs`` (PPO,
    RecurrentPPO, MaskablePPO) or ``n_critic_updates`` (TRPO) passes over ``n_steps * n_envs``
    samples in minibatches of ``batch_size``. None when the algorithm has no such epochs (A2C: one
    step per update; off-policy algorithms: ``gradient_steps`` per rollout, judged per interval).
    """
    if not isinstance(model, OnPolicyAlgorithm):
        return None
    epochs = getattr(model, "n_epochs", None) or getattr(model, "n_critic_updates", None)
    batch, n_steps = getattr(model, "batch_size", None), getattr(model, "n_steps", None)
    if not (isinstance(epochs, int) and isinstance(batch, int) and isinstance(n_steps, int) and batch > 0):
        return None
    return epochs * -(-n_steps * model.n_envs // batch)


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

    Cost: the total norm is measured on one optimizer step in ``norm_every`` (default 16) and on
    the first step of every update; measuring every step would add 3-4% to the wall time of a
    small-network PPO run (CartPole, 64x64 MLP) for the same median. Updates of many optimizer
    steps are sampled more thinly, about ``norms_per_update`` (default 32) per update: PPO's defaults
    with 8 envs (10 epochs of 256 minibatches) would otherwise measure 160 steps per update where
    32 give the same median. The steps of an update are known from the previous one, or for the
    first from the hyperparameters (``n_epochs``, ``n_steps``, ``batch_size``). The other steps cost one
    small sum that catches NaN/Inf gradients at the step they appear (see :class:`GradientTap`).
    Once any measured norm exceeds a tenth of ``exploding``, every step is measured for the rest
    of ``learn()``, so a single exploding step that follows is not missed; a lone spike out of
    nowhere on an unsampled step is seen only with ``norm_every=1``, which measures every step
    from the start. The parameter flow (``param_no_grad``) is counted on the measured steps: a
    parameter that gets no gradient in any of them for ``no_grad_updates`` updates in a row is
    reported.

    :param thresholds: :class:`~sb3_diagnostics.catalog.GradientThresholds` or a dict of its fields
    :param norm_every: measure the gradient norms on one optimizer step in this many (1: every step,
        with no thinning)
    :param norms_per_update: in updates of more than ``norm_every * norms_per_update`` optimizer
        steps, measure one step in ``steps // norms_per_update`` instead (None: never thin). For
        off-policy algorithms an "update" is the judged window of ``off_policy_interval`` env steps
        (SAC's defaults: 1000 critic and 1000 actor steps, so one pair of steps in 31 is measured)
    See :class:`~sb3_diagnostics.callbacks.base.DiagnosticCallback` for the other parameters.
    """

    check_name = "gradients"
    thresholds_class = GradientThresholds
    rule_classes = (GradientNormRule, ParamGradRule)

    def __init__(  # type: ignore[no-untyped-def]
        self, *args, norm_every: int = NORM_EVERY, norms_per_update: int | None = NORMS_PER_UPDATE, **kwargs
    ) -> None:
        super().__init__(*args, **kwargs)
        self.norm_every = require_whole_number("norm_every", norm_every, 1, "optimizer steps")
        self.norms_per_update = (
            None if norms_per_update is None else require_whole_number("norms_per_update", norms_per_update, 1, "steps")
        )
        #: measure every step for the rest of ``learn()`` (a norm looked suspicious)
        self._every_step = False
        self._tap: GradientTap | None = None
        self._norms: dict[str, list[float]] = {}
        self._peaks: dict[str, float] = {}
        self._grad_base: list[int] = []
        self._step_base: dict[str, int] = {}

    @classmethod
    def not_applicable(cls, model: BaseAlgorithm) -> str | None:
        if policy_optimizers(model):
            return None
        return f"{type(model.policy).__name__} has no optimizer attribute on the policy or its networks"

    def _setup(self) -> None:
        self._tap = GradientTap.for_model(self.model)
        self._every_step, self._step_base = False, {}
        self._tap.attach(self, self.model, on_step=self._on_optimizer_step, norm_every=self.norm_every)
        self._norms.clear()
        self._peaks.clear()
        self._rebase()

    def _interval(self, tap: GradientTap, steps_last_update: int) -> int:
        """Measure one optimizer step in this many during the coming update."""
        if self._every_step:
            return 1
        if self.norm_every == 1 or self.norms_per_update is None:
            return self.norm_every
        steps = steps_last_update or expected_steps_per_update(self.model) or 0
        blocks = steps // max(len(tap.optimizers), 1)
        return max(self.norm_every, blocks // self.norms_per_update)

    def _rebase(self) -> None:
        tap = self._tap
        assert tap is not None
        # 0 at the start of learn(): the first update's length then comes from the hyperparameters
        steps_last_update = sum(tap.step_count.values()) - sum(self._step_base.values()) if self._step_base else 0
        self._grad_base = list(tap.grad_count)
        self._step_base = dict(tap.step_count)
        tap.measure_every(self, self._interval(tap, steps_last_update))
        tap.sample_next()

    def _on_optimizer_step(self, optimizer: str, norm: float, bad: str | None, exact: bool) -> None:
        if math.isnan(norm):
            return  # NaN gradients are NaNCallback's business
        if exact:
            self._norms.setdefault(optimizer, []).append(norm)
        else:  # an Inf gradient seen on an unsampled step: not a sample for the median, still the peak
            self._peaks[optimizer] = max(norm, self._peaks.get(optimizer, 0.0))
        assert isinstance(self.thresholds, GradientThresholds) and self._tap is not None
        if norm > self.thresholds.exploding / 10 and not self._every_step:
            self._every_step = True  # suspicious: stop sampling, so a single exploding step is seen
            self._tap.measure_every(self, 1)

    def _measure(self) -> dict[str, float]:
        tap = self._tap
        assert tap is not None
        if tap.error is not None:
            raise tap.error
        out: dict[str, float] = {}
        n_optimizers = len(tap.optimizers)
        values = self.model.logger.name_to_value
        for optimizer, norms in self._norms.items():
            if not norms:
                continue
            name = norm_metric(optimizer, n_optimizers)
            suffix = name[len("grad_norm"):]
            out[name] = float(np.median(norms))
            out["grad_peak" + suffix] = max(float(np.max(norms)), self._peaks.pop(optimizer, 0.0))
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
