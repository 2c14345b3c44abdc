"""
Small environments and wrappers that reproduce, the way users create them, the faults the
checks look for. The test suite, the demo and the fault zoo train on them; they are also
examples of what each finding looks like in practice.

Each environment draws its randomness from ``self.np_random`` (seeded by ``reset(seed=...)``).
"""

from __future__ import annotations

from typing import Any, SupportsFloat

import gymnasium as gym
import numpy as np
from gymnasium import spaces


class BanditEnv(gym.Env[np.ndarray, np.int64]):
    """
    One step per episode, a constant observation, reward ``rewards[action]``.

    With equal rewards (the default) nothing the agent does matters: the reward function "is
    called with the wrong variable" (min/max reward identical, advantages std 0,
    KL 0, every TRPO line search fails).

    :param rewards: reward of each action
    """

    def __init__(self, rewards: tuple[float, ...] = (1.0, 1.0)) -> None:
        self.rewards = tuple(float(r) for r in rewards)
        self.observation_space = spaces.Box(-1.0, 1.0, (2,), np.float32)
        self.action_space = spaces.Discrete(len(self.rewards))

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        return np.ones(2, np.float32), {}

    def step(self, action: np.int64) -> tuple[np.ndarray, SupportsFloat, bool, bool, dict]:
        return np.ones(2, np.float32), self.rewards[int(action)], True, False, {}


class NoisyRewardEnv(gym.Env[np.ndarray, np.int64]):
    """
    50-step episodes of random observations. The reward is either pure noise (``learnable=False``:
    a reward dominated by a noisy term) or the first observation dim (learnable).

    :param learnable: whether the reward is predictable from the observation
    """

    def __init__(self, learnable: bool = False, episode_length: int = 50) -> None:
        self.learnable = learnable
        self.episode_length = episode_length
        self.observation_space = spaces.Box(-10.0, 10.0, (4,), np.float32)
        self.action_space = spaces.Discrete(2)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self._t = 0
        self._obs = self.np_random.normal(size=4).astype(np.float32)
        return self._obs, {}

    def step(self, action: np.int64) -> tuple[np.ndarray, SupportsFloat, bool, bool, dict]:
        self._t += 1
        reward = float(self._obs[0]) if self.learnable else float(self.np_random.normal())
        self._obs = self.np_random.normal(size=4).astype(np.float32)
        return self._obs, reward, self._t >= self.episode_length, False, {}


class ChainEnv(gym.Env[np.ndarray, np.int64]):
    """
    Walk right along a chain of ``length`` cells to reach the goal at its end (left or right each step,
    ``max_steps`` steps per episode). ``shaped=False`` pays +1 only at the goal, which a random walk rarely
    reaches: a sparse reward. ``shaped=True`` adds the progress made each step (potential-based shaping, so
    the best policy is the same).

    :param length: cells from the start to the goal
    :param max_steps: steps before the episode is cut (truncated)
    :param shaped: add the step's progress to the reward
    """

    def __init__(self, length: int = 20, max_steps: int = 100, shaped: bool = False) -> None:
        self.length, self.max_steps, self.shaped = length, max_steps, shaped
        self.observation_space = spaces.Box(0.0, 1.0, (2,), np.float32)
        self.action_space = spaces.Discrete(2)

    def _observe(self) -> np.ndarray:
        return np.array([self._pos / self.length, self._t / self.max_steps], np.float32)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self._pos = self._t = 0
        return self._observe(), {}

    def step(self, action: np.int64) -> tuple[np.ndarray, SupportsFloat, bool, bool, dict]:
        before = self._pos
        self._pos = max(0, self._pos + (1 if int(action) == 1 else -1))
        self._t += 1
        reached = self._pos >= self.length
        reward = float(reached) + ((self._pos - before) / self.length if self.shaped else 0.0)
        return self._observe(), reward, reached, self._t >= self.max_steps and not reached, {}


