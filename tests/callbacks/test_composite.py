"""DiagnosticsCallback as a user meets it: one line, healthy runs stay silent, faults are reported."""

from __future__ import annotations

import os
import re
import statistics
import warnings

import pytest
from sb3_contrib import ARS, TRPO, MaskablePPO, RecurrentPPO
from sb3_contrib.common.envs import InvalidActionEnvDiscrete
from stable_baselines3 import A2C, PPO, SAC
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
    Severity,
    UnknownCodeError,
)
from sb3_diagnostics.engine import SCALARS_LAYOUT
from sb3_diagnostics.warnings import PolicyUpdateWarning


def test_stop_on_typo_lists_the_codes():
    with pytest.raises(UnknownCodeError, match="Known codes: .*entropy_collapse"):
        DiagnosticsCallback(stop_on=["entropy_colapse"])


def test_healthy_ppo_cartpole_is_silent(ppo_small, train, html_table, fake_wandb):
    cb = DiagnosticsCallback(alert_sink="wandb")
    run = train(PPO("MlpPolicy", make_vec_env("CartPole-v1", n_envs=4, seed=0), **ppo_small()), 12000, cb)
    assert run.codes(Severity.WARNING) == set()
    assert run.warnings == []
    assert fake_wandb.calls == []  # no W&B alert either
    assert "No findings" in cb.report()
    shown = html_table(cb.report(min_severity="warning")._repr_html_())  # in Jupyter: no table, the advice
    assert shown.rows == [] and "table" not in shown.tags
    assert "No findings" in cb.report(min_severity="warning")._repr_html_()


@pytest.mark.slow  # CI: make test-slow
def test_healthy_recurrent_ppo_is_silent(train):
    model = RecurrentPPO("MlpLstmPolicy", make_vec_env("CartPole-v1", n_envs=2, seed=0), n_steps=64, batch_size=64,
                         seed=0, policy_kwargs=dict(lstm_hidden_size=16, net_arch=[16]))
    run = train(model, 3000, DiagnosticsCallback())
    assert run.codes(Severity.WARNING) == set()


@pytest.mark.parametrize("make", [
    lambda tiny: A2C("MlpPolicy", make_vec_env("CartPole-v1", n_envs=4, seed=0), **tiny(n_steps=8)),
    lambda tiny: TRPO("MlpPolicy", "CartPole-v1", **tiny(n_steps=256, batch_size=64)),
    lambda tiny: MaskablePPO("MlpPolicy", InvalidActionEnvDiscrete(dim=20, n_invalid_actions=10),
                             **tiny(n_steps=256, batch_size=64)),
    lambda tiny: PPO("MlpPolicy", VecNormalize(make_vec_env("Pendulum-v1", n_envs=4, seed=0)),
                     **tiny(n_steps=256, batch_size=64)),
], ids=["a2c", "trpo", "maskable_ppo", "ppo_pendulum_vecnormalize"])
def test_healthy_runs_of_other_algorithms_are_silent(train, tiny, make):
    run = train(make(tiny), 4096, DiagnosticsCallback())
    assert run.codes(Severity.WARNING) == set()


@pytest.mark.parametrize("env_id", ["CartPole-v1", "Pendulum-v1"])
def test_ars_runs_whole_and_silent_with_stop_on_error(train, env_id):
    # ARS evaluates perturbed policies in its own loop: its callback locals are not SB3's rollout
    # locals, so the per-step checks do not apply; the run must neither stop nor report an internal error.
    model = ARS("LinearPolicy", env_id, n_delta=4, seed=0)
    run = train(model, 6000, DiagnosticsCallback(stop_on="error"))
    assert model.num_timesteps >= 6000
    assert run.findings == [], [(f.code, f.message) for f in run.findings]


def test_warning_points_at_the_users_learn_call_and_reads_well(broken_model, train):
    run = train(broken_model(), 2048, DiagnosticsCallback())
    [w] = run.warned("policy_not_updating")
    assert os.path.basename(w.filename) == "conftest.py"  # where train() calls model.learn
    text = str(w.message)
    assert text.startswith("[policy_not_updating] step ") and "learning_rate" in text
    assert issubclass(w.category, PolicyUpdateWarning)


