"""
The five probe environments of A. Jones, "Debugging RL, Without the Agonizing Pain"
(https://andyljones.com/posts/rl-debugging.html).

Each probe adds exactly one thing to the previous one, so "if probe N fails but N-1 passes,
the bug is in exactly the component N adds". Every probe exists with a ``Discrete(2)`` action
space and with a ``Box(-1, 1, (1,))`` one; observations are always ``Box(-1, 1, (1,))``.

=====  =====================================================  ===================================
probe  environment                                            a correct agent learns
=====  =====================================================  ===================================
1      obs 0, one step, reward +1                             V(0) = 1
2      obs +1 or -1 at random, one step, reward = obs         V(+1) = +1, V(-1) = -1
3      obs 0 then obs 1, reward 0 then +1                     V(0) = gamma, V(1) = 1
4      obs 0, one step, reward +1 for the good action,        always the good action
       -1 for the bad one (Box: reward = action)
5      obs +1 or -1, reward +1 when the action matches obs,   the action that matches obs, and
       -1 otherwise (Box: reward = obs * action)              V(s) = the policy's expected reward
=====  =====================================================  ===================================

"The good action" is ``1`` (Discrete) or ``+1`` (Box).
"""

from __future__ import annotations

from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from gymnasium import spaces

#: probe number -> what it isolates, what a correct agent learns, what a failure means
PROBE_TABLE: dict[int, tuple[str, str, str]] = {
    1: ("one obs, one step, reward +1", "V(s) -> 1.0", "value loss or optimizer broken"),
    2: ("obs +-1 at random, reward = obs", "V(s) tracks obs", "backprop through value net broken"),
    3: ("two steps, reward 1 only at the end", "V(s0) = gamma, V(s1) = 1", "discounting / GAE / reward-to-go broken"),
    4: ("one step, reward +1 for one action, -1 for the other", "policy picks the good action",
        "advantage or policy update broken"),
    5: ("obs +-1, the right action depends on obs", "policy and value both learn",
        "policy-value interaction, stale experience, wrong batching"),
}

ACTION_KINDS = ("discrete", "continuous")


class ProbeEnv(gym.Env[np.ndarray, Any]):
    """
    Base class of the probes.

    :param action_kind: ``"discrete"`` (``Discrete(2)``) or ``"continuous"`` (``Box(-1, 1, (1,))``)
    """

    metadata = {"render_modes": []}
    #: probe number (1-5)
    probe: ClassVar[int] = 0
    #: the observations the probe can emit, in the order the runner measures them
    states: ClassVar[tuple[float, ...]] = (0.0,)

    def __init__(self, action_kind: str = "discrete") -> None:
        if action_kind not in ACTION_KINDS:
            raise ValueError(f"action_kind={action_kind!r}: use one of {ACTION_KINDS}.")
        self.action_kind = action_kind
        self.observation_space = spaces.Box(-1.0, 1.0, shape=(1,), dtype=np.float32)
        self.action_space: spaces.Space[Any] = (
            spaces.Discrete(2) if action_kind == "discrete" else spaces.Box(-1.0, 1.0, shape=(1,), dtype=np.float32)
        )
        self._obs = 0.0
        self._t = 0

    def _observation(self) -> np.ndarray:
        return np.array([self._obs], dtype=np.float32)

    def action_value(self, action: Any) -> float:
        """
        :param action: an action of this env's action space
        :return: the action as a number in [-1, 1]: Discrete ``1`` -> +1, ``0`` -> -1; Box clipped
        """
        if self.action_kind == "discrete":
            return 1.0 if int(np.asarray(action).reshape(-1)[0]) == 1 else -1.0
        return float(np.clip(np.asarray(action, dtype=np.float64).reshape(-1)[0], -1.0, 1.0))

    def reward(self, obs: float, action: Any) -> float:
        """
        :param obs: the observation value the action was taken at
        :param action: the action
        :return: the reward of that step (the runner uses it to compute expected values)
        """
        raise NotImplementedError

    def _next_obs(self) -> float:
        return 0.0

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self._t = 0
        self._obs = self._first_obs()
        return self._observation(), {}

    def _first_obs(self) -> float:
        return 0.0

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        reward = self.reward(self._obs, action)
        self._t += 1
        terminated = self._t >= self.episode_length
        if not terminated:
            self._obs = self._next_obs()
        return self._observation(), reward, terminated, False, {}

    #: steps per episode
    episode_length: ClassVar[int] = 1


