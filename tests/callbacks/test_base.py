"""What every check shares: guards, learn() after learn(), save and load."""

from __future__ import annotations

import warnings

import gymnasium as gym
import numpy as np
import pytest
from stable_baselines3 import DQN, PPO
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.policies import ActorCriticPolicy

from sb3_diagnostics import (
    DiagnosticsCallback,
    EntropyCollapseCallback,
    NaNCallback,
    RewardSignalCallback,
    Severity,
)
from sb3_diagnostics.callbacks.composite import CHECKS
from sb3_diagnostics.callbacks.q_values import QValueCallback
from sb3_diagnostics.errors import InvalidThresholdError
from sb3_diagnostics.faults import RewardScale
from sb3_diagnostics.sb3.gradient_tap import GradientTap


class _FailingEntropyCheck(EntropyCollapseCallback):
    calls = 0

    def _measure(self):
        type(self).calls += 1
        raise RuntimeError("boom")


def test_a_bug_in_a_check_never_crashes_training(ppo_small, train):
    model = PPO("MlpPolicy", "CartPole-v1", **ppo_small())
    cb = _FailingEntropyCheck()
    run = train(model, 1024, cb)
    assert model.num_timesteps >= 1024
    assert [f.code for f in run.findings] == ["diagnostics_internal_error"]
    assert "RuntimeError: boom" in run.findings[0].message
    assert _FailingEntropyCheck.calls == 1  # disabled after the first failure


class _CountingNaNCheck(NaNCallback):
    calls = 0

    def _on_env_step(self) -> None:
        type(self).calls += 1
        super()._on_env_step()


class _FailingRewardCheck(RewardSignalCallback):
    calls = 0

    def _on_env_step(self) -> None:
        type(self).calls += 1
        if type(self).calls == 10:
            raise RuntimeError("boom at a step")
        super()._on_env_step()


def test_a_bug_in_a_per_step_check_disables_only_that_check(ppo_small, train, monkeypatch):
    # The composite calls the stepping checks straight at their work: the guard must hold there too.
    monkeypatch.setitem(CHECKS, "reward", _FailingRewardCheck)
    monkeypatch.setitem(CHECKS, "nan", _CountingNaNCheck)
    model = PPO("MlpPolicy", "CartPole-v1", **ppo_small())
    cb = DiagnosticsCallback(checks=["reward", "nan"])
    run = train(model, 1024, cb)
    assert model.num_timesteps >= 1024
    assert [(f.code, f.check) for f in run.findings] == [("diagnostics_internal_error", "reward")]
    assert "RuntimeError: boom at a step" in run.findings[0].message
    assert _FailingRewardCheck.calls == 10  # not called again once disabled
    nan_check = next(c for c in cb.callbacks if c.check_name == "nan")
    assert nan_check._active  # the other stepping check kept running
    assert _CountingNaNCheck.calls == 1024  # every step, the failing one included


class _FailingAtRolloutEnd(RewardSignalCallback):
    steps_after_failure = 0
    failed = False

    def _on_env_step(self) -> None:
        if type(self).failed:
            type(self).steps_after_failure += 1
        super()._on_env_step()

    def _measure(self) -> dict[str, float]:
        type(self).failed = True
        raise RuntimeError("boom at a rollout end")


def test_a_check_disabled_outside_a_step_gets_no_more_steps(ppo_small, train, monkeypatch):
    monkeypatch.setitem(CHECKS, "reward", _FailingAtRolloutEnd)
    model = PPO("MlpPolicy", "CartPole-v1", **ppo_small())
    run = train(model, 1024, DiagnosticsCallback(checks=["reward", "nan"]))
    assert [(f.code, f.check) for f in run.findings] == [("diagnostics_internal_error", "reward")]
    assert "boom at a rollout end" in run.findings[0].message
    assert _FailingAtRolloutEnd.failed and _FailingAtRolloutEnd.steps_after_failure == 0


