"""EpisodeCallback: what episodes look like (length, truncation) and whether the return falls."""

from __future__ import annotations

import numpy as np

from sb3_diagnostics.callbacks.base import DiagnosticCallback
from sb3_diagnostics.sb3.steps import original_rewards, time_limit
from sb3_diagnostics.sb3.train_log import episode_stats, progress

#: episodes whose returns and last rewards are averaged into one measurement
POOLED_EPISODES = 5


class EpisodeCallback(DiagnosticCallback):
    """
    Judges episodes, for every algorithm: ``episode_length_degenerate`` (the agent fails at once,
    or every episode is cut by the time limit while the return stays flat), ``termination_exploited``
    (episodes collapse to a few steps while the return rises under a per-step penalty), ``episodes_never_end``
    (no episode ended in any env for ``never_end_steps`` steps, or for ``never_end_limits`` times the env's own
    time limit when its spec has one: something hides the ends) and ``reward_decreasing``
    (the mean episode reward falls steadily: the lagging indicator that something upstream broke).

    Episode lengths and returns are SB3's own (``ep_info_buffer``, filled by ``Monitor``); per
    step it only looks at the ``infos`` of the environments whose episode just ended, to count
    the ones cut by a time limit (``TimeLimit.truncated``), and at the end of a terminated episode at its
    last reward against the episode's other steps (``termination_exploited``: does ending pay more than going
    on?), from the running return of each env in the rewards the agent receives (one vector add per step).
    Logs ``diagnostics/truncation_frac`` and ``diagnostics/episodes_finished``.

    :param thresholds: :class:`~sb3_diagnostics.thresholds.EpisodeThresholds` or a dict of its fields

    See :class:`~sb3_diagnostics.callbacks.base.DiagnosticCallback` for the other parameters.
    """

    check_name = "episodes"

    def _init_state(self) -> None:
        self._ended = 0
        self._truncated = 0
        #: over the episodes that terminated since the last measurement: how much more their last reward paid
        #: than their other steps did on average, and what those other steps paid
        self._ending_bonus = 0.0
        self._step_reward = 0.0
        self._endings = 0
        self._agent_return = 0.0  # summed returns of the episodes that ended since the last measurement
        self._agent_episodes = 0
        self._finished = 0  # episodes that ended since the last measurement
        self._since_end = 0  # steps (per env) since an episode last ended in any env

    def _setup(self) -> None:
        # the return and length of each env's running episode, in the rewards the agent receives (before
        # VecNormalize): Monitor's may sit below a reward wrapper and count other rewards
        self._running_return = np.zeros(self.model.n_envs)
        self._running_length = np.zeros(self.model.n_envs, dtype=np.int64)
        self._time_limit = time_limit(self.model.get_env()) or 0  # the env's own max_episode_steps (0: unknown)

    def _on_env_step(self) -> None:
        locals_ = self.locals
        dones = locals_["dones"]
        rewards = original_rewards(self.model, locals_)
        self._running_return += rewards
        self._running_length += 1
        self._since_end += 1
        if True in (ended := np.asarray(dones).tolist()):
            self._since_end = 0
            for i, (info, done) in enumerate(zip(locals_["infos"], ended, strict=True)):
                if done:
                    self._episode_ended(i, bool(info.get("TimeLimit.truncated", False)), float(rewards[i]))

    def _episode_ended(self, i: int, truncated: bool, last: float) -> None:
        self._ended += 1
        self._finished += 1
        self._truncated += truncated
        total, length = float(self._running_return[i]), int(self._running_length[i])
        self._running_return[i], self._running_length[i] = 0.0, 0
        self._agent_return += total
        self._agent_episodes += 1
        if not truncated and length > 1:
            others = (total - last) / (length - 1)  # what the steps before the last paid on average
            self._ending_bonus += last - others
            self._step_reward += others
            self._endings += 1

    def _measure(self) -> dict[str, float]:
        out = dict(self._cached("episodes", lambda: episode_stats(self.model)))
        out["_progress"] = progress(self.model)
        out["episodes_finished"] = float(self._finished)
        out["steps_since_episode_end"] = float(self._since_end)
        out["_time_limit"] = float(self._time_limit)
        self._finished = 0
        if self._ended:
            out["truncation_frac"] = self._truncated / self._ended
            self._ended = self._truncated = 0
        # pooled over updates until enough episodes ended (A2C's rollouts of 5 steps end one episode now and then)
        if self._endings >= POOLED_EPISODES:
            out["_ending_bonus"] = self._ending_bonus / self._endings
            out["_step_reward"] = self._step_reward / self._endings
            self._ending_bonus = self._step_reward = 0.0
            self._endings = 0
        if self._agent_episodes >= POOLED_EPISODES:
            out["_agent_return"] = self._agent_return / self._agent_episodes
            self._agent_return, self._agent_episodes = 0.0, 0
        return out
