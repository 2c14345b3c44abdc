"""BufferShapeCallback: observations stored in a rollout or replay buffer in the wrong shape."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from gymnasium import spaces
from stable_baselines3.common.preprocessing import get_obs_shape

from sb3_diagnostics.callbacks.base import DiagnosticCallback, StopOn
from sb3_diagnostics.rules.buffers import ALIASED, DEGENERATE_ACTION, FAR_ACTION, SHAPE
from sb3_diagnostics.sb3.models import NO_STEP_LOCALS, is_off_policy, is_on_policy, shares_step_locals
from sb3_diagnostics.sb3.spaces import degenerate_action_dims, far_action_dims, float_image_max, shared_memory
from sb3_diagnostics.sb3.steps import last_observation, raw_terminal_observation
from sb3_diagnostics.thresholds import BufferThresholds


def _expected_shapes(space: spaces.Space) -> dict[str | None, tuple[int, ...]]:
    """Per key (None for non-dict spaces): the shape of one observation as the environment returns it."""
    if isinstance(space, spaces.Dict):
        return {k: tuple(sub.shape or ()) for k, sub in space.spaces.items()}
    return {None: tuple(space.shape or ())}


def _stored_shapes(space: spaces.Space) -> dict[str | None, tuple[int, ...]]:
    """Per key: the shape SB3's buffers store one observation in (``(1,)`` for Discrete)."""
    shape = get_obs_shape(space)
    if isinstance(shape, dict):
        return {k: tuple(v) for k, v in shape.items()}
    return {None: tuple(shape)}


def _by_key(value: Any) -> dict[str | None, Any]:
    return dict(value) if isinstance(value, dict) else {None: value}


def _key_text(key: str | None) -> str:
    return "" if key is None else f" (key {key!r})"


