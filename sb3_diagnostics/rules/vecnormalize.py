"""VecNormalize: clipped rewards and observations, unstable running statistics."""

from __future__ import annotations

import math

from sb3_diagnostics.findings import Alert
from sb3_diagnostics.rules.base import Metrics, Rule, Streak, get
from sb3_diagnostics.thresholds import VecNormalizeThresholds


class VecNormalizeRule(Rule):
    """
    Reads, per rollout: ``vecnorm_reward_squeeze`` (the worst pair of rewards whose difference clipping
    erased: how many times apart they were in raw size, divided by how many times apart they reach the
    agent; 1 when clipping erased nothing), ``vecnorm_reward_clip_frac``, ``vecnorm_obs_clip_frac``,
    ``vecnorm_ret_std`` (the reward normalisation scale), ``vecnorm_amplified_dims`` (dims with ~0
    running variance whose normalised value moved anyway). Context, when known: ``_clip_reward``,
    ``_clip_obs``, ``_squeezed_big``, ``_squeezed_small`` (the two raw rewards of the worst pair),
    ``_squeezed_seen`` (how many times apart they reach the agent), ``_small_normalized``.

    Clipping is a problem when it makes different rewards equal: a win bonus cut to the size of
    ordinary rewards. A rare large reward clipped while it still reaches the agent far above every
    ordinary one (MountainCarContinuous's goal) loses nothing that matters.

    At the start of ``learn()``: ``vecnorm_stats_samples`` (samples the observation statistics, or the
    return statistics without ``norm_obs``, have seen; ``_stats_of`` says which), ``_updates_before``
    (gradient updates the model did before), ``_n_envs``. A model that already trained behind
    statistics that have seen at most one reset was given a fresh VecNormalize.
    """

    codes = ("vecnormalize_reward_clipped", "vecnormalize_obs_clipped", "vecnormalize_stats_unstable",
             "vecnormalize_stats_not_restored")

    def __init__(self, thresholds: VecNormalizeThresholds | None = None) -> None:
        super().__init__()
        self.th = thresholds or VecNormalizeThresholds()
        self._obs_clipped = Streak()
        self._squeezed_rollouts = 0
        self.reference_ret_std: float | None = None

    def _observe(self, step: int, metrics: Metrics) -> list[Alert]:
        restored: list[Alert] = []
        if (samples := get(metrics, "vecnorm_stats_samples")) is not None:
            restored = self._not_restored(samples, metrics)
            if all(get(metrics, k) is None for k in ("vecnorm_reward_squeeze", "vecnorm_obs_clip_frac", "vecnorm_ret_std")):
                self.updates -= 1  # judged at the start of learn(), before any update
                return restored
            # a logged run: SB3 dumped the start of learn() with the first rollout, both are judged
        if self.updates <= self.th.warmup_updates:
            return restored
        return restored + self._rewards(metrics) + self._observations(metrics) + self._statistics(step, metrics)

    def _not_restored(self, samples: float, m: Metrics) -> list[Alert]:
        before, n_envs = get(m, "_updates_before") or 0.0, get(m, "_n_envs") or 1.0
        if before < 1 or samples > n_envs:
            return []
        which = "observation" if get(m, "_stats_of") else "return"
        return [Alert(
            "vecnormalize_stats_not_restored",
            f"learn() starts with a model that already did {int(before)} gradient updates, behind a VecNormalize whose "
            f"{which} statistics have seen {samples:.0f} sample(s): they start from scratch, so the policy gets inputs "
            "normalised differently from those it was trained on and performs as if untrained until they settle "
            "(SB3 #1256). The statistics are saved apart from the model.",
            samples, n_envs,
            hint="Load the statistics saved with the model: env = VecNormalize.load('vec_normalize.pkl', venv), then "
                 "PPO.load(path, env=env); save them with env.save(...) or CheckpointCallback(save_vecnormalize=True). "
                 "For evaluation also set env.training = False and env.norm_reward = False.",
        )]

    def _rewards(self, m: Metrics) -> list[Alert]:
        th = self.th
        squeeze = get(m, "vecnorm_reward_squeeze")
        if squeeze is None or squeeze < th.reward_squeeze:
            return []
        # rare events (a win) are judged in total, not in a row
        self._squeezed_rollouts += 1
        if self._squeezed_rollouts < th.consecutive:
            return []
        clip, big, small = get(m, "_clip_reward"), get(m, "_squeezed_big"), get(m, "_squeezed_small")
        seen, small_norm = get(m, "_squeezed_seen"), get(m, "_small_normalized")
        clip_text = f"clip_reward={clip:g}" if clip is not None else "clip_reward"
        pair = f"raw rewards {big:+.3g} and {small:+.3g}" if big is not None and small is not None else "raw rewards"
        apart = f" only {seen:.2g}x apart" if seen is not None else " nearly equal"
        hint = None
        if clip is not None and small_norm is not None and big is not None and small:
            needed = math.ceil(1.5 * abs(small_norm) * abs(big / small))
            hint = (f"Raise clip_reward in VecNormalize to at least {needed} (so the larger reward keeps its lead) or "
                    "set norm_reward=False.")
        return [Alert(
            "vecnormalize_reward_clipped",
            f"{pair} ({squeeze * (seen or 1.0):.1f}x apart) reach the agent{apart} after {clip_text}: clipping "
            "erased the difference between them, so a win bonus is worth no more than an ordinary reward and the "
            "agent has little reason to win.",
            squeeze, th.reward_squeeze, hint=hint,
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
