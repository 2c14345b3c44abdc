"""BufferShapeCallback on real runs."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from stable_baselines3 import A2C, DQN, PPO
from stable_baselines3.common.buffers import ReplayBuffer
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.save_util import save_to_pkl
from stable_baselines3.common.vec_env import SubprocVecEnv

from sb3_diagnostics import BufferShapeCallback, Severity
from sb3_diagnostics.faults import GridImageEnv, InPlaceObservation, PovObservation, SharedBufferVecEnv


# -- buffer shapes ---------------------------------------------------------------------------------
def test_env_returning_1_by_n_observations_is_caught_despite_dummy_vec_env(sac, train):
    # seed 001 Issue 0.4: pov() returns image.reshape(1, -1) while the space says (n,).
    run = train(sac(PovObservation(gym.make("Pendulum-v1"))), 250, BufferShapeCallback())
    finding = next(f for f in run.findings if f.code == "buffer_shape_mismatch")
    assert finding.severity == Severity.WARNING and finding.step == 200  # the first episode end
    assert "(1, 3)" in finding.message and "(3,)" in finding.message


def test_subprocess_envs_stop_before_the_buffer_gets_the_wrong_shape(ppo_small, train):
    # With SubprocVecEnv (seed 001 is a multiprocessing setup) the (1, n) observations arrive as
    # (n_envs, 1, n): SB3 would crash in rollout_buffer.add with a bare numpy broadcasting error.
    env = make_vec_env("Pendulum-v1", n_envs=2, seed=0, wrapper_class=PovObservation, vec_env_cls=SubprocVecEnv,
                       vec_env_kwargs=dict(start_method="fork"))
    model = PPO("MlpPolicy", env, **ppo_small())
    try:
        run = train(model, 512, BufferShapeCallback(stop_on="error"))
    finally:
        env.close()
    assert run.severity("buffer_shape_mismatch") == Severity.ERROR
    assert "(2, 1, 3)" in run.findings[0].message and model.num_timesteps == 2


def test_replay_buffer_built_from_raw_observations(sac, train, tmp_path):
    # seed 001 Issue 1.2: a demonstration buffer sized from what the env returned, then loaded for training.
    env = PovObservation(gym.make("Pendulum-v1"))
    obs, _ = env.reset(seed=0)
    demos = ReplayBuffer(500, gym.spaces.Box(-np.inf, np.inf, obs.shape, np.float32), env.action_space)
    for _ in range(100):
        action = env.action_space.sample()
        next_obs, reward, terminated, _, _ = env.step(action)
        demos.add(obs, next_obs, action, np.array([reward]), np.array([terminated]), [{}])
        obs = next_obs
    save_to_pkl(tmp_path / "demos.pkl", demos)
    model = sac()
    model.load_replay_buffer(tmp_path / "demos.pkl")
    run = train(model, 50, BufferShapeCallback(stop_on="error"))
    (finding,) = run.findings
    assert finding.severity == Severity.ERROR and finding.step == 0
    assert "replay buffer stores observations and next_observations of shape (1, 3)" in finding.message
    assert model.num_timesteps == 1  # stopped at the first step


def test_rollout_buffer_between_learn_calls_is_not_a_mismatch(ppo_small, train):
    # After train(), RolloutBuffer keeps its arrays flattened to (n_steps * n_envs, ...) until the next rollout.
    cb = BufferShapeCallback()
    model = PPO("MlpPolicy", "CartPole-v1", **ppo_small())
    train(model, 256, cb)
    assert train(model, 256, cb).findings == []


# -- observations aliased: one buffer written in place -------------------------------------------------
@pytest.mark.parametrize("algo", [A2C, DQN])
def test_vec_env_handing_out_one_buffer_stops_at_the_first_step(algo, tiny, train):
    # SuperSuit PR #116: concat_vec_envs returned its internal buffer; SB3's _last_obs moved with the next step.
    def run(wrap: bool) -> tuple[Any, Any]:
        env = make_vec_env("CartPole-v1", n_envs=2, seed=0)
        model = algo("MlpPolicy", SharedBufferVecEnv(env) if wrap else env, **tiny())
        return model, train(model, 300, BufferShapeCallback(stop_on="error"))

    model, faulty = run(True)
    (finding,) = faulty.findings
    assert finding.code == "obs_buffer_aliased" and finding.severity == Severity.ERROR
    assert "same memory" in finding.message and model.num_timesteps == 2  # stopped before the first store
    model, healthy = run(False)
    assert healthy.findings == [] and model.num_timesteps >= 300


@pytest.mark.parametrize(("algo", "env_id", "steps"), [(DQN, "CartPole-v1", 600),
                                                        pytest.param(PPO, "Pendulum-v1", 512, marks=pytest.mark.slow)])
def test_env_returning_its_state_array_is_caught_at_an_episode_end(algo, env_id, steps, tiny, train):
    # dm_control #34: the env returns self.state and writes the next state into it; DummyVecEnv copies the
    # observations, but info["terminal_observation"] keeps the array and reset() overwrites it.
    def run(wrap: bool) -> Any:
        env = make_vec_env(env_id, n_envs=1, seed=0, wrapper_class=InPlaceObservation if wrap else None)
        kwargs = {"n_steps": 128, "batch_size": 64} if algo is PPO else {"learning_starts": 100}
        return train(algo("MlpPolicy", env, **tiny(**kwargs)), steps, BufferShapeCallback())

    (finding,) = run(True).findings
    assert finding.code == "obs_buffer_aliased" and finding.severity == Severity.WARNING
    assert "terminal observation" in finding.message and "bootstraps" in finding.message
    assert run(False).findings == []


# -- action space far from [-1, 1] ----------------------------------------------------------------
class HeaterEnv(gym.Env):
    """hill-a/stable-baselines #277: heater power in [0, 10000] W drives a room to 22 C (``normalized``: the fix)."""

    def __init__(self, normalized: bool = False) -> None:
        self.normalized = normalized
        high = 1.0 if normalized else 10_000.0
        self.action_space = gym.spaces.Box(-1.0 if normalized else 0.0, high, (1,), np.float32)
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, (1,), np.float32)
        self.temp, self.t = 15.0, 0

    def reset(self, seed=None, options=None):
        super().reset(seed=seed)
        self.temp, self.t = float(self.np_random.uniform(10, 20)), 0
        return np.array([(self.temp - 22) / 10], np.float32), {}

    def step(self, action):
        a = float(np.asarray(action).reshape(-1)[0])
        power = (a + 1) * 5000 if self.normalized else a
        self.temp += 0.0005 * float(np.clip(power, 0, 10_000)) - 0.1 * (self.temp - 10) / 10
        self.t += 1
        return np.array([(self.temp - 22) / 10], np.float32), -((self.temp - 22) ** 2) / 100, False, self.t >= 50, {}


