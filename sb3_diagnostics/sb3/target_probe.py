"""
How fast target networks move, against what ``tau`` and ``target_update_interval`` allow
(``target_update_too_fast``: e.g. a ``polyak_update`` applied twice per gradient step).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch as th

from sb3_diagnostics.sb3.gradient_tap import GradientTap

#: (online, target) attribute pairs that SB3 and sb3-contrib keep on the algorithm
_TARGET_PAIRS = (("q_net", "q_net_target"), ("quantile_net", "quantile_net_target"),
                 ("critic", "critic_target"), ("actor", "actor_target"))


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