class EpisodeEndRewardEnv(gym.Env[np.ndarray, np.int64]):
    """
    Pays the episode's score only when it ends, after ``length`` steps: the share of steps on which the
    agent chose action 1 (a trading day's profit, a game's result). The score is learnable, but only with
    a discount horizon ``1 / (1 - gamma)`` that reaches the end of the episode.

    :param length: steps per episode (the episode terminates after them)
    """

    def __init__(self, length: int = 100) -> None:
        self.length = length
        self.observation_space = spaces.Box(0.0, 1.0, (2,), np.float32)
        self.action_space = spaces.Discrete(2)

    def _observe(self) -> np.ndarray:
        return np.array([self._t / self.length, self._ones / self.length], np.float32)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self._t = self._ones = 0
        return self._observe(), {}

    def step(self, action: np.int64) -> tuple[np.ndarray, SupportsFloat, bool, bool, dict]:
        self._t += 1
        self._ones += int(action) == 1
        done = self._t >= self.length
        return self._observe(), (self._ones / self.length if done else 0.0), done, False, {}


class WinBonusEnv(gym.Env[np.ndarray, np.int64]):
    """
    A duel: every step, hitting (action matching the sign of ``obs[0]``)
    earns ``hit_reward``; an episode lasts ``episode_length`` steps and ends with
    ``win_bonus`` when the agent hit on more than half of them.

    Under ``VecNormalize(clip_reward=10)`` the rare win bonus, normalised by the std of
    returns, lands above the clip and is cut down.

    :param win_bonus: reward for winning, paid on the last step
    :param hit_reward: reward per hit
    :param episode_length: steps per episode
    """

    def __init__(self, win_bonus: float = 100.0, hit_reward: float = 0.1, episode_length: int = 100) -> None:
        self.win_bonus = win_bonus
        self.hit_reward = hit_reward
        self.episode_length = episode_length
        self.observation_space = spaces.Box(-10.0, 10.0, (3,), np.float32)
        self.action_space = spaces.Discrete(2)

    def _observe(self) -> np.ndarray:
        return np.array([self.np_random.uniform(-1, 1), self._hits / self.episode_length,
                         self._t / self.episode_length], np.float32)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self._t = self._hits = 0
        self._obs = self._observe()
        return self._obs, {}

    def step(self, action: np.int64) -> tuple[np.ndarray, SupportsFloat, bool, bool, dict]:
        hit = (self._obs[0] > 0) == (int(action) == 1)
        self._hits += int(hit)
        self._t += 1
        reward = self.hit_reward * hit
        done = self._t >= self.episode_length
        if done and self._hits > self.episode_length // 2:
            reward += self.win_bonus
        self._obs = self._observe()
        return self._obs, float(reward), done, False, {}


class SpikeObsEnv(gym.Env[np.ndarray, np.int64]):
    """
    Two observation dims: a signal the reward depends on, and a contact sensor that reads
    ``spike`` on a fraction ``p`` of steps and 0 otherwise (a sensor with rare spikes). Normalised, a
    rare spike lies ``sqrt((1 - p) / p)`` standard deviations out: above ``clip_obs=5`` for
    ``p`` below ~4%.

    :param p: probability of a spike per step
    :param spike: sensor value during a spike
    """

    def __init__(self, p: float = 0.03, spike: float = 50.0, episode_length: int = 100) -> None:
        self.p = p
        self.spike = spike
        self.episode_length = episode_length
        self.observation_space = spaces.Box(-np.inf, np.inf, (2,), np.float32)
        self.action_space = spaces.Discrete(2)

    def _observe(self) -> np.ndarray:
        contact = self.spike if self.np_random.random() < self.p else 0.0
        return np.array([self.np_random.uniform(-1, 1), contact], np.float32)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self._t = 0
        self._obs = self._observe()
        return self._obs, {}

    def step(self, action: np.int64) -> tuple[np.ndarray, SupportsFloat, bool, bool, dict]:
        reward = float((self._obs[0] > 0) == (int(action) == 1))
        self._t += 1
        self._obs = self._observe()
        return self._obs, reward, self._t >= self.episode_length, False, {}