@pytest.mark.parametrize("algo", ["PPO", "SAC"])
def test_action_space_far_from_minus_one_one_is_reported_when_learn_starts(algo, ppo_small, sac, train):
    def model(normalized):
        env = make_vec_env(lambda: HeaterEnv(normalized), seed=0)
        return PPO("MlpPolicy", env, **ppo_small()) if algo == "PPO" else sac(env)

    steps = 64 if algo == "PPO" else 120
    run = train(model(False), steps, BufferShapeCallback())
    (finding,) = [f for f in run.findings if f.code == "action_space_not_normalized"]
    assert finding.severity == Severity.WARNING and finding.step == 0
    assert "action[0] in [0, 1e+04]" in finding.message and "RescaleAction" in finding.hint
    # the fix from the thread: Box(-1, 1), rescaled inside the env
    assert [f for f in train(model(True), steps, BufferShapeCallback()).findings
            if f.code == "action_space_not_normalized"] == []
    # the threshold is addressable like any other: thresholds={"buffers": {...}} reaches the rule
    from sb3_diagnostics import DiagnosticsCallback

    tuned = train(model(False), steps, DiagnosticsCallback(thresholds={"buffers": {"action_half_width": 1e5}},
                                                           checks=["buffers"]))
    assert [f.threshold for f in tuned.findings if f.code == "action_space_not_normalized"] == [1e5]


# -- action dimensions without a choice ------------------------------------------------------------
class AirFlowEnv(HeaterEnv):
    """hill-a/stable-baselines #553: ``Box(low=action_min, high=action_min)``, a typo for ``high=action_max``."""

    def __init__(self, low: list[float], high: list[float]) -> None:
        super().__init__(normalized=True)
        self.action_space = gym.spaces.Box(np.array(low, np.float32), np.array(high, np.float32))


@pytest.mark.parametrize("low, high, severity", [
    ([30.0], [30.0], Severity.ERROR),  # the thread's typo: every action is 30, nothing to learn
    ([-1.0, 0.0], [1.0, 0.0], Severity.WARNING),  # one of two dimensions is dead weight
    ([-1.0], [1.0], None),  # the fix
])
def test_action_dimension_without_a_choice_is_reported_when_learn_starts(ppo_small, train, low, high, severity):
    model = PPO("MlpPolicy", make_vec_env(lambda: AirFlowEnv(low, high), seed=0), **ppo_small())
    found = [f for f in train(model, 64, BufferShapeCallback()).findings if f.code == "action_space_degenerate"]
    assert [(f.severity, f.step) for f in found] == ([(severity, 0)] if severity else [])
    if severity is Severity.ERROR:
        assert "action[0] (low = high = 30)" in found[0].message


# -- float images not scaled -------------------------------------------------------------------------
@pytest.mark.parametrize("dtype, scale, expected", [
    (np.float32, 1.0, Severity.WARNING),  # SB3 #268: float images in [0, 255] reach the network as they are
    (np.float32, 1 / 255, None),  # the fix: divided by 255 in the env
    (np.uint8, 1.0, None),  # uint8 images, which SB3 divides by 255 itself
])
def test_float_images_the_policy_acts_on_are_not_scaled(ppo_small, train, dtype, scale, expected):
    model = PPO("MlpPolicy", make_vec_env(lambda: GridImageEnv(dtype, scale=scale), seed=0), **ppo_small())
    found = [f for f in train(model, 512, BufferShapeCallback()).findings if f.code == "image_obs_not_scaled"]
    assert [f.severity for f in found][:1] == ([expected] if expected else [])
    if expected:
        assert "reach 255" in found[0].message
