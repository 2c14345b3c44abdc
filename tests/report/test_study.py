"""``sb3-diagnostics report`` on an Optuna study: per trial its diagnosis, then what failed and where it came from."""

from __future__ import annotations

import json
import math

import optuna
import pytest

from sb3_diagnostics import trials
from sb3_diagnostics.cli import main
from sb3_diagnostics.findings import Finding, Severity
from sb3_diagnostics.report.study import TrialRow, load_study, ranges

optuna.logging.set_verbosity(optuna.logging.WARNING)

KL = Finding("kl_too_high", Severity.WARNING, 2048, "approx KL was 0.9 (threshold 0.2)", "Lower learning_rate.")
NAN = Finding("nan_detected", Severity.ERROR, 1024, "NaN in the policy loss", "Lower learning_rate.")


def _objective(trial: optuna.Trial) -> float:
    """What DiagnosticsCallback(prune_on="error") writes, for a search whose high learning rates blow up."""
    lr = trial.suggest_float("learning_rate", 1e-5, 1e-1, log=True)
    trial.suggest_categorical("n_epochs", [5, 10])
    if lr > 3e-2:  # blows up: NaN, pruned by the diagnosis
        trials.write(trial, trials.trial_attrs([KL, NAN], pruned_by=NAN, timesteps=1025))
        raise optuna.TrialPruned("nan_detected")
    if lr > 3e-3:  # trains, badly
        trials.write(trial, trials.trial_attrs([KL], timesteps=4096))
        return 20.0
    trials.write(trial, trials.trial_attrs([], timesteps=4096))
    return 200.0 - 1e4 * lr


@pytest.fixture(scope="module")
def study_db(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('study') / 's.db'}"
    study = optuna.create_study(study_name="ppo", direction="maximize", sampler=optuna.samplers.RandomSampler(seed=1))
    study.optimize(_objective, n_trials=30)  # in memory, then one write per trial (SQLite commits are slow)
    optuna.copy_study(from_study_name="ppo", from_storage=study._storage, to_storage=url)
    return url, study


@pytest.fixture(scope="module")
def two_studies(tmp_path_factory):
    folder = tmp_path_factory.mktemp("two")
    storage = optuna.storages.RDBStorage(f"sqlite:///{folder / 'two.db'}")
    for name in ("a", "b"):
        optuna.create_study(storage=storage, study_name=name)
    return folder


def test_the_report_explains_each_trial_and_where_the_failures_came_from(study_db, capsys):
    url, study = study_db
    code = main(["report", url, "--study", "ppo"])
    out = capsys.readouterr().out
    by_number = {t.number: t for t in study.trials}
    nan_trials = [t for t in study.trials if t.params["learning_rate"] > 3e-2]
    kl_trials = [t for t in study.trials if 3e-3 < t.params["learning_rate"] <= 3e-2]
    assert nan_trials and kl_trials and len(nan_trials) + len(kl_trials) < 30  # the seed gives all three kinds

    assert code == 1  # an error-level diagnosis
    assert f"Study ppo: 30 trials ({30 - len(nan_trials)} complete, {len(nan_trials)} pruned)" in out
    lines = {int(line.split()[0]): line for line in out.splitlines() if line[:5].strip().isdigit()}
    for number, line in lines.items():
        lr = by_number[number].params["learning_rate"]
        if lr > 3e-2:
            assert "PRUNED" in line and line.endswith("nan_detected (error, step 1024): pruned")
        elif lr > 3e-3:
            assert "COMPLETE" in line and "kl_too_high (warning, step 2048)" in line and "20" in line
        else:
            assert "healthy: no warning" in line
    assert f"nan_detected: {len(nan_trials)} trials ({len(nan_trials)} pruned" in out
    assert f"kl_too_high: {len(kl_trials)} trials (0 pruned, best value 20)" in out
    # the ranges: the cut lies between the sampled values on each side of 3e-2 (resp. 3e-3)
    nan_cut = [line for line in out.splitlines() if "trials ended in nan_detected" in line][0]
    assert "learning_rate > " in nan_cut and f"{len(nan_trials)} of {len(nan_trials)} trials" in nan_cut
    cut = float(nan_cut.split(">")[1].split(":")[0])
    highest_other = max(t.params["learning_rate"] for t in study.trials if t not in nan_trials)
    assert highest_other < cut < min(t.params["learning_rate"] for t in nan_trials)
    best = max((t for t in study.trials if t.value is not None and t.state.name == "COMPLETE"), key=lambda t: t.value)
    assert f"Best: trial {best.number}, value" in out


