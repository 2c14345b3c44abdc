"""check_training_env on healthy and faulty environments."""

from __future__ import annotations

import random
import warnings
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium import spaces
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

from sb3_diagnostics.errors import EnvCrashedError, InvalidThresholdError, NotAnEnvironmentError
from sb3_diagnostics.faults import GridImageEnv
from sb3_diagnostics.findings import Severity
from sb3_diagnostics.preflight import PreflightReport, check_training_env
from sb3_diagnostics.warnings import DiagnosticWarning, EnvironmentWarning, RewardWarning


def _effect(space: spaces.Space, action: Any) -> np.ndarray:
    """How an action moves the 3-d state (zero mean under random actions), for every action space the tests use."""
    if isinstance(space, spaces.Discrete):
        return (int(action) - (space.n - 1) / 2) * 0.1 * np.array([1.0, -1.0, 0.5])
    a = np.asarray(action, dtype=np.float64).reshape(-1)
    if isinstance(space, spaces.MultiDiscrete):
        a = 0.1 * (a - (space.nvec - 1) / 2)
    elif isinstance(space, spaces.MultiBinary):
        a = 0.2 * (a - 0.5)
    else:
        a = 0.2 * a
    out = np.zeros(3)
    out[: min(3, a.size)] = a[:3]
    return out


class FnEnv(gym.Env):
    """
    A healthy little task (a 3-d state nudged by the action, reward -x0^2, time limit 50) whose
    pieces a test replaces, like gymnasium's GenericTestEnv: ``obs_fn(env)``, ``reward_fn(env, action)``,
    ``done_fn(env) -> (terminated, truncated)``, ``reset_fn(env)`` and ``info_fn(env, action)``.
    """

    def __init__(self, action_space=None, obs_fn=None, reward_fn=None, done_fn=None, reset_fn=None, info_fn=None,
                 move_fn=None, observation_space=None):
        self.action_space = action_space or spaces.Discrete(3)
        self.obs_fn = obs_fn or (lambda env: env.x.astype(np.float32))
        self.observation_space = observation_space or spaces.Box(-np.inf, np.inf, (len(self.obs_fn(self._dummy())),))
        self.reward_fn = reward_fn or (lambda env, a: -float(env.x[0] ** 2))
        self.done_fn = done_fn or (lambda env: (bool(abs(env.x[0]) > 2.0), env.t >= 50))
        self.reset_fn = reset_fn or (lambda env: env.np_random.uniform(-1, 1, 3))
        self.info_fn = info_fn or (lambda env, a: {})
        self.move_fn = move_fn or (lambda env, a: env.x + _effect(env.action_space, a) + env.np_random.normal(0, 0.05, 3))

    def _dummy(self):
        class D:
            x = np.zeros(3)
            t = 0
        return D()

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        self.x = np.asarray(self.reset_fn(self), dtype=np.float64)
        return self.obs_fn(self), {}

    def step(self, action):
        self.t += 1
        self.x = self.move_fn(self, action)
        reward = self.reward_fn(self, action)
        terminated, truncated = self.done_fn(self)
        return self.obs_fn(self), reward, terminated, truncated, self.info_fn(self, action)


def run(env, **kwargs) -> PreflightReport:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DiagnosticWarning)
        return check_training_env(env, **kwargs)


def severity_of(report, code):
    found = [f.severity for f in report if f.code == code]
    assert found, f"{code} not reported; got {[(f.code, str(f.severity)) for f in report]}"
    return max(found)


def serious(report):
    return [(f.code, str(f.severity)) for f in report if f.severity >= Severity.WARNING]


@pytest.mark.parametrize("action_space", [
    spaces.Discrete(3), spaces.Box(-1, 1, (2,)), spaces.MultiDiscrete([3, 3]), spaces.MultiBinary(3),
])
def test_healthy_env_has_no_warning_for_any_action_space(action_space):
    report = run(FnEnv(action_space=action_space))
    assert serious(report) == []
    assert report.summary["episodes"] > 5


