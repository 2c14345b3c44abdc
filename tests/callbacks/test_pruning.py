"""DiagnosticsCallback(prune_on=...) inside real Optuna studies: broken trials pruned with their reason, healthy ones never."""

from __future__ import annotations

import warnings

import optuna
import pytest
from stable_baselines3 import PPO
from stable_baselines3.common.callbacks import CallbackList

from sb3_diagnostics import DiagnosticsCallback, InvalidThresholdError, Severity, UnknownCodeError
from sb3_diagnostics.callbacks.pruning import find_trial

optuna.logging.set_verbosity(optuna.logging.WARNING)

#: a learning rate mistyped for 3e-4 (SB3 #2 in the fault zoo's sources): PPO's policy does not move at all
TYPO, HEALTHY = 3e-10, 3e-4
#: policy_not_updating holds after 4 updates of 128 steps (step 512); learn() stops at the next step
BUDGET = 1024


def _ppo(lr: float, tiny) -> PPO:
    return PPO("MlpPolicy", "CartPole-v1", learning_rate=lr, **tiny(n_steps=128, batch_size=64, n_epochs=2))


def _study(tmp_path, lrs):
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    study = optuna.create_study(storage=storage, study_name="s", direction="maximize",
                                sampler=optuna.samplers.GridSampler({"learning_rate": lrs}))
    return study, storage


def test_a_broken_trial_is_pruned_with_its_reason_and_a_healthy_one_completes(tmp_path, tiny):
    study, storage = _study(tmp_path, [TYPO, HEALTHY])
    steps: dict[float, int] = {}

    def objective(trial: optuna.Trial) -> float:
        lr = trial.suggest_categorical("learning_rate", [TYPO, HEALTHY])
        model = _ppo(lr, tiny)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                model.learn(BUDGET, callback=DiagnosticsCallback(prune_on="error"))
            finally:
                steps[lr] = model.num_timesteps
        return 1.0

    study.optimize(objective, n_trials=2, n_jobs=2)  # two threads: each callback finds its own trial
    trials = {t.params["learning_rate"]: t for t in optuna.load_study(study_name="s", storage=storage).trials}

    broken, healthy = trials[TYPO], trials[HEALTHY]
    assert broken.state == optuna.trial.TrialState.PRUNED
    attrs = broken.user_attrs
    assert attrs["diagnosis_pruned"] is True
    assert attrs["diagnosis_code"] == attrs["diagnosis_root_cause"] == "policy_not_updating"
    assert attrs["diagnosis_severity"] == "error"
    assert 0 < attrs["diagnosis_step"] < BUDGET
    assert "learning_rate is 3e-10" in attrs["diagnosis_message"]
    assert attrs["diagnosis_findings"][0] == "policy_not_updating"
    assert attrs["diagnosis_timesteps"] == steps[TYPO] < BUDGET  # it stopped early: the steps were saved
    # found at a rollout end: pruned before the next rollout takes a step (or a forward pass a NaN would crash)
    assert attrs["diagnosis_timesteps"] == attrs["diagnosis_step"]

    assert healthy.state == optuna.trial.TrialState.COMPLETE
    assert healthy.user_attrs["diagnosis_pruned"] is False
    assert healthy.user_attrs["diagnosis_findings"] == []
    assert "diagnosis_code" not in healthy.user_attrs
    assert healthy.user_attrs["diagnosis_timesteps"] == steps[HEALTHY] >= BUDGET


def test_prune_on_an_empty_list_records_the_diagnosis_without_pruning(tmp_path, tiny):
    study, _ = _study(tmp_path, [TYPO])

    def objective(trial: optuna.Trial) -> float:
        model = _ppo(trial.suggest_categorical("learning_rate", [TYPO]), tiny)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.learn(BUDGET, callback=DiagnosticsCallback(prune_on=[]))
        return float(model.num_timesteps)

    study.optimize(objective, n_trials=1)
    (trial,) = study.trials
    assert trial.state == optuna.trial.TrialState.COMPLETE
    assert trial.value >= BUDGET
    assert trial.user_attrs["diagnosis_pruned"] is False
    assert trial.user_attrs["diagnosis_code"] == "policy_not_updating"


def test_outside_a_trial_prune_on_changes_nothing(tiny, train):
    """The YAML that prunes during --optimize also trains the final model: there, no trial, no pruning."""
    cb = DiagnosticsCallback(prune_on="error")
    model = _ppo(TYPO, tiny)
    run = train(model, BUDGET, cb)
    assert run.severity("policy_not_updating") == Severity.ERROR
    assert model.num_timesteps >= BUDGET
    assert cb.pruning is not None and cb.pruning.trial is None


def test_the_trial_is_found_beside_the_callback_or_up_the_stack(tmp_path):
    study, _ = _study(tmp_path, [TYPO])
    running = study.ask()

    class Holder:  # rl-zoo3's TrialEvalCallback keeps the trial as .trial
        trial = running

    assert find_trial({"callback": CallbackList([DiagnosticsCallback(), CallbackList([Holder()])])}) is running  # type: ignore[list-item]
    assert find_trial({"callback": CallbackList([])}) is None  # no trial in this test's frames

    def objective(trial):  # Optuna calls objective(trial); learn() runs below it
        return find_trial({})

    assert objective(running) is running
    assert objective("not a trial") is None


def test_prune_on_is_checked_before_training():
    with pytest.raises(UnknownCodeError, match="Known codes"):
        DiagnosticsCallback(prune_on=["policy_not_updatin"])
    with pytest.raises(InvalidThresholdError, match="prune_on|stop_on"):
        DiagnosticsCallback(prune_on=3)  # type: ignore[arg-type]
