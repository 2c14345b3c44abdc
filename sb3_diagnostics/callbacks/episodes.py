"""EpisodeCallback: what episodes look like (length, truncation) and whether the return falls."""

from __future__ import annotations

import numpy as np

from sb3_diagnostics.callbacks.base import DiagnosticCallback
from sb3_diagnostics.sb3.train_log import episode_stats, progress


class EpisodeCallback(DiagnosticCallback):
    """
    Judges episodes, for every algorithm: ``episode_length_degenerate`` (the agent fails at once,
    or every episode is cut by the time limit while the return stays flat), ``episodes_never_end``
    (no episode ended in any env for ``never_end_steps`` steps) and ``reward_decreasing``
    (the mean episode reward falls steadily: the lagging indicator that something upstream broke).

    Episode lengths and returns are SB3's own (``ep_info_buffer``, filled by ``Monitor``); per
    step it only looks at the ``infos`` of the environments whose episode just ended, to count
    the ones cut by a time limit (``TimeLimit.truncated``). Logs ``diagnostics/truncation_frac`` and
    ``diagnostics/episodes_finished``.

    :param thresholds: :class:`~sb3_diagnostics.thresholds.EpisodeThresholds` or a dict of its fields
    See :class:`~sb3_diagnostics.callbacks.base.DiagnosticCallback` for the other parameters.
    """

    check_name = "episodes"

    def _init_state(self) -> None:
        self._ended = 0
        self._truncated = 0
        self._finished = 0  # episodes that ended since the last measurement
        self._since_end = 0  # steps (per env) since an episode last ended in any env

    def _on_env_step(self) -> None:
        dones = self.locals["dones"]
        self._since_end += 1
        if True in (ended := np.asarray(dones).tolist()):
            self._since_end = 0
            infos = self.locals["infos"]
            for info, done in zip(infos, ended, strict=True):
                if done:
                    self._ended += 1
                    self._finished += 1
                    self._truncated += bool(info.get("TimeLimit.truncated", False))

    def _measure(self) -> dict[str, float]:
        out = dict(self._cached("episodes", lambda: episode_stats(self.model)))
        out["_progress"] = progress(self.model)
        out["episodes_finished"] = float(self._finished)
        out["steps_since_episode_end"] = float(self._since_end)
        self._finished = 0
        if self._ended:
            out["truncation_frac"] = self._truncated / self._ended
            self._ended = self._truncated = 0
        return out
