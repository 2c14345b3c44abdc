"""End to end: rl-zoo3's --optimize with the callback in its YAML, SQLite storage, then the study report."""

from __future__ import annotations

import importlib.util
import pathlib

import optuna
import pytest

from sb3_diagnostics.cli import main

_PATH = pathlib.Path(__file__).resolve().parents[2] / "benchmarks" / "sweep.py"


@pytest.fixture(scope="module")
def sweep():
    spec = importlib.util.spec_from_file_location("sweep_benchmark", _PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow  # four rl-zoo3 trials of 4096 steps: about 40 CPU-seconds
def test_rl_zoo3_optimize_prunes_broken_trials_and_the_report_explains_them(sweep, tmp_path, capsys):
    # python -m rl_zoo3.train --algo ppo --env CartPole-v1 -conf x.yml -optimize --storage sqlite:///studies.db ...
    # with `prune_on: error` in the YAML; seed 0 samples learning rates of 1e-7, 7e-10, 7e-6 and 3e-9
    storage, _ = sweep.run_study(tmp_path, "x", "error", trials=4, steps=4096, seed=0)
    study = optuna.load_study(study_name="x", storage=storage)
    assert len(study.trials) == 4
    pruned = [t for t in study.trials if t.state == optuna.trial.TrialState.PRUNED]
    assert pruned, "seed 0 samples learning rates below 1e-8 that cannot train"
    for t in study.trials:
        attrs = t.user_attrs
        assert attrs["diagnosis_pruned"] is (t in pruned)  # every trial carries its diagnosis
        if t in pruned:  # only trials that cannot learn: a learning rate mistyped by orders of magnitude
            assert t.params["learning_rate"] < 1e-7
            assert attrs["diagnosis_code"] == "policy_not_updating" and attrs["diagnosis_severity"] == "error"
            assert attrs["diagnosis_timesteps"] < 4096
        else:
            assert t.state == optuna.trial.TrialState.COMPLETE and attrs["diagnosis_timesteps"] >= 4096
    assert any(t.params["learning_rate"] > 1e-6 for t in study.trials if t not in pruned)

    assert main(["report", storage, "--study", "x"]) == 1
    out = capsys.readouterr().out
    assert f"policy_not_updating: {len(pruned)} trial" in out and f"({len(pruned)} pruned" in out
    for t in pruned:
        assert f"{t.number:>5}  PRUNED" in out
