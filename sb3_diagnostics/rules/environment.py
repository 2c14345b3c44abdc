"""
The environment before training (``check_training_env``): the verdicts on what a random rollout and
short seeded replays measured. The measuring is in :mod:`sb3_diagnostics.preflight`; the reward
codes are :class:`~sb3_diagnostics.rules.reward.RewardRule`'s, as in the live checks.
"""

from __future__ import annotations

import math

from sb3_diagnostics.findings import Alert, Severity
from sb3_diagnostics.rules.base import Metrics, Rule, get, labels, listing
from sb3_diagnostics.rules.buffers import aliased_alerts, degenerate_action_alerts, far_action_alerts, image_scale_alerts
from sb3_diagnostics.thresholds import PreflightThresholds

#: context keys that carry a label (the value is a number that goes with it)
NONFINITE_OBS_AT = "_obs_nonfinite_at:"
SHAPE_PROBLEM = "_shape_problem:"
DEAD_DIM = "_dead_dim:"
STD_LARGEST = "_std_largest:"
STD_SMALLEST = "_std_smallest:"
CORR_FEATURE = "_corr_feature:"
DIFFERENCE = "_difference:"
PREFIXES = "_prefixes:"
OUTSIDE_SPACE = "_outside_space:"
#: what SB3's and Gymnasium's check_env said: ``_checker:<checker>|<assert or warn>|<message>``
CHECKER = "_checker:"

#: how a message of SB3's or Gymnasium's env checker is judged, first match wins (lower-case substrings):
#: (substrings, code, severity; None drops the message: advice that does not hold for healthy envs)
_CHECKER_VERDICTS: tuple[tuple[tuple[str, ...], str, Severity | None], ...] = (
    # spaces SB3 cannot build a model for, or reads wrongly (a Discrete(2, start=1) gets actions 0 and 1)
    (("not supported by stable", "currently not supported", "not based off a numpy array",
      "nested observation spaces", "low value is greater than a high value"), "env_api_violation", Severity.ERROR),
    # calls SB3's VecEnvs make and results they unpack: training crashes
    (("must accept a `seed`", "does not provide a `seed`", "must return five values", "values to unpack",
      "must return a tuple", "`info` returned", "must be a python dictionary", "must be a dictionary"),
     "env_api_violation", Severity.ERROR),
    (("finite lower and upper bound",), "action_space_not_normalized", Severity.WARNING),
    (("symmetric and normalized",), "action_space_not_normalized", Severity.INFO),
    (("minimum value is -infinity", "maximum value is infinity"), "action_space_not_normalized", None),
    # a Box dimension declared with low == high: no choice for an action, a constant for an observation (whose
    # effect obs_dead_dims measures)
    (("action space maximum and minimum values are equal",), "action_space_degenerate", Severity.WARNING),
    (("observation space maximum and minimum values are equal",), "obs_dead_dims", Severity.INFO),
    # SB3's advice on image spaces (uint8 in [0, 255], at least 36x36 for CnnPolicy); what the values really are
    # is image_obs_not_scaled's, measured
    (("is an image but", "image but the upper and lower bounds", "minimal resolution for an image"),
     "env_api_violation", Severity.INFO),
    (("numpy.ndarray",), "env_api_violation", Severity.WARNING),  # a reward array of shape (1,)
    # np.float32 rewards and np.bool_ flags: SB3's VecEnvs store them fine, check_env rejects them
    (("reward returned by `step()` must be", "signal must be a boolean", "we recommend using np.float32"),
     "env_api_violation", Severity.INFO),
    (("does not match the shape",), "buffer_shape_mismatch", Severity.WARNING),
    (("does not match the data type", "does not match the bounds", "not within the observation space",
      "must be a numpy array", "expecting a numpy array", "must be an int", "casting input"),
     "obs_not_in_space", Severity.WARNING),
    (("non-deterministic", "not equivalent for the same seed"), "env_nondeterministic", Severity.WARNING),
    (("share an object",), "obs_buffer_aliased", Severity.WARNING),
    (("nan", " inf"), "nan_detected", Severity.ERROR),
)


#: codes of an observation that does not fit its space: one of them reported covers the checkers' others
_OBS_VS_SPACE = frozenset({"obs_not_in_space", "buffer_shape_mismatch"})


def checker_verdict(checker: str, kind: str, message: str) -> tuple[str, Severity | None]:
    """
    :param checker: ``"SB3"`` or ``"Gymnasium"``
    :param kind: ``"assert"`` (the checker stopped there) or ``"warn"``
    :param message: what it said
    :return: the code and severity it is reported with (severity None: not reported)
    """
    text = message.lower()
    for needles, code, severity in _CHECKER_VERDICTS:
        if any(needle in text for needle in needles):
            return code, severity
    # anything else: what SB3 says or asserts concerns training with SB3; Gymnasium's own warnings are advice
    return "env_api_violation", (Severity.INFO if checker == "Gymnasium" and kind == "warn" else Severity.WARNING)


