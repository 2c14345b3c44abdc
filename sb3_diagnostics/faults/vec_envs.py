"""VecEnv wrappers that reproduce faults of vectorised environments."""

from __future__ import annotations

import numpy as np
from stable_baselines3.common.vec_env import VecEnvWrapper
from stable_baselines3.common.vec_env.base_vec_env import VecEnvObs, VecEnvStepReturn


class SharedBufferVecEnv(VecEnvWrapper):
    """
    Hands out one observation buffer, written in place at every step: SuperSuit's
    ``concat_vec_envs_v0`` before its PR #116. SB3's ``_last_obs`` then changes with the next step,
    so its buffers store each action with the observation that followed it.
    """

    _buffer: np.ndarray

    def reset(self) -> VecEnvObs:
        self._buffer = np.array(self.venv.reset())
        return self._buffer

    def step_wait(self) -> VecEnvStepReturn:
        obs, rewards, dones, infos = self.venv.step_wait()
        self._buffer[...] = obs
        return self._buffer, rewards, dones, infos
