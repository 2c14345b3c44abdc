"""VecNormalizeAuditCallback: what VecNormalize's clipping and running statistics do to the data."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from stable_baselines3.common.vec_env import VecNormalize

from sb3_diagnostics import metrics as M
from sb3_diagnostics.callbacks.base import DiagnosticCallback
from sb3_diagnostics.sb3.models import NO_STEP_LOCALS, is_on_policy, shares_step_locals
from sb3_diagnostics.sb3.steps import original_rewards
from sb3_diagnostics.sb3.train_log import updates_done
from sb3_diagnostics.thresholds import VecNormalizeThresholds


def _keys(obs: Any, norm_keys: list[str] | None) -> list[tuple[str | None, np.ndarray]]:
    if isinstance(obs, dict):
        return [(k, np.asarray(obs[k])) for k in (norm_keys or obs)]
    return [(None, np.asarray(obs))]


class VecNormalizeAuditCallback(DiagnosticCallback):
    """
    Compares what the environment gave (``get_original_reward`` / ``get_original_obs``) with
    what ``VecNormalize`` hands to the agent, wherever ``VecNormalize`` sits in the wrapper chain:

    - ``vecnormalize_reward_clipped``: clipping made rewards of clearly different size reach the agent as
      (nearly) the same value (a win bonus cut to the size of ordinary rewards);
    - ``vecnormalize_obs_clipped``: more than 1% of normalised observation entries at ``clip_obs``;
    - ``vecnormalize_stats_unstable``: observation dims with ~0 running variance that still move
      (their changes are blown up), or a reward normalisation scale that drifts > 10x;
    - ``vecnormalize_stats_not_restored``: at the start of ``learn()``, a model that has already done
      gradient updates (trained, or loaded from a file) behind a VecNormalize whose statistics have seen
      no more than the first reset (a fresh wrapper where ``VecNormalize.load`` was meant).

    Logs ``diagnostics/vecnorm_reward_clip_frac``, ``diagnostics/vecnorm_obs_clip_frac``,
    ``diagnostics/vecnorm_ret_std``. Per step it copies the raw and normalised rewards; on-policy
    observations are read from the rollout buffer once per rollout.

    :param thresholds: :class:`~sb3_diagnostics.thresholds.VecNormalizeThresholds` or a dict of its fields

    See :class:`~sb3_diagnostics.callbacks.base.DiagnosticCallback` for the other parameters.
    """

    check_name = "vecnormalize"

    def _init_state(self) -> None:
        self._vec_normalize: VecNormalize | None = None
        self._raw_rewards: list[np.ndarray] = []
        self._norm_rewards: list[np.ndarray] = []
        self._obs_clipped = 0
        self._obs_entries = 0
        self._obs_absmax: dict[str | None, np.ndarray] = {}
        self._var_at_start: dict[str | None, np.ndarray] = {}

    @classmethod
    def not_applicable(cls, model: Any) -> str | None:
        if not shares_step_locals(model):
            return NO_STEP_LOCALS.format(name=type(model).__name__)
        if model.get_vec_normalize_env() is not None:
            return None
        return "the training env is not wrapped in VecNormalize"

    def _setup(self) -> None:
        self._vec_normalize = self.model.get_vec_normalize_env()
        self._outermost = self.model.get_env() is self._vec_normalize
        # On-policy with VecNormalize outermost: the rollout buffer holds exactly what the policy saw.
        self._obs_from_buffer = self._outermost and is_on_policy(self.model)
        self._reset_accumulators()
        if self._vec_normalize is not None:
            self._judge(self._restored(self._vec_normalize))

    def _restored(self, vn: VecNormalize) -> dict[str, float]:
        """How much data the statistics hold, against the updates the model already did (judged once per learn())."""
        stats: Any = vn.obs_rms if vn.norm_obs else vn.ret_rms if vn.norm_reward else None
        if stats is None:
            return {}
        counts = [float(r.count) for r in (stats.values() if isinstance(stats, dict) else [stats])]
        return {
            "vecnorm_stats_samples": float(math.floor(min(counts))),  # RunningMeanStd starts at count=1e-4
            "_updates_before": float(updates_done(self.model)),
            "_n_envs": float(vn.num_envs),
            "_stats_of": 1.0 if vn.norm_obs else 0.0,
        }

    def _reset_accumulators(self) -> None:
        self._raw_rewards.clear()
        self._norm_rewards.clear()
        self._obs_absmax = {}  # the clipped-entry counts are kept until they stand on obs_clip_entries

    def _on_env_step(self) -> None:
        vn = self._vec_normalize
        assert vn is not None
        if vn.norm_reward:
            raw = original_rewards(self.model, self.locals)
            normalized = self.locals["rewards"] if self._outermost else vn.normalize_reward(raw)
            self._raw_rewards.append(np.array(raw, dtype=np.float64))
            self._norm_rewards.append(np.array(normalized, dtype=np.float64))
        if vn.norm_obs and not self._obs_from_buffer:
            obs = self.locals["new_obs"] if self._outermost else vn.normalize_obs(vn.get_original_obs())
            self._count_obs(obs.reshape(-1, *obs.shape[1:]) if not isinstance(obs, dict) else obs)

    def _count_obs(self, obs: Any) -> None:
        vn = self._vec_normalize
        assert vn is not None
        for key, values in _keys(obs, vn.norm_obs_keys if isinstance(obs, dict) else None):
            space: Any = vn.observation_space
            flat = np.abs(values.reshape(-1, *space[key].shape if key else values.shape[-1:]))
            flat = flat.reshape(flat.shape[0], -1)
            self._obs_clipped += int(np.count_nonzero(flat >= vn.clip_obs * (1 - 1e-6)))
            self._obs_entries += flat.size
            current = flat.max(axis=0)
            previous = self._obs_absmax.get(key)
            self._obs_absmax[key] = current if previous is None else np.maximum(previous, current)

    def _measure(self) -> dict[str, float]:
        vn = self._vec_normalize
        assert vn is not None and isinstance(self.thresholds, VecNormalizeThresholds)
        out: dict[str, float] = {}
        if vn.norm_reward and self._raw_rewards:
            out.update(self._reward_metrics(vn))
        if vn.norm_obs:
            if self._obs_from_buffer:
                buf: Any = self.model.rollout_buffer  # type: ignore[attr-defined]
                self._count_obs(buf.observations if isinstance(buf.observations, dict) else
                                buf.observations.reshape(-1, *buf.observations.shape[2:]))
            if self._obs_entries >= self.thresholds.obs_clip_entries:
                # judged on enough entries: a few clipped entries in a 32-step A2C rollout are 1.6% of it
                out["vecnorm_obs_clip_frac"] = self._obs_clipped / self._obs_entries
                out["_clip_obs"] = float(vn.clip_obs)
                self._obs_clipped = self._obs_entries = 0
            out["vecnorm_amplified_dims"] = float(self._amplified_dims(vn))
        self._reset_accumulators()
        return out

    def _reward_metrics(self, vn: VecNormalize) -> dict[str, float]:
        raw = np.concatenate(self._raw_rewards)
        normalized = np.concatenate(self._norm_rewards)
        out = {
            "vecnorm_reward_clip_frac": M.fraction_at_bound(normalized, vn.clip_reward),
            "vecnorm_ret_std": math.sqrt(float(vn.ret_rms.var) + vn.epsilon),
            "vecnorm_reward_squeeze": 1.0,
            "_clip_reward": float(vn.clip_reward),
        }
        squeeze = M.clipping_squeeze(raw, normalized, vn.clip_reward)
        if squeeze:
            out["vecnorm_reward_squeeze"] = squeeze["squeeze"]
            out.update({f"_squeezed_{k}": v for k, v in squeeze.items() if k in ("big", "small", "seen")})
            if "small_normalized" in squeeze:
                out["_small_normalized"] = squeeze["small_normalized"]
        return out

    def _amplified_dims(self, vn: VecNormalize) -> int:
        """Dims whose running variance was ~0 at the start of the rollout, yet normalised values reached 1."""
        assert isinstance(self.thresholds, VecNormalizeThresholds)
        stats = vn.obs_rms if isinstance(vn.obs_rms, dict) else {None: vn.obs_rms}
        count = 0
        for key, rms in stats.items():
            var = np.asarray(rms.var, dtype=np.float64).reshape(-1)
            start = self._var_at_start.get(key)
            absmax = self._obs_absmax.get(key)
            if start is not None and absmax is not None and start.shape == absmax.shape:
                count += int(np.count_nonzero((start < self.thresholds.obs_var_floor) & (absmax >= 1.0)))
            self._var_at_start[key] = var.copy()
        return count
