"""DiagnosticsCallback as a user meets it: one line, healthy runs stay silent, faults are reported."""

import os
import warnings

import numpy as np
import pytest
from conftest import ppo_small, tiny, train
from sb3_contrib import TRPO, MaskablePPO, RecurrentPPO
from sb3_contrib.common.envs import InvalidActionEnvDiscrete
from stable_baselines3 import A2C, PPO
from stable_baselines3.common.callbacks import CallbackList, CheckpointCallback
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.envs import IdentityEnvMultiBinary, IdentityEnvMultiDiscrete
from stable_baselines3.common.vec_env import SubprocVecEnv, VecNormalize
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

import sb3_diagnostics.callbacks.entropy as entropy_module
import sb3_diagnostics.callbacks.kl as kl_module
from sb3_diagnostics import (
    DiagnosticsCallback,
    DiagnosticWarning,
    EntropyCollapseCallback,
    NaNCallback,
    RewardSignalCallback,
    Severity,
)
from sb3_diagnostics.callbacks.composite import CHECKS
from sb3_diagnostics.warnings import PolicyUpdateWarning

# --- healthy runs: nothing at warning level --------------------------------------------------------


def test_healthy_ppo_cartpole_is_silent():
    cb = DiagnosticsCallback()
    run = train(PPO("MlpPolicy", make_vec_env("CartPole-v1", n_envs=4, seed=0), **ppo_small()), 12000, cb)
    assert run.codes(Severity.WARNING) == set()
    assert run.warnings == []
    assert "No findings" in cb.report()


def test_healthy_recurrent_ppo_is_silent():
    model = RecurrentPPO("MlpLstmPolicy", make_vec_env("CartPole-v1", n_envs=2, seed=0), n_steps=64, batch_size=64,
                         seed=0, policy_kwargs=dict(lstm_hidden_size=16, net_arch=[16]))
    run = train(model, 3000, DiagnosticsCallback())
    assert run.codes(Severity.WARNING) == set()


@pytest.mark.parametrize("make", [
    lambda: A2C("MlpPolicy", make_vec_env("CartPole-v1", n_envs=4, seed=0), **tiny(n_steps=8)),
    lambda: TRPO("MlpPolicy", "CartPole-v1", **ppo_small()),
    lambda: MaskablePPO("MlpPolicy", InvalidActionEnvDiscrete(dim=20, n_invalid_actions=10), **ppo_small()),
    lambda: PPO("MlpPolicy", VecNormalize(make_vec_env("Pendulum-v1", n_envs=4, seed=0)), **ppo_small()),
], ids=["a2c", "trpo", "maskable_ppo", "ppo_pendulum_vecnormalize"])
def test_healthy_runs_of_other_algorithms_are_silent(make):
    run = train(make(), 4096, DiagnosticsCallback())
    assert run.codes(Severity.WARNING) == set()


# --- what the user sees ----------------------------------------------------------------------------


def _broken_model(**overrides):
    """PPO whose learning rate was typed 3e-10 instead of 3e-4: the policy never changes."""
    return PPO("MlpPolicy", "CartPole-v1", **ppo_small(learning_rate=3e-10, **overrides))


def test_warning_points_at_the_users_learn_call_and_reads_well():
    run = train(_broken_model(), 2048, DiagnosticsCallback())
    [w] = run.warned("policy_not_updating")
    assert os.path.basename(w.filename) == "conftest.py"  # where train() calls model.learn
    text = str(w.message)
    assert text.startswith("[policy_not_updating] step ") and "learning_rate" in text
    assert issubclass(w.category, PolicyUpdateWarning)


def test_warnings_can_be_turned_into_errors_by_category():
    with warnings.catch_warnings():
        warnings.filterwarnings("error", category=PolicyUpdateWarning)
        with pytest.raises(PolicyUpdateWarning, match=r"^\[policy_not_updating\]"):
            _broken_model().learn(2048, callback=DiagnosticsCallback())


def test_warnings_can_be_silenced_while_findings_are_kept():
    cb = DiagnosticsCallback()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warnings.filterwarnings("ignore", category=DiagnosticWarning)
        _broken_model().learn(2048, callback=cb)
    assert not [w for w in caught if issubclass(w.category, DiagnosticWarning)]
    assert "policy_not_updating" in {f.code for f in cb.findings}


def test_cooldown_warns_once_for_a_persistent_fault():
    cb = DiagnosticsCallback()
    run = train(_broken_model(), 6000, cb)  # ~23 updates, the fault holds from the 3rd on
    assert len(run.warned("policy_not_updating")) == 1
    assert cb.core.occurrences["policy_not_updating"] >= 15


def test_report_orders_most_upstream_first():
    cb = DiagnosticsCallback()
    train(_broken_model(), 6000, cb)
    report = cb.report()
    assert report.index("[policy_stays_random]") < report.index("[policy_not_updating]")  # exploration, then updates
    assert "Start with [policy_stays_random]" in report


def test_tensorboard_gets_scalars_alert_series_and_text(tmp_logdir):
    model = _broken_model(tensorboard_log=tmp_logdir)
    train(model, 3000, DiagnosticsCallback())
    run_dir = os.path.join(tmp_logdir, os.listdir(tmp_logdir)[0])
    events = EventAccumulator(run_dir, size_guidance={"tensors": 0, "scalars": 0}).Reload()
    scalars = set(events.Tags()["scalars"])
    for tag in ("diagnostics/entropy_normalized", "diagnostics/approx_kl", "diagnostics/clip_fraction",
                "diagnostics/explained_variance", "diagnostics/advantage_std", "diagnostics/alert/policy_not_updating"):
        assert tag in scalars, tag
    alerts = [e.value for e in events.Scalars("diagnostics/alert/policy_not_updating")]
    assert alerts[-1] == 1.0 and len(alerts) >= 3
    assert any(t.startswith("diagnostics/findings/policy_not_updating") for t in events.Tags()["tensors"])
    assert "custom_scalars__config__" in events.Tags()["tensors"]  # the charts grouped in "Custom Scalars"