def test_repeated_learn_and_save_load_keep_history(broken_model, train, tmp_path):
    cb = DiagnosticsCallback()
    model = broken_model()
    train(model, 1024, cb)
    train(model, 1024, cb)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.learn(1024, callback=cb, reset_num_timesteps=False)
    path = tmp_path / "model.zip"
    model.save(path)
    loaded = PPO.load(path, env=make_vec_env("CartPole-v1", n_envs=1, seed=1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        loaded.learn(2048, callback=cb, reset_num_timesteps=False)
    assert loaded.num_timesteps >= 4096
    codes = [f.code for f in cb.findings]
    assert codes.count("policy_not_updating") == 1  # one episode of trouble across calls and the reload
    steps = [f.step for f in cb.findings]
    assert steps == sorted(steps)
    assert not [c for c in codes if c == "diagnostics_internal_error"]


def test_last_update_of_learn_is_judged(ppo_small, train):
    # on-policy learn() has no hook after train(): the final update is read in on_training_end.
    model = PPO("MlpPolicy", "CartPole-v1", **ppo_small(learning_rate=0.5, n_epochs=30))
    cb = DiagnosticsCallback(checks=["kl"])
    train(model, 256, cb)  # one rollout, one update: only on_training_end can see its KL
    assert "kl_too_high" in {f.code for f in cb.findings}
    assert np.isfinite(cb.findings[0].value)


# -- unbreakable: reuse, restarts, stops -------------------------------------------------------------


class _CountingQCheck(QValueCallback):
    measured = 0

    def _measure(self):
        type(self).measured += 1
        return super()._measure()


def test_off_policy_checks_measure_again_after_timesteps_restart(tiny):
    # learn() with SB3's default reset_num_timesteps=True restarts num_timesteps at 0; the measuring
    # gate must restart with it, on the same model and on a new model under the same callback
    cb = _CountingQCheck(off_policy_interval=100)
    model = DQN("MlpPolicy", "CartPole-v1", learning_starts=50, **tiny())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.learn(350, callback=cb)
        first = _CountingQCheck.measured
        model.learn(350, callback=cb)
        second = _CountingQCheck.measured - first
        DQN("MlpPolicy", "CartPole-v1", learning_starts=50, **tiny()).learn(350, callback=cb)
        third = _CountingQCheck.measured - first - second
    assert first >= 3 and second == first and third == first


class _StepRecordingQCheck(QValueCallback):
    def _init_state(self) -> None:
        super()._init_state()
        self.measured_at: list[int] = []

    def _measure(self):
        self.measured_at.append(self.model.num_timesteps)
        return super()._measure()


@pytest.mark.parametrize("train_freq, updates, gap", [(1, 250, 250), (4, 250, 1000), (1, None, 1000)],
                         ids=["one update per step", "DQN's train_freq=4", "off_policy_updates=None"])
def test_off_policy_gate_counts_updates_not_steps(tiny, train_freq, updates, gap):
    # Before learning_starts no update happens: the timestep interval (1000) still measures the environment.
    # After it, a measurement once 250 updates happened: every 250 steps with one update per step (SAC's and
    # TD3's defaults), where a fixed 1000-step gate saw a 1200-step run once; every 1000 at DQN's train_freq=4.
    cb = _StepRecordingQCheck(off_policy_updates=updates)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        DQN("MlpPolicy", "CartPole-v1", learning_starts=1200, train_freq=train_freq, **tiny()).learn(3200, callback=cb)
    assert cb.measured_at[:2] == [train_freq, 1000 + train_freq]
    later = np.diff([s for s in cb.measured_at if s > 1200])
    assert len(later) >= 1 and set(later) == {gap}


def test_off_policy_updates_must_be_a_whole_number():
    with pytest.raises(InvalidThresholdError, match="off_policy_updates=0"):
        DiagnosticsCallback(off_policy_updates=0)
    assert DiagnosticsCallback(off_policy_updates=None).off_policy_updates is None


def test_stop_on_stops_one_learn_call_not_the_next(ppo_small):
    # one learn() on a broken env stops; the user fixes the env and learns again with the same callback
    cb = DiagnosticsCallback(checks=["reward"], stop_on="error")
    broken = PPO("MlpPolicy", make_vec_env("CartPole-v1", seed=0, wrapper_class=RewardScale,
                                           wrapper_kwargs=dict(scale=0.0)), **ppo_small())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        broken.learn(4096, callback=cb)
        assert broken.num_timesteps < 4096
        fixed = PPO("MlpPolicy", "CartPole-v1", **ppo_small())
        fixed.learn(2048, callback=cb)
    assert fixed.num_timesteps >= 2048


@pytest.mark.parametrize("value", [np.array([0.5]), np.float32(0.5), "0.5", None, [0.1, 0.2]],
                         ids=["1-element array", "numpy float", "string", "None", "list"])
def test_odd_reward_component_values_never_disable_the_reward_check(ppo_small, train, value):
    class Components(gym.Wrapper):
        def step(self, action):
            obs, reward, terminated, truncated, info = super().step(action)
            info["reward_components"] = {"alive": reward, "odd": value}
            return obs, reward, terminated, truncated, info

    env = make_vec_env("CartPole-v1", seed=0, wrapper_class=Components)
    run = train(PPO("MlpPolicy", env, **ppo_small()), 1024, DiagnosticsCallback(checks=["reward", "episodes"]))
    assert "diagnostics_internal_error" not in run.codes(Severity.INFO)


class _OptimizerOnlyInTrain(ActorCriticPolicy):
    """A custom policy whose optimizer exists only while an update runs (built lazily by the algorithm)."""

    @property
    def optimizer(self):
        if not getattr(self, "_in_update", False):
            raise RuntimeError("optimizer is only available inside train()")
        return self._optimizer

    @optimizer.setter
    def optimizer(self, value):
        self._optimizer = value


class _LazyOptimizerPPO(PPO):
    def train(self) -> None:
        self.policy._in_update = True  # type: ignore[assignment]
        try:
            super().train()
        finally:
            self.policy._in_update = False  # type: ignore[assignment]


def test_a_policy_whose_optimizer_raises_outside_train_never_crashes_training(ppo_small, train):
    model = _LazyOptimizerPPO(_OptimizerOnlyInTrain, "CartPole-v1", **ppo_small())
    run = train(model, 1024, DiagnosticsCallback())
    assert model.num_timesteps >= 1024
    assert [f for f in run.findings if f.severity >= Severity.ERROR] == []


def test_an_env_that_raises_mid_learn_leaves_no_hooks_behind(ppo_small):
    class Crashes(gym.Wrapper):
        steps = 0

        def step(self, action):
            type(self).steps += 1
            if type(self).steps == 300:
                raise RuntimeError("simulator died")
            return super().step(action)

    model = PPO("MlpPolicy", make_vec_env("CartPole-v1", seed=0, wrapper_class=Crashes), **ppo_small())
    with warnings.catch_warnings(), pytest.raises(RuntimeError, match="simulator died"):
        warnings.simplefilter("ignore")
        model.learn(1024, callback=DiagnosticsCallback())
    tap = GradientTap.for_model(model)
    steps_before = sum(tap.step_count.values())
    model.set_env(make_vec_env("CartPole-v1", seed=0))
    model.learn(512)  # plain SB3 afterwards: the hooks left by the crash turn themselves off at once
    assert model.num_timesteps >= 512
    # (its first update comes at num_timesteps 256, as the crashed learn()'s last one did: still told apart)
    assert sum(tap.step_count.values()) == steps_before > 0
    optimizer = model.policy.optimizer
    left = [*optimizer._optimizer_step_pre_hooks.values(), *optimizer._optimizer_step_post_hooks.values()]
    assert all(hook.__name__ == "_noop" for hook in left)  # replaced in place: torch was iterating the dict