@pytest.mark.parametrize("env_id", ["CartPole-v1", "Pendulum-v1"])
def test_classic_control_has_no_warning(env_id):
    report = run(env_id)
    assert serious(report) == [], report.format()


def test_cartpole_constant_reward_is_not_reward_constant_and_pendulum_truncation_is_not_degenerate():
    cartpole = run("CartPole-v1")
    assert cartpole.summary["reward_std"] == 0.0 and cartpole.random_return_std > 0
    assert "reward_constant" not in {f.code for f in cartpole}
    pendulum = run("Pendulum-v1")
    assert pendulum.summary["truncated_frac"] == 1.0
    assert "episode_length_degenerate" not in {f.code for f in pendulum}


class DictObsEnv(gym.Env):
    """Reach a random goal: Dict observation with a position, the goal and a discrete mode."""

    observation_space = spaces.Dict({
        "position": spaces.Box(-5, 5, (2,), np.float32),
        "goal": spaces.Box(-1, 1, (2,), np.float32),
        "mode": spaces.Discrete(3),
    })
    action_space = spaces.Box(-1, 1, (2,), np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.pos = self.np_random.uniform(-1, 1, 2)
        self.goal = self.np_random.uniform(-1, 1, 2)
        self.mode = int(self.np_random.integers(3))
        self.t = 0
        return self._obs(), {}

    def _obs(self):
        return {"position": self.pos.astype(np.float32), "goal": self.goal.astype(np.float32), "mode": self.mode}

    def step(self, action):
        self.t += 1
        self.pos = np.clip(self.pos + 0.2 * np.asarray(action), -5, 5)
        dist = float(np.linalg.norm(self.pos - self.goal))
        return self._obs(), -dist, dist < 0.1, self.t >= 40, {}


def test_dict_observation_env_has_no_warning():
    report = run(DictObsEnv())
    assert serious(report) == [], report.format()
    assert report.summary["obs_dims"] == 2 + 2 + 3  # the discrete mode is one-hot


def test_vec_env_is_checked_and_vecnormalize_statistics_are_restored():
    venv = VecNormalize(make_vec_env("CartPole-v1", n_envs=2, seed=0), norm_reward=False)
    mean_before = venv.obs_rms.mean.copy()
    report = run(venv)
    assert serious(report) == [], report.format()
    assert report.summary["n_envs"] == 2 and report.summary["steps"] == 1000
    np.testing.assert_array_equal(venv.obs_rms.mean, mean_before)


def test_global_random_generators_are_not_touched():
    np_state, torch_state, py_state = np.random.get_state(), torch.get_rng_state(), random.getstate()
    run("CartPole-v1")
    run(FnEnv(action_space=spaces.Box(-1, 1, (2,))))
    assert np.array_equal(np.random.get_state()[1], np_state[1])
    assert torch.equal(torch.get_rng_state(), torch_state) and random.getstate() == py_state


def test_same_seed_same_report_and_summary_is_the_random_baseline():
    def env():
        return FnEnv(action_space=spaces.Discrete(2), reward_fn=lambda e, a: float(a), done_fn=lambda e: (e.t >= 5, False))

    a, b = run(env(), seed=3), run(env(), seed=3)
    assert [(f.code, f.message) for f in a] == [(f.code, f.message) for f in b]
    assert a.random_return_mean == b.random_return_mean
    # 5 fair coin flips per episode: mean 2.5, std sqrt(5 / 4) ~ 1.12, over 200 episodes
    assert a.summary["episodes"] == 200
    assert a.random_return_mean == pytest.approx(2.5, abs=0.3)
    assert a.random_return_std == pytest.approx(np.sqrt(1.25), abs=0.2)
    text = a.format()
    assert "random return" in text and "baseline" in text


def test_obs_constant():
    report = run(FnEnv(obs_fn=lambda e: np.zeros(3, np.float32)))
    assert severity_of(report, "obs_constant") is Severity.ERROR
    assert "obs_dead_dims" not in {f.code for f in report}  # the constant observation says it all


def test_action_no_effect():
    report = run(FnEnv(move_fn=lambda e, a: e.x + e.np_random.normal(0, 0.05, 3)))
    assert severity_of(report, "action_no_effect") is Severity.ERROR


def test_action_with_a_delayed_effect_is_not_reported():
    def move(env, action):  # the action only shows up in the observation one step later
        env.pending, effect = _effect(env.action_space, action), getattr(env, "pending", np.zeros(3))
        return env.x + effect + env.np_random.normal(0, 0.05, 3)

    def reset(env):
        env.pending = np.zeros(3)
        return env.np_random.uniform(-1, 1, 3)

    assert "action_no_effect" not in {f.code for f in run(FnEnv(move_fn=move, reset_fn=reset))}


def test_env_nondeterministic_with_the_global_rng():
    report = run(FnEnv(move_fn=lambda e, a: e.x + _effect(e.action_space, a) + np.random.normal(0, 0.05, 3)))
    assert severity_of(report, "env_nondeterministic") is Severity.WARNING


def test_obs_nan_after_some_steps():
    def obs(env):
        return np.where(env.t >= 20, np.nan, env.x).astype(np.float32)

    report = run(FnEnv(obs_fn=obs))
    assert severity_of(report, "obs_nan_inf") is Severity.ERROR
    assert next(f for f in report if f.code == "obs_nan_inf").value == 20


def test_obs_dead_dims_and_scale_mismatch():
    dead = run(FnEnv(obs_fn=lambda e: np.concatenate([e.x, [0.0, 0.0]]).astype(np.float32)))
    assert severity_of(dead, "obs_dead_dims") is Severity.WARNING
    assert "obs[3], obs[4]" in next(f for f in dead if f.code == "obs_dead_dims").message
    scaled = run(FnEnv(obs_fn=lambda e: (e.x * [1.0, 1.0, 1e4]).astype(np.float32)))
    assert severity_of(scaled, "obs_scale_mismatch") is Severity.WARNING


def test_obs_too_large_is_info():
    env = FnEnv(obs_fn=lambda e: np.concatenate([e.x, np.tile(e.x, 400)]).astype(np.float32))
    assert severity_of(run(env, n_steps=200), "obs_too_large") is Severity.INFO


def test_reward_scale_tiny_from_exp_of_a_large_error():
    report = run(FnEnv(reward_fn=lambda e, a: float(np.exp(-(20.0 + e.x[0] ** 2)))))
    assert severity_of(report, "reward_scale_tiny") is Severity.WARNING
    assert "reward_sparse" not in {f.code for f in report}


def test_reward_scale_huge_from_a_win_bonus():
    def reward(env, action):
        return -0.01 + (1e5 if env.t == 20 and env.x[0] > 0 else 0.0)

    report = run(FnEnv(reward_fn=reward, done_fn=lambda e: (e.t >= 20, False)))
    assert severity_of(report, "reward_scale_huge") is Severity.WARNING


def test_reward_all_zero():
    report = run(FnEnv(reward_fn=lambda e, a: 0.0))
    assert severity_of(report, "reward_all_zero") is Severity.ERROR
    assert "reward_not_learnable" not in {f.code for f in report}


def test_reward_sparse():
    # paid at the end, and only in a corner random actions rarely reach
    report = run(FnEnv(reward_fn=lambda e, a: 1.0 if e.t == 50 and e.x[0] > 1.0 else 0.0))
    assert severity_of(report, "reward_sparse") is Severity.WARNING


def test_a_reward_paid_at_the_end_that_most_episodes_collect_is_not_sparse():
    # paid on 2% of steps, but at the end of over half of the random episodes: feedback every other episode
    report = run(FnEnv(reward_fn=lambda e, a: 1.0 if e.t == 50 and e.x[0] > 0 else 0.0))
    assert "reward_sparse" not in {f.code for f in report}


def test_reward_constant():
    fixed_length = run(FnEnv(reward_fn=lambda e, a: 1.0, done_fn=lambda e: (e.t >= 10, False)))
    assert severity_of(fixed_length, "reward_constant") is Severity.ERROR
    time_limit_only = run(FnEnv(reward_fn=lambda e, a: -1.0, done_fn=lambda e: (False, e.t >= 10)))
    assert severity_of(time_limit_only, "reward_constant") is Severity.WARNING


def test_reward_component_imbalance():
    def info(env, action):
        return {"reward_components": {"distance": -100 * env.x[0] ** 2, "heading": -0.01 * env.x[1] ** 2}}

    report = run(FnEnv(reward_fn=lambda e, a: sum(info(e, a)["reward_components"].values()), info_fn=info))
    assert severity_of(report, "reward_component_imbalance") is Severity.WARNING
    assert report.summary["reward_component_shares"]["distance"] > 0.99


def test_reward_not_learnable_when_obs_says_nothing_about_it():
    report = run(FnEnv(reward_fn=lambda e, a: float(e.np_random.normal())))
    assert severity_of(report, "reward_not_learnable") is Severity.WARNING


def test_reward_that_depends_on_obs_times_action_is_learnable():
    # a contextual bandit: no observation dim alone correlates with the reward, obs x action does
    env = FnEnv(action_space=spaces.Discrete(2), reward_fn=lambda e, a: float(np.sign(e.x[1]) * (2 * int(a) - 1)))
    assert "reward_not_learnable" not in {f.code for f in run(env)}


def test_reset_ignoring_the_seed():
    report = run(FnEnv(reset_fn=lambda e: np.array([0.5, 0.0, 0.0])))
    assert severity_of(report, "reset_not_randomized") is Severity.INFO


def test_episodes_ending_at_once_or_never():
    short = run(FnEnv(done_fn=lambda e: (e.t >= 2, False)))
    assert severity_of(short, "episode_length_degenerate") is Severity.WARNING
    never = run(FnEnv(done_fn=lambda e: (False, False)))
    assert severity_of(never, "episodes_never_end") is Severity.WARNING  # SB3 #1806
    assert "episode_length_degenerate" not in {f.code for f in never}
    assert never.summary["episodes"] == 0 and np.isnan(never.random_return_mean)


def _centered(space, action):
    """The action mapped to [-1, 1] by the space's bounds: the same task whatever the units."""
    low, high = space.low.astype(np.float64), space.high.astype(np.float64)
    width = np.where(high > low, high - low, 1.0)
    return 2.0 * (np.asarray(action, dtype=np.float64) - low) / width - 1.0


@pytest.mark.parametrize("low, high, far", [
    # SB3 #389 / #1972: a set-point in degrees, a budget in currency units
    ([5.0, -1.0], [35.0, 1.0], ["action[0] in [5, 35]"]),
    ([0.0, 0.0], [10000.0, 1.0], ["action[0] in [0, 1e+04]", "action[1] in [0, 1]"]),
    # healthy: [-1, 1], and Pendulum's symmetric [-2, 2]
    ([-1.0, -1.0], [1.0, 1.0], []),
    ([-2.0, -2.0], [2.0, 2.0], []),
])
def test_action_bounds_far_from_minus_one_one(low, high, far):
    space = spaces.Box(np.array(low, np.float32), np.array(high, np.float32))
    report = run(FnEnv(action_space=space, move_fn=lambda e, a: e.x + _effect(space, _centered(space, a))))
    if not far:  # SB3's check_env still recommends [-1, 1] for [-2, 2]: an info, nothing more
        assert "action_space_not_normalized" not in {f.code for f in report if f.severity is not Severity.INFO}
        return
    finding = next(f for f in report if f.code == "action_space_not_normalized")
    assert finding.severity is Severity.WARNING and all(dim in finding.message for dim in far)
    assert "RescaleAction" in finding.hint


def test_action_dimension_without_choice():
    # hill-a/stable-baselines #553: a Box with low == high in one dimension
    one = spaces.Box(np.array([-1.0, 3.0], np.float32), np.array([1.0, 3.0], np.float32))
    report = run(FnEnv(action_space=one, move_fn=lambda e, a: e.x + _effect(one, _centered(one, a))))
    finding = next(f for f in report if f.code == "action_space_degenerate")
    assert finding.severity is Severity.WARNING and "action[1] (low = high = 3)" in finding.message
    # nothing to choose at all: broken beyond doubt
    assert severity_of(run(FnEnv(action_space=spaces.Discrete(1))), "action_space_degenerate") is Severity.ERROR
    assert "action_space_degenerate" not in {f.code for f in run(FnEnv(action_space=spaces.Discrete(2)))}


def test_nan_reward():
    report = run(FnEnv(reward_fn=lambda e, a: float("nan") if e.t == 7 else -float(e.x[0] ** 2)))
    assert severity_of(report, "nan_detected") is Severity.ERROR


def test_warnings_are_raised_with_their_category():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_training_env(FnEnv(reward_fn=lambda e, a: 0.0, move_fn=lambda e, a: e.x))
    categories = {w.category for w in caught if str(w.message).startswith("[")}
    assert RewardWarning in categories and EnvironmentWarning in categories
    assert all(w.filename == __file__ for w in caught if issubclass(w.category, DiagnosticWarning))


def test_a_crash_in_the_env_names_the_step_and_action():
    def move(env, action):
        if env.t == 7:
            raise ZeroDivisionError("boom")
        return env.x

    with pytest.raises(EnvCrashedError, match=r"ZeroDivisionError in step\(\) with action .* at env step 7") as info:
        run(FnEnv(move_fn=move, done_fn=lambda e: (False, False)))
    assert isinstance(info.value.__cause__, ZeroDivisionError)


def test_bad_input_raises_clear_errors():
    with pytest.raises(NotAnEnvironmentError, match="got int"):
        check_training_env(42)  # type: ignore[arg-type]
    with pytest.raises(InvalidThresholdError, match="n_steps=0"):
        check_training_env("CartPole-v1", n_steps=0)
    with pytest.raises(InvalidThresholdError, match="n_steps=-5"):
        check_training_env(DummyVecEnv([lambda: gym.make("CartPole-v1")]), n_steps=-5)
    assert isinstance(NotAnEnvironmentError("x"), TypeError) and isinstance(InvalidThresholdError("x"), ValueError)


@pytest.mark.parametrize("wrap", [lambda env: env, lambda env: DummyVecEnv([lambda: env])], ids=["Env", "DummyVecEnv"])
def test_image_only_observation_is_checked(wrap):
    report = run(wrap(GridImageEnv()), n_steps=200)
    assert "diagnostics_internal_error" not in {f.code for f in report}
    assert serious(report) == [], report.format()
    assert report.summary["obs_dims"] == 12 * 12 * 3 and report.summary["steps"] == 200
    assert report.summary["episodes"] > 0


def test_image_only_observation_is_not_called_unrelated_to_a_reward_it_shows():
    class BrightnessEnv(gym.Env):
        """The reward is the brightness of the image the agent saw; the action picks a dark or a bright next image."""

        observation_space = spaces.Box(0, 255, (12, 12, 3), np.uint8)
        action_space = spaces.Discrete(2)

        def reset(self, *, seed=None, options=None):
            super().reset(seed=seed)
            self.t, self.brightness = 0, int(self.np_random.integers(0, 256))
            return np.full((12, 12, 3), self.brightness, np.uint8), {}

        def step(self, action):
            self.t += 1
            reward = self.brightness / 255.0
            self.brightness = int(self.np_random.integers(0, 128)) + 128 * int(action)
            return np.full((12, 12, 3), self.brightness, np.uint8), reward, False, self.t >= 30, {}

    report = run(BrightnessEnv(), n_steps=300)
    assert "reward_not_learnable" not in {f.code for f in report}, report.format()
    assert any("observation has images" in n for n in report.summary["notes"])


def test_vecnormalize_without_observation_normalization_is_checked():
    venv = VecNormalize(DummyVecEnv([lambda: gym.make("CartPole-v1")]), norm_obs=False)
    ret_mean, ret_count = venv.ret_rms.mean.copy(), venv.ret_rms.count
    report = run(venv, n_steps=200)
    assert isinstance(report, PreflightReport) and report.summary["steps"] == 200
    assert serious(report) == [], report.format()
    np.testing.assert_array_equal(venv.ret_rms.mean, ret_mean)
    assert venv.ret_rms.count == ret_count


def test_observation_of_another_shape_than_the_space():
    def obs(env):
        return np.append(env.x, env.t / 50).astype(np.float32)

    wrong = run(FnEnv(obs_fn=lambda e: obs(e).reshape(1, 4), observation_space=spaces.Box(-np.inf, np.inf, (4,))),
                n_steps=200)
    # SB3's DummyVecEnv copies a (1, 4) array into its (4,) buffer: training runs, check_env rejects it
    assert severity_of(wrong, "buffer_shape_mismatch") is Severity.WARNING
    assert "(1, 4)" in next(f for f in wrong if f.code == "buffer_shape_mismatch").message
    # a (4, 1) array does not broadcast into (4,): SB3 crashes at the first step
    column = run(FnEnv(obs_fn=lambda e: obs(e).reshape(4, 1), observation_space=spaces.Box(-np.inf, np.inf, (4,))),
                 n_steps=200)
    assert severity_of(column, "buffer_shape_mismatch") is Severity.ERROR
    right = run(FnEnv(obs_fn=obs), n_steps=200)
    assert right.summary["obs_dims"] == 4
    assert "buffer_shape_mismatch" not in {f.code for f in right}


def test_env_without_spaces_raises_a_clear_error():
    class NoSpaces(gym.Env):
        def reset(self, *, seed=None, options=None):
            return np.zeros(3, np.float32), {}

        def step(self, action):
            return np.zeros(3, np.float32), 0.0, False, False, {}

    with pytest.raises(NotAnEnvironmentError, match="NoSpaces has no observation_space and no action_space") as info:
        check_training_env(NoSpaces(), n_steps=10)
    assert "Set them in __init__" in str(info.value) and "self.observation_space = " in str(info.value)


def test_unknown_env_id_raises_a_clear_error():
    with pytest.raises(NotAnEnvironmentError, match=r"cannot make 'NoSuchEnv-v0'.*registered id") as info:
        check_training_env("NoSuchEnv-v0", n_steps=10)
    assert isinstance(info.value.__cause__, gym.error.Error)


@pytest.mark.parametrize("wrap", [lambda env: env, lambda env: DummyVecEnv([lambda: env])], ids=["Env", "DummyVecEnv"])
def test_float_images_in_0_255_are_not_scaled(wrap):
    # SB3 #268: a CNN learns poorly until the user divides the images by 255 (SB3 rescales only uint8 images)
    report = run(wrap(GridImageEnv(np.float32)), n_steps=200)
    assert severity_of(report, "image_obs_not_scaled") == Severity.WARNING
    # the twins: images divided by 255, and uint8 images SB3 rescales itself
    assert "image_obs_not_scaled" not in {f.code for f in run(wrap(GridImageEnv(np.float32, scale=1 / 255)), n_steps=200)}
    assert "image_obs_not_scaled" not in {f.code for f in run(wrap(GridImageEnv()), n_steps=200)}


def test_observations_outside_the_space_dtype_or_bounds():
    # float64 observations for a float32 space (what SB3's and Gymnasium's check_env warn about)
    wide = run(FnEnv(obs_fn=lambda env: env.x.astype(np.float64)))
    assert severity_of(wide, "obs_not_in_space") == Severity.WARNING
    assert "dtype float64" in next(f.message for f in wide if f.code == "obs_not_in_space")
    # values outside declared bounds: the state wanders past +-1 but the space says [-1, 1]
    bounded = run(FnEnv(observation_space=spaces.Box(-1.0, 1.0, (3,), np.float32)))
    assert "outside its bounds" in next(f.message for f in bounded if f.code == "obs_not_in_space")
    # the healthy twin: float32 observations within the space; and VecNormalize's normalised observations are
    # judged neither for bounds nor scale
    assert "obs_not_in_space" not in {f.code for f in run(FnEnv())}
    venv = VecNormalize(DummyVecEnv([lambda: gym.make("Pendulum-v1")]))
    assert "obs_not_in_space" not in {f.code for f in run(venv)}


@pytest.mark.parametrize("env_id", ["CartPole-v1", "Pendulum-v1"])
def test_observations_written_into_one_array(env_id):
    # dm_control #34: the env returns its state array and overwrites it at the next step (a warning: DummyVecEnv
    # copies observations, info['terminal_observation'] and frame stacks do not); SuperSuit PR #116: a VecEnv that
    # hands out its buffer makes SB3 store every observation one step late (an error)
    from sb3_diagnostics.faults import InPlaceObservation, SharedBufferVecEnv

    env = InPlaceObservation(gym.make(env_id))
    assert severity_of(run(env), "obs_buffer_aliased") == Severity.WARNING
    venv = SharedBufferVecEnv(make_vec_env(env_id, n_envs=2, seed=0))
    report = run(venv)
    assert severity_of(report, "obs_buffer_aliased") == Severity.ERROR
    assert "same array" in next(f.message for f in report if f.code == "obs_buffer_aliased")
    # the healthy twins: the same envs, returning new arrays
    assert "obs_buffer_aliased" not in {f.code for f in run(gym.make(env_id))}
    assert "obs_buffer_aliased" not in {f.code for f in run(make_vec_env(env_id, n_envs=2, seed=0))}


def test_time_limit_reported_as_termination():
    # SB3 #284: an env that counts its own steps and says terminated=True when its budget runs out. The 3-d state
    # drifts slowly and only the step budget ends an episode; the twins return truncated=True, or observe the time.
    slow = dict(move_fn=lambda env, a: env.x + 0.01 * _effect(env.action_space, a), reset_fn=lambda env: np.zeros(3))
    faulty = run(FnEnv(done_fn=lambda env: (env.t >= 40, False), **slow))
    assert severity_of(faulty, "timeout_as_termination") == Severity.WARNING
    finding = next(f for f in faulty if f.code == "timeout_as_termination")
    assert "exactly step 40" in finding.message and "truncated=True" in finding.hint
    # the fix: the same budget as a truncation
    assert "timeout_as_termination" not in {f.code for f in run(FnEnv(done_fn=lambda env: (False, env.t >= 40), **slow))}
    # a true fixed-horizon end: the time left is in the observation, so the last state is a state like any other
    clock = FnEnv(done_fn=lambda env: (env.t >= 40, False), obs_fn=lambda env: np.append(env.x, 40 - env.t).astype(
        np.float32), **slow)
    assert "timeout_as_termination" not in {f.code for f in run(clock)}
    # one-step episodes (a bandit) and episodes ended by the state (CartPole) are not a clock
    assert "timeout_as_termination" not in {f.code for f in run(gym.make("CartPole-v1"))}
    assert "timeout_as_termination" not in {f.code for f in run(FnEnv(done_fn=lambda env: (True, False)))}
