"""Evaluating recurrent policies the way they must be evaluated: the state reset at every episode start."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import gymnasium as gym
import numpy as np
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv

from sb3_diagnostics.errors import InvalidThresholdError
from sb3_diagnostics.warnings import RecurrentStateWarning

#: SB3's ``predict()`` of a recurrent model defaults ``episode_start`` to all False
PREDICT_EPISODE_START_NOTE = (
    "RecurrentPPO.predict(obs, state) defaults episode_start to all False, so in a hand-written evaluation "
    "loop the LSTM state of the previous episode leaks into the next one unless you pass "
    "episode_start=dones (True on the first step of each episode). Use "
    "sb3_diagnostics.evaluate_recurrent(model, env, n_episodes) or SB3's evaluate_policy, or wrap "
    "your loop in warn_missing_episode_start(model) to catch it."
)


def evaluate_recurrent(
    model: BaseAlgorithm,
    env: gym.Env | VecEnv,
    n_episodes: int = 10,
    deterministic: bool = True,
    seed: int | None = None,
) -> np.ndarray:
    """
    Evaluate a model the way a recurrent policy must be evaluated: the LSTM state is carried from
    step to step and reset at every episode start (``episode_start=True`` on the first step of each
    episode). ``model.predict(obs, state)`` without ``episode_start`` does not reset it, because
    SB3 defaults ``episode_start`` to all False. Works for non-recurrent models too.

    :param model: the trained model
    :param env: a gymnasium ``Env`` (wrapped in a ``DummyVecEnv``) or a ``VecEnv``
    :param n_episodes: episodes to finish
    :param deterministic: whether to use deterministic actions
    :param seed: seed of the first reset (None: the env's current RNG)
    :return: the undiscounted return of each episode, in order of completion, shape ``(n_episodes,)``
    """
    if isinstance(n_episodes, bool) or not isinstance(n_episodes, int) or n_episodes < 1:
        raise InvalidThresholdError(f"n_episodes={n_episodes!r}: must be a whole number >= 1.")
    venv = env if isinstance(env, VecEnv) else DummyVecEnv([lambda: env])
    if seed is not None:
        venv.seed(seed)
    obs: Any = venv.reset()
    state = None
    episode_start = np.ones(venv.num_envs, dtype=bool)
    running = np.zeros(venv.num_envs)
    returns: list[float] = []
    while len(returns) < n_episodes:
        actions, state = model.predict(obs, state=state, episode_start=episode_start, deterministic=deterministic)
        obs, rewards, dones, _ = venv.step(actions)
        running += rewards
        for i in np.flatnonzero(dones):
            returns.append(float(running[i]))
            running[i] = 0.0
        episode_start = dones
    return np.asarray(returns[:n_episodes])


@contextmanager
def warn_missing_episode_start(model: BaseAlgorithm) -> Iterator[BaseAlgorithm]:
    """
    Inside the block, a call ``model.predict(obs, state)`` that passes a recurrent state but no
    ``episode_start`` raises a :class:`~sb3_diagnostics.warnings.RecurrentStateWarning`: SB3
    then treats every step as mid-episode, so the LSTM state leaks across episodes.

        with warn_missing_episode_start(model):
            my_evaluation_loop(model, env)

    :param model: a (recurrent) model; its ``predict`` is wrapped for the duration of the block
    :return: the model
    """
    had_own = "predict" in vars(model)
    original = model.predict

    def predict(observation: Any, state: Any = None, episode_start: Any = None, deterministic: bool = False) -> Any:
        if state is not None and episode_start is None:
            warnings.warn(
                "[lstm_state_not_reset] model.predict(obs, state) was called without episode_start: "
                + PREDICT_EPISODE_START_NOTE,
                RecurrentStateWarning,
                stacklevel=2,
            )
        return original(observation, state=state, episode_start=episode_start, deterministic=deterministic)

    model.predict = predict  # type: ignore[method-assign]
    try:
        yield model
    finally:
        if had_own:
            model.predict = original  # type: ignore[method-assign]
        else:
            del model.predict
