"""Driving a gymnasium ``Env`` or an SB3 ``VecEnv`` through one interface, every env call guarded."""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
from stable_baselines3.common.vec_env import VecEnv, VecEnvWrapper, VecNormalize

from sb3_diagnostics.errors import EnvCrashedError, NotAnEnvironmentError


@dataclass
class Step:
    next_obs: Any  # the true next observation (the terminal one when the episode ended)
    reward: float
    terminated: bool
    truncated: bool
    info: dict


class Driver:
    """Resets and steps a gymnasium ``Env`` or an SB3 ``VecEnv``; every env call is guarded."""

    def __init__(self, env: gym.Env | VecEnv) -> None:
        self.env = env
        self.is_vec = isinstance(env, VecEnv)
        self.n_envs = env.num_envs if isinstance(env, VecEnv) else 1
        self.observation_space = env.observation_space
        self.action_space = env.action_space
        self.phase = "random rollout"
        self.calls = 0
        #: VecNormalize wrappers and their statistics before the check (restored before every replay)
        self.normalizers: list[tuple[VecNormalize, dict[str, Any]]] = vecnormalize_states(env)

    def restore_normalization(self) -> None:
        """Put VecNormalize statistics back to where they were, so that replays see identical normalisation."""
        for wrapper, state in self.normalizers:
            for key, value in copy.deepcopy(state).items():
                setattr(wrapper, key, value)

    def _crash(self, call: str, exc: Exception, action: Any = None) -> EnvCrashedError:
        what = f" with action {action!r}" if action is not None else ""
        return EnvCrashedError(
            f"the environment raised {type(exc).__name__} in {call}{what}, at env step {self.calls} of "
            f"check_training_env ({self.phase}): {exc}. This is a bug in the environment (or in a wrapper): "
            "reproduce it with the same seed and action, then fix step()/reset()."
        )

    def reset(self, seed: int | None) -> list[Any]:
        """:return: the first observation of each sub-env"""
        call = f"reset(seed={seed})"
        try:
            if isinstance(self.env, VecEnv):
                if seed is not None:
                    self.env.seed(seed)
                return self._split(self.env.reset())
            result = self.env.reset(seed=seed)
        except Exception as exc:
            raise self._crash(call, exc) from exc
        if not (isinstance(result, tuple) and len(result) == 2):
            raise NotAnEnvironmentError(
                f"{call} returned {type(result).__name__}; a gymnasium env returns (obs, info). An old gym env? "
                "Wrap it with shimmy's GymV26CompatibilityV0 or port it to gymnasium."
            )
        return [result[0]]

    def step(self, actions: list[Any]) -> tuple[list[Step], list[Any]]:
        """:return: one step per sub-env, and the observation each sub-env continues from (after auto-reset)"""
        self.calls += 1
        try:
            if isinstance(self.env, VecEnv):
                batch = np.stack([np.asarray(a) for a in actions])
                obs, rewards, dones, infos = self.env.step(batch)
                if self.normalizers and self.normalizers[-1][0].norm_reward:
                    # judge the reward the environment gives, not the running-scaled one the agent sees
                    rewards = self.normalizers[-1][0].get_original_reward()
            else:
                result = self.env.step(actions[0])
        except Exception as exc:
            raise self._crash("step()", exc, actions[0] if len(actions) == 1 else actions) from exc
        if not isinstance(self.env, VecEnv):
            if not (isinstance(result, tuple) and len(result) == 5):
                raise NotAnEnvironmentError(
                    f"step() returned {len(result) if isinstance(result, tuple) else type(result).__name__} values; a "
                    "gymnasium env returns (obs, reward, terminated, truncated, info)."
                )
            obs1, reward, terminated, truncated, info = result
            step = Step(obs1, as_float(reward), bool(terminated), bool(truncated), info if isinstance(info, dict) else {})
            following = obs1
            if terminated or truncated:
                try:
                    following = self.env.reset()[0]
                except Exception as exc:
                    raise self._crash("reset() after the episode ended", exc) from exc
            return [step], [following]
        split = self._split(obs)
        steps = []
        for i in range(self.n_envs):
            info = infos[i]
            next_obs = info.get("terminal_observation", split[i]) if dones[i] else split[i]
            truncated = bool(info.get("TimeLimit.truncated", False))
            steps.append(Step(next_obs, as_float(rewards[i]), bool(dones[i]) and not truncated, truncated, info))
        return steps, split

    def _split(self, batch: Any) -> list[Any]:
        if isinstance(batch, dict):
            return [{k: v[i] for k, v in batch.items()} for i in range(self.n_envs)]
        if isinstance(batch, tuple):
            return [tuple(v[i] for v in batch) for i in range(self.n_envs)]
        return [batch[i] for i in range(self.n_envs)]


def as_float(x: Any) -> float:
    try:
        return float(np.asarray(x, dtype=np.float64).reshape(-1)[0])
    except (TypeError, ValueError, IndexError):
        return math.nan


def vecnormalize_states(env: Any) -> list[tuple[VecNormalize, dict[str, Any]]]:
    out = []
    while isinstance(env, VecEnvWrapper):
        if isinstance(env, VecNormalize):
            # VecNormalize(norm_obs=False) has no obs_rms (and norm_reward=False may lack ret_rms): keep what exists
            own = vars(env)
            state: dict[str, Any] = {k: own[k] for k in ("obs_rms", "ret_rms", "returns") if k in own}
            out.append((env, copy.deepcopy(state)))
        env = env.venv
    return out


def describe(env: Any, name: str | None) -> str:
    if name:
        return name
    spec = getattr(env, "spec", None)
    if spec is not None and getattr(spec, "id", None):
        return str(spec.id)
    return type(env).__name__
