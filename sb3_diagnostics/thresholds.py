"""
Thresholds: one small frozen dataclass per check, validated on creation. Override any field:

    EntropyCollapseCallback(thresholds=EntropyThresholds(collapse=0.02))
    DiagnosticsCallback(thresholds={"entropy": {"collapse": 0.02}})   # YAML-friendly (rl-zoo3)

The live callbacks, the post-hoc report and the pre-flight judge with these numbers; nothing
else hard-codes a threshold. Which dataclass belongs to which check key is in
:data:`sb3_diagnostics.rules.registry.CHECKS`.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, ClassVar, TypeVar

from sb3_diagnostics.errors import InvalidThresholdError


def _is_whole(value: object) -> bool:  # an int or a numpy integer, not a bool
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_real(value: object) -> bool:  # an int, a float or a numpy number, not a bool
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def require_whole_number(name: str, value: object, minimum: int, unit: str) -> int:
    """A whole-number option (a cooldown, an interval) as an int; InvalidThresholdError unless >= ``minimum``."""
    if not _is_whole(value) or value < minimum:  # type: ignore[operator]
        raise InvalidThresholdError(f"{name}={value!r}: must be a whole number of {unit} >= {minimum}.")
    return int(value)  # type: ignore[call-overload]


T = TypeVar("T", bound="Thresholds")


@dataclass(frozen=True)
class Thresholds:
    """Base of the threshold dataclasses; validates on creation."""

    #: fields that must be in [0, 1]
    _fractions: ClassVar[tuple[str, ...]] = ()
    #: fields that must be integers >= 1
    _counts: ClassVar[tuple[str, ...]] = ()
    #: fields that must be >= 0 (others may be any finite number)
    _non_negative: ClassVar[tuple[str, ...]] = ()

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            where = f"{type(self).__name__}.{f.name}={value!r}"
            if f.name in self._counts:
                if not _is_whole(value) or value < 1:
                    raise InvalidThresholdError(f"{where}: must be a whole number >= 1 (it counts updates or samples).")
                object.__setattr__(self, f.name, int(value))  # numpy integers from YAML or a sweep become int
                continue
            if not _is_real(value) or not math.isfinite(value):
                raise InvalidThresholdError(f"{where}: must be a finite number.")
            object.__setattr__(self, f.name, float(value) if not isinstance(value, int) else value)
            if f.name in self._fractions and not 0.0 <= value <= 1.0:
                raise InvalidThresholdError(f"{where}: must be a fraction between 0 and 1.")
            if f.name in self._non_negative and value < 0:
                raise InvalidThresholdError(f"{where}: must be >= 0.")

    @classmethod
    def coerce(cls: type[T], value: T | Mapping[str, Any] | None) -> T:
        """A validated instance from an instance, a dict of overrides (YAML, e.g. rl-zoo3) or None (defaults)."""
        if value is None:
            return cls()
        if isinstance(value, cls):
            return value
        if isinstance(value, Mapping):
            names = {f.name for f in fields(cls)}
            unknown = set(value) - names
            if unknown:
                raise InvalidThresholdError(
                    f"{cls.__name__} has no field(s) {sorted(unknown)}; valid fields: {sorted(names)}."
                )
            return cls(**value)
        raise InvalidThresholdError(
            f"Expected {cls.__name__}, a dict of its fields (e.g. {{{next(iter(f.name for f in fields(cls)))!r}: ...}}), "
            f"or None; got {type(value).__name__} {value!r}."
        )


@dataclass(frozen=True)
class EntropyThresholds(Thresholds):
    """
    :param collapse: normalised entropy (entropy / log(n_actions), per action dim) below which it collapsed
    :param sudden_drop: fraction by which normalised entropy may fall within one update
    :param std_collapse: action std, as a fraction of the action range, below which it collapsed
    :param std_drop_factor: ... and this many times below its initial value (gSDE's small std is no collapse)
    :param random_entropy: normalised entropy above which the policy is still random
    :param random_after: fraction of training after which a still-random policy is reported
    :param random_kl: median approx KL (over ``random_updates`` updates) below which the policy is
        "not moving"; healthy RecurrentPPO runs move at 1e-5 to 1e-3 per update early on
    :param random_updates: updates of KL history needed before "stays random" is judged
    :param random_start_kl: without a logged KL (A2C), mean KL of the action distribution from its first rollout below
        which the policy has not moved (healthy rl-zoo3 A2C runs: >= 2e-3 while their entropy is still that high)
    :param consecutive: updates a collapse must last before it is reported
    :param converged_gain: a collapse while the mean return is near its best, after rising by more than this
        fraction of its size, is a converged policy (``info``), not a collapse
    :param behaviour_std: TD3 / DDPG: std of the actions taken (SB3's [-1, 1] scaling) below which nothing is explored
    :param min_samples: observations a measurement stands on (A2C's 5-step rollouts are pooled until enough)
    """

    collapse: float = 0.05
    sudden_drop: float = 0.8
    std_collapse: float = 0.01
    std_drop_factor: float = 10.0
    random_entropy: float = 0.98
    random_after: float = 0.2
    random_kl: float = 1e-5
    random_updates: int = 10
    random_start_kl: float = 1e-4
    consecutive: int = 2
    converged_gain: float = 0.3
    min_samples: int = 64
    behaviour_std: float = 0.05
    _fractions = ("collapse", "sudden_drop", "std_collapse", "random_entropy", "random_after", "behaviour_std")
    _counts = ("consecutive", "random_updates", "min_samples")
    _non_negative = ("std_drop_factor", "random_kl", "converged_gain", "random_start_kl")


@dataclass(frozen=True)
class ValueThresholds(Thresholds):
    """
    :param ev_negative: explained variance below which the critic is broken (a little below 0: -0.01, however
        certain, is no worse than predicting the mean)
    :param ev_error: ... and below which it is an error (anti-correlated critic)
    :param ev_confidence: standard errors by which explained variance must lie below a threshold (its
        standard error comes from the window's own spread; 2 is about 97.5% one-sided confidence)
    :param ev_offline_margin: without a standard error (SB3's own ``train/explained_variance``, read
        post hoc), how far below a threshold explained variance must lie
    :param ev_relative_error: the critic's error, as a fraction of the size of the returns, below which
        it counts as accurate whatever its explained variance (when every return is nearly the same, as in
        a solved task, explained variance divides by a variance near zero and is noise)
    :param ev_near_zero: explained variance below which (with confidence) the critic predicts nothing
    :param not_learning_windows: windows in a row near 0 before ``critic_not_learning`` is reported
    :param not_learning_error: ... while the critic is off by more than this fraction of the size of the returns
    :param learning_gain: ... and the mean return has not risen by more than this fraction of its size
    :param consecutive: windows in a row that must be below ``ev_negative``
    :param window_samples: samples pooled per explained-variance window (EV over 8 samples is noise)
    :param warmup_updates: updates ignored at the start (a fresh critic explains nothing)
    :param warmup_samples: ... and timesteps: 5 updates of a tiny rollout are barely any training
    :param advantage_std_min: advantage std below which advantages carry no signal
    :param advantage_abs_max: largest absolute advantage considered sane, at least (the bound grows with the discount
        horizon, see ``advantage_horizons``)
    :param advantage_horizons: with rewards of unit size an advantage can reach the span of the discounted return,
        ``1 / (1 - gamma)`` (100 at gamma=0.99: CartPole's +1 a step); advantages above this many of those spans
        come from a reward scale or a critic that is off
    :param advantage_samples: advantages pooled per window (A2C's rollouts of 5 steps are too few to judge)
    :param advantage_consecutive: windows in a row an advantage problem must last
    """

    ev_negative: float = -0.05
    ev_error: float = -0.5
    ev_confidence: float = 2.0
    ev_offline_margin: float = 0.2
    ev_relative_error: float = 0.1
    ev_near_zero: float = 0.1
    not_learning_windows: int = 5
    not_learning_error: float = 0.5
    learning_gain: float = 0.3
    consecutive: int = 3
    window_samples: int = 1024
    warmup_updates: int = 5
    warmup_samples: int = 5000
    advantage_std_min: float = 1e-6
    advantage_abs_max: float = 100.0
    advantage_horizons: float = 2.0
    advantage_samples: int = 256
    advantage_consecutive: int = 3
    _counts = ("consecutive", "window_samples", "warmup_updates", "warmup_samples", "advantage_consecutive",
               "not_learning_windows", "advantage_samples")
    _non_negative = ("ev_confidence", "ev_offline_margin", "ev_relative_error", "not_learning_error", "learning_gain",
                     "advantage_std_min", "advantage_abs_max", "advantage_horizons")

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.ev_error > self.ev_negative:
            raise InvalidThresholdError(
                f"ValueThresholds: ev_error={self.ev_error} must not be above ev_negative={self.ev_negative}."
            )


@dataclass(frozen=True)
class KLThresholds(Thresholds):
    """
    :param kl_high: approx KL above which an update is too large, if sustained
    :param kl_consecutive: updates in a row above ``kl_high``
    :param kl_extreme: approx KL above which a single update wrecks the policy
    :param clip_fraction: median clip fraction (last ``window`` updates) that is high
    :param entropy_fall: relative entropy drop over ``window`` updates that counts as "falling fast"
    :param window: updates in the rolling windows (clip fraction median, early stops, line search)
    :param not_updating_kl: approx KL below which the policy did not move
    :param not_updating_consecutive: updates in a row without movement
    :param frozen_change: for algorithms without a logged KL: the change of the policy's outputs on a fixed batch of
        observations between two comparisons, relative to their size and per gradient update in between, below
        which the policy does not move (healthy updates move it by 1e-6 or more; a learning rate of 7e-10 by 3e-9)
    :param lr_floor: a learning-rate schedule below this fraction of its start is the normal end of training
    :param lr_tiny: a learning rate below which nothing trains (a typo such as 3e-10): the hint says so
    :param early_stop_frac: fraction of updates stopped after the first epoch by target_kl
    :param line_search_fail_frac: fraction of TRPO updates whose line search failed
    :param deterministic_entropy: normalised entropy below which a policy that does not move is deterministic
    :param converged_gain: a deterministic policy that does not move, while the mean return is near its best
        after rising by more than this fraction of its size, has converged (``info``)
    """

    kl_high: float = 0.2
    kl_consecutive: int = 3
    kl_extreme: float = 1.0
    clip_fraction: float = 0.5
    entropy_fall: float = 0.5
    window: int = 5
    not_updating_kl: float = 1e-8
    not_updating_consecutive: int = 3
    frozen_change: float = 1e-8
    lr_floor: float = 0.01
    lr_tiny: float = 1e-7
    early_stop_frac: float = 0.8
    line_search_fail_frac: float = 0.5
    deterministic_entropy: float = 0.05
    converged_gain: float = 0.3
    _fractions = ("clip_fraction", "entropy_fall", "lr_floor", "early_stop_frac", "line_search_fail_frac",
                  "deterministic_entropy")
    _counts = ("kl_consecutive", "window", "not_updating_consecutive")
    _non_negative = ("kl_high", "kl_extreme", "not_updating_kl", "converged_gain", "lr_tiny", "frozen_change")


@dataclass(frozen=True)
class BufferThresholds(Thresholds):
    """
    :param action_half_width: a Box action dimension wider than this either way of its centre is far from [-1, 1]
    :param image_scaled_max: float images above this were not scaled to [0, 1] (unscaled ones reach 255)
    """

    action_half_width: float = 10.0
    image_scaled_max: float = 10.0
    _non_negative = ("action_half_width", "image_scaled_max")


@dataclass(frozen=True)
class VecNormalizeThresholds(Thresholds):
    """
    :param reward_squeeze: how many times more alike than in raw size clipping may make two rewards (5x apart raw,
        1.2x apart after clipping: squeezed 4.2x, a win bonus cut to the size of ordinary rewards)
    :param obs_clip_frac: fraction of normalised observation entries at ``clip_obs`` that is too many ...
    :param obs_clip_entries: ... among at least this many entries (small rollouts, A2C's, are pooled until then)
    :param obs_var_floor: running observation variance below which a dim is degenerate
    :param ret_std_drift: factor by which the reward normalisation scale may drift from its reference
    :param ret_reference_samples: timesteps the return statistics need before they serve as reference
    :param warmup_updates: rollouts ignored at the start (the running statistics are still empty)
    :param consecutive: rollouts in a row (or, for rare large rewards, in total) a problem must be seen
    """

    reward_squeeze: float = 2.0
    obs_clip_frac: float = 0.01
    obs_clip_entries: int = 2048
    obs_var_floor: float = 1e-8
    ret_std_drift: float = 10.0
    ret_reference_samples: int = 1000
    warmup_updates: int = 1
    consecutive: int = 2
    _fractions = ("obs_clip_frac",)
    _counts = ("ret_reference_samples", "warmup_updates", "consecutive", "obs_clip_entries")
    _non_negative = ("reward_squeeze", "obs_var_floor", "ret_std_drift")


@dataclass(frozen=True)
class LSTMThresholds(Thresholds):
    """
    :param tolerance: relative change in the policy's output at an episode start, caused by the
        previous episode's state, above which the state leaked (a correct reset gives exactly 0)
    :param checks_per_rollout: episode starts re-evaluated per rollout (cost control)
    """

    tolerance: float = 1e-5
    checks_per_rollout: int = 16
    _counts = ("checks_per_rollout",)
    _non_negative = ("tolerance",)


@dataclass(frozen=True)
class RewardThresholds(Thresholds):
    """
    :param nonzero_eps: ``|reward|`` above which a step counts as rewarded
    :param sparse_frac: fraction of rewarded steps below which the reward is sparse
    :param tiny: typical ``|reward|`` (mean over non-zero rewards) below which rewards are tiny
    :param huge: typical ``|reward|`` above which rewards are huge
    :param huge_return: ``|discounted return|`` above which returns are huge
    :param constant_std: std of per-step rewards, and of episode returns, at or below which they do not vary
    :param low_snr: ``|mean| / std`` of the reward below which it is mostly noise
    :param component_share: share of the reward variance one component of ``info["reward_components"]`` may carry
    :param component_dense_frac: a component paid on fewer steps than this (a win bonus) is the goal, not a term
        that can drown the others: it is left out of the imbalance judgement
    :param rewarded_episodes: share of finished episodes that collect any reward above which a sparse reward
        is feedback enough (a goal the agent reaches)
    :param explore_frac: fraction of training during which a constant or sparse reward (the goal not reached
        yet) is only ``info``
    :param horizon_multiple: how many discount horizons ``1 / (1 - gamma)`` the first reward of an episode may
        come after its start (median over the window's rewarded episodes); 5 horizons discount it to
        ``exp(-5)`` < 1% of its value
    :param horizon_episodes: rewarded episodes a window needs before the horizon is judged
    :param min_samples: rewards a window needs before it is judged
    :param consecutive: windows in a row a problem must hold before it is reported (live checks;
        ``check_training_env`` judges its one rollout as a single window)
    """

    nonzero_eps: float = 1e-3
    sparse_frac: float = 0.05
    tiny: float = 1e-3
    huge: float = 1e3
    huge_return: float = 1e4
    constant_std: float = 1e-8
    low_snr: float = 0.1
    component_share: float = 0.8
    component_dense_frac: float = 0.2
    rewarded_episodes: float = 0.5
    explore_frac: float = 0.5
    horizon_multiple: float = 5.0
    horizon_episodes: int = 5
    min_samples: int = 100
    consecutive: int = 2
    _fractions = ("sparse_frac", "component_share", "component_dense_frac", "rewarded_episodes", "explore_frac")
    _counts = ("horizon_episodes", "min_samples", "consecutive")
    _non_negative = ("nonzero_eps", "tiny", "huge", "huge_return", "constant_std", "low_snr", "horizon_multiple")

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.tiny >= self.huge:
            raise InvalidThresholdError(f"RewardThresholds: tiny={self.tiny} must be below huge={self.huge}.")


@dataclass(frozen=True)
class PreflightThresholds(Thresholds):
    """
    Thresholds of the environment-only pre-flight codes (``check_training_env``).

    :param dead_dim_std: observation dims with a std below this are dead
    :param scale_ratio: max/min std of the live observation dims above which they need normalising
    :param max_mlp_dims: non-image observation dims above which an MLP policy struggles
    :param reward_corr: no observation feature correlating with the reward above this makes it unlearnable
    :param short_episode: every episode shorter than this many steps is degenerate (a fixed-horizon task is fine)
    :param timeout_min_length: episodes all ``terminated`` at one length of at least this many steps: a time limit
    :param reset_seeds: seeds tried to see whether ``reset()`` randomises the first observation
    :param determinism_steps: steps replayed twice with the same seed and actions
    :param action_states: states at which different actions are compared
    :param action_horizon: steps after the tried action over which its effect is looked for (a
        delayed effect still counts)
    :param action_half_width: a Box action dimension whose half-width exceeds this is far from [-1, 1]
        (Pendulum's [-2, 2] is fine); so is one whose range does not contain 0 strictly inside
    :param image_scaled_max: float images above this were not scaled to [0, 1] (unscaled ones reach 255)
    """

    dead_dim_std: float = 1e-6
    scale_ratio: float = 100.0
    max_mlp_dims: int = 1000
    reward_corr: float = 0.1
    short_episode: int = 3
    timeout_min_length: int = 10
    reset_seeds: int = 5
    determinism_steps: int = 100
    action_states: int = 3
    action_horizon: int = 3
    action_half_width: float = 10.0
    image_scaled_max: float = 10.0
    _fractions = ("reward_corr",)
    _counts = ("max_mlp_dims", "short_episode", "timeout_min_length", "reset_seeds", "determinism_steps",
               "action_states", "action_horizon")
    _non_negative = ("dead_dim_std", "scale_ratio", "action_half_width", "image_scaled_max")


@dataclass(frozen=True)
class GradientThresholds(Thresholds):
    """
    :param exploding: gradient norm before clipping (median over an update's optimizer steps) above
        which gradients explode, if sustained
    :param exploding_step: norm of a single optimizer step above which one update is enough (the
        step that wrecks the network; healthy runs stay orders of magnitude below)
    :param vanishing: ... below which they vanish
    :param loss_floor: ``|loss|`` above which a vanishing gradient is a problem (below it the loss is ~0
        and a tiny gradient is expected)
    :param consecutive: updates in a row an exploding or vanishing norm must last
    :param no_grad_updates: updates in a row a trainable parameter must go without any gradient while
        its optimizer steps before ``param_no_grad`` is reported (one with a gradient that no optimizer holds
        is reported at once)
    :param narrow_width: a hidden layer of at most this many units, narrower than the observation, is a
        bottleneck (``net_arch``, ``features_dim``)
    :param stuck_units: fraction of a layer's units dead (ReLU at 0) or saturated (tanh / sigmoid at a bound)
        on every observation of a sample above which the layer has lost its capacity
    :param stuck_min_units: layers with fewer units are not judged for stuck units (``check_policy`` only)
    """

    exploding: float = 1e4
    exploding_step: float = 1e5
    vanishing: float = 1e-6
    loss_floor: float = 1e-6
    consecutive: int = 2
    no_grad_updates: int = 3
    narrow_width: int = 2
    stuck_units: float = 0.75
    stuck_min_units: int = 8
    _fractions = ("stuck_units",)
    _counts = ("consecutive", "no_grad_updates", "narrow_width", "stuck_min_units")
    _non_negative = ("exploding", "exploding_step", "vanishing", "loss_floor")

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.vanishing < self.exploding <= self.exploding_step:
            raise InvalidThresholdError(
                f"GradientThresholds: need vanishing={self.vanishing} < exploding={self.exploding} <= "
                f"exploding_step={self.exploding_step}."
            )


@dataclass(frozen=True)
class QValueThresholds(Thresholds):
    """
    :param q_abs_max: ``|mean Q|`` above which Q-values are suspect; reported
        as divergence only while still growing, since a well-trained agent on a high-reward task can
        sit above it
    :param q_growth: relative growth of ``|mean Q|`` across ``consecutive`` measurements that counts as still growing
    :param twin_spread: mean ``|Q1 - Q2|`` above which the twin critics disagree
    :param twin_relative: ... and only when the spread is also this fraction of ``|mean Q|`` (a spread
        of 100 is noise when Q is 1e5)
    :param drift_ratio: target-network movement, in polyak updates, per update that ``tau`` and
        ``target_update_interval`` allow, above which the target moves too fast (a doubled
        ``polyak_update`` gives ~2)
    :param consecutive: measurements in a row a problem must last
    :param samples: replay-buffer transitions evaluated per measurement
    """

    q_abs_max: float = 1000.0
    q_growth: float = 0.1
    twin_spread: float = 100.0
    twin_relative: float = 0.1
    drift_ratio: float = 1.5
    consecutive: int = 2
    samples: int = 256
    _fractions = ("twin_relative",)
    _counts = ("consecutive", "samples")
    _non_negative = ("q_abs_max", "q_growth", "twin_spread")

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.drift_ratio <= 1.0:
            raise InvalidThresholdError(
                f"QValueThresholds: drift_ratio={self.drift_ratio} must be above 1 (1 is exactly what tau allows)."
            )


@dataclass(frozen=True)
class EpisodeThresholds(Thresholds):
    """
    :param short_episode: mean episode length (steps) below which the agent dies at once (a fixed-horizon task is fine)
    :param consecutive: updates in a row the episodes must stay that short
    :param sustain_steps: ... and timesteps: an untrained greedy policy (DQN right after its
        exploration phase) is briefly this short too, then learns
    :param min_points: updates of ``ep_rew_mean`` in the window judged for a falling reward (the
        last third of the updates seen, never fewer than this)
    :param falling_rank: rank correlation with time at or below which the reward falls steadily
    :param min_drop: relative fall (of the reward's size) that is more than noise
    :param flat_returns: relative spread of the mean return under which returns count as flat
    :param success_gain: short episodes while the mean return is near its best, after rising by more than this
        fraction of its size, are the agent reaching its goal fast, not failing at once
    :param exploit_shrink: how many times shorter than at the start short episodes must have become, with a return
        that rose under a per-step penalty, to count as the agent ending episodes on purpose
    :param sustain_frac: ... and the short episodes must also last this fraction of training
    :param falling_after: fraction of training before which a falling reward is not judged (early noise)
    :param never_end_steps: steps per env without any episode ending (in any env) after which episodes never end
    :param never_end_limits: ... or, sooner, this many times the env's own ``max_episode_steps`` (when its spec has one)
    :param lost_progress: in a run whose return had risen (by more than ``success_gain``), the share of that
        rise a falling reward must give back to be reported (a partial dip is how A2C and PPO learn)
    :param drop_confidence: when the spread of the episode returns is known (live), standard errors of the two means
        by which the reward must fall (a moving mean of noisy returns drifts; 3, not 2: it is tested at every update)
    """

    short_episode: float = 10.0
    consecutive: int = 3
    sustain_steps: int = 4000
    min_points: int = 8
    falling_rank: float = -0.8
    min_drop: float = 0.2
    flat_returns: float = 0.05
    success_gain: float = 0.3
    exploit_shrink: float = 2.0
    sustain_frac: float = 0.15
    falling_after: float = 0.3
    never_end_steps: int = 10_000
    never_end_limits: float = 2.0
    lost_progress: float = 0.6
    drop_confidence: float = 3.0
    _counts = ("consecutive", "sustain_steps", "min_points", "never_end_steps")
    _fractions = ("min_drop", "flat_returns", "sustain_frac", "falling_after", "lost_progress")
    _non_negative = ("short_episode", "success_gain", "drop_confidence", "exploit_shrink", "never_end_limits")