class BufferShapeCallback(DiagnosticCallback):
    """
    ``buffer_shape_mismatch``: observations that reach a rollout or replay buffer in another
    shape than the observation space's (e.g. an observation stored as ``(1, n)``
    where the space is ``(n,)``). Checked three ways, all by comparing shapes (no copies):

    - at the start of every ``learn()``: the arrays of the model's buffers, e.g. a replay buffer
      built or loaded (``load_replay_buffer``) for another observation shape (``error``);
    - every environment step: what ``env.step()`` returned, which SB3 writes into its buffer
      as it is (numpy broadcasts ``(1, n)`` into an ``(n,)`` slot, or into every env's slot)
      (``error``);
    - at episode ends: ``info["terminal_observation"]``, the environment's raw output, which
      reveals an env returning ``(1, n)`` for an ``(n,)`` space even when DummyVecEnv reshapes
      the others (``warning``).

    A mismatch is judged at once, so ``stop_on="error"`` stops before SB3 stores the array.

    ``obs_buffer_aliased``: observations that are one buffer mutated in place, seen two ways (by
    identity and memory, no copies):

    - every environment step: ``new_obs`` is the same memory as the observation SB3 is about to store
      (``_last_obs``), so the buffer gets the next observation as the current one (a VecEnv that hands
      out its internal buffer) (``error``);
    - at episode ends: ``info["terminal_observation"]`` is the very array of the env's previous
      episode end and already holds the next episode's first observation (an env that returns one
      array; DummyVecEnv copies the others, but not this one) (``warning``).

    ``action_space_not_normalized`` and ``action_space_degenerate``: at the start of every ``learn()``, Box
    action dimensions far from [-1, 1] (``warning``) or without a choice, as the pre-flight judges them.
    ``image_obs_not_scaled``: at each measurement, float image observations the policy acts on above
    ``image_scaled_max`` (SB3 divides only uint8 images by 255).

    Works for on- and off-policy algorithms.

    :param thresholds: :class:`~sb3_diagnostics.thresholds.BufferThresholds` or a dict of its fields

    See :class:`~sb3_diagnostics.callbacks.base.DiagnosticCallback` for the other parameters.
    """

    check_name = "buffers"

    def __init__(
        self,
        thresholds: BufferThresholds | Mapping[str, Any] | None = None,
        *,
        stop_on: StopOn = None,
        cooldown: int = 10,
        seed: int = 0,
        off_policy_interval: int = 1000,
        off_policy_updates: int | None = 250,
        verbose: int = 0,
    ) -> None:
        super().__init__(BufferThresholds.coerce(thresholds), stop_on=stop_on, cooldown=cooldown, seed=seed,
                         off_policy_interval=off_policy_interval, off_policy_updates=off_policy_updates, verbose=verbose)

    @classmethod
    def not_applicable(cls, model: Any) -> str | None:
        return None if shares_step_locals(model) else NO_STEP_LOCALS.format(name=type(model).__name__)

    def _init_state(self) -> None:
        self._reported: set[str] = set()
        self._pending: dict[str, float] = {}
        #: per env, the last terminal observation seen (held by reference: the identity test needs it alive)
        self._terminal: dict[int, Any] = {}
        self._aliasing_seen = False

    def _setup(self) -> None:
        space = self.model.observation_space
        self._expected = _expected_shapes(space)
        self._n_envs = int(self.model.n_envs)
        self._vec_shape = (self._n_envs, *self._expected[None]) if None in self._expected else None
        self._check_buffers()
        self._flush()
        assert isinstance(self.thresholds, BufferThresholds)
        far = far_action_dims(self.model.action_space, self.thresholds.action_half_width)
        degenerate, dims = degenerate_action_dims(self.model.action_space)
        if far or degenerate:
            self._judge({"action_far_dims": float(len(far)), **{FAR_ACTION + label: 1.0 for label in far},
                         "action_dims": float(dims), "action_degenerate_dims": float(len(degenerate)),
                         **{DEGENERATE_ACTION + label: 1.0 for label in degenerate}})

    def _report(self, description: str, stored: bool) -> None:
        if description not in self._reported:
            self._reported.add(description)
            self._pending[description] = 1.0 if stored else 0.0

    def _report_aliasing(self, description: str, stored: bool) -> None:
        self._aliasing_seen = True
        self._pending[ALIASED + description] = 1.0 if stored else 0.0

    def _flush(self) -> None:
        if not self._pending:
            return
        aliasing = {d: v for d, v in self._pending.items() if d.startswith(ALIASED)}
        shapes = {d: v for d, v in self._pending.items() if d not in aliasing}
        metrics = {
            "buffer_shape_mismatch": float(sum(v == 1.0 for v in shapes.values())),
            "env_obs_shape_mismatch": float(sum(v == 0.0 for v in shapes.values())),
            "obs_aliased": max(aliasing.values(), default=-1.0) + 1.0,  # 2: stored in a buffer, 1: terminal only
        }
        self._pending = shapes
        metrics.update({SHAPE + d: v for d, v in shapes.items()})
        metrics.update(aliasing)
        self._pending = {}
        self._judge(metrics)

    def _check_buffers(self) -> None:
        stored = _stored_shapes(self.model.observation_space)
        buffers: list[tuple[str, Any]] = []
        if is_on_policy(self.model):
            buffers.append(("rollout buffer", getattr(self.model, "rollout_buffer", None)))
        if is_off_policy(self.model):
            buffers.append(("replay buffer", getattr(self.model, "replay_buffer", None)))
        for name, buf in buffers:
            # After RolloutBuffer.get() the arrays are flattened to (n_steps * n_envs, ...) until the next reset().
            leading = 1 if getattr(buf, "generator_ready", False) else 2
            wrong: dict[tuple[str | None, tuple[int, ...]], list[str]] = {}
            for attr in ("observations", "next_observations"):
                for key, array in _by_key(getattr(buf, attr, None)).items():
                    shape = tuple(np.shape(array)[leading:])
                    if array is not None and key in stored and shape != stored[key]:
                        wrong.setdefault((key, shape), []).append(attr)
            for (key, shape), attrs in wrong.items():
                self._report(
                    f"the {name} stores {' and '.join(attrs)} of shape {shape} per env{_key_text(key)}, but the "
                    f"model's observation space has shape {stored[key]} (a buffer built or loaded for another "
                    "observation shape)", stored=True)

    def _check_aliasing(self, new_obs: Any, dones: Any) -> None:
        where = shared_memory(last_observation(self.model), new_obs)
        if where is not None:
            self._report_aliasing(
                f"the observations{where} env.step() returned are the same memory as the ones SB3 is about to store "
                "for the previous step (the VecEnv returns one buffer, written in place)", stored=True)
            return
        if type(dones) is not np.ndarray or not dones.any():
            return
        for i in np.flatnonzero(dones).tolist():
            raw = raw_terminal_observation(self.model, i)
            if raw is None:
                return  # not a DummyVecEnv: the raw terminal observation is out of reach
            terminal, first = raw
            held, self._terminal[i] = self._terminal.get(i), terminal
            if held is not terminal:
                continue
            after = _by_key(first)
            if all(k in after and np.array_equal(v, after[k]) for k, v in _by_key(terminal).items()):
                self._report_aliasing(
                    f"the terminal observation env {i} returned is the same array at two episode ends and already "
                    "holds the first observation of the next episode (the env returns one array, written in place)",
                    stored=False)
                return

    def _on_env_step(self) -> None:
        locals_ = self.locals
        new_obs, dones = locals_.get("new_obs"), locals_.get("dones")
        if not self._aliasing_seen:
            self._check_aliasing(new_obs, dones)
            self._flush()
        if type(new_obs) is np.ndarray and new_obs.shape == self._vec_shape and type(dones) is np.ndarray:
            ended = dones.tolist()
            if True not in ended:
                return  # the common case, in a few hundred nanoseconds
            shape = self._expected[None]
            if all(
                (t := info.get("terminal_observation")) is None or (t.shape if type(t) is np.ndarray else np.shape(t)) == shape
                for info, done in zip(locals_["infos"], ended, strict=True) if done
            ):
                return  # episodes ended, their last observations have the right shape
        for key, obs in _by_key(new_obs).items():
            expected = (self._n_envs, *self._expected.get(key, ()))
            shape = tuple(np.shape(obs))
            if key in self._expected and shape != expected:
                self._report(
                    f"env.step() returned observations of shape {shape}{_key_text(key)} where {expected} "
                    f"(n_envs, *observation_space.shape) was expected, and SB3 stores them in its buffer as they are",
                    stored=True)
        if dones is not None and np.any(dones):
            for i in np.nonzero(dones)[0]:
                terminal = locals_["infos"][i].get("terminal_observation")
                if terminal is None:
                    continue
                for key, obs in _by_key(terminal).items():
                    shape = tuple(np.shape(obs))
                    if key in self._expected and shape != self._expected[key]:
                        self._report(
                            f"the environment returns observations of shape {shape}{_key_text(key)} for its declared "
                            f"observation space of shape {self._expected[key]} (seen in info['terminal_observation'] "
                            "at an episode end)", stored=False)
        self._flush()

    def _measure(self) -> dict[str, float]:
        self._check_buffers()  # a buffer swapped between updates (model.replay_buffer = ...)
        self._flush()
        # float images the policy acts on, as SB3 hands them over (after VecNormalize, if any)
        top = float_image_max(self.model.observation_space, last_observation(self.model))
        return {} if top is None else {"float_image_max": top}