class RewardScale(gym.RewardWrapper):
    """
    Multiplies the reward, e.g. by 100 (rewards "in [10000, 20000]").

    :param env: environment to wrap
    :param scale: factor
    """

    def __init__(self, env: gym.Env, scale: float) -> None:
        super().__init__(env)
        self.scale = scale

    def reward(self, reward: SupportsFloat) -> float:
        return float(reward) * self.scale


class RewardCurriculum(gym.RewardWrapper):
    """
    A curriculum that multiplies the reward by ``factor`` after ``after_steps`` steps (a new
    stage with bigger rewards). Under ``VecNormalize(norm_reward=True)`` the normalisation
    scale drifts by that factor mid-training.

    :param env: environment to wrap
    :param after_steps: steps of this env before the new stage
    :param factor: reward multiplier of the new stage
    """

    def __init__(self, env: gym.Env, after_steps: int, factor: float) -> None:
        super().__init__(env)
        self.after_steps = after_steps
        self.factor = factor
        self._steps = 0

    def reward(self, reward: SupportsFloat) -> float:
        self._steps += 1
        return float(reward) * (self.factor if self._steps > self.after_steps else 1.0)


class TimePenalty(gym.Wrapper):
    """
    A time penalty that grows the longer an episode lasts: the ``t``-th step of an episode costs
    ``coef * t`` (to make the agent reach its goal sooner). The step counter is set in ``__init__``;
    with ``reset_counter=False`` it is never reset in ``reset()`` (a common env-authoring bug), so it
    counts every step since the env was built and the penalty keeps growing across episodes: the
    episode reward drifts down over the whole of training whatever the agent does, and the agent,
    chasing a reward that keeps moving, learns nothing. ``reset_counter=True`` is the fix.

    Build it inside ``Monitor`` (``make_vec_env(lambda: TimePenalty(gym.make(...)))``) so the
    episode statistics record the penalised reward.

    :param env: environment to wrap
    :param coef: penalty per step of episode time
    :param reset_counter: reset the step counter at each episode start (the fix)
    """

    def __init__(self, env: gym.Env, coef: float = 1e-3, reset_counter: bool = False) -> None:
        super().__init__(env)
        self.coef = coef
        self.reset_counter = reset_counter
        self._t = 0

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict]:
        if self.reset_counter:
            self._t = 0
        return self.env.reset(seed=seed, options=options)

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        self._t += 1
        return obs, float(reward) - self.coef * self._t, terminated, truncated, info


class ExpErrorReward(gym.Wrapper):
    """
    An imitation-style reward ``exp(-scale * sum(|observation - target|))`` (a humanoid's
    ``exp(-error)`` over 29 joints gave rewards of 1e-63 to 1e-252). With ``scale`` large the
    reward is astronomically small; with ``scale`` ~1 it is a sane reward in (0, 1].

    :param env: a continuous-control environment
    :param scale: multiplies the error before ``exp``
    """

    def __init__(self, env: gym.Env, scale: float) -> None:
        super().__init__(env)
        self.scale = scale

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict]:
        obs, _, terminated, truncated, info = self.env.step(action)
        error = float(np.sum(np.abs(np.asarray(obs, dtype=np.float64))))
        return obs, float(np.exp(-self.scale * error)), terminated, truncated, info


class RewardComponents(gym.Wrapper):
    """
    CartPole's reward rebuilt from weighted components, reported in ``info["reward_components"]``
    (the convention :class:`~sb3_diagnostics.callbacks.reward.RewardSignalCallback` reads). With
    ``angle_weight`` far above ``center_weight``, the angle term carries almost all the variance and
    the centering term is drowned out.

    :param env: a CartPole environment
    :param angle_weight: weight of the pole-angle penalty
    :param center_weight: weight of the cart-position penalty
    """

    def __init__(self, env: gym.Env, angle_weight: float = 100.0, center_weight: float = 0.01) -> None:
        super().__init__(env)
        self.angle_weight, self.center_weight = angle_weight, center_weight

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        components = {
            "alive": float(reward),
            "angle": -self.angle_weight * float(obs[2]) ** 2,
            "center": -self.center_weight * abs(float(obs[0])),
        }
        info["reward_components"] = components
        return obs, sum(components.values()), terminated, truncated, info


