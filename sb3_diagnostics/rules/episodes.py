"""Episodes: agents that die at once, and a reward that falls steadily (the lagging indicator)."""

from __future__ import annotations

import math

import numpy as np

from sb3_diagnostics.findings import Alert, Severity
from sb3_diagnostics.rules.base import Metrics, ReturnProgress, Rule, Streak, get, standard_error
from sb3_diagnostics.thresholds import EpisodeThresholds


def spearman(values: list[float]) -> float:
    """
    Rank correlation of a series with time: -1 falls at every step, +1 rises at every step.

    :param values: the series, in time order (ties get their average rank)
    :return: the correlation, nan for fewer than 3 values or a constant series
    """
    x = np.asarray(values, dtype=np.float64)
    if x.size < 3 or np.all(x == x[0]):
        return float("nan")
    # average rank of each distinct value (ties share the mean of their positions), vectorised
    _, inverse, counts = np.unique(x, return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    ranks = ((ends - counts + ends - 1) / 2.0)[inverse]
    time = np.arange(x.size, dtype=np.float64)
    return float(np.corrcoef(ranks, time)[0, 1])


class Series:
    """
    A long series kept in bounded memory: at most ``capacity`` points; when full, neighbours are averaged
    in pairs and each point stands for twice as many updates. The shape of the series (a steady fall over
    its last third) survives; the per-update cost stays the same however long the run.

    :param capacity: points kept (even)
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity - capacity % 2
        self.points: list[float] = []
        self.stride = 1
        self._pending: list[float] = []
        self.low = float("inf")
        self.high = float("-inf")
        self.count = 0

    def push(self, value: float) -> None:
        self.count += 1
        self.low, self.high = min(self.low, value), max(self.high, value)
        self._pending.append(value)
        if len(self._pending) < self.stride:
            return
        self.points.append(sum(self._pending) / len(self._pending))
        self._pending = []
        if len(self.points) >= self.capacity:
            self.points = [(a + b) / 2 for a, b in zip(self.points[::2], self.points[1::2], strict=True)]
            self.stride *= 2

    def recent(self, fraction: float, at_least: int) -> list[float]:
        """The last ``fraction`` of the points, never fewer than ``at_least`` (fewer only when there are fewer)."""
        return self.points[-max(at_least, int(len(self.points) * fraction)):]

    @property
    def spread(self) -> float:
        """max - min of every value pushed (not only the kept points)."""
        return self.high - self.low if self.count else 0.0


class EpisodeRule(Rule):
    """
    Reads ``_ep_len_mean`` and ``_ep_rew_mean`` (SB3's ``rollout/ep_len_mean`` and
    ``rollout/ep_rew_mean``: the last 100 episodes), ``_ep_len_std`` when known, and
    ``truncation_frac`` (share of episodes that ended by a time limit), once per update. Memory and
    work per update do not grow with the length of the run (:class:`Series`).

    - ``episode_length_degenerate``: the mean episode lasts fewer than ``short_episode`` steps for
      ``consecutive`` updates spanning at least ``sustain_steps`` timesteps (the agent dies at once),
      unless the mean return rose substantially meanwhile (short *successful* episodes: the agent
      reaches its goal fast). Every episode truncated is normal for fixed-horizon tasks (Pendulum): it
      is only ``info``, and only while returns stay flat.
    - ``termination_exploited``: the same short episodes, but with a return that rose (by more than
      ``success_gain``) while episodes got at least ``exploit_shrink`` times shorter than at the start, under a
      per-step penalty (``_step_reward`` < 0: what the steps before the last paid on average) that ending does
      not beat (``_ending_bonus``, how much more the last reward paid, at most half the penalty): dying early is
      what the agent learned, not reaching a goal (a goal pays more than a step; Acrobot's 0 against -1 does).
    - ``episodes_never_end``: ``steps_since_episode_end`` (steps per env since an episode last ended in
      any env) reaches ``never_end_steps``, or ``never_end_limits`` times ``_time_limit`` (the env's own
      ``max_episode_steps``; 0: unknown) when that is sooner.
    - ``reward_decreasing``: over the last third of the updates seen (at least ``min_points``),
      the mean episode reward falls steadily (rank correlation with time <= ``falling_rank``) and
      by more than ``min_drop`` of its size; in a run that had made progress, the fall must also give back
      at least ``lost_progress`` of it; when the spread of the returns is known, the fall must exceed
      ``drop_confidence`` standard errors of the two means (a moving mean of noisy returns drifts steadily);
      for epsilon-greedy algorithms (``_exploration_rate``), the window must begin after epsilon stopped
      falling (an untrained greedy policy does worse than a random one).
    """

    codes = ("episode_length_degenerate", "termination_exploited", "episodes_never_end", "reward_decreasing")

    def __init__(self, thresholds: EpisodeThresholds | None = None) -> None:
        super().__init__()
        self.th = thresholds or EpisodeThresholds()
        self._short = Streak()
        self._short_since: int | None = None
        self._short_since_progress: float | None = None
        self._progress: float | None = None
        self._truncated = Streak()
        self._rewards = Series(capacity=12 * self.th.min_points)
        #: epsilon-greedy's last epsilon, and the step from which the mean return no longer follows its schedule
        self._exploration: float | None = None
        self._explored_until = 0.0
        #: the step of each point of ``_rewards``
        self._steps = Series(capacity=12 * self.th.min_points)
        #: the standard error of each mean in ``_rewards`` (NaN where the spread is not known)
        self._errors = Series(capacity=12 * self.th.min_points)
        self.returns = ReturnProgress()
        self._first_length: float | None = None
        self._exploit = Streak()
        self._exploit_since: int | None = None
        self._agent_first: float | None = None
        self._agent_now: float | None = None
        self._penalty: float | None = None
        self._bonus: float | None = None

    def _observe(self, step: int, metrics: Metrics) -> list[Alert]:
        th, alerts = self.th, []
        reward = get(metrics, "_ep_rew_mean")
        exploration = get(metrics, "_exploration_rate")
        if exploration is not None:
            if self._exploration is not None and exploration != self._exploration:
                # epsilon still falls: the returns follow its schedule until SB3's mean over the last 100 episodes
                # (stats_window_size) holds only episodes played at the final epsilon
                self._explored_until = step + 100 * (get(metrics, "_ep_len_mean") or 0.0)
            self._exploration = exploration
        if reward is not None:
            self._rewards.push(reward)
            self._steps.push(float(step))
            std, count = get(metrics, "_ep_rew_std"), get(metrics, "_ep_count")
            error = standard_error(std, count)
            self._errors.push(math.nan if error is None else error)
        self.returns.observe(metrics)
        self._progress = get(metrics, "_progress")
        length = get(metrics, "_ep_len_mean")
        # Episodes of one fixed length are the task's design (a bandit, a probe), not an agent that dies;
        # short episodes while the return rose substantially are the agent reaching its goal fast.
        fixed_length = get(metrics, "_ep_len_std") == 0.0
        succeeding = self.returns.improved(th.success_gain)
        short = length is not None and length < th.short_episode and not fixed_length and not succeeding
        if length is not None:
            self._short.update(short)
            if not short:
                self._short_since = None
            elif self._short_since is None:
                self._short_since, self._short_since_progress = step, self._progress
        since = self._short_since
        # long enough in timesteps, and in the share of training (an untrained greedy DQN is briefly this short)
        lasted = since is not None and step - since >= th.sustain_steps and (
            self._progress is None or self._short_since_progress is None
            or self._progress - self._short_since_progress >= th.sustain_frac)
        if short and since is not None and self._short.count >= th.consecutive and lasted:
            assert length is not None
            alerts.append(Alert(
                "episode_length_degenerate",
                f"the mean episode has lasted {length:.1f} steps or so (threshold {th.short_episode:g}) for "
                f"{step - since} timesteps while the return did not improve: the agent fails almost at once, so it "
                "never sees the states where it could learn the task.",
                length, th.short_episode,
            ))
        alerts += self._exploited(step, metrics, length, fixed_length, succeeding)
        alerts += self._decreasing()
        alerts += self._all_truncated(get(metrics, "truncation_frac"))
        alerts += self._never_end(get(metrics, "steps_since_episode_end"), get(metrics, "_time_limit") or 0.0)
        return alerts

    def _exploited(self, step: int, m: Metrics, length: float | None, fixed: bool, succeeding: bool) -> list[Alert]:
        """``termination_exploited``: episodes that collapsed while the return rose, under a per-step penalty."""
        th = self.th
        if length is None:
            return []
        if self._first_length is None:
            self._first_length = length
        # measured when enough episodes ended: between two measurements the last ones still hold
        if get(m, "_step_reward") is not None:
            self._penalty, self._bonus = get(m, "_step_reward"), get(m, "_ending_bonus")
        penalty, bonus = self._penalty, self._bonus
        truncated, agent = get(m, "truncation_frac"), get(m, "_agent_return")
        if agent is not None:
            # the return in the rewards the agent receives (Monitor's may count the env's reward before a wrapper)
            self._agent_first = agent if self._agent_first is None else self._agent_first
            first_agent = self._agent_first
            succeeding = agent - first_agent > th.success_gain * max(abs(first_agent), abs(agent), 1e-8)
            self._agent_now = agent
        elif self._agent_first is not None and self._agent_now is not None:
            size = max(abs(self._agent_first), abs(self._agent_now), 1e-8)
            succeeding = self._agent_now - self._agent_first > th.success_gain * size
        first = self._first_length
        exploiting = (
            length < th.short_episode and not fixed and succeeding and first >= th.exploit_shrink * length
            and penalty is not None and penalty < 0 and bonus is not None and bonus <= 0.5 * abs(penalty)
            and (truncated is None or truncated < 0.5)
        )
        if self._exploit.update(exploiting) == 1:
            self._exploit_since = step
        since = self._exploit_since
        if not exploiting or since is None or self._exploit.count < th.consecutive or step - since < th.sustain_steps:
            return []
        assert penalty is not None and bonus is not None
        first_return, now = (self._agent_first, self._agent_now) if self._agent_now is not None else (
            self.returns.first, self.returns.current)
        rose = f" while the return rose from {first_return:.3g} to {now:.3g}" if first_return is not None and \
            now is not None else " while the return rose"
        return [Alert(
            "termination_exploited",
            f"episodes shrank from {first:.1f} to {length:.1f} steps{rose}: every step costs {penalty:.3g} on average "
            f"and the last one pays {bonus:+.3g} more, so ending the episode (falling, crashing, leaving the area) is "
            "the cheapest thing the agent can do, and that is what it learned (simglucose #40, gym-electric-motor "
            "#24).",
            first / length, th.exploit_shrink,
        )]

    def _never_end(self, since: float | None, limit: float = 0.0) -> list[Alert]:
        if since is None:
            return []
        hidden = self.th.never_end_limits * limit
        if limit and hidden < self.th.never_end_steps and since >= hidden:
            return [Alert(
                "episodes_never_end",
                f"no episode has ended in any env for the last {int(since)} steps per env, yet the env's own time "
                f"limit (spec.max_episode_steps) is {int(limit)} steps (threshold: {self.th.never_end_limits:g}x that): "
                "something between the env and SB3 hides the episode ends, typically a wrapper that resets the env "
                "itself and returns terminated=False, truncated=False (SB3 #1806). SB3 then never logs an episode "
                "return (rollout/ep_rew_mean), a recurrent policy never sees episode_starts, and GAE bootstraps "
                "across episodes.",
                since, hidden,
            )]
        if since < self.th.never_end_steps:
            return []
        return [Alert(
            "episodes_never_end",
            f"no episode has ended in any env for the last {int(since)} steps per env (threshold "
            f"{self.th.never_end_steps}): without a time limit and a reachable terminal state, SB3 never logs an "
            "episode return (rollout/ep_rew_mean), a stuck agent is never reset, and GAE bootstraps one endless "
            "episode.",
            since, self.th.never_end_steps,
        )]

    def _recent(self) -> list[float]:
        return self._rewards.recent(1 / 3, self.th.min_points)

    def _decreasing(self) -> list[Alert]:
        th = self.th
        recent = self._recent()
        if self._rewards.count < 3 * th.min_points or len(recent) < th.min_points:
            return []
        if self._progress is not None and self._progress < th.falling_after:
            return []  # a fall over the first updates (A2C: a few hundred steps) is early noise, not a trend
        if self._steps.recent(1 / 3, th.min_points)[0] < self._explored_until:
            # DQN's greedy policy is worse than random until its Q-values learn: returns fall while epsilon falls
            return []
        rank = spearman(recent)
        start, end = float(np.mean(recent[:3])), float(np.mean(recent[-3:]))
        scale = max(abs(start), abs(end), self._rewards.spread, 1e-8)
        drop = (start - end) / scale
        if not (rank <= th.falling_rank and drop > th.min_drop):
            return []
        errors = self._errors.recent(1 / 3, th.min_points)
        noise = th.drop_confidence * math.hypot(float(np.mean(errors[:3])), float(np.mean(errors[-3:])))
        if start - end <= noise:  # NaN (spread unknown, post hoc) compares False: judged on the trend alone
            return []
        first, best, now = self.returns.first, self.returns.best, self.returns.current
        if first is not None and best is not None and now is not None and best - first > th.success_gain * max(
                abs(first), abs(best), 1e-8):
            # After real progress, a partial dip is how A2C and PPO learn (SB3's default A2C on CartPole falls from
            # 268 to 150 and then solves the task). Even a fall that gives back most of it can be followed by a
            # recovery (the same run on other seeds: 261 -> 90 -> 335, 351 -> 50 -> 317): info, not a warning.
            share = (best - now) / (best - first)
            if share < th.lost_progress:
                return []
            return [Alert(
                "reward_decreasing",
                f"over the last third of training the mean episode reward fell steadily from {start:.3g} to "
                f"{end:.3g}, giving back {100 * share:.0f}% of what the run had gained (best {best:.3g}, first "
                f"{first:.3g}; rank correlation with time {rank:.2f}, threshold {th.falling_rank}). A2C and PPO often "
                "lose much of what they learned and recover (SB3's default A2C on CartPole-v1 does); if it does not "
                "recover, the updates are too large for what was learned (lower learning_rate, raise batch size "
                "or n_steps).",
                drop, th.min_drop, severity=Severity.INFO,
                hint="Keep the best model with EvalCallback; if the return does not come back, lower learning_rate.",
            )]
        return [Alert(
            "reward_decreasing",
            f"over the last third of training the mean episode reward fell steadily from {start:.3g} to {end:.3g}"
            f" (rank correlation with time {rank:.2f}, threshold {th.falling_rank}): the agent is getting worse "
            "(reward is a lagging indicator: something upstream broke first), or the reward itself drifts (a term "
            "that depends on env state that reset() never resets, such as a step counter).",
            drop, th.min_drop,
        )]

    def _all_truncated(self, truncation: float | None) -> list[Alert]:
        th = self.th
        if truncation is None:
            return []
        recent = self._recent()
        flat = self._rewards.count >= th.min_points and float(np.ptp(recent)) <= th.flat_returns * max(
            abs(float(np.mean(recent))), 1.0)
        if self._truncated.update(truncation >= 1.0 and flat) < th.min_points:
            return []
        return [Alert(
            "episode_length_degenerate",
            f"every episode ended by the time limit for {self._truncated.count} updates while the mean return stayed "
            "flat: normal for fixed-horizon tasks, but if the goal is a terminal state the agent never reaches it.",
            truncation, 1.0, severity=Severity.INFO,
            hint="If reaching a terminal state is the goal: shorten episodes, add intermediate goals or shape the reward.",
        )]