def test_warnings_can_be_turned_into_errors_by_category(broken_model):
    with warnings.catch_warnings():
        warnings.filterwarnings("error", category=PolicyUpdateWarning)
        with pytest.raises(PolicyUpdateWarning, match=r"^\[policy_not_updating\]"):
            broken_model().learn(2048, callback=DiagnosticsCallback())


def test_warnings_can_be_silenced_while_findings_are_kept(broken_model):
    cb = DiagnosticsCallback()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warnings.filterwarnings("ignore", category=DiagnosticWarning)
        broken_model().learn(2048, callback=cb)
    assert not [w for w in caught if issubclass(w.category, DiagnosticWarning)]
    assert "policy_not_updating" in {f.code for f in cb.findings}


def test_cooldown_warns_once_for_a_persistent_fault(broken_model, train):
    cb = DiagnosticsCallback()
    run = train(broken_model(), 6000, cb)  # ~23 updates, the fault holds from the 3rd on
    assert len(run.warned("policy_not_updating")) == 1
    assert cb.engine.occurrences["policy_not_updating"] >= 15


def test_report_puts_the_root_cause_first(broken_model, train, html_table, fake_wandb):
    # learning_rate=3e-10: the policy never moves (policy_not_updating, measured), so it also stays random
    # (policy_stays_random, a consequence): the report leads with the cause and folds the consequence under it.
    cb = DiagnosticsCallback(alert_sink="wandb")
    train(broken_model(), 6000, cb)
    # each code alerted on W&B once, though both held for most of the ~23 updates
    assert [(c["title"], c["level"]) for c in fake_wandb.calls] == [
        ("sb3-diagnostics ERROR: policy_not_updating", fake_wandb.AlertLevel.ERROR),
        ("sb3-diagnostics WARNING: policy_stays_random", fake_wandb.AlertLevel.WARN)]
    assert cb.engine.occurrences["policy_not_updating"] > 10
    report = cb.report()
    assert report.index("[policy_not_updating]") < report.index("[policy_stays_random]")
    assert "Start with [policy_not_updating]" in report
    assert "[policy_stays_random]" in report.split("likely a consequence of [policy_not_updating]")[0].splitlines()[-1]
    [root, consequence] = cb.triage()
    assert (root.code, root.caused_by) == ("policy_not_updating", None)
    assert (consequence.code, consequence.caused_by) == ("policy_stays_random", "policy_not_updating")
    # at the prompt the report shows as text, in Jupyter as a table in the same order
    assert repr(report) == str(report) and isinstance(report, str)
    table = html_table(report._repr_html_())
    assert table.header == ["severity", "code", "steps", "message", "what to try", "caused by"]
    assert [row[1] for row in table.rows] == ["policy_not_updating", "\u21b3 policy_stays_random"]
    assert table.rows[0][0] == "ERROR" and table.rows[0][2] == f"from step {root.step}"
    assert table.rows[0][3:] == [root.message, root.hint, ""]  # unescaped back to the very text
    assert table.rows[1][3] == consequence.message and table.rows[1][5] == "policy_not_updating"


def test_tensorboard_gets_scalars_alert_series_and_text(broken_model, train, tmp_logdir):
    model = broken_model(tensorboard_log=tmp_logdir)
    train(model, 3000, DiagnosticsCallback())
    run_dir = os.path.join(tmp_logdir, os.listdir(tmp_logdir)[0])
    events = EventAccumulator(run_dir, size_guidance={"tensors": 0, "scalars": 0}).Reload()
    scalars = set(events.Tags()["scalars"])
    for tag in ("diagnostics/entropy_normalized", "diagnostics/explained_variance", "diagnostics/advantage_std",
                "diagnostics/alert/policy_not_updating", "train/approx_kl", "train/clip_fraction"):
        assert tag in scalars, tag
    # what SB3 logs itself is not logged twice
    assert "diagnostics/approx_kl" not in scalars and "diagnostics/clip_fraction" not in scalars
    alerts = [e.value for e in events.Scalars("diagnostics/alert/policy_not_updating")]
    assert alerts[-1] == 1.0 and len(alerts) >= 3
    assert any(t.startswith("diagnostics/findings/policy_not_updating") for t in events.Tags()["tensors"])
    assert "custom_scalars__config__" in events.Tags()["tensors"]  # the charts grouped in "Custom Scalars"
    # each chart of the layout on one scale: the series it draws (TensorBoard matches the regexes unanchored) are
    # of comparable size (KL ~1e-10 here and 10 epochs per update used to share an axis)
    charts = SCALARS_LAYOUT["sb3-diagnostics"]
    drawn = {title: [t for t in scalars if any(re.search(rx, t) for rx in regexes)]
             for title, (_, regexes) in charts.items()}
    assert len([t for tags in drawn.values() for t in tags]) >= 15
    for title, tags in drawn.items():
        sizes = [statistics.median(abs(e.value) for e in events.Scalars(t)) for t in tags]
        sizes = [size for size in sizes if size > 0]
        assert not sizes or max(sizes) <= 20 * min(sizes), (title, dict(zip(tags, sizes, strict=False)))
    assert all(sum(t in tags for tags in drawn.values()) <= 1 for t in scalars)  # each series in one chart at most


