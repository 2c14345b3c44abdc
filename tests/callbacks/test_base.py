"""What every check shares: guards, learn() after learn(), save and load."""

from __future__ import annotations

import warnings

import numpy as np
from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env

from sb3_diagnostics import (
    DiagnosticsCallback,
    EntropyCollapseCallback,
    NaNCallback,
    RewardSignalCallback,
)
from sb3_diagnostics.callbacks.composite import CHECKS


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