class _RandomSignMixin:
    np_random: np.random.Generator

    def _first_obs(self) -> float:
        return 1.0 if self.np_random.random() < 0.5 else -1.0


class Probe1Env(ProbeEnv):
    """Probe 1: observation 0, one step, reward +1. Tests the value loss and the optimizer."""

    probe = 1

    def reward(self, obs: float, action: Any) -> float:
        return 1.0


class Probe2Env(_RandomSignMixin, ProbeEnv):
    """Probe 2: observation +1 or -1 at random, one step, reward = observation. Tests backprop through the value net."""

    probe = 2
    states = (1.0, -1.0)

    def reward(self, obs: float, action: Any) -> float:
        return float(obs)


class Probe3Env(ProbeEnv):
    """Probe 3: observation 0 then 1, reward 0 then +1. Tests discounting (GAE, reward-to-go, bootstrapping)."""

    probe = 3
    states = (0.0, 1.0)
    episode_length = 2

    def _next_obs(self) -> float:
        return 1.0

    def reward(self, obs: float, action: Any) -> float:
        return 1.0 if obs == 1.0 else 0.0


class Probe4Env(ProbeEnv):
    """
    Probe 4: observation 0, one step, reward +1 for the good action and -1 for the bad one
    (Box: reward = action, clipped to [-1, 1]). Tests the advantage and the policy update.
    """

    probe = 4

    def reward(self, obs: float, action: Any) -> float:
        return self.action_value(action)


class Probe5Env(_RandomSignMixin, ProbeEnv):
    """
    Probe 5: observation +1 or -1, reward +1 when the action matches the observation and -1
    otherwise (Box: reward = obs * action). Tests that policy and value learn together from
    the same batch (stale experience, misaligned batching).
    """

    probe = 5
    states = (1.0, -1.0)

    def reward(self, obs: float, action: Any) -> float:
        value = self.action_value(action)
        if self.action_kind == "discrete":
            return 1.0 if value == obs else -1.0
        return float(obs * value)


class AllActionsAllowed(gym.Wrapper):
    """
    Every action allowed, as sb3-contrib's ``MaskablePPO`` reads it (an ``action_masks()`` method): the probes
    test learning, not masking. ``MaskablePPO("MlpPolicy", AllActionsAllowed(env))`` in ``make_model``.
    """

    def action_masks(self) -> np.ndarray:
        """:return: True for every action of a ``Discrete`` space"""
        return np.ones(int(getattr(self.env.action_space, "n", 1)), dtype=bool)


PROBE_CLASSES: dict[int, type[ProbeEnv]] = {1: Probe1Env, 2: Probe2Env, 3: Probe3Env, 4: Probe4Env, 5: Probe5Env}


def probe_id(probe: int, action_kind: str) -> str:
    """
    :param probe: 1-5
    :param action_kind: ``"discrete"`` or ``"continuous"``
    :return: the gymnasium id, e.g. ``"sb3_diagnostics/Probe1-Discrete-v0"``
    """
    return f"sb3_diagnostics/Probe{probe}-{'Discrete' if action_kind == 'discrete' else 'Continuous'}-v0"


def make_probe_env(probe: int, action_kind: str = "discrete") -> ProbeEnv:
    """
    :param probe: 1-5
    :param action_kind: ``"discrete"`` or ``"continuous"``
    :return: a new probe environment (not wrapped)
    """
    if probe not in PROBE_CLASSES:
        raise ValueError(f"probe={probe!r}: probes are numbered 1 to 5.")
    return PROBE_CLASSES[probe](action_kind)


def register_probes() -> None:
    """Register every probe with gymnasium (idempotent), e.g. ``gym.make("sb3_diagnostics/Probe3-Continuous-v0")``."""
    for probe, cls in PROBE_CLASSES.items():
        for kind in ACTION_KINDS:
            env_id = probe_id(probe, kind)
            if env_id not in gym.registry:
                gym.register(env_id, entry_point=f"{cls.__module__}:{cls.__name__}", kwargs={"action_kind": kind})
