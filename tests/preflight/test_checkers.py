"""
check_training_env includes SB3's and Gymnasium's env checkers: every env either checker complains about gets
a finding, under the code that names the problem, and healthy envs get none at warning level.
"""

from __future__ import annotations

import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces
from gymnasium.utils.env_checker import check_env as gymnasium_check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env
from stable_baselines3.common.vec_env import DummyVecEnv

from sb3_diagnostics.findings import Severity
from sb3_diagnostics.preflight import check_training_env
from sb3_diagnostics.rules.environment import checker_verdict


class Task(gym.Env):
    """A healthy 3-d task (time limit 20); each fault below changes one thing, the way users got it wrong."""

    def __init__(self) -> None:
        self.observation_space = spaces.Box(-1, 1, (3,), np.float32)
        self.action_space: spaces.Space = spaces.Discrete(2)
        self.t = 0

    def _obs(self):
        return self.np_random.uniform(-1, 1, 3).astype(np.float32)

    def reset(self, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return self._obs(), {}

    def _reward(self, action) -> float:
        return float(action == 1)

    def step(self, action):
        self.t += 1
        return self._obs(), self._reward(action), False, self.t >= 20, {}  # a time limit: truncated


class Float64Obs(Task):  # np.random.uniform returns float64 (SB3 #1105-style custom envs)
    def _obs(self):
        return self.np_random.uniform(-1, 1, 3)


class ObsOutOfBounds(Task):
    def _obs(self):
        return (5 * self.np_random.uniform(-1, 1, 3)).astype(np.float32)


class RowObs(Task):  # a (1, n) observation for an (n,) space
    def _obs(self):
        return self.np_random.uniform(-1, 1, (1, 3)).astype(np.float32)


class DiscreteFromOne(Task):  # actions 1 and 2: SB3's policies send 0 and 1
    def __init__(self) -> None:
        super().__init__()
        self.action_space = spaces.Discrete(2, start=1)

    def _reward(self, action) -> float:
        return float(action == 2)


class TupleObs(Task):  # Blackjack-style observations
    def __init__(self) -> None:
        super().__init__()
        self.observation_space = spaces.Tuple((spaces.Discrete(3), spaces.Discrete(2)))

    def _obs(self):
        return int(self.np_random.integers(3)), int(self.np_random.integers(2))


class NestedDict(Task):
    def __init__(self) -> None:
        super().__init__()
        self.observation_space = spaces.Dict({"a": spaces.Dict({"b": spaces.Box(-1, 1, (3,), np.float32)})})

    def _obs(self):
        return {"a": {"b": self.np_random.uniform(-1, 1, 3).astype(np.float32)}}


class OldGymStep(Task):  # gym < 0.26: (obs, reward, done, info)
    def step(self, action):
        self.t += 1
        return self._obs(), self._reward(action), self.t >= 20, {}


class NoneInfo(Task):
    def step(self, action):
        obs, reward, terminated, truncated, _ = super().step(action)
        return obs, reward, terminated, truncated, None


class ResetWithoutSeed(Task):
    def reset(self):  # type: ignore[override]
        self.t = 0
        return np.zeros(3, np.float32), {}


class ArrayReward(Task):
    def _reward(self, action):  # type: ignore[override]
        return np.array([float(action == 1)])


class Float32Reward(Task):
    def _reward(self, action):  # type: ignore[override]
        return np.float32(action == 1)


class TinyImage(Task):  # too small for the default CnnPolicy
    def __init__(self) -> None:
        super().__init__()
        self.observation_space = spaces.Box(0, 255, (16, 16, 3), np.uint8)

    def _obs(self):
        return self.np_random.integers(0, 256, (16, 16, 3), dtype=np.uint8)


class UnboundedAction(Task):
    def __init__(self) -> None:
        super().__init__()
        self.action_space = spaces.Box(-np.inf, np.inf, (1,), np.float32)

    def _reward(self, action) -> float:
        return -float(action[0]) ** 2


class WideAction(Task):  # SB3 #389
    def __init__(self) -> None:
        super().__init__()
        self.action_space = spaces.Box(0, 100, (1,), np.float32)

    def _reward(self, action) -> float:
        return -abs(float(action[0]) - 50) / 50


class GlobalRandom(Task):  # np.random instead of self.np_random
    def _obs(self):
        return np.random.default_rng().uniform(-1, 1, 3).astype(np.float32)


class InPlace(Task):  # returns its own state array
    def __init__(self) -> None:
        super().__init__()
        self.state = np.zeros(3, np.float32)

    def _obs(self):
        self.state[:] = self.np_random.uniform(-1, 1, 3)
        return self.state


#: env -> (the code check_training_env must report, its lowest acceptable severity)
FAULTS: dict[type[Task], tuple[str, Severity]] = {
    Float64Obs: ("obs_not_in_space", Severity.WARNING),
    ObsOutOfBounds: ("obs_not_in_space", Severity.WARNING),
    RowObs: ("buffer_shape_mismatch", Severity.WARNING),
    DiscreteFromOne: ("env_api_violation", Severity.ERROR),
    TupleObs: ("env_api_violation", Severity.ERROR),
    NestedDict: ("env_api_violation", Severity.ERROR),
    OldGymStep: ("env_api_violation", Severity.ERROR),
    NoneInfo: ("env_api_violation", Severity.ERROR),
    ResetWithoutSeed: ("env_api_violation", Severity.ERROR),
    ArrayReward: ("env_api_violation", Severity.WARNING),
    Float32Reward: ("env_api_violation", Severity.INFO),  # SB3's VecEnvs store it fine; check_env rejects it
    TinyImage: ("env_api_violation", Severity.INFO),  # only CnnPolicy needs 36x36
    UnboundedAction: ("action_space_not_normalized", Severity.WARNING),
    WideAction: ("action_space_not_normalized", Severity.WARNING),
    GlobalRandom: ("env_nondeterministic", Severity.WARNING),
    InPlace: ("obs_buffer_aliased", Severity.WARNING),
}
RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.ERROR: 2}


