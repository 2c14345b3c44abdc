"""GradientCallback: gradient norms before clipping, and parameters that never receive a gradient."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from sb3_diagnostics.callbacks.base import DiagnosticCallback, StopOn
from sb3_diagnostics.rules.gradients import NO_GRAD, NOT_IN_OPTIMIZER, network_metrics, registration_metrics
from sb3_diagnostics.sb3.gradient_tap import NORM_EVERY, GradientTap
from sb3_diagnostics.sb3.models import (
    expected_steps_per_update,
    has_stochastic_actor,
    policy_optimizers,
    unregistered_modules,
)
from sb3_diagnostics.sb3.network import narrow_layers
from sb3_diagnostics.thresholds import GradientThresholds, require_whole_number

#: default: in updates of many optimizer steps, measure about this many (a median needs no more)
NORMS_PER_UPDATE = 32

#: SB3 ``train/*`` logger keys whose magnitude says whether the loss of an optimizer is ~0
_LOSS_KEYS: dict[str, tuple[str, ...]] = {
    "": ("train/loss", "train/value_loss", "train/policy_loss", "train/policy_gradient_loss"),
    "actor": ("train/actor_loss",),
    "critic": ("train/critic_loss",),
}


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
    gradient and are in no optimizer are left alone. Measured by the model's
    :class:`~sb3_diagnostics.sb3.gradient_tap.GradientTap`, whose hooks exist only during ``learn()``.

    Cost: the norms are measured on a sample of the optimizer steps (one in ``norm_every``, and the
    first step of every update); long updates are sampled more thinly, about ``norms_per_update``
    steps per update, which give the same median. The other steps cost one small sum that catches
    NaN/Inf gradients at the step they appear. Once a measured norm exceeds a tenth of
    ``exploding``, every step is measured for the rest of ``learn()``, so a single exploding step
    that follows is not missed; ``norm_every=1`` measures every step from the start. The parameter
    flow (``param_no_grad``) is counted on the measured steps. What this costs is measured in
    ``benchmarks/overhead.py`` (numbers in ``benchmarks/RESULTS.md``).

    :param thresholds: :class:`~sb3_diagnostics.thresholds.GradientThresholds` or a dict of its fields
    :param norm_every: measure the gradient norms on one optimizer step in this many (1: every step,
        with no thinning)
    :param norms_per_update: in updates of more than ``norm_every * norms_per_update`` optimizer
        steps, measure one step in ``steps // norms_per_update`` instead (None: never thin). For
        off-policy algorithms an "update" is the judged window between two measurements (SAC's defaults:
        ``off_policy_updates=250`` critic and actor steps, so one pair of steps in 16 is measured)

    See :class:`~sb3_diagnostics.callbacks.base.DiagnosticCallback` for the other parameters.
    """

    check_name = "gradients"
    uses_tap = True

    def __init__(
        self,
        thresholds: GradientThresholds | Mapping[str, Any] | None = None,
        *,
        norm_every: int = NORM_EVERY,
        norms_per_update: int | None = NORMS_PER_UPDATE,
        stop_on: StopOn = None,
        cooldown: int = 10,
        seed: int = 0,
        off_policy_interval: int = 1000,
        off_policy_updates: int | None = 250,
        verbose: int = 0,
    ) -> None:
        super().__init__(thresholds, stop_on=stop_on, cooldown=cooldown, seed=seed,
                         off_policy_interval=off_policy_interval, off_policy_updates=off_policy_updates, verbose=verbose)
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
        self._sampled_base: dict[str, int] = {}

    @classmethod
    def not_applicable(cls, model: Any) -> str | None:
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
        self._judge(network_metrics(narrow_layers(self.model, self._th.narrow_width), None, self._th))
        # a layer in a plain list is in no optimizer and gets no hook: only the module tree shows it
        self._judge(registration_metrics(unregistered_modules(self.model.policy)))

    @property
    def _th(self) -> GradientThresholds:
        assert isinstance(self.thresholds, GradientThresholds)
        return self.thresholds

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
        self._sampled_base = dict(tap.sampled_count)
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
        error = tap.error_of(self)
        if error is not None:
            raise error
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
            out["_grad_first" + suffix] = norms[0]  # the window's first step: before this window's updates moved anything
            losses = [abs(float(values[k])) for k in _LOSS_KEYS.get(optimizer, ()) if k in values]
            if losses:
                out["_loss" + suffix] = max(losses)
        self._norms.clear()
        if "grad_norm_actor" in out and not has_stochastic_actor(self.model):
            out["_deterministic_actor"] = 1.0  # TD3, DDPG: a tanh output at the action bounds passes ~0 gradient
        out.update(self._parameter_flow(tap))
        self._rebase()
        return out

    def _parameter_flow(self, tap: GradientTap) -> dict[str, float]:
        # judged against the optimizers that had a *measured* step: an actor updated only every few critic
        # steps (TD3's policy_delay, CrossQ) may have had none in this window, which says nothing of its gradients
        stepped = {k for k, n in tap.sampled_count.items() if n > self._sampled_base.get(k, 0)}
        if not stepped or len(self._grad_base) != len(tap.grad_count):  # nothing to judge, or hooks reinstalled
            return {}
        received = [n - b for n, b in zip(tap.grad_count, self._grad_base, strict=True)]
        without = [
            tap.names[i] for i, owners in enumerate(tap.owners)
            if received[i] == 0 and stepped.intersection(owners) and tap.params[i].numel() > 0
        ]
        outside = [tap.names[i] for i, owners in enumerate(tap.owners) if not owners and received[i] > 0]
        outside += tap.late_parameters()  # built after learn() started (in forward()): never in an optimizer
        out = {"params_without_grad": float(len(without)), "params_not_in_optimizer": float(len(outside))}
        out.update({NO_GRAD + name: 1.0 for name in without})
        out.update({NOT_IN_OPTIMIZER + name: 1.0 for name in outside})
        return out

    def _measure_final(self) -> dict[str, float]:
        return self._measure() if self._norms else {}

    def _teardown(self) -> None:
        if self._tap is not None:
            self._tap.detach(self)