def test_stop_on_error_stops_training():
    model = _broken_model()
    cb = DiagnosticsCallback(stop_on="error")
    train(model, 20_000, cb)
    assert model.num_timesteps < 5000
    assert cb.findings[-1].severity == Severity.ERROR


def test_stop_on_code_and_default_never_stops():
    model = _broken_model()
    train(model, 4096, DiagnosticsCallback(stop_on=["kl_too_high"]))
    assert model.num_timesteps >= 4096
    model = _broken_model()
    train(model, 20_000, DiagnosticsCallback(stop_on="policy_stays_random"))
    assert model.num_timesteps < 20_000


def test_works_inside_a_callback_list(tmp_path):
    cb = DiagnosticsCallback()
    checkpoints = CheckpointCallback(save_freq=1000, save_path=str(tmp_path))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _broken_model().learn(2048, callback=CallbackList([checkpoints, cb]))
    assert "policy_not_updating" in {f.code for f in cb.findings}
    assert os.listdir(tmp_path)


# --- robustness ------------------------------------------------------------------------------------


class _FailingEntropyCheck(EntropyCollapseCallback):
    calls = 0

    def _measure(self):
        type(self).calls += 1
        raise RuntimeError("boom")


def test_a_bug_in_a_check_never_crashes_training():
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


def test_a_bug_in_a_per_step_check_disables_only_that_check(monkeypatch):
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


def test_a_check_disabled_outside_a_step_gets_no_more_steps(monkeypatch):
    monkeypatch.setitem(CHECKS, "reward", _FailingAtRolloutEnd)
    model = PPO("MlpPolicy", "CartPole-v1", **ppo_small())
    run = train(model, 1024, DiagnosticsCallback(checks=["reward", "nan"]))
    assert [(f.code, f.check) for f in run.findings] == [("diagnostics_internal_error", "reward")]
    assert "boom at a rollout end" in run.findings[0].message
    assert _FailingAtRolloutEnd.failed and _FailingAtRolloutEnd.steps_after_failure == 0


def test_each_metric_is_measured_once_per_update_across_checks(monkeypatch):
    calls = []
    original = entropy_module.policy_stats

    def counting(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(entropy_module, "policy_stats", counting)
    monkeypatch.setattr(kl_module, "policy_stats", counting)
    train(PPO("MlpPolicy", "CartPole-v1", **ppo_small()), 2048, DiagnosticsCallback())
    assert len(calls) == 8  # 8 rollouts, two checks need the policy's entropy


def _dict_obs_env():
    from stable_baselines3.common.envs import SimpleMultiObsEnv

    return SimpleMultiObsEnv(random_start=True)


@pytest.mark.parametrize("policy, make_env", [
    ("MlpPolicy", lambda: "FrozenLake-v1"),  # Discrete observations, Discrete actions
    ("MlpPolicy", lambda: IdentityEnvMultiDiscrete(dim=3)),  # MultiDiscrete observations and actions
    ("MlpPolicy", lambda: IdentityEnvMultiBinary(dim=3)),  # MultiBinary observations and actions
    ("MultiInputPolicy", _dict_obs_env),
], ids=["discrete_obs", "multidiscrete", "multibinary", "dict_obs"])
def test_observation_and_action_spaces(policy, make_env):
    cb = DiagnosticsCallback()
    run = train(PPO(policy, make_env(), **ppo_small()), 1024, cb)
    assert not [f for f in run.findings if f.code == "diagnostics_internal_error"]
    assert cb.core.update_index >= 3


def test_multidiscrete_and_multibinary_actions_are_measured():
    for env in (IdentityEnvMultiDiscrete(dim=3), IdentityEnvMultiBinary(dim=3)):
        cb = DiagnosticsCallback()
        train(PPO("MlpPolicy", env, **ppo_small()), 512, cb)
        entropy = next(c for c in cb.callbacks if isinstance(c, EntropyCollapseCallback))
        assert entropy._rules[0]._previous is not None and 0.5 < entropy._rules[0]._previous <= 1.0


def test_subproc_vec_env_and_vecnormalize():
    env = VecNormalize(SubprocVecEnv([lambda: __import__("gymnasium").make("CartPole-v1")] * 2))
    try:
        cb = DiagnosticsCallback()
        run = train(PPO("MlpPolicy", env, **ppo_small()), 1024, cb)
        assert {type(c).__name__ for c in cb.callbacks} >= {"VecNormalizeAuditCallback"}
        assert not [f for f in run.findings if f.code == "diagnostics_internal_error"]
    finally:
        env.close()


def test_repeated_learn_and_save_load_keep_history(tmp_path):
    cb = DiagnosticsCallback()
    model = _broken_model()
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


def test_last_update_of_learn_is_judged():
    # on-policy learn() has no hook after train(): the final update is read in on_training_end.
    model = PPO("MlpPolicy", "CartPole-v1", **ppo_small(learning_rate=0.5, n_epochs=30))
    cb = DiagnosticsCallback(checks=["kl"])
    train(model, 256, cb)  # one rollout, one update: only on_training_end can see its KL
    assert "kl_too_high" in {f.code for f in cb.findings}
    assert np.isfinite(cb.findings[0].value)
