"""
Wrappers and model customisations that reproduce, the way users create them, the numeric,
data-shape and twin-critic faults that :class:`~sb3_diagnostics.callbacks.nan.NaNCallback`,
:class:`~sb3_diagnostics.callbacks.offpolicy.BufferShapeCallback` and
:class:`~sb3_diagnostics.callbacks.offpolicy.QValueCallback` look for.
"""

from __future__ import annotations

from typing import Any, SupportsFloat

import gymnasium as gym
import numpy as np
from stable_baselines3.common.off_policy_algorithm import OffPolicyAlgorithm


class NaNObservation(gym.Wrapper):
    """
    After ``after_steps`` steps of this env, observation entry ``index`` becomes NaN: a division
    by zero or ``log(0)`` in the observation function that only happens in some states (seed 000 #5).

    :param env: environment to wrap (Box observations)
    :param after_steps: steps before the first NaN
    :param index: flat index of the entry that becomes NaN
    """

    def __init__(self, env: gym.Env, after_steps: int, index: int = 0) -> None:
        super().__init__(env)
        self.after_steps = after_steps
        self.index = index
        self._steps = 0

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        self._steps += 1
        if self._steps >= self.after_steps:
            obs = np.array(obs, dtype=np.float32)
            obs.reshape(-1)[self.index] = np.nan
        return obs, reward, terminated, truncated, info


class PovObservation(gym.ObservationWrapper):
    """
    Returns observations of shape ``(1, n)`` while declaring ``(n,)``: seed 001's ``agent.pov()``
    that ends in ``image.reshape(1, -1)`` (Issue 0.4). ``DummyVecEnv`` broadcasts it back to ``(n,)``
    silently (only ``info["terminal_observation"]`` keeps the raw shape); ``SubprocVecEnv`` stacks
    it as ``(n_envs, 1, n)``, which SB3's buffers reject as soon as ``n_envs > 1``.

    :param env: environment to wrap (flat Box observations)
    """

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self.observation_space = env.observation_space

    def observation(self, observation: Any) -> np.ndarray:
        return np.asarray(observation).reshape(1, -1)


class ObservationScale(gym.ObservationWrapper):
    """
    Multiplies observations by ``scale``, e.g. sensor readings in millimetres or raw encoder
    counts fed to the network without normalisation. With a deterministic tanh actor (TD3, DDPG)
    the pre-activation of the output grows with the input, the tanh saturates and the actor's
    gradients vanish (seed 000 #11): the actions stick at the bounds.

    :param env: environment to wrap (Box observations)
    :param scale: factor
    """

    def __init__(self, env: gym.Env, scale: float) -> None:
        super().__init__(env)
        self.scale = scale
        box = env.observation_space
        assert isinstance(box, gym.spaces.Box)
        self.observation_space = gym.spaces.Box(box.low * scale, box.high * scale, box.shape, box.dtype)  # type: ignore[arg-type]

    def observation(self, observation: Any) -> np.ndarray:
        return (np.asarray(observation) * self.scale).astype(np.float32)


def regularise_critic(
    model: OffPolicyAlgorithm, weight_decay: float = 1e-4, first_critic_only: bool = True
) -> OffPolicyAlgorithm:
    """
    Rebuilds the critic's optimizer with weight decay over ``critic.q_networks[0]``: code written
    for a single critic (DDPG, ``n_critics=1``, where that network is *the* critic) and reused with
    SAC or TD3, which have twin critics by default. The second critic never leaves its
    initialisation (Q ~ 0) while the first learns the task's values, so the twins drift apart by
    ``|Q1|`` (and the gradient check sees parameters that belong to no optimizer).
    ``first_critic_only=False`` is the fix: the same optimizer over every critic.

    :param model: SAC, TD3 or DDPG (anything whose ``critic`` has ``q_networks``)
    :param weight_decay: L2 penalty of the rebuilt optimizer
    :param first_critic_only: the bug: optimise only ``critic.q_networks[0]``
    :return: the model, modified in place
    """
    policy, critic = model.policy, model.critic  # type: ignore[attr-defined]
    # the fix, as SB3 builds it: every critic parameter but a features extractor shared with the actor
    every = [p for name, p in critic.named_parameters() if "features_extractor" not in name]
    params = list(critic.q_networks[0].parameters()) if first_critic_only else every
    kwargs = {**policy.optimizer_kwargs, "weight_decay": weight_decay}
    critic.optimizer = policy.optimizer_class(params, lr=model.lr_schedule(1.0), **kwargs)  # type: ignore[call-arg]
    return model