def test_ranges_find_the_parameter_that_separates_a_failure():
    rows = []
    for i in range(12):
        lr = 10 ** (-5 + i * 0.3)
        diag = {"pruned": False, "code": "kl_too_high"} if lr > 3e-3 else {"pruned": False}
        rows.append(TrialRow(i, "COMPLETE", 1.0, {"learning_rate": lr, "parity": i % 2}, diag))
    (found, *_) = ranges(rows, "kl_too_high")
    hits = sum(r.code == "kl_too_high" for r in rows)
    assert found.param == "learning_rate" and found.text.startswith("learning_rate > ")
    assert (found.hits, found.total) == (hits, hits)
    assert ranges(rows, "nan_detected") == []  # no trial: no range


def test_json_and_journal_and_the_only_study(tmp_path, capsys):
    path = str(tmp_path / "study.log")  # rl-zoo3's --storage study.log
    backend = optuna.storages.journal.JournalFileBackend(path)
    study = optuna.create_study(storage=optuna.storages.JournalStorage(backend), study_name="only", direction="maximize",
                                sampler=optuna.samplers.RandomSampler(seed=1))
    study.optimize(_objective, n_trials=8)
    name, rows = load_study(path)  # one study: no name needed
    assert name == "only" and [r.number for r in rows] == list(range(8))
    assert main(["report", path, "--json", "-"]) in (0, 1)
    data = json.loads(capsys.readouterr().out)
    assert data["study"] == "only" and len(data["trials"]) == 8
    assert {t["ended_by"] for t in data["trials"]} <= {"completed", "diagnosis"}


def test_rl_zoo3_csv_is_read_without_optuna(tmp_path, capsys):
    """The CSV rl-zoo3 writes at the end of a search without --storage (study.trials_dataframe().to_csv())."""
    path = tmp_path / "report_CartPole-v1_2-trials-4096-random-none_1.csv"
    path.write_text(
        ",number,value,datetime_start,params_learning_rate,user_attrs_diagnosis_code,user_attrs_diagnosis_findings,"
        "user_attrs_diagnosis_pruned,user_attrs_diagnosis_severity,user_attrs_diagnosis_step,state\n"
        "0,0,180.5,2026-11-30,0.0003,,[],False,,,COMPLETE\n"
        "1,1,9.0,2026-11-30,3e-10,policy_not_updating,['policy_not_updating'],True,error,512,PRUNED\n"
    )
    assert main(["report", str(path)]) == 1
    out = capsys.readouterr().out
    assert "    1  PRUNED            9  policy_not_updating (error, step 512): pruned" in out
    assert "    0  COMPLETE      180.5  healthy: no warning" in out


@pytest.mark.parametrize(("argv", "message"), [
    (["report", "sqlite:///{tmp}/missing.db"], "no such database file"),
    (["report", "sqlite:///{tmp}/two.db"], "holds 2 studies (a, b); name one with --study"),
    (["report", "sqlite:///{tmp}/two.db", "--study", "c"], "no study 'c'"),
    (["report", "sqlite:///{tmp}/two.db", "--study", "a", "--plot", "x.png"], "--plot applies to TensorBoard runs"),
    (["report", "sqlite:///{tmp}/two.db", "--study", "a"], "has no trials yet"),
])
def test_bad_input_says_what_to_do(two_studies, capsys, argv, message):
    assert main([a.format(tmp=two_studies) for a in argv]) == 2
    assert message in capsys.readouterr().err
    assert not (two_studies / "missing.db").exists()  # reading never creates a database


def test_a_study_without_diagnosis_says_how_to_get_one(tmp_path, capsys):
    path = str(tmp_path / "plain.log")
    study = optuna.create_study(storage=optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(path)), study_name="plain")
    study.optimize(lambda t: math.sin(t.suggest_float("x", 0, 1)), n_trials=2)
    assert main(["report", path]) == 0
    assert "run the search with DiagnosticsCallback(prune_on='error')" in capsys.readouterr().out
