"""Training numerics: exploding or vanishing gradients, parameters without gradient, NaN/Inf anywhere."""

from __future__ import annotations

from sb3_diagnostics.catalog import GradientThresholds
from sb3_diagnostics.rules.base import Alert, Metrics, Rule, Streak, get

#: prefixes of context keys that carry a label instead of a number (the value is a flag or a step)
NO_GRAD = "_no_grad:"
NOT_IN_OPTIMIZER = "_not_in_optimizer:"
NONFINITE_AT = "_nonfinite_at:"


def labels(metrics: Metrics, prefix: str) -> list[str]:
    """
    The labels carried by context keys ``<prefix><label>`` (e.g. parameter names), in insertion order.

    :param metrics: the update's metrics
    :param prefix: key prefix, e.g. ``"_no_grad:"``
    :return: the labels
    """
    return [key[len(prefix):] for key in metrics if key.startswith(prefix)]


def listing(names: list[str], limit: int = 5) -> str:
    """
    :param names: what to list
    :param limit: how many to show
    :return: ``"a, b, c"`` or ``"a, b, c and 4 more"``
    """
    shown = ", ".join(names[:limit])
    return shown if len(names) <= limit else f"{shown} and {len(names) - limit} more"


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
    inputs = (
        "grad_norm", "grad_norm_actor", "grad_norm_critic", "grad_peak", "grad_peak_actor", "grad_peak_critic",
        "_loss", "_loss_actor", "_loss_critic",
    )

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
    inputs = ("params_without_grad", "params_not_in_optimizer")

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


class NonFiniteRule(Rule):
    """
    Reads ``nonfinite_count``: NaN/Inf entries found since the last observation, in observations,
    rewards, actions, losses, parameters or gradients, and where the first of them was seen, as
    the context key ``_nonfinite_at:<where>`` whose value is the step. The first location ever
    seen is kept and repeated in every alert: that is where to start looking.
    """

    codes = ("nan_detected",)
    inputs = ("nonfinite_count",)

    def __init__(self, thresholds: None = None) -> None:
        super().__init__()
        self.first: tuple[str, int] | None = None

    def _observe(self, step: int, metrics: Metrics) -> list[Alert]:
        count = get(metrics, "nonfinite_count")
        if not count:
            return []
        where = labels(metrics, NONFINITE_AT)
        if self.first is None and where:
            self.first = (where[0], int(metrics[NONFINITE_AT + where[0]]))
        first = f"The first appeared in {self.first[0]} at step {self.first[1]}" if self.first else "Source unknown"
        also = [w for w in where if self.first is None or w != self.first[0]]
        more = f"; now also in {listing(also, 3)}" if also else ""
        return [Alert(
            "nan_detected",
            f"{first}{more} ({int(count)} non-finite value(s) since the last check). Once a NaN reaches the loss, "
            "every parameter it touches becomes NaN and the policy is lost.",
            count, 0.0,
        )]