class EnvironmentRule(Rule):
    """
    Reads, once (step 0), what ``check_training_env`` measured:

    - ``obs_shape_problem`` (1: an observation of another shape than the space that still holds its values, 2: one
      that could not be read at all; ``_shape_problem:<what>``);
    - ``obs_nonfinite_step`` (env step of the first NaN/Inf observation; ``_obs_nonfinite_at:<dim>``)
      and ``reward_nonfinite_step``;
    - ``obs_changed`` (0 when every observation was the same), ``_obs_rows``;
    - ``obs_mlp_dims`` (non-image flat dims);
    - ``obs_dead_dims`` of ``_obs_box_dims`` continuous dims (``_dead_dim:<name>``), ``obs_std_ratio``
      (largest / smallest std of the live ones: ``_std_largest:<name>``, ``_std_smallest:<name>``);
    - ``episodes``, ``episode_length_max``, ``_steps_per_env`` and ``_time_limit`` (0: none known);
    - ``reward_corr_best`` of ``_corr_features`` features (``_corr_feature:<name>``);
    - ``nondeterministic_step`` (first differing step of two seeded replays; ``_difference:<what>``),
      ``_replay_steps``;
    - ``reset_identical`` (1 when every seed gave the same first observation), ``_reset_seeds``;
    - ``action_effect`` (0 when no tried action changed anything), ``_action_candidates``,
      ``_action_horizon``, ``_prefixes:<steps>``;
    - ``action_degenerate_dims`` of ``action_dims`` (``_degenerate_action:<what>``), ``action_far_dims``
      (``_far_action:<dim in [low, high]>``);
    - ``obs_outside_space`` (1: an observation of the right shape outside the space: dtype or bounds;
      ``_outside_space:<what>``) and ``float_image_max`` (the largest value of float image observations);
    - ``obs_aliased`` (1: the env returns one array mutated in place; 2: a VecEnv does; ``_aliased:<what>``);
    - ``_checker:<checker>|<kind>|<message>``: what SB3's and Gymnasium's ``check_env`` said, each message
      judged by :func:`checker_verdict` and reported under its code unless the own measurements above
      already reported that code.
    """

    codes = (
        "buffer_shape_mismatch", "obs_nan_inf", "nan_detected", "obs_constant", "obs_too_large", "obs_dead_dims",
        "obs_scale_mismatch", "episode_length_degenerate", "episodes_never_end", "timeout_as_termination",
        "reward_not_learnable", "env_nondeterministic", "reset_not_randomized", "action_no_effect", "action_space_degenerate",
        "action_space_not_normalized", "obs_not_in_space", "image_obs_not_scaled", "obs_buffer_aliased",
        "env_api_violation",
    )

    def __init__(self, thresholds: PreflightThresholds | None = None, *, seed: int = 0, space: str = "") -> None:
        super().__init__()
        self.th = thresholds or PreflightThresholds()
        self.seed = seed
        self.space = space

    def _observe(self, step: int, metrics: Metrics) -> list[Alert]:
        own = [
            *self._shapes(metrics), *aliased_alerts(metrics), *self._space(metrics), *self._actions(metrics),
            *self._observations(metrics),
            *self._episodes(metrics), *self._learnable(metrics), *self._replays(metrics),
        ]
        reported = {a.code for a in own}
        if reported & _OBS_VS_SPACE:
            reported |= _OBS_VS_SPACE  # e.g. a (1, n) observation: Gymnasium says "not within the space"
        return [*self._checkers(metrics, reported), *own]

    def _checkers(self, m: Metrics, reported: set[str]) -> list[Alert]:
        """One alert per code for what SB3's and Gymnasium's check_env said that the own checks did not."""
        by_code: dict[str, list[tuple[Severity, str]]] = {}
        for label in labels(m, CHECKER):
            checker, kind, message = label.split("|", 2)
            code, severity = checker_verdict(checker, kind, message)
            if severity is None or code in reported:
                continue
            said = f"{checker}'s check_env {'stopped at' if kind == 'assert' else 'warned'}: \"{message}\""
            by_code.setdefault(code, []).append((severity, said))
        order = (Severity.ERROR, Severity.WARNING, Severity.INFO)
        alerts = []
        for code, found in by_code.items():
            found.sort(key=lambda f: order.index(f[0]))
            severity = found[0][0]
            why = {
                Severity.ERROR: "SB3 cannot train on this env as it is: it crashes, or the agent sees other "
                                "observations or sends other actions than the env means.",
                Severity.WARNING: "SB3 trains on it, but it relies on SB3's VecEnv casting or reshaping what the "
                                  "env returns, and wrappers, evaluation code and other libraries may not.",
                Severity.INFO: "SB3 trains on it as it is; the checker's advice is worth following.",
            }[severity]
            alerts.append(Alert(
                code, f"{'; '.join(said for _, said in found[:3])}"
                + (f" (and {len(found) - 3} more)" if len(found) > 3 else "") + f". {why}",
                float(len(found)), 0.0, severity=severity,
            ))
        return alerts

    def _shapes(self, m: Metrics) -> list[Alert]:
        problem = get(m, "obs_shape_problem")
        if not problem:
            return []
        what = listing(labels(m, SHAPE_PROBLEM), 1)
        hint = "Return observations of exactly observation_space.shape (and dtype) from reset() and step()."
        if problem < 2:
            # e.g. (1, n) for an (n,) space: DummyVecEnv copies it into its (n,) buffer, so training runs
            return [Alert(
                "buffer_shape_mismatch",
                f"{what}: it does not match observation_space {self.space}. SB3's VecEnv copies it into a buffer "
                "of the space's shape, so training runs, but SB3's check_env rejects it and anything that reads "
                "the env's own observations (wrappers, evaluation code, predict() on one env) sees another shape.",
                1.0, 0.0, severity=Severity.WARNING, hint=hint,
            )]
        return [Alert(
            "buffer_shape_mismatch",
            f"{what}: it does not fit observation_space {self.space}. SB3 stores observations with the space's "
            "shape, so it crashes or stores wrong values; the observation checks skipped those steps.",
            1.0, 0.0, hint=hint,
        )]

    def _space(self, m: Metrics) -> list[Alert]:
        alerts = []
        if get(m, "obs_outside_space"):
            what = listing(labels(m, OUTSIDE_SPACE), 1)
            alerts.append(Alert(
                "obs_not_in_space",
                f"{what} (observation_space {self.space}). SB3's VecEnv casts it into a buffer of the space's dtype "
                "and never clips it, so training runs; but SB3's and Gymnasium's check_env reject it, and whatever "
                "trusts the declared space (VecNormalize's clipping, normalize_images, bounds used for scaling) "
                "works from wrong assumptions.",
                1.0, 0.0, severity=Severity.WARNING,
            ))
        alerts.extend(image_scale_alerts(m, self.th.image_scaled_max))
        return alerts

    def _actions(self, m: Metrics) -> list[Alert]:
        return [*degenerate_action_alerts(m), *far_action_alerts(m, self.th.action_half_width)]

    def _observations(self, m: Metrics) -> list[Alert]:
        th, alerts = self.th, []
        bad_obs = get(m, "obs_nonfinite_step")
        if bad_obs is not None:
            where = listing(labels(m, NONFINITE_OBS_AT), 1)
            alerts.append(Alert(
                "obs_nan_inf",
                f"the observation contained NaN or Inf (first at env step {int(bad_obs)}, in {where}): one such "
                "value makes the network output NaN and training diverges.",
                bad_obs, math.nan,
            ))
        bad_reward = get(m, "reward_nonfinite_step")
        if bad_reward is not None:
            alerts.append(Alert(
                "nan_detected",
                f"the reward was NaN or Inf (first at env step {int(bad_reward)}): value targets and advantages "
                "become NaN and so does every network weight after the next update.",
                bad_reward, math.nan,
            ))
        rows = get(m, "_obs_rows") or 0.0
        if get(m, "obs_changed") == 0.0 and rows > 0:
            alerts.append(Alert(
                "obs_constant",
                f"the observation was the same at every one of {int(rows)} random steps: the policy cannot tell "
                "states apart, so it can only learn one fixed action.",
                0.0, math.nan,
            ))
        dims = get(m, "obs_mlp_dims")
        if dims is not None and dims > th.max_mlp_dims:
            alerts.append(Alert(
                "obs_too_large",
                f"the observation has {int(dims)} non-image dims (threshold {th.max_mlp_dims}): an MLP policy on that "
                "many inputs learns slowly and overfits.",
                dims, th.max_mlp_dims,
            ))
        dead = get(m, "obs_dead_dims")
        if dead:
            names = labels(m, DEAD_DIM)
            alerts.append(Alert(
                "obs_dead_dims",
                f"{int(dead)} of {int(get(m, '_obs_box_dims') or dead)} continuous observation dims never changed "
                f"under random actions (std < {th.dead_dim_std:g}): {listing(names, 8)}. They carry no information, "
                "and normalisation divides them by ~0 (a flag that only changes in states random actions never "
                "reach, e.g. 'goal reached', is fine).",
                dead, th.dead_dim_std,
            ))
        ratio = get(m, "obs_std_ratio")
        if ratio is not None and ratio > th.scale_ratio:
            big, small = labels(m, STD_LARGEST), labels(m, STD_SMALLEST)
            if big and small:
                alerts.append(Alert(
                    "obs_scale_mismatch",
                    f"observation dims differ in scale by {ratio:.3g}x (threshold {th.scale_ratio:g}x): {big[0]} has "
                    f"std {m[STD_LARGEST + big[0]]:.3g} but {small[0]} only {m[STD_SMALLEST + small[0]]:.3g}. The "
                    "large dims dominate the first layer and the small ones are effectively ignored.",
                    ratio, th.scale_ratio,
                ))
        return alerts

    def _episodes(self, m: Metrics) -> list[Alert]:
        th = self.th
        episodes = get(m, "episodes")
        if episodes is None:
            return []
        if episodes > 0:
            fixed = get(m, "_fixed_termination_length")
            if fixed is not None and fixed >= th.timeout_min_length and not get(m, "_time_observed"):
                return [Alert(
                    "timeout_as_termination",
                    f"under random actions every one of {int(episodes)} episodes ended with terminated=True at exactly "
                    f"step {int(fixed)}, and no observation dim follows the step count: that is a time limit reported as "
                    "a termination. SB3 bootstraps the value at truncated=True ends only, so the critic learns the last "
                    "states as if nothing came after them, which they do not show (SB3 #284; Pardo et al. 2018, Time "
                    "Limits in Reinforcement Learning).",
                    fixed, th.timeout_min_length,
                )]
            longest = get(m, "episode_length_max")
            if longest is not None and longest < th.short_episode:
                return [Alert(
                    "episode_length_degenerate",
                    f"under random actions every one of {int(episodes)} episodes ended within {int(longest)} step(s) "
                    f"(threshold: all shorter than {th.short_episode}): the agent has no time to act, and returns "
                    "barely depend on what it does.",
                    longest, th.short_episode,
                )]
            return []
        per_env = get(m, "_steps_per_env") or 0.0
        limit = get(m, "_time_limit") or 0.0
        if limit > per_env:
            return []  # a time limit longer than the rollout: no verdict (the report notes it)
        return [Alert(
            "episodes_never_end",
            f"no episode ended in {int(per_env)} random steps per env and the env has no time limit: SB3 never logs "
            "an episode return (rollout/ep_rew_mean), and a stuck agent is never reset.",
            per_env, per_env,
        )]

    def _learnable(self, m: Metrics) -> list[Alert]:
        th = self.th
        corr = get(m, "reward_corr_best")
        if corr is None or corr >= th.reward_corr:
            return []
        feature = listing(labels(m, CORR_FEATURE), 1)
        return [Alert(
            "reward_not_learnable",
            f"no observation dim correlates with the reward under random actions: the best of "
            f"{int(get(m, '_corr_features') or 0)} features (observations before and after the step, their distance "
            f"from the mean, actions, obs x action products) reaches |corr| = {corr:.3f} with {feature} (threshold "
            f"{th.reward_corr}). The critic cannot predict a reward the observation says nothing about.",
            corr, th.reward_corr,
        )]

    def _replays(self, m: Metrics) -> list[Alert]:
        th, alerts = self.th, []
        differs = get(m, "nondeterministic_step")
        if differs is not None:
            where = "right after reset(seed)" if differs == 0 else f"at step {int(differs)}"
            what = listing(labels(m, DIFFERENCE), 1)
            alerts.append(Alert(
                "env_nondeterministic",
                f"reset(seed={self.seed}) twice and the same {int(get(m, '_replay_steps') or 0)} actions gave different "
                f"results: {where}, {what}. Runs cannot be reproduced, and evaluation differences are partly noise. "
                "The usual cause is randomness drawn from the global random / np.random instead of self.np_random.",
                differs, math.nan,
            ))
        if get(m, "reset_identical") == 1.0:
            alerts.append(Alert(
                "reset_not_randomized",
                f"reset() with {int(get(m, '_reset_seeds') or th.reset_seeds)} different seeds returned the identical "
                "first observation every time: the agent always starts from the same state, so the policy may not "
                "generalise beyond it (fine for a fixed-start task).",
                1.0, math.nan,
            ))
        if get(m, "action_effect") == 0.0:
            prefixes = listing(labels(m, PREFIXES), 1)
            n = int(get(m, "_action_candidates") or 0)
            alerts.append(Alert(
                "action_no_effect",
                f"from the same state (reset(seed={self.seed}) then {prefixes} random steps), {n} different actions led "
                f"to identical observations, rewards and episode ends over the next {th.action_horizon} step(s): the "
                "agent's choices change nothing, so there is nothing to learn.",
                float(n), math.nan,
            ))
        return alerts