def test_stop_on_error_stops_training(broken_model, train):
    model = broken_model()
    cb = DiagnosticsCallback(stop_on="error")
    train(model, 20_000, cb)
    assert model.num_timesteps < 5000
    assert cb.findings[-1].severity == Severity.ERROR


@pytest.mark.slow
def test_stop_on_code_and_default_never_stops(broken_model, train):
    model = broken_model()
    train(model, 4096, DiagnosticsCallback(stop_on=["kl_too_high"]))
    assert model.num_timesteps >= 4096
    model = broken_model()
    train(model, 20_000, DiagnosticsCallback(stop_on="policy_stays_random"))
    assert model.num_timesteps < 20_000


def test_works_inside_a_callback_list(broken_model, tmp_path):
    cb = DiagnosticsCallback()
    checkpoints = CheckpointCallback(save_freq=1000, save_path=str(tmp_path))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        broken_model().learn(2048, callback=CallbackList([checkpoints, cb]))
    assert "policy_not_updating" in {f.code for f in cb.findings}
    assert os.listdir(tmp_path)


def test_each_metric_is_measured_once_per_update_across_checks(ppo_small, train, monkeypatch):
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
def test_observation_and_action_spaces(ppo_small, train, policy, make_env):
    cb = DiagnosticsCallback()
    run = train(PPO(policy, make_env(), **ppo_small()), 1024, cb)
    assert not [f for f in run.findings if f.code == "diagnostics_internal_error"]
    assert cb.engine.update_index >= 3


def test_multidiscrete_and_multibinary_actions_are_measured(ppo_small, train):
    for env in (IdentityEnvMultiDiscrete(dim=3), IdentityEnvMultiBinary(dim=3)):
        cb = DiagnosticsCallback()
        train(PPO("MlpPolicy", env, **ppo_small()), 512, cb)
        entropy = next(c for c in cb.callbacks if isinstance(c, EntropyCollapseCallback))
        assert entropy._rules[0]._previous is not None and 0.5 < entropy._rules[0]._previous <= 1.0


class _MaskedMultiDiscrete(IdentityEnvMultiDiscrete):
    def action_masks(self):
        return [True, False, True, True, True, False, True, True][:int(sum(self.action_space.nvec))]


