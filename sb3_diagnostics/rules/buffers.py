"""Buffers: observations stored in another shape than the observation space's."""

from __future__ import annotations

from sb3_diagnostics.findings import Alert, Severity
from sb3_diagnostics.rules.base import Metrics, Rule, get, labels, listing
from sb3_diagnostics.thresholds import BufferThresholds

#: prefix of context keys describing one shape mismatch (value 1: it reaches a buffer, 0: only the env's output)
SHAPE = "_shape:"
#: prefix of context keys describing observations that are one buffer written in place (1: stored, 0: terminal only)
ALIASED = "_aliased:"
#: prefix of context keys naming one Box action dimension far from [-1, 1] (``"<label> in [low, high]"``)
FAR_ACTION = "_far_action:"
#: prefix of the labels of action dimensions that offer no choice
DEGENERATE_ACTION = "_degenerate_action:"


class BufferShapeRule(Rule):
    """
    Reads ``buffer_shape_mismatch`` (arrays stored, or about to be stored, in a rollout or replay
    buffer whose shape is not the observation space's) and ``env_obs_shape_mismatch`` (observations
    the environment returned in another shape, which the VecEnv reshaped before they reached a
    buffer), each described by a context key ``_shape:<description>``. One mismatch is enough.

    Reads ``obs_aliased`` (2: the observations SB3 is about to store are the same memory as the next
    ones; 1: only ``info["terminal_observation"]`` is overwritten by the next reset), described by
    ``_aliased:<description>``.

    Reads ``action_far_dims`` (``_far_action:<dim in [low, high]>``), the Box action dimensions far from
    [-1, 1], and ``action_degenerate_dims`` / ``action_dims`` (``_degenerate_action:<dim>``), the action dimensions
    that offer no choice, measured once at the start of ``learn()``; ``float_image_max``, the largest value of
    the float image observations the policy acted on, at each measurement.
    """

    codes = ("buffer_shape_mismatch", "obs_buffer_aliased", "action_space_not_normalized", "action_space_degenerate",
             "image_obs_not_scaled")

    def __init__(self, thresholds: BufferThresholds | None = None) -> None:
        super().__init__()
        self.th = thresholds or BufferThresholds()

    def _observe(self, step: int, metrics: Metrics) -> list[Alert]:
        return [*aliased_alerts(metrics), *self._shapes(metrics), *degenerate_action_alerts(metrics),
                *far_action_alerts(metrics, self.th.action_half_width),
                *image_scale_alerts(metrics, self.th.image_scaled_max)]

    def _shapes(self, metrics: Metrics) -> list[Alert]:
        stored, raw = get(metrics, "buffer_shape_mismatch"), get(metrics, "env_obs_shape_mismatch")
        described = labels(metrics, SHAPE)
        if stored:
            where = listing([d for d in described if metrics[SHAPE + d] == 1.0], 3)
            return [Alert(
                "buffer_shape_mismatch",
                f"{where}. Whatever the network does with these arrays (a Flatten hides a (1, n) vs (n,) mix-up, "
                "anything that indexes dimensions reads the wrong ones, a vectorised env broadcasts one "
                "observation into every env's slot), training no longer sees the data the environment produced.",
                stored, 0.0,
            )]
        if raw:
            where = listing([d for d in described if metrics[SHAPE + d] == 0.0], 3)
            return [Alert(
                "buffer_shape_mismatch",
                f"{where}. DummyVecEnv reshaped them silently before they were stored, so this run trains on the "
                "right shape, but SubprocVecEnv, wrappers and your own code see the wrong one (and SB3's buffers "
                "reject it as soon as n_envs > 1).",
                raw, 0.0, severity=Severity.WARNING,
            )]
        return []


