"""VecNormalize: clipped rewards and observations, unstable running statistics."""

from __future__ import annotations

import math

from sb3_diagnostics.findings import Alert
from sb3_diagnostics.rules.base import Metrics, Rule, Streak, get
from sb3_diagnostics.thresholds import VecNormalizeThresholds


class VecNormalizeRule(Rule):
    """
    Reads, per rollout: ``vecnorm_reward_clip_frac``, ``vecnorm_reward_shrink`` (how many times
    clipping shrank the largest reward: 1 = not clipped), ``vecnorm_obs_clip_frac``,
    ``vecnorm_ret_std`` (the reward normalisation scale), ``vecnorm_amplified_dims`` (dims with
    ~0 running variance whose normalised value moved anyway). Context, when known:
    ``_clip_reward``, ``_clip_obs``, ``_largest_raw_reward``.
    """

    codes = ("vecnormalize_reward_clipped", "vecnormalize_obs_clipped", "vecnormalize_stats_unstable")

    def __init__(self, thresholds: VecNormalizeThresholds | None = None) -> None:
        super().__init__()
        self.th = thresholds or VecNormalizeThresholds()
        self._reward_clipped = Streak()
        self._obs_clipped = Streak()
        self._shrunk_rollouts = 0
        self.reference_ret_std: float | None = None

    def _observe(self, step: int, metrics: Metrics) -> list[Alert]:
        if self.updates <= self.th.warmup_updates:
            return []
        return self._rewards(metrics) + self._observations(metrics) + self._statistics(step, metrics)

    def _rewards(self, m: Metrics) -> list[Alert]:
        th = self.th
        frac, shrink = get(m, "vecnorm_reward_clip_frac"), get(m, "vecnorm_reward_shrink")
        too_often = frac is not None and self._reward_clipped.update(frac > th.reward_clip_frac) >= th.consecutive
        shrunk = shrink is not None and shrink > th.reward_shrink
        if shrunk:
            self._shrunk_rollouts += 1
        if not (too_often or (shrunk and self._shrunk_rollouts >= th.consecutive)):
            return []
        clip, raw = get(m, "_clip_reward"), get(m, "_largest_raw_reward")
        clip_text = f"clip_reward={clip:g}" if clip is not None else "clip_reward"
        parts = []
        if too_often and frac is not None:
            parts.append(f"{100 * frac:.1f}% of normalised rewards hit {clip_text} for {self._reward_clipped.count} "
                         f"rollouts (threshold {100 * th.reward_clip_frac:g}%)")
        raw_text = f" ({raw:+.3g})" if raw is not None else ""
        if shrink is not None and shrink > th.reward_shrink:
            parts.append(f"the largest raw reward{raw_text} reaches the agent {shrink:.1f}x smaller than its normalised "
                         f"value (threshold {th.reward_shrink}x)")
        elif shrink is not None and shrink > 1.0:
            parts.append(f"the largest raw reward{raw_text} is among the clipped ones")
        hint = None
        if clip is not None and shrink is not None and shrink > 1.0:
            hint = (f"Raise clip_reward in VecNormalize to at least {math.ceil(clip * shrink * 1.5)} (so the largest "
                    "reward is not cut) or set norm_reward=False.")
        return [Alert(
            "vecnormalize_reward_clipped",
            "; ".join(parts) + ". Clipped rewards of different size reach the agent as the same value: a win bonus "
            "cut like this is worth little more than ordinary rewards, so the agent has little reason to win.",
            frac if too_often and frac is not None else (shrink or 0.0),
            th.reward_clip_frac if too_often else th.reward_shrink,
            hint=hint,
        )]

    def _observations(self, m: Metrics) -> list[Alert]:
        th = self.th
        frac = get(m, "vecnorm_obs_clip_frac")
        if frac is None or self._obs_clipped.update(frac > th.obs_clip_frac) < th.consecutive:
            return []
        clip = get(m, "_clip_obs")
        clip_text = f"clip_obs={clip:g}" if clip is not None else "clip_obs"
        return [Alert(
            "vecnormalize_obs_clipped",
            f"{100 * frac:.1f}% of normalised observation entries hit {clip_text} for {self._obs_clipped.count} "
            f"rollouts (threshold {100 * th.obs_clip_frac:g}%): the policy sees a flat value where the "
            "observation still changes, and loses that information.",
            frac, th.obs_clip_frac,
        )]

    def _statistics(self, step: int, m: Metrics) -> list[Alert]:
        alerts = []
        th = self.th
        amplified = get(m, "vecnorm_amplified_dims")
        if amplified:
            alerts.append(Alert(
                "vecnormalize_stats_unstable",
                f"{int(amplified)} observation dim(s) have a running variance below {th.obs_var_floor:g} but still "
                "change: VecNormalize divides their tiny changes by ~0 and turns them into huge, clipped inputs.",
                amplified, th.obs_var_floor,
            ))
        ret_std = get(m, "vecnorm_ret_std")
        if ret_std is None or ret_std <= 0:
            return alerts
        if self.reference_ret_std is None:
            # VecNormalize's return statistics have seen one sample per timestep.
            if step >= th.ret_reference_samples:
                self.reference_ret_std = ret_std
            return alerts
        drift = max(ret_std / self.reference_ret_std, self.reference_ret_std / ret_std)
        if drift > th.ret_std_drift:
            alerts.append(Alert(
                "vecnormalize_stats_unstable",
                f"the reward normalisation scale (std of returns) moved from {self.reference_ret_std:.3g} to "
                f"{ret_std:.3g}, a {drift:.0f}x drift (threshold {th.ret_std_drift:g}x): the same raw reward now "
                "means something else to the critic, whose targets keep shifting.",
                drift, th.ret_std_drift,
            ))
        return alerts
