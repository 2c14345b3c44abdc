"""Gradients: exploding or vanishing norms, parameters that never receive a gradient."""

from __future__ import annotations

import dataclasses

from sb3_diagnostics.findings import Alert, Severity
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
    and the largest single step, ``grad_peak`` / ``grad_peak_<network>``, and the window's first step,
    ``_grad_first`` / ``_grad_first_<network>``. A single huge step in a window that began with ordinary
    gradients is the steps of that window throwing the parameters into a steep region (a learning rate far too
    high: its KL says so first); it is reported when the next window shows it again. For vanishing gradients
    it also reads the matching ``|loss|``: ``_loss`` or ``_loss_<network>``; without it (e.g. when
    reading logs) vanishing is not judged.
    """

    codes = ("grad_norm_exploding", "grad_norm_vanishing")

    def __init__(self, thresholds: GradientThresholds | None = None) -> None:
        super().__init__()
        self.th = thresholds or GradientThresholds()
        self._high: dict[str, Streak] = {}
        self._low: dict[str, Streak] = {}
        self._spiked: set[str] = set()  # a single huge step arose within the last window, not yet confirmed

    def _observe(self, step: int, metrics: Metrics) -> list[Alert]:
        alerts: list[Alert] = []
        for name in [k for k in metrics if k == "grad_norm" or k.startswith("grad_norm_")]:
            norm = get(metrics, name)
            if norm is None:
                continue
            suffix = name[len("grad_norm"):]
            found = self._judge(name, norm, get(metrics, "grad_peak" + suffix), get(metrics, "_loss" + suffix),
                                get(metrics, "_grad_first" + suffix))
            if suffix == "_actor" and get(metrics, "_deterministic_actor"):
                found = [self._pinned_actor(a) if a.code == "grad_norm_vanishing" else a for a in found]
            alerts += found
        return alerts

    @staticmethod
    def _pinned_actor(alert: Alert) -> Alert:
        """A deterministic actor (TD3, DDPG) whose tanh output sits at the action bounds: ~0 gradient by design."""
        return dataclasses.replace(
            alert, severity=Severity.INFO,
            message=alert.message + " For a deterministic actor (TD3, DDPG) this is what actions at the bounds of the "
            "action space look like: the critic asks for more than the tanh output can give, which is how bang-bang "
            "control (MountainCarContinuous at full throttle) converges. A problem only if the return does not "
            "improve; then scale the observations.",
        )

    def _judge(
        self, name: str, norm: float, peak: float | None, loss: float | None, first: float | None = None
    ) -> list[Alert]:
        th = self.th
        whose = _whose(name)
        high = self._high.setdefault(name, Streak()).update(norm > th.exploding)
        low = self._low.setdefault(name, Streak()).update(norm < th.vanishing and loss is not None and loss > th.loss_floor)
        spike = peak is not None and peak > th.exploding_step
        confirmed = name in self._spiked
        self._spiked.discard(name)
        if spike and high < th.consecutive:
            assert peak is not None
            if first is not None and first <= th.exploding and not confirmed:
                # began ordinary, exploded after this window's own steps: wait for the next window
                self._spiked.add(name)
                return []
            again = " again, after a window whose steps had already thrown the gradients that high" if confirmed else ""
            return [Alert(
                "grad_norm_exploding",
                f"one optimizer step had a {whose}gradient norm of {peak:.3g} before clipping{again} (threshold "
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
    gradients but belong to no optimizer, so they never change; a structural fact, reported at the
    first measurement that shows it), with the parameter names in the context keys ``_no_grad:<name>``
    and ``_not_in_optimizer:<name>``.
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
        # structural, not noise: a parameter with a gradient that no optimizer holds is never stepped
        if outside is not None and self._outside.update(outside > 0):
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




#: prefix of context keys naming a layer or parameter kept in a plain list or dict (``_unregistered:<path>``)
UNREGISTERED = "_unregistered:"


def registration_metrics(unregistered: list[str]) -> dict[str, float]:
    """
    :param unregistered: paths of the layers and parameters kept in a plain list or dict (from
        :func:`sb3_diagnostics.sb3.models.unregistered_modules`)
    :return: the metrics :class:`RegistrationRule` judges
    """
    return {"modules_not_registered": float(len(unregistered)), **{UNREGISTERED + name: 1.0 for name in unregistered}}


class RegistrationRule(Rule):
    """
    ``module_not_registered``: layers or parameters kept in a plain Python list or dict of a module, which PyTorch
    does not register (``modules_not_registered``, their paths in ``_unregistered:<path>``). Structural: judged
    when training starts, and by ``check_policy``.
    """

    codes = ("module_not_registered",)

    def __init__(self, thresholds: GradientThresholds | None = None) -> None:
        super().__init__()  # nothing to tune: a layer is registered or it is not

    def _observe(self, step: int, metrics: Metrics) -> list[Alert]:
        count = get(metrics, "modules_not_registered")
        if not count:
            return []
        return [Alert(
            "module_not_registered",
            f"{int(count)} layer(s) or parameter(s) are kept in a plain Python list or dict: "
            f"{listing(labels(metrics, UNREGISTERED), limit=6)}. PyTorch does not register them, so they are not in "
            "policy.parameters(): the optimizer never updates them, model.save() does not store them and .to(device) "
            "does not move them. The forward pass still uses them, so training runs while their weights never change.",
            count, 0.0,
        )]

#: prefix of context keys naming a narrow layer (``_narrow:net_arch[1] = 2``)
NARROW = "_narrow:"
#: prefix of context keys naming a layer with stuck units (value: the stuck fraction)
STUCK = "_stuck:"


class NetworkRule(Rule):
    """
    ``network_too_small``. Reads ``narrow_layers`` (hidden layers of at most ``narrow_width`` units that
    are narrower than the observation, named by ``_narrow:<where> = <width>``; judged once, when
    training starts) and ``stuck_units_frac`` (the largest fraction of one layer's units that are dead or
    saturated on every observation of a sample, layers of ``stuck_min_units`` or more; the layers above
    ``stuck_units`` in ``_stuck:<layer> (<k> of <n> units)``).

    Stuck units are judged by ``check_policy`` only, on observations sampled from the space before training:
    measured live on the buffers, a healthy PPO critic on CartPole has whole layers of tanh units at a bound
    once its values reach the hundreds, so a trained network's saturation says nothing about a fault.
    """

    codes = ("network_too_small",)

    def __init__(self, thresholds: GradientThresholds | None = None) -> None:
        super().__init__()
        self.th = thresholds or GradientThresholds()

    def _observe(self, step: int, metrics: Metrics) -> list[Alert]:
        th, alerts = self.th, []
        narrow = get(metrics, "narrow_layers")
        if narrow:
            alerts.append(Alert(
                "network_too_small",
                f"{int(narrow)} hidden layer(s) have at most {th.narrow_width} unit(s) while the observation has more "
                f"dimensions: {listing(labels(metrics, NARROW), 4)}. Everything the policy or value function computes "
                "must pass through that bottleneck, so it cannot represent more than 1-2 numbers about the state "
                "(often a typo in net_arch, or features_dim=1 in a custom features extractor).",
                narrow, float(th.narrow_width),
                hint="Widen the layer: net_arch=[64, 64] (SB3's default for PPO/A2C/DQN), dict(pi=[64, 64], vf=[64, "
                     "64]), or a features_dim of at least the observation size.",
            ))
        frac = get(metrics, "stuck_units_frac")
        if frac is not None and frac > th.stuck_units:
            alerts.append(Alert(
                "network_too_small",
                f"{100 * frac:.0f}% of the units of a layer are dead (ReLU at 0) or saturated (tanh/sigmoid at a bound) "
                f"on every observation sampled from the observation space (threshold {100 * th.stuck_units:g}%): "
                f"{listing(labels(metrics, STUCK), 3)}. Those units pass no gradient and say nothing about the state, "
                "so the network works with a fraction of its width.",
                frac, th.stuck_units,
                hint="Scale the observations into ~[-1, 1] (VecNormalize(norm_obs=True), or divide in the env): huge "
                     "inputs pin every tanh unit at a bound. If the real observations are much smaller than the "
                     "declared space, declare tighter bounds.",
            ))
        return alerts


def network_metrics(
    narrow: list[str], activity: dict[str, tuple[int, int]] | None, th: GradientThresholds
) -> dict[str, float]:
    """The metrics :class:`~sb3_diagnostics.rules.gradients.NetworkRule` reads, from what was measured."""
    out: dict[str, float] = {}
    if narrow:
        out["narrow_layers"] = float(len(narrow))
        out.update({NARROW + d: 1.0 for d in narrow})
    if activity:
        judged = {name: (k, n) for name, (k, n) in activity.items() if n >= th.stuck_min_units}
        if judged:
            out["stuck_units_frac"] = max(k / n for k, n in judged.values())
            out.update({f"{STUCK}{name} ({k} of {n} units)": k / n for name, (k, n) in judged.items()
                        if k / n > th.stuck_units})
    return out