def aliased_alerts(metrics: Metrics) -> list[Alert]:
    """
    ``obs_buffer_aliased`` from ``obs_aliased`` and its ``_aliased:<description>`` keys, the same verdict
    live (:class:`BufferShapeRule`) and before training (``EnvironmentRule``): 2, the observations SB3 is
    about to store are the same memory as the next ones (an error); 1, only what keeps the env's array by
    reference (``info["terminal_observation"]``, frame stacks) is overwritten (a warning).
    """
    kind = get(metrics, "obs_aliased")
    if not kind:
        return []
    what = listing(labels(metrics, ALIASED), 1)
    if kind >= 2:
        return [Alert(
            "obs_buffer_aliased",
            f"{what}. SB3 keeps the last observation by reference (model._last_obs) and stores it in its rollout or "
            "replay buffer after the next step; when the VecEnv writes that step into the same memory, every stored "
            "observation is the next one and every transition pairs an action with the observation that followed it "
            "(SuperSuit PR #116).",
            kind, 0.0,
        )]
    return [Alert(
        "obs_buffer_aliased",
        f"{what}. DummyVecEnv copies each observation into its own buffer, so most training data survives, but what "
        "keeps the env's array by reference is overwritten: info['terminal_observation'] becomes the first "
        "observation of the next episode (SB3 bootstraps truncated episodes from it), frame stacks hold one frame "
        "n times, and your own evaluation or logging code keeps a moving target.",
        kind, 0.0, severity=Severity.WARNING,
    )]


def far_action_alerts(metrics: Metrics, half_width: float) -> list[Alert]:
    """
    ``action_space_not_normalized`` from ``action_far_dims`` and its ``_far_action:`` keys, the same verdict
    live (at the start of ``learn()``) and before training.
    """
    far = get(metrics, "action_far_dims")
    if not far:
        return []
    return [Alert(
        "action_space_not_normalized",
        f"{int(far)} Box action dimension(s) are far from [-1, 1]: {listing(labels(metrics, FAR_ACTION), 4)}. "
        "PPO/A2C/TRPO's Gaussian policy starts at mean 0 with std 1, so its actions are clipped to a bound "
        "(or are tiny against the range) until the mean has travelled there; SAC/TD3/DDPG rescale from "
        "[-1, 1], where a huge range makes a small change of the network output a huge change of action "
        f"(threshold: half-width > {half_width:g}, or 0 not strictly inside the range).",
        far, half_width,
    )]


def degenerate_action_alerts(metrics: Metrics) -> list[Alert]:
    """
    ``action_space_degenerate`` from ``action_degenerate_dims`` / ``action_dims`` and the ``_degenerate_action:``
    labels, the same verdict live (at the start of ``learn()``) and before training: an error when no dimension
    offers a choice, a warning when some do.
    """
    degenerate, dims = get(metrics, "action_degenerate_dims"), get(metrics, "action_dims")
    if not degenerate or not dims:
        return []
    every = degenerate >= dims
    return [Alert(
        "action_space_degenerate",
        f"{int(degenerate)} of {int(dims)} action dimension(s) offer no choice: "
        f"{listing(labels(metrics, DEGENERATE_ACTION), 4)}. "
        + ("Whatever the policy outputs, the action is the same, so there is nothing to learn."
           if every else "The policy still spends exploration (and entropy bonus) on them for nothing."),
        degenerate, 0.0, severity=None if every else Severity.WARNING,
    )]


def image_scale_alerts(metrics: Metrics, scaled_max: float) -> list[Alert]:
    """``image_obs_not_scaled`` from ``float_image_max``, the same verdict live and before training."""
    top = get(metrics, "float_image_max")
    if top is None or top <= scaled_max:
        return []
    return [Alert(
        "image_obs_not_scaled",
        f"image-shaped float observations reach {top:.4g} (threshold {scaled_max:g}): SB3 divides only uint8 image "
        "observations by 255, so these reach the CNN in [0, 255], its activations saturate and it learns poorly "
        "(SB3 #268). Nothing to do if your own features extractor divides them by 255.",
        top, scaled_max,
    )]