def _complaints(env: gym.Env) -> list[str]:
    """What SB3's and Gymnasium's check_env say about ``env``, run the way their docs show."""
    said = []
    for check in (lambda: sb3_check_env(env), lambda: gymnasium_check_env(env.unwrapped, skip_render_check=True)):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                check()
            except Exception as exc:  # noqa: BLE001
                said.append(f"{type(exc).__name__}: {exc}")
        said += [str(w.message) for w in caught if not issubclass(w.category, DeprecationWarning)]
    return said


def _check(env: gym.Env | DummyVecEnv):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return check_training_env(env, n_steps=200, warn=False)


@pytest.mark.parametrize("fault", list(FAULTS), ids=lambda c: c.__name__)
def test_what_the_env_checkers_find_is_a_finding(fault):
    assert _complaints(fault()), "the fault must be one SB3's or Gymnasium's check_env finds"
    code, at_least = FAULTS[fault]
    report = _check(fault())
    found = {f.code: f for f in report}
    assert code in found, (fault.__name__, [(f.code, f.severity.name, f.message) for f in report])
    assert RANK[found[code].severity] >= RANK[at_least]


def test_an_env_the_rollout_cannot_drive_reports_the_checkers_verdict_instead_of_crashing():
    report = _check(OldGymStep())
    (finding,) = [f for f in report if f.code == "env_api_violation"]
    assert finding.severity is Severity.ERROR
    assert "must return five values" in finding.message and "4 values" in finding.message
    assert "check_env" in finding.hint
    assert any("random rollout stopped" in note for note in report.summary.get("notes", []))


def test_the_checkers_run_on_the_first_env_of_a_dummy_vec_env():
    report = _check(DummyVecEnv([DiscreteFromOne, DiscreteFromOne]))
    assert [f.severity for f in report if f.code == "env_api_violation"] == [Severity.ERROR]
    assert "start=1" in next(f.message for f in report if f.code == "env_api_violation")


@pytest.mark.parametrize("env_id", ["CartPole-v1", "Pendulum-v1", "MountainCarContinuous-v0", "Acrobot-v1"])
def test_healthy_envs_get_nothing_from_the_checkers_at_warning_level(env_id):
    report = _check(gym.make(env_id))
    from_checkers = [f for f in report if "check_env" in f.message]
    assert all(f.severity is Severity.INFO for f in from_checkers), [(f.code, f.message) for f in from_checkers]
    if env_id == "Pendulum-v1":  # [-2, 2]: SB3 recommends [-1, 1]; it trains fine as it is
        assert [f.code for f in from_checkers] == ["action_space_not_normalized"]
    else:
        assert from_checkers == []


def test_the_healthy_twin_passes_both_checkers_and_check_training_env():
    assert _complaints(Task()) == []
    assert [f for f in _check(Task()) if f.severity is not Severity.INFO] == []


def test_a_warning_the_env_raises_itself_is_not_blamed_on_the_checkers():
    class Chatty(Task):
        def step(self, action):
            warnings.warn("my own deprecation notice", UserWarning, stacklevel=1)
            return super().step(action)

    assert [f for f in _check(Chatty()) if f.code == "env_api_violation"] == []


@pytest.mark.parametrize(("message", "code", "severity"), [
    ("The observation space is a Tuple, this is currently not supported by Stable Baselines3.",
     "env_api_violation", Severity.ERROR),
    ("The `terminated` signal must be a boolean", "env_api_violation", Severity.INFO),
    ("A Box observation space minimum value is -infinity. This is probably too low.",
     "action_space_not_normalized", None),
    ("Something new a later SB3 asserts", "env_api_violation", Severity.WARNING),
    # hill-a/stable-baselines #553's env declares a constant observation dim: not an action without choice
    ("A Box observation space maximum and minimum values are equal.", "obs_dead_dims", Severity.INFO),
    ("A Box action space maximum and minimum values are equal.", "action_space_degenerate", Severity.WARNING),
])
def test_checker_messages_are_judged_by_what_they_mean_for_training(message, code, severity):
    kind = "warn" if "infinity" in message or "are equal" in message else "assert"
    verdict = checker_verdict("SB3" if kind == "assert" else "Gymnasium", kind, message)
    assert verdict[1] is severity and (severity is None or verdict[0] == code)
