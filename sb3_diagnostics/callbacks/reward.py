"""RewardSignalCallback: the reward the environment really gives."""

from __future__ import annotations

import warnings
from collections import defaultdict, deque
from collections.abc import Mapping
from typing import Any

import numpy as np

from sb3_diagnostics.callbacks.base import DiagnosticCallback, StopOn
from sb3_diagnostics.rules.reward import reward_metrics, step_baseline, steps_to_first_reward
from sb3_diagnostics.sb3.models import NO_STEP_LOCALS, shares_step_locals
from sb3_diagnostics.sb3.steps import original_rewards
from sb3_diagnostics.sb3.train_log import progress
from sb3_diagnostics.thresholds import RewardThresholds, require_whole_number

#: rewarded episodes whose distance to the first reward is judged (the most recent ones)
RECENT_EPISODES = 20


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
    ``reward_component_imbalance``. Episodes (``episode_length_degenerate``, ``reward_decreasing``)
    are :class:`~sb3_diagnostics.callbacks.episodes.EpisodeCallback`'s.

    Reward components: when ``info["reward_components"]`` is a dict of numbers, each component is
    logged under ``diagnostics/reward_component/<name>`` (its share of the reward variance) and
    judged for imbalance. Episode returns are summed from the rewards the algorithm received, between
    ``dones``.

    Per step it copies the rewards and done flags and looks for ``info["reward_components"]``.

    :param thresholds: :class:`~sb3_diagnostics.thresholds.RewardThresholds` or a dict of its fields
    :param window_samples: rewards per judged window (all envs together)
    :param episode_thresholds: deprecated: episodes are judged by ``EpisodeCallback(thresholds=...)``
        (``DiagnosticsCallback(thresholds={"episodes": ...})``)

    See :class:`~sb3_diagnostics.callbacks.base.DiagnosticCallback` for the other parameters.
    """

    check_name = "reward"

    def __init__(
        self,
        thresholds: RewardThresholds | Mapping[str, Any] | None = None,
        *,
        window_samples: int = 1000,
        stop_on: StopOn = None,
        cooldown: int = 10,
        seed: int = 0,
        off_policy_interval: int = 1000,
        off_policy_updates: int | None = 250,
        verbose: int = 0,
        episode_thresholds: Any = None,
    ) -> None:
        super().__init__(thresholds, stop_on=stop_on, cooldown=cooldown, seed=seed,
                         off_policy_interval=off_policy_interval, off_policy_updates=off_policy_updates, verbose=verbose)
        self.window_samples = require_whole_number("window_samples", window_samples, 1, "steps")
        if episode_thresholds is not None:
            warnings.warn(
                "RewardSignalCallback(episode_thresholds=...) is deprecated and ignored: episodes are judged by "
                "EpisodeCallback(thresholds=...), or DiagnosticsCallback(thresholds={'episodes': {...}}).",
                DeprecationWarning, stacklevel=2,
            )

    @classmethod
    def not_applicable(cls, model: Any) -> str | None:
        return None if shares_step_locals(model) else NO_STEP_LOCALS.format(name=type(model).__name__)

    def _init_state(self) -> None:
        self._rewards = _Rows(np.float64)
        self._dones = _Rows(bool)
        self._terminated: list[bool] = []
        self._components: dict[str, list[float]] = defaultdict(list)
        #: per env: steps of the running episode before the current window, and whether it was rewarded
        self._since: np.ndarray | None = None
        self._got: np.ndarray | None = None
        #: steps to the first reward of the last rewarded episodes (long episodes end a few per window)
        self._first_steps: deque[int] = deque(maxlen=RECENT_EPISODES)

    def _setup(self) -> None:
        self._vec_normalize = self.model.get_vec_normalize_env()
        if self._rewards.row_shape not in (None, (self.model.n_envs,)):
            # this callback now trains a model with another number of envs: a window cannot mix the two
            self._init_state()

    def _teardown(self) -> None:
        self._rewards.shrink()
        self._dones.shrink()

    def _on_env_step(self) -> None:
        locals_ = self.locals
        raw = original_rewards(self.model, locals_)
        dones = locals_["dones"]
        self._rewards.append(raw)
        self._dones.append(dones)
        infos = locals_["infos"]
        if True in (ended := np.asarray(dones).tolist()):
            for info, done in zip(infos, ended, strict=True):
                if done:
                    self._terminated.append(not info.get("TimeLimit.truncated", False))
        # Reward components come in every step's info (the documented convention), so the first
        # env's info says whether to look at all of them.
        if infos and isinstance(infos[0].get("reward_components"), dict):
            for info in infos:
                components = info.get("reward_components")
                if isinstance(components, dict):
                    for name, value in components.items():
                        self._components[str(name)].append(_number(value))

    def _measure(self) -> dict[str, float]:
        rewards, dones = self._rewards.rows(), self._dones.rows()
        if rewards.size < self.window_samples:
            return {}
        lengths = {len(v) for v in self._components.values()}
        components = {k: np.asarray(v) for k, v in self._components.items()} if len(lengths) == 1 else None
        # Episode returns from the rewards the algorithm received (Monitor may sit below a reward wrapper).
        out = reward_metrics(
            rewards, dones, gamma=float(getattr(self.model, "gamma", 0.99)),
            terminated=np.asarray(self._terminated) if self._terminated else None,
            components=components, thresholds=self.thresholds,  # type: ignore[arg-type]
        )
        out.update(self._horizon(rewards, dones))
        out["_progress"] = progress(self.model)
        if self._vec_normalize is not None and self._vec_normalize.norm_reward:
            out["_reward_normalized"] = 1.0
        self._rewards.clear()
        self._dones.clear()
        self._terminated.clear()
        self._components.clear()
        return out


    def _horizon(self, rewards: np.ndarray, dones: np.ndarray) -> dict[str, float]:
        """How far into their episodes rewards (beyond a constant cost per step) come, against 1 / (1 - gamma)."""
        n_envs = rewards.shape[1] if rewards.ndim == 2 else 1
        if self._since is None or self._got is None or self._since.shape != (n_envs,):
            self._since, self._got = np.zeros(n_envs, dtype=np.int64), np.zeros(n_envs, dtype=bool)
        eps = getattr(self.thresholds, "nonzero_eps", 1e-3)
        # measured from the cost most steps pay, so a goal behind -1 per move is the event (not the first move)
        baseline = step_baseline(rewards)
        distances, self._since, self._got = steps_to_first_reward(rewards - baseline, dones, self._since, self._got, eps)
        gamma = getattr(self.model, "gamma", None)
        if not distances.size or not isinstance(gamma, float | int):
            return {}  # no rewarded episode ended in this window: nothing new to judge
        self._first_steps.extend(distances.tolist())
        return {
            "reward_first_step": float(np.median(self._first_steps)),
            "_rewarded_episode_starts": float(len(self._first_steps)),
            "_gamma": float(gamma),
        }


def _number(value: Any) -> float:
    """A reward component as a float: a number, a 0-d or 1-element array; anything else is NaN (and ignored)."""
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return float("nan")
    return float(array.reshape(-1)[0]) if array.size == 1 else float("nan")
