"""Buffers: observations stored in another shape than the observation space's."""

from __future__ import annotations

from sb3_diagnostics.findings import Alert, Severity
from sb3_diagnostics.rules.base import Metrics, Rule, get, labels, listing

#: prefix of context keys describing one shape mismatch (value 1: it reaches a buffer, 0: only the env's output)
SHAPE = "_shape:"
#: prefix of context keys describing observations that are one buffer written in place (1: stored, 0: terminal only)
ALIASED = "_aliased:"


class BufferShapeRule(Rule):
    """
    Reads ``buffer_shape_mismatch`` (arrays stored, or about to be stored, in a rollout or replay
    buffer whose shape is not the observation space's) and ``env_obs_shape_mismatch`` (observations
    the environment returned in another shape, which the VecEnv reshaped before they reached a
    buffer), each described by a context key ``_shape:<description>``. One mismatch is enough.

    Reads ``obs_aliased`` (2: the observations SB3 is about to store are the same memory as the next
    ones; 1: only ``info["terminal_observation"]`` is overwritten by the next reset), described by
    ``_aliased:<description>``.
    """

    codes = ("buffer_shape_mismatch", "obs_buffer_aliased")

    def __init__(self, thresholds: None = None) -> None:
        super().__init__()

    def _observe(self, step: int, metrics: Metrics) -> list[Alert]:
        return [*aliased_alerts(metrics), *self._shapes(metrics)]

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
