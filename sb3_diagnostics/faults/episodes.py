"""Wrappers that get the end of an episode wrong: swallowed by a buggy auto-reset, or a time limit reported as a
termination."""

from __future__ import annotations

from typing import Any, SupportsFloat

import gymnasium as gym


class SwallowEpisodeEnd(gym.Wrapper):
    """
    A buggy auto-reset wrapper: when the episode ends it resets the env itself and returns
    ``terminated=False, truncated=False`` with the first observation of the next episode. The
    VecEnv never sees ``done``, so ``episode_starts`` is never set and a recurrent policy keeps
    its state across episodes ("verify done signals work").

    Put it above ``Monitor`` (``make_vec_env(..., wrapper_class=SwallowEpisodeEnd)`` does) to
    reproduce the common wrapper-order mistake.
    """

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        if terminated or truncated:
            obs, _ = self.env.reset()
        return obs, reward, False, False, info


class OwnStepBudget(gym.Wrapper):
    """
    An env that counts its own steps and ends the episode when its budget runs out with ``terminated=True``
    (SB3 #284): a time limit reported as a termination, so the last states look terminal. ``as_truncation=True``
    is the fix (``truncated=True``, what ``gymnasium.wrappers.TimeLimit`` returns).

    :param env: an env without a time limit of its own (e.g. ``gym.make(id, max_episode_steps=10_000)``)
    :param steps: the budget
    :param as_truncation: whether the budget's end is reported as a truncation
    """

    def __init__(self, env: gym.Env, steps: int = 200, as_truncation: bool = False) -> None:
        super().__init__(env)
        self.steps, self.as_truncation, self.t = steps, as_truncation, 0

    def reset(self, **kwargs: Any) -> tuple[Any, dict]:
        self.t = 0
        return self.env.reset(**kwargs)

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.t += 1
        if self.t >= self.steps:
            truncated, terminated = (True, terminated) if self.as_truncation else (truncated, True)
        return obs, reward, terminated, truncated, info