class _MaskedMultiBinary(IdentityEnvMultiBinary):
    def action_masks(self):
        return [True, True, False, True] * int(self.action_space.n // 2)


@pytest.mark.parametrize("make_env", [lambda: _MaskedMultiDiscrete(dim=4), lambda: _MaskedMultiBinary(dim=4)],
                         ids=["multidiscrete", "multibinary"])
@pytest.mark.parametrize("learning_rate", [3e-4, 1.0])
def test_maskable_ppo_with_masks_on_multi_action_spaces_never_breaks_a_check(ppo_small, train, make_env,
                                                                            learning_rate):
    # lr=1.0 drives masked multi-dimensional distributions to their extremes (-inf logits next to masked ones)
    cb = DiagnosticsCallback()
    run = train(MaskablePPO("MlpPolicy", make_env(), **ppo_small(learning_rate=learning_rate)), 768, cb)
    assert not [f for f in run.findings if f.code == "diagnostics_internal_error"], run.findings
    assert cb.engine.update_index >= 3


def test_subproc_vec_env_and_vecnormalize(ppo_small, train):
    env = VecNormalize(SubprocVecEnv([lambda: __import__("gymnasium").make("CartPole-v1")] * 2))
    try:
        cb = DiagnosticsCallback()
        run = train(PPO("MlpPolicy", env, **ppo_small()), 1024, cb)
        assert {type(c).__name__ for c in cb.callbacks} >= {"VecNormalizeAuditCallback"}
        assert not [f for f in run.findings if f.code == "diagnostics_internal_error"]
    finally:
        env.close()


def test_verbose_prints_one_summary_at_the_end_of_learn(ppo_small, capsys):
    # learning_rate=3e-10: the summary names the root with what to try; the healthy twin says nothing is wrong
    import warnings

    from stable_baselines3 import PPO

    from sb3_diagnostics import DiagnosticsCallback

    for lr, expected in ((3e-10, "[policy_not_updating]"), (3e-4, "nothing at warning or above")):
        model = PPO("MlpPolicy", "CartPole-v1", **ppo_small(learning_rate=lr))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.learn(2048, callback=DiagnosticsCallback(verbose=1))
        out = capsys.readouterr().out
        tail = out[out.index("sb3-diagnostics: ", out.index("running") + 1):]
        assert expected in tail, tail
        if lr < 1e-6:
            assert "root cause(s), most upstream first" in tail and "Try: Set learning_rate" in tail


def _tables(out: str) -> tuple[list[list[str]], str]:
    """SB3's stdout tables (the keys of each, in order) and the text printed after the last one."""
    lines = out.splitlines()
    tables: list[list[str]] = []
    current: list[str] | None = None
    last_line = -1
    for i, line in enumerate(lines):
        if line.startswith("---") and set(line) == {"-"}:
            if current is None:
                current = []
            else:
                tables.append(current)
                current, last_line = None, i
        elif current is not None and line.startswith("|"):
            current.append(line.split("|")[1].strip())
    return tables, "\n".join(lines[last_line + 1:]).strip()


@pytest.mark.parametrize("make, steps", [
    (lambda tiny: PPO("MlpPolicy", "CartPole-v1", verbose=1, **tiny(n_steps=32, batch_size=32, n_epochs=1)), 128),
    (lambda tiny: A2C("MlpPolicy", "CartPole-v1", verbose=1, **tiny(n_steps=8)), 240),
    pytest.param(lambda tiny: SAC("MlpPolicy", "Pendulum-v1", verbose=1, learning_starts=100, batch_size=32,
                                  **tiny(buffer_size=1000)), 400, marks=pytest.mark.slow),
], ids=["PPO", "A2C", "SAC"])
def test_sb3_stdout_tables_are_unchanged_and_nothing_follows_them(tiny, capsys, make, steps):
    # SB3's console table is SB3's: the same tables with and without the callback, no diagnostics/ rows,
    # and after learn() nothing but (at verbose=1) the one summary; the last update is dumped to files only
    seen = {}
    for name, callback in (("without", None), ("quiet", DiagnosticsCallback()),
                           ("verbose", DiagnosticsCallback(verbose=1, off_policy_interval=100))):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            make(tiny).learn(steps, callback=callback, log_interval=1)
        seen[name] = _tables(capsys.readouterr().out)
    tables, after = seen["without"]
    assert len(tables) >= 2 and after == ""
    assert seen["quiet"] == (tables, "")
    verbose_tables, verbose_after = seen["verbose"]
    assert verbose_tables == tables
    assert not any("diagnostics" in key for table in verbose_tables for key in table)
    assert verbose_after.startswith("sb3-diagnostics: ") and "|" not in verbose_after, verbose_after
    assert len(verbose_after.splitlines()) <= 3, verbose_after  # healthy: one line


def test_the_last_update_still_reaches_tensorboard(tiny, tmp_logdir):
    # the final update SB3 never dumps is written to the event file (the post-hoc report judges it), not printed
    model = PPO("MlpPolicy", "CartPole-v1", tensorboard_log=tmp_logdir, **tiny(n_steps=64, batch_size=64, n_epochs=2))
    model.learn(256, callback=DiagnosticsCallback(), tb_log_name="run")
    events = EventAccumulator(os.path.join(tmp_logdir, "run_1"))
    events.Reload()
    assert [e.step for e in events.Scalars("train/approx_kl")][-1] == 256
    assert [e.step for e in events.Scalars("diagnostics/entropy_normalized")][-1] == 256
