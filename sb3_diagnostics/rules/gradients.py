"""Gradients: exploding or vanishing norms, parameters that never receive a gradient."""

from __future__ import annotations

from sb3_diagnostics.findings import Alert
from sb3_diagnostics.rules.base import Metrics, Rule, Streak, get, labels, listing
from sb3_diagnostics.thresholds import GradientThresholds

#: prefixes of context keys that carry a label instead of a number (the value is a flag or a step)
NO_GRAD = "_no_grad:"
NOT_IN_OPTIMIZER = "_not_in_optimizer:"


def _whose(name: str) -> str:
    """``grad_norm`` -> ``""``, ``grad_norm_actor`` -> ``"actor "``."""
    suffix = name[len("grad_norm"):].lstrip("_")
    return f"{suffix} " if suffix else ""


class GradientNormRule(Rule):
    """
    Reads, per update, the total gradient norm *before clipping* of each optimizer, as the median
    over the update's optimizer steps: ``grad_norm`` (one optimizer: PPO, A2C, DQN...) or
    ``grad_norm_<network>`` (several: ``grad_norm_actor`` and ``grad_norm_critic`` for SAC, TD3, TQC),
    and the largest single step, ``grad_peak`` / ``grad_peak_<network>``. For vanishing gradients
    it also reads the matching ``|loss|``: ``_loss`` or ``_loss_<network>``; without it (e.g. when
    reading logs) vanishing is not judged.
    """

    codes = ("grad_norm_exploding", "grad_norm_vanishing")

    def __init__(self, thresholds: GradientThresholds | None = None) -> None:
        super().__init__()
        self.th = thresholds or GradientThresholds()
        self._high: dict[str, Streak] = {}
        self._low: dict[str, Streak] = {}

    def _observe(self, step: int, metrics: Metrics) -> list[Alert]:
        alerts: list[Alert] = []
        for name in [k for k in metrics if k == "grad_norm" or k.startswith("grad_norm_")]:
            norm = get(metrics, name)
            if norm is None:
                continue
            suffix = name[len("grad_norm"):]
            alerts += self._judge(name, norm, get(metrics, "grad_peak" + suffix), get(metrics, "_loss" + suffix))
        return alerts

    def _judge(self, name: str, norm: float, peak: float | None, loss: float | None) -> list[Alert]:
        th = self.th
        whose = _whose(name)
        high = self._high.setdefault(name, Streak()).update(norm > th.exploding)
        low = self._low.setdefault(name, Streak()).update(norm < th.vanishing and loss is not None and loss > th.loss_floor)
        if peak is not None and peak > th.exploding_step and high < th.consecutive:
            return [Alert(
                "grad_norm_exploding",
                f"one optimizer step had a {whose}gradient norm of {peak:.3g} before clipping (threshold "
                f"{th.exploding_step:g} for a single step; the update's median was {norm:.3g}): the loss surface is so "
                "steep there that one step can throw the parameters far from where they were, and the next losses "
                "and gradients grow further until they become NaN.",
                peak, th.exploding_step,
            )]
        if high >= th.consecutive:
            return [Alert(
                "grad_norm_exploding",
                f"the {whose}gradient norm before clipping was {norm:.3g} (median over the update's optimizer steps) "
                f"for {high} updates in a row (threshold {th.exploding:g}): steps this large throw the parameters far "
                "from where they were; clipping (max_grad_norm) keeps only their direction, and without it losses and "
                "parameters soon become NaN.",
                norm, th.exploding,
            )]
        if low >= th.consecutive and loss is not None:
            return [Alert(
                "grad_norm_vanishing",
                f"the {whose}gradient norm was {norm:.2g} (median over the update's optimizer steps) for {low} updates "
                f"in a row (threshold {th.vanishing:g}) while the {whose}loss is {loss:.3g}: the loss is not at a "
                "minimum, yet almost no gradient reaches the parameters, so they stop changing. Usual causes: "
                "saturated tanh/sigmoid units (large inputs or weights), dead ReLUs, a squashed output stuck at its "
                "bounds.",
                norm, th.vanishing,
            )]
        return []


class ParamGradRule(Rule):
    """
    Reads ``params_without_grad`` (trainable parameters in an optimizer that stepped this update,
    that received no gradient at all) and ``params_not_in_optimizer`` (parameters that receive
    gradients but belong to no optimizer, so they never change), with the parameter names in the
    context keys ``_no_grad:<name>`` and ``_not_in_optimizer:<name>``.
    """

    codes = ("param_no_grad",)

    def __init__(self, thresholds: GradientThresholds | None = None) -> None:
        super().__init__()
        self.th = thresholds or GradientThresholds()
        self._without = Streak()
        self._outside = Streak()

    def _observe(self, step: int, metrics: Metrics) -> list[Alert]:
        th = self.th
        alerts: list[Alert] = []
        without, outside = get(metrics, "params_without_grad"), get(metrics, "params_not_in_optimizer")
        if without is not None:
            n = self._without.update(without > 0)
            if n >= th.no_grad_updates:
                names = listing(labels(metrics, NO_GRAD))
                alerts.append(Alert(
                    "param_no_grad",
                    f"{int(without)} trainable parameter(s) received no gradient in {n} updates in a row although "
                    f"their optimizer stepped: {names}. They never change: the loss does not depend on them (a "
                    "features extractor that calls .detach() or runs under torch.no_grad(), a layer that forward() "
                    "never uses).",
                    without, 0.0,
                ))
        if outside is not None:
            n = self._outside.update(outside > 0)
            if n >= th.no_grad_updates:
                names = listing(labels(metrics, NOT_IN_OPTIMIZER))
                alerts.append(Alert(
                    "param_no_grad",
                    f"{int(outside)} parameter(s) receive gradients but belong to no optimizer, so they never change: "
                    f"{names}. A layer created after the optimizer (e.g. after super()._build() in a custom policy) is "
                    "not in its param_groups.",
                    outside, 0.0,
                    hint="Create every layer before the optimizer (in _build, before self.optimizer = ...), or add its "
                    "parameters with optimizer.add_param_group().",
                ))
        return alerts

