"""
QValueCallback: Q-value scale, twin-critic agreement and target-network speed of off-policy
algorithms. BufferShapeCallback: observations stored in a buffer in the wrong shape.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.off_policy_algorithm import OffPolicyAlgorithm
from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm
from stable_baselines3.common.preprocessing import get_obs_shape

from sb3_diagnostics.callbacks._sb3 import _device_obs, replay_sample
from sb3_diagnostics.callbacks.base import DiagnosticCallback
from sb3_diagnostics.callbacks.gradients import GradientTap
from sb3_diagnostics.catalog import QValueThresholds
from sb3_diagnostics.rules.offpolicy import SHAPE, BufferShapeRule, QValueRule, TargetUpdateRule

#: (online, target) attribute pairs that SB3 and sb3-contrib keep on the algorithm
_TARGET_PAIRS = (("q_net", "q_net_target"), ("quantile_net", "quantile_net_target"),
                 ("critic", "critic_target"), ("actor", "actor_target"))


@contextmanager
def eval_mode(module: th.nn.Module) -> Iterator[None]:
    """Run with every submodule in eval mode (no batch-norm statistics update), then restore each flag exactly."""
    modes = [(m, m.training) for m in module.modules()]
    module.train(False)
    try:
        yield
    finally:
        for m, mode in modes:
            m.training = mode


def q_values(model: Any, obs: Any, actions: th.Tensor) -> th.Tensor:
    """
    Q-values of (observation, stored action) pairs, one column per critic, for every off-policy
    algorithm of SB3 and sb3-contrib: DQN (``q_net``), QR-DQN (``quantile_net``, mean over
    quantiles), SAC/TD3/DDPG/CrossQ (``critic`` returns one tensor per critic) and TQC (``critic``
    returns quantiles of shape ``(batch, n_critics, n_quantiles)``).

    :param model: the algorithm
    :param obs: observations as tensors (normalised the way the networks expect)
    :param actions: the actions stored in the replay buffer
    :return: shape ``(batch, n_critics)``
    """
    for attr in ("q_net", "quantile_net"):
        net = getattr(model, attr, None)
        if net is not None:
            out = net(obs)
            if out.dim() == 3:  # (batch, n_quantiles, n_actions)
                out = out.mean(dim=1)
            return th.gather(out, 1, actions.long().reshape(-1, 1))
    out = model.critic(obs, actions)
    if isinstance(out, (tuple, list)):
        return th.cat([q.reshape(q.shape[0], -1) for q in out], dim=1)
    return out.mean(dim=2) if out.dim() == 3 else out.reshape(out.shape[0], -1)


def q_stats(model: Any, rng: np.random.Generator, n_samples: int) -> dict[str, float]:
    """
    Mean Q and twin-critic spread on a sample of the replay buffer, drawn with ``rng`` (never
    ``replay_buffer.sample()``), in a no-grad pass with every module in eval mode.

    :param model: an off-policy algorithm
    :param rng: the caller's generator
    :param n_samples: transitions to evaluate
    :return: ``q_mean`` and, with two or more critics, ``q_value_spread`` (mean of max - min over critics)
    """
    sample = replay_sample(model, rng, n_samples)
    if sample is None:
        return {}
    obs, t, e = sample
    actions = th.as_tensor(model.replay_buffer.actions[t, e], device=model.device)
    with th.no_grad(), eval_mode(model.policy):
        q = q_values(model, _device_obs(model, obs), actions).double()
    out = {"q_mean": float(q.mean())}
    if q.shape[1] > 1:
        out["q_value_spread"] = float((q.max(dim=1).values - q.min(dim=1).values).mean())
    return out


@dataclass
class _Pair:
    """An (online, target) network pair and the entries of it the probe follows."""

    name: str
    owner: str  # optimizer that updates the followed online parameters
    online: list[th.Tensor]
    target: list[th.Tensor]
    index: list[th.Tensor]
    opened: tuple[th.Tensor, th.Tensor, int] | None = None
    offered: int = 0  # segments that could have been followed since the last read
    rate: float = 1.0  # fraction of them followed
    next_offer: int = 1  # the offer (count since the last read) that opens the next followed segment

    def snapshot(self) -> tuple[th.Tensor, th.Tensor]:
        take = lambda ps: th.cat([p.detach().reshape(-1)[i].double() for p, i in zip(ps, self.index, strict=True)])  # noqa: E731
        return take(self.online), take(self.target)


class TargetProbe:
    """
    How far target networks move, in polyak updates of strength ``tau``, against how many
    ``tau`` / ``target_update_interval`` (``policy_delay`` for TD3) allow.

    A polyak update moves the target ``T`` towards the online network ``O`` by exactly ``tau`` of
    the gap: ``T' - T = tau (O - T)``; ``k`` updates towards an unchanged ``O`` close
    ``1 - (1 - tau)^k`` of it. The online network only changes inside its optimizer's ``step()``,
    so between one step and the next (a *segment*) every movement of the target is polyak
    updates towards a fixed ``O``. The probe reads a few hundred fixed entries of both networks at
    the ends of each segment (optimizer post- and pre-step hooks of :class:`GradientTap`; a
    segment where ``O`` did change anyway is dropped), turns the fraction of the gap closed into a
    number of updates, and compares it with the number the algorithm's schedule allows in that
    segment (a hard update, ``tau=1``, counts once however often it is repeated).

    :param model: DQN, QR-DQN, SAC, TQC, TD3 or DDPG (or a subclass); anything else has no probe
    :param tap: the model's gradient tap
    :param rng: the caller's generator (picks the entries followed)
    :param entries: entries followed per tensor
    :param max_segments: segments followed per pair between two reads, on average (cost control: a
        random sample, drawn with ``rng``, sized from the previous read's count, and before the first
        read thinned as the count grows; a doubled update shows in every segment)
    """

    #: gaps below this fraction of the target's norm are too small to measure a movement in float32
    min_gap = 1e-4

    def __init__(
        self, model: Any, tap: GradientTap, rng: np.random.Generator, entries: int = 128, max_segments: int = 25
    ) -> None:
        self.model = model
        self.rng = rng
        self.max_segments = max_segments
        self.tau = float(getattr(model, "tau", 1.0))
        self.schedule = self._schedule(model)
        self.pairs: list[_Pair] = []
        self.seen = 0.0
        self.allowed = 0.0
        self._since_rollout: dict[str, int] = {}
        if self.schedule is None:
            return
        index = {id(p): i for i, p in enumerate(tap.params)}
        for online_attr, target_attr in _TARGET_PAIRS:
            online, target = getattr(model, online_attr, None), getattr(model, target_attr, None)
            if not isinstance(online, th.nn.Module) or not isinstance(target, th.nn.Module):
                continue
            pairs = list(zip(online.parameters(), target.parameters(), strict=False))
            owners = [tap.owners[index[id(o)]] if id(o) in index else () for o, _ in pairs]
            if not pairs or len(owners[-1]) != 1:
                continue
            owner = owners[-1][0]
            chosen = [j for j, (o, t) in enumerate(pairs) if owners[j] == (owner,) and o.shape == t.shape and o.numel()]
            if not chosen:
                continue
            chosen = sorted({chosen[0], chosen[-1]})  # first and last layer: polyak moves every entry alike
            idx = [th.as_tensor(rng.choice(pairs[j][0].numel(), min(entries, pairs[j][0].numel()), replace=False),
                                device=pairs[j][0].device) for j in chosen]
            self.pairs.append(_Pair(online_attr, owner, [pairs[j][0] for j in chosen], [pairs[j][1] for j in chosen], idx))

    @staticmethod
    def _schedule(model: Any) -> str | None:
        if hasattr(model, "_n_calls") and (hasattr(model, "q_net_target") or hasattr(model, "quantile_net_target")):
            return "dqn"  # polyak_update in _on_step(), every target_update_interval // n_envs env steps
        if hasattr(model, "critic_target") and hasattr(model, "policy_delay"):
            return "td3"  # after every delayed actor step
        if hasattr(model, "critic_target") and hasattr(model, "target_update_interval"):
            return "sac"  # after gradient step g of each train() call when g % target_update_interval == 0
        return None

    def new_rollout(self) -> None:
        """Called at the start of every rollout: the next optimizer step starts a new ``train()`` call."""
        if self._since_rollout:
            self._since_rollout.clear()

    def on_post(self, optimizer: str) -> None:
        """Open a segment for the pairs ``optimizer`` updates."""
        self._since_rollout[optimizer] = self._since_rollout.get(optimizer, 0) + 1
        for pair in self.pairs:
            if pair.owner != optimizer:
                continue
            pair.offered += 1
            if pair.offered < pair.next_offer:
                continue
            # Follow each segment with probability `rate`, drawing the gap to the next followed one
            # (geometric) rather than a coin per segment. Until a read sizes the rate, the n-th
            # segment is followed with probability max_segments / n: about
            # max_segments * (1 + ln(n / max_segments)) segments instead of all n.
            rate = min(pair.rate, self.max_segments / pair.offered)
            pair.next_offer = pair.offered + (1 if rate >= 1.0 else int(self.rng.geometric(rate)))
            online, target = pair.snapshot()
            pair.opened = (online, target, self._context(pair, optimizer))

    def on_pre(self, optimizer: str) -> None:
        """Close the open segment of the pairs ``optimizer`` updates."""
        for pair in self.pairs:
            if pair.owner == optimizer and pair.opened is not None:
                self._close(pair)
                pair.opened = None

    def _context(self, pair: _Pair, optimizer: str) -> int:
        if self.schedule == "dqn":
            return int(self.model._n_calls)
        if self.schedule == "td3":
            return int(self.model._n_updates)
        return self._since_rollout[optimizer] - 1  # index of the gradient step in this train() call

    def _allowed(self, pair: _Pair, opened: int) -> int:
        model = self.model
        if self.schedule == "dqn":
            period = max(int(model.target_update_interval) // int(model.n_envs), 1)
            return int(model._n_calls) // period - opened // period
        if self.schedule == "td3":
            return 1 if pair.name == "actor" or opened % int(model.policy_delay) == 0 else 0
        return 1 if opened % int(model.target_update_interval) == 0 else 0

    def _close(self, pair: _Pair) -> None:
        assert pair.opened is not None
        online0, target0, context = pair.opened
        online1, target1 = pair.snapshot()
        if not th.equal(online0, online1):
            return  # the online network changed outside its optimizer: nothing can be attributed
        allowed = self._allowed(pair, context)
        gap, moved = online0 - target0, target1 - target0
        gap2 = float(gap @ gap)
        if gap2 <= (self.min_gap ** 2) * float(target0 @ target0) or gap2 == 0.0:
            return  # target ~ online (e.g. right after a copy): a movement cannot be seen
        if self.tau >= 1.0:
            self.allowed += min(allowed, 1)
            self.seen += 1.0 if bool(moved.any()) else 0.0
            return
        self.allowed += allowed
        if not bool(moved.any()):
            return
        alpha = float(moved @ gap) / gap2
        residual = float(th.linalg.vector_norm(moved - alpha * gap)) / max(float(th.linalg.vector_norm(moved)), 1e-300)
        if residual > 0.1 or alpha <= 0.0:
            self.seen += 1.0  # moved, but not towards the online network: count it as one update
            return
        # alpha ~ 1 is a hard copy where soft updates were configured: as much as ~16 / tau soft updates.
        self.seen += math.log1p(-min(alpha, 1.0 - 1e-7)) / math.log1p(-self.tau)

    def read(self) -> dict[str, float]:
        """:return: ``target_drift_ratio`` (and its counts) since the last read; empty without evidence."""
        seen, allowed = self.seen, self.allowed
        self.seen = self.allowed = 0.0
        for pair in self.pairs:
            pair.rate, pair.offered = min(1.0, self.max_segments / max(pair.offered, 1)), 0
            pair.next_offer = 1 if pair.rate >= 1.0 else int(self.rng.geometric(pair.rate))
        if seen == 0.0 and allowed == 0.0:
            return {}
        return {
            "target_drift_ratio": seen / max(allowed, 1.0),
            "_target_updates_seen": seen,
            "_target_updates_allowed": allowed,
        }


def _critic_of(model: BaseAlgorithm) -> str | None:
    for attr in ("q_net", "quantile_net", "critic"):
        if isinstance(getattr(model, attr, None), th.nn.Module):
            return attr
    return None


class QValueCallback(DiagnosticCallback):
    """
    Off-policy value learning (SAC, TD3, DDPG, DQN, and sb3-contrib's TQC, QR-DQN, CrossQ):

    - ``q_value_divergence``: ``|mean Q|`` above 1000 and still growing (above 1000 but stable
      is ``info``: a trained agent on a task with large returns sits there legitimately);
    - ``q_twin_divergence``: the critics disagree by more than 100 on average (and by more than
      10% of ``|mean Q|``);
    - ``target_update_too_fast``: the target network moves more per update than ``tau`` and
      ``target_update_interval`` allow (a doubled ``polyak_update``; see :class:`TargetProbe`).

    Q-values are measured with a no-grad pass of the critics on ``samples`` replay-buffer
    transitions drawn with the check's own generator. Logs ``diagnostics/q_mean``,
    ``diagnostics/q_value_spread`` and ``diagnostics/target_drift_ratio``.

    :param thresholds: :class:`~sb3_diagnostics.catalog.QValueThresholds` or a dict of its fields
    See :class:`~sb3_diagnostics.callbacks.base.DiagnosticCallback` for the other parameters.
    """

    check_name = "q_values"
    thresholds_class = QValueThresholds
    rule_classes = (QValueRule, TargetUpdateRule)

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self._tap: GradientTap | None = None
        self._probe: TargetProbe | None = None

    @classmethod
    def not_applicable(cls, model: BaseAlgorithm) -> str | None:
        if not isinstance(model, OffPolicyAlgorithm):
            return f"{type(model).__name__} is not an off-policy algorithm (no replay buffer, no Q-function)"
        if _critic_of(model) is None:
            return f"{type(model).__name__} has no q_net, quantile_net or critic to evaluate"
        return None

    def _setup(self) -> None:
        self._tap = GradientTap.for_model(self.model)
        self._tap.attach(self, self.model)  # optimizer events only: the probe needs no gradients
        probe = TargetProbe(self.model, self._tap, self.rng)
        self._probe = probe if probe.pairs else None
        if self._probe is not None:
            self._tap.attach(self, self.model, on_pre=self._probe.on_pre, on_post=self._probe.on_post)

    def _on_rollout_start(self) -> None:
        if self._active and self._probe is not None:
            self._guard(self._probe.new_rollout)

    def _measure(self) -> dict[str, float]:
        assert isinstance(self.thresholds, QValueThresholds) and self._tap is not None
        if self._tap.error is not None:
            raise self._tap.error
        out = q_stats(self.model, self.rng, self.thresholds.samples) if getattr(self.model, "replay_buffer", None) else {}
        if self._probe is not None:
            out.update(self._probe.read())
        return out

    def _measure_final(self) -> dict[str, float]:
        return self._probe.read() if self._probe is not None else {}

    def _teardown(self) -> None:
        if self._tap is not None:
            self._tap.detach(self)


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
    shape than the observation space's (seed 001, Issue 0.4: an observation stored as ``(1, n)``
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
    Works for on- and off-policy algorithms.

    See :class:`~sb3_diagnostics.callbacks.base.DiagnosticCallback` for the parameters; there are no thresholds.
    """

    check_name = "buffers"
    rule_classes = (BufferShapeRule,)

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self._reported: set[str] = set()
        self._pending: dict[str, float] = {}

    def _setup(self) -> None:
        space = self.model.observation_space
        self._expected = _expected_shapes(space)
        self._n_envs = int(self.model.n_envs)
        self._vec_shape = (self._n_envs, *self._expected[None]) if None in self._expected else None
        self._check_buffers()
        self._flush()

    def _report(self, description: str, stored: bool) -> None:
        if description not in self._reported:
            self._reported.add(description)
            self._pending[description] = 1.0 if stored else 0.0

    def _flush(self) -> None:
        if not self._pending:
            return
        metrics = {
            "buffer_shape_mismatch": float(sum(v == 1.0 for v in self._pending.values())),
            "env_obs_shape_mismatch": float(sum(v == 0.0 for v in self._pending.values())),
        }
        metrics.update({SHAPE + d: v for d, v in self._pending.items()})
        self._pending = {}
        self._judge(metrics)

    def _check_buffers(self) -> None:
        stored = _stored_shapes(self.model.observation_space)
        buffers: list[tuple[str, Any]] = []
        if isinstance(self.model, OnPolicyAlgorithm):
            buffers.append(("rollout buffer", getattr(self.model, "rollout_buffer", None)))
        if isinstance(self.model, OffPolicyAlgorithm):
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

    def _on_env_step(self) -> None:
        locals_ = self.locals
        new_obs, dones = locals_.get("new_obs"), locals_.get("dones")
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
        return {}
