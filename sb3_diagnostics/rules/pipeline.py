"""The data pipeline between env and policy: VecNormalize statistics and clipping, recurrent state."""

from __future__ import annotations

import math

from sb3_diagnostics.catalog import LSTMThresholds, VecNormalizeThresholds
from sb3_diagnostics.rules.base import Alert, Metrics, Rule, Streak, get


class VecNormalizeRule(Rule):
    """
    Reads, per rollout: ``vecnorm_reward_clip_frac``, ``vecnorm_reward_shrink`` (how many times
    clipping shrank the largest reward: 1 = not clipped), ``vecnorm_obs_clip_frac``,
    ``vecnorm_ret_std`` (the reward normalisation scale), ``vecnorm_amplified_dims`` (dims with
    ~0 running variance whose normalised value moved anyway). Context, when known:
    ``_clip_reward``, ``_clip_obs``, ``_largest_raw_reward``.
    """

    codes = ("vecnormalize_reward_clipped", "vecnormalize_obs_clipped", "vecnormalize_stats_unstable")
    inputs = (
        "vecnorm_reward_clip_frac", "vecnorm_reward_shrink", "vecnorm_obs_clip_frac",
        "vecnorm_ret_std", "vecnorm_amplified_dims",
    )

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


class RecurrentStateRule(Rule):
    """
    Reads ``lstm_reset_violation`` (largest relative change of the policy's output at tested
    episode starts caused by the previous episode's state; 0 when the reset works),
    ``_lstm_reset_checked`` (how many episode starts were tested) and
    ``lstm_hidden_boundaries`` (episodes that ended without the VecEnv reporting done).
    """

    codes = ("lstm_state_not_reset",)
    inputs = ("lstm_reset_violation", "_lstm_reset_checked", "lstm_hidden_boundaries")

    def __init__(self, thresholds: LSTMThresholds | None = None) -> None:
        super().__init__()
        self.th = thresholds or LSTMThresholds()

    def _observe(self, step: int, metrics: Metrics) -> list[Alert]:
        th, alerts = self.th, []
        violation = get(metrics, "lstm_reset_violation")
        if violation is not None and violation > th.tolerance:
            checked = get(metrics, "_lstm_reset_checked")
            where = f"at {int(checked)} tested episode starts" if checked else "at episode starts"
            alerts.append(Alert(
                "lstm_state_not_reset",
                f"{where} the policy's output still depended on the previous episode's hidden state (relative "
                f"change up to {violation:.2g}, threshold {th.tolerance:g}; a correct reset gives exactly 0): the "
                "policy ignores episode_starts and carries memory from one episode into the next.",
                violation, th.tolerance,
            ))
        hidden = get(metrics, "lstm_hidden_boundaries")
        if hidden:
            alerts.append(Alert(
                "lstm_state_not_reset",
                f"{int(hidden)} episode(s) ended (Monitor reported a finished episode) while the VecEnv reported "
                "done=False: the algorithm never set episode_starts there, so the LSTM state carried over into the "
                "next episode. A wrapper above Monitor swallows terminated/truncated (e.g. it resets the env itself).",
                hidden, 0.0,
            ))
        return alerts
