"""RewardSignalCallback: the reward the environment really gives, and what episodes look like."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np
from stable_baselines3.common.base_class import BaseAlgorithm

from sb3_diagnostics.callbacks.base import DiagnosticCallback
from sb3_diagnostics.catalog import EpisodeThresholds, RewardThresholds, Thresholds
from sb3_diagnostics.rules import Rule
from sb3_diagnostics.rules.episodes import EpisodeRule
from sb3_diagnostics.rules.reward import RewardRule, reward_metrics


class _Rows:
    """One row per step, written into a growing array: no allocation per step, no stacking per window."""

    def __init__(self, dtype: type) -> None:
        self.dtype = dtype
        self.n = 0
        self._data: np.ndarray | None = None

    def append(self, row: Any) -> None:
        data = self._data
        if data is None or self.n == len(data):
            data = self._grow(np.shape(row))
        data[self.n] = row
        self.n += 1

    def _grow(self, shape: tuple[int, ...]) -> np.ndarray:
        data: np.ndarray = np.empty((max(256, 2 * self.n), *shape), dtype=self.dtype)
        if self._data is not None:
            data[: self.n] = self._data[: self.n]
        self._data = data
        return data

    @property
    def row_shape(self) -> tuple[int, ...] | None:
        return None if self._data is None else self._data.shape[1:]

    def rows(self) -> np.ndarray:
        """The rows so far (a view, valid until the next :meth:`append` after :meth:`clear`)."""
        return self._data[: self.n] if self._data is not None else np.empty((0, 0), dtype=self.dtype)

    def clear(self) -> None:
        self.n = 0

    def shrink(self) -> None:
        """Keep only the rows so far (between ``learn()`` calls, the room for a whole window is not needed)."""
        self._data = self._data[: self.n].copy() if self._data is not None and self.n else None


class RewardSignalCallback(DiagnosticCallback):
    """
    Judges the raw reward (before ``VecNormalize``, from ``get_original_reward``) over windows of
    at least ``window_samples`` steps, for every algorithm: ``reward_all_zero``, ``reward_sparse``,
    ``reward_scale_tiny``, ``reward_scale_huge``, ``reward_constant``, ``reward_low_snr``,
    ``reward_component_imbalance``; and the episodes: ``episode_length_degenerate``,
    ``reward_decreasing``.

    Reward components: when ``info["reward_components"]`` is a dict of floats, each component is
    logged under ``diagnostics/reward_component/<name>`` (its share of the reward variance) and
    judged for imbalance. Episode returns are summed from the rewards the algorithm received, between
    ``dones``; episode length and reward statistics are SB3's own (``ep_info_buffer``, from Monitor).

    Per step it copies the rewards and done flags and looks for those two ``info`` keys.

    :param thresholds: :class:`~sb3_diagnostics.catalog.RewardThresholds` or a dict of its fields
    :param episode_thresholds: :class:`~sb3_diagnostics.catalog.EpisodeThresholds` or a dict of its fields
    :param window_samples: rewards per judged window (all envs together)
    See :class:`~sb3_diagnostics.callbacks.base.DiagnosticCallback` for the other parameters.
    """

    check_name = "reward"
    thresholds_class = RewardThresholds
    rule_classes = (RewardRule,)

    def __init__(
        self,
        thresholds: RewardThresholds | dict[str, Any] | None = None,
        *,
        episode_thresholds: EpisodeThresholds | dict[str, Any] | None = None,
        window_samples: int = 1000,
        **kwargs: Any,
    ) -> None:
        super().__init__(thresholds, **kwargs)
        self.episode_thresholds = EpisodeThresholds.coerce(episode_thresholds)
        self.window_samples = window_samples
        self._rewards = _Rows(np.float64)
        self._dones = _Rows(bool)
        self._truncated: list[bool] = []
        self._components: dict[str, list[float]] = defaultdict(list)

    @classmethod
    def make_rules(
        cls,
        thresholds: Thresholds | dict[str, Any] | None = None,
        episode_thresholds: EpisodeThresholds | dict[str, Any] | None = None,
    ) -> list[Rule]:
        return [*super().make_rules(thresholds), EpisodeRule(EpisodeThresholds.coerce(episode_thresholds))]

    def _make_rules(self) -> list[Rule]:
        return self.make_rules(self.thresholds, self.episode_thresholds)

    @classmethod
    def not_applicable(cls, model: BaseAlgorithm) -> str | None:
        return None

    def _setup(self) -> None:
        self._vec_normalize = self.model.get_vec_normalize_env()
        if self._rewards.row_shape not in (None, (self.model.n_envs,)):
            # this callback now trains a model with another number of envs: a window cannot mix the two
            self._rewards, self._dones = _Rows(np.float64), _Rows(bool)
            self._truncated.clear()
            self._components.clear()

    def _teardown(self) -> None:
        self._rewards.shrink()
        self._dones.shrink()

    def _on_env_step(self) -> None:
        locals_ = self.locals
        vn = self._vec_normalize
        raw = vn.get_original_reward() if vn is not None else locals_["rewards"]
        dones = locals_["dones"]
        self._rewards.append(raw)
        self._dones.append(dones)
        infos = locals_["infos"]
        if True in (ended := np.asarray(dones).tolist()):
            for info, done in zip(infos, ended, strict=True):
                if done:
                    self._truncated.append(bool(info.get("TimeLimit.truncated", False)))
        # Reward components come in every step's info (the documented convention), so the first
        # env's info says whether to look at all of them.
        if infos and isinstance(infos[0].get("reward_components"), dict):
            for info in infos:
                components = info.get("reward_components")
                if isinstance(components, dict):
                    for name, value in components.items():
                        self._components[str(name)].append(float(value))

    def _measure(self) -> dict[str, float]:
        out: dict[str, float] = {}
        buffer = self.model.ep_info_buffer
        if buffer:
            out["_ep_rew_mean"] = float(np.mean([ep["r"] for ep in buffer]))
            out["_ep_len_mean"] = float(np.mean([ep["l"] for ep in buffer]))
            out["_ep_len_std"] = float(np.std([ep["l"] for ep in buffer]))
        rewards, dones = self._rewards.rows(), self._dones.rows()
        if rewards.size < self.window_samples:
            return out
        lengths = {len(v) for v in self._components.values()}
        components = {k: np.asarray(v) for k, v in self._components.items()} if len(lengths) == 1 else None
        # Episode returns from the rewards the algorithm received (Monitor may sit below a reward wrapper).
        out.update(reward_metrics(
            rewards, dones, gamma=float(getattr(self.model, "gamma", 0.99)),
            terminated=(~np.asarray(self._truncated)) if self._truncated else None,
            components=components, thresholds=self.thresholds,  # type: ignore[arg-type]
        ))
        if self._truncated:
            out["truncation_frac"] = float(np.mean(self._truncated))
        self._rewards.clear()
        self._dones.clear()
        self._truncated.clear()
        self._components.clear()
        return out