class NaNObservation(gym.Wrapper):
    """
    After ``after_steps`` steps of this env, observation entry ``index`` becomes NaN: a division
    by zero or ``log(0)`` in the observation function that only happens in some states.

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
    Returns observations of shape ``(1, n)`` while declaring ``(n,)``: an ``agent.pov()``
    that ends in ``image.reshape(1, -1)``. ``DummyVecEnv`` broadcasts it back to ``(n,)``
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
    gradients vanish: the actions stick at the bounds.

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


class GlobalNoise(gym.ObservationWrapper):
    """Sensor noise drawn from the global ``np.random``, which ``reset(seed=...)`` does not seed."""

    def observation(self, observation: Any) -> Any:
        return observation + np.random.normal(0, 0.01, size=observation.shape).astype(observation.dtype)


class ConstantObsEnv(gym.Env[np.ndarray, np.ndarray]):
    """The same observation every step, 5-step episodes, reward = the action: every episode should score the same."""

    observation_space = gym.spaces.Box(-1, 1, (2,), np.float32)
    action_space = gym.spaces.Box(-1, 1, (1,), np.float32)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self.t = 0
        return np.ones(2, np.float32), {}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, SupportsFloat, bool, bool, dict]:
        self.t += 1
        return np.ones(2, np.float32), float(action[0]), self.t >= 5, False, {}


class InPlaceObservation(gym.Wrapper):
    """
    Writes every observation into one array and returns that array: the env that keeps ``self.state``
    and returns it without a copy (dm_control #34, chainerrl #157). DummyVecEnv copies each
    observation, but ``info["terminal_observation"]`` keeps the array, which the next ``reset()``
    overwrites.
    """

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self._buffer: np.ndarray | None = None

    def _into(self, obs: Any) -> np.ndarray:
        if self._buffer is None:
            self._buffer = np.array(obs)
        else:
            self._buffer[...] = obs
        return self._buffer

    def reset(self, **kwargs: Any) -> tuple[np.ndarray, dict]:
        obs, info = self.env.reset(**kwargs)
        return self._into(obs), info

    def step(self, action: Any) -> tuple[np.ndarray, SupportsFloat, bool, bool, dict]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        return self._into(obs), reward, terminated, truncated, info


class SetPointEnv(gym.Env[np.ndarray, np.ndarray]):
    """
    Move a point to a random target with a Box(-1, 1) action; the reward adds an efficiency term
    ``0.1 * log(action + 0.5)``, undefined (NaN) for a third of the action range: the custom env
    that returns NaN "for some actions" (hill-a/stable-baselines #789). ``guard=True`` is the fix,
    ``log(max(action + 0.5, 1e-3))``. 100-step episodes (truncated).
    """

    observation_space = spaces.Box(-np.inf, np.inf, (2,), np.float32)
    action_space = spaces.Box(-1, 1, (1,), np.float32)

    def __init__(self, guard: bool = False) -> None:
        self.guard = guard
        self.x = self.target = 0.0
        self.t = 0

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self.x, self.target, self.t = 0.0, float(self.np_random.uniform(-1, 1)), 0
        return np.array([self.x, self.target], np.float32), {}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, SupportsFloat, bool, bool, dict]:
        a = float(np.asarray(action).reshape(-1)[0])
        self.x = float(np.clip(self.x + 0.2 * a, -2, 2))
        arg = max(a + 0.5, 1e-3) if self.guard else a + 0.5
        with np.errstate(invalid="ignore", divide="ignore"):
            reward = -((self.x - self.target) ** 2) + 0.1 * float(np.log(arg))
        self.t += 1
        return np.array([self.x, self.target], np.float32), reward, False, self.t >= 100, {}

