"""Judging finished runs: plain SB3 logs, runs logged with the callback, partial logs."""

from __future__ import annotations

import re

import pytest
from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.vec_env import VecNormalize

from sb3_diagnostics import DiagnosticsCallback, Severity
from sb3_diagnostics.cli import main as cli
from sb3_diagnostics.faults import NoisyRewardEnv, WinBonusEnv
from sb3_diagnostics.report import find_runs, judge_run, report_runs


@pytest.mark.parametrize("name", ["entropy_collapse", "kl_blowup", "critic_broken", "lr_typo", "healthy"])
def test_plain_sb3_logs_give_the_right_codes(plain_runs, sweep, name):
    expected = plain_runs[name][4]
    [run] = find_runs(sweep / name)
    report = judge_run(run)
    assert report.sources == ["SB3 train/*"]
    serious = {f.code for f in report.findings if f.severity >= Severity.WARNING}
    if expected is None:
        assert serious == set()
    else:
        assert expected in serious


def test_one_minibatch_ppo_read_from_its_logs_is_no_error(learn, tmp_path, sweep):
    # n_epochs=1 with batch_size = n_steps: one gradient step per update, on one minibatch. SB3 measures approx_kl
    # and clip_fraction before that step, so it logs exactly 0 for both, as a frozen policy would: from the logs
    # alone that is not "broken beyond doubt" (an ERROR would stop an Optuna sweep's healthy trials; live, the callback
    # compares the policy's outputs and stays silent: tests/callbacks/test_kl.py).
    model = PPO("MlpPolicy", "CartPole-v1", tensorboard_log=str(tmp_path), n_steps=256, batch_size=256, n_epochs=1,
                seed=0, policy_kwargs=dict(net_arch=[32, 32]))
    learn(model, 4096)
    findings = judge_run(find_runs(tmp_path)[0]).findings
    assert max((f.severity for f in findings), default=Severity.INFO) <= Severity.WARNING
    [still] = [f for f in findings if f.code == "policy_not_updating"]
    assert "single minibatch" in still.message and "cannot tell" in still.message
    # its twin, a learning rate typo (3e-10), stays an error: the learning rate logged says why the policy is still
    [typo] = [f for f in judge_run(find_runs(sweep / "lr_typo")[0]).findings if f.code == "policy_not_updating"]
    assert typo.severity is Severity.ERROR


def test_live_callback_and_report_agree(learn, ppo_small, tmp_path):
    model = PPO("MlpPolicy", NoisyRewardEnv(), tensorboard_log=str(tmp_path),
                **ppo_small(learning_rate=0.01, n_epochs=30))
    callback = DiagnosticsCallback()
    learn(model, 8192, callback)
    [run] = find_runs(tmp_path)
    report = judge_run(run)
    assert "diagnostics/*" in report.sources
    live = [(f.code, f.severity, f.step, f.message, f.hint) for f in callback.findings]
    offline = [(f.code, f.severity, f.step, f.message, f.hint) for f in report.findings]
    assert live == offline and live  # the same words and numbers: the context of each finding was logged


@pytest.mark.parametrize("clip_reward, clipped", [(0.05, True), (10.0, False)])
def test_post_hoc_hint_carries_the_live_numbers(learn, ppo_small, tmp_path, clip_reward, clipped):
    # clip_reward=0.05 cuts a +100 win and every +1 hit to the same size: live, the hint computes how far to raise
    # clip_reward; the report of the logged run says the same, with the same number (not a generic hint)
    env = VecNormalize(make_vec_env(lambda: WinBonusEnv(hit_reward=1.0), n_envs=4, seed=0), clip_reward=clip_reward)
    model = PPO("MlpPolicy", env, tensorboard_log=str(tmp_path), **ppo_small(n_epochs=2))
    callback = DiagnosticsCallback()
    learn(model, 4096, callback)
    report = judge_run(find_runs(tmp_path)[0])
    live = [f for f in callback.findings if f.code == "vecnormalize_reward_clipped"]
    post = [f for f in report.findings if f.code == "vecnormalize_reward_clipped"]
    assert bool(live) is clipped and bool(post) is clipped
    if clipped:
        [(live_needed,)] = [re.findall(r"to at least (\d+)", f.hint) for f in live]
        assert [re.findall(r"to at least (\d+)", f.hint) for f in post] == [[live_needed]]
        assert [(f.step, f.message, f.hint) for f in post] == [(f.step, f.message, f.hint) for f in live]
        assert "clip_reward=0.05" in post[0].message and "+101 and +1" in post[0].message


def test_run_with_only_some_keys(tmp_path):
    from stable_baselines3.common.logger import configure

    logger = configure(str(tmp_path), ["tensorboard"])
    for i in range(5):
        logger.record("rollout/ep_rew_mean", float(i))
        logger.dump(step=(i + 1) * 100)
    logger.close()
    [report] = report_runs(tmp_path)
    assert report.findings == []
    assert any("only some keys" in p for p in report.problems)


def test_thresholds_override_from_the_command_line(sweep, capsys):
    assert cli(["report", str(sweep / "kl_blowup"), "--threshold", "kl.kl_extreme=1000", "--threshold",
                "kl.kl_high=1000", "--min-severity", "warning"]) == 0
    assert "[kl_too_high]" not in capsys.readouterr().out
    assert cli(["report", str(sweep), "--threshold", "kl_high=0.3"]) == 2
    assert "expected CHECK.FIELD=NUMBER" in capsys.readouterr().err


def _log(tmp_path, rows):
    """Write SB3's own TensorBoard logs, one dump per row of {key: value}."""
    from stable_baselines3.common.logger import configure

    logger = configure(str(tmp_path), ["tensorboard"])
    for i, row in enumerate(rows):
        for key, value in row.items():
            logger.record(key, value)
        logger.dump(step=(i + 1) * 2048)
    logger.close()
    [report] = report_runs(tmp_path)
    return report


def _update(**overrides):
    row = {"train/approx_kl": 0.01, "train/entropy_loss": -0.6, "train/value_loss": 5.0, "train/policy_gradient_loss": -0.01,
           "train/explained_variance": 0.5, "train/clip_fraction": 0.1, "train/learning_rate": 3e-4,
           "rollout/ep_rew_mean": 20.0}
    row.update(overrides)
    return row


def test_nan_or_inf_in_logged_losses_is_nan_detected_not_a_huge_kl(tmp_path):
    # A run that diverged: SB3 logs NaN losses and an infinite KL. That is the model turning to NaN, and the
    # report must say so, not "KL too high" or "explained variance negative".
    broken = [_update() for _ in range(4)] + [
        _update(**{"train/value_loss": float("nan"), "train/approx_kl": float("inf"),
                   "train/explained_variance": float("nan"), "train/loss": float("nan")}) for _ in range(3)]
    report = _log(tmp_path / "broken", broken)
    codes = {f.code for f in report.findings if f.severity >= Severity.WARNING}
    assert "nan_detected" in codes and "kl_too_high" not in codes and "explained_variance_negative" not in codes
    finding = next(f for f in report.findings if f.code == "nan_detected")
    assert finding.step == 5 * 2048 and "train/value_loss" in finding.message

    # the healthy twin, and a NaN explained variance alone (returns that did not vary: undefined, not broken)
    assert [f for f in _log(tmp_path / "healthy", [_update() for _ in range(7)]).findings
            if f.severity >= Severity.WARNING] == []
    undefined = _log(tmp_path / "ev_nan", [_update(**{"train/explained_variance": float("nan")}) for _ in range(7)])
    assert "nan_detected" not in {f.code for f in undefined.findings}


@pytest.mark.parametrize("learning_rate, collapsed", [(0.05, True), (7e-4, False)])
def test_a2c_policy_that_collapsed_before_its_first_log_is_seen(tmp_path, learning_rate, collapsed):
    # SB3's A2C logs every 100 updates (500 steps) by default: with learning_rate=0.05 the policy is
    # deterministic (train/entropy_loss -0.000) by its first log, so "relative to the first logged entropy"
    # sees no fall. Entropy / log(2) bounds the normalised entropy of any discrete policy from above.
    from stable_baselines3 import A2C

    model = A2C("MlpPolicy", "CartPole-v1", learning_rate=learning_rate, seed=0, tensorboard_log=str(tmp_path))
    model.learn(3000)
    [run] = find_runs(tmp_path)
    serious = {f.code for f in judge_run(run).findings if f.severity >= Severity.WARNING}
    assert ("entropy_collapse" in serious) == collapsed, serious


@pytest.mark.parametrize("scale", [1e4, 1.0])
def test_off_policy_reward_scale_is_read_from_the_episode_returns(tmp_path, scale):
    # A DQN trained on CartPole whose env pays 1e4 per step (per-step rewards in the hundreds or more, as in
    # SB3 #2240):
    # SB3 logs no reward statistics for off-policy algorithms, but rollout/ep_rew_mean / ep_len_mean is a
    # lower bound of single rewards. The report names the scale first, not its symptoms.
    import gymnasium as gym
    from stable_baselines3 import DQN
    from stable_baselines3.common.env_util import make_vec_env

    from sb3_diagnostics.faults import RewardScale
    from sb3_diagnostics.triage import first_problem

    env = make_vec_env(lambda: RewardScale(gym.make("CartPole-v1"), scale=scale), seed=0)
    model = DQN("MlpPolicy", env, learning_starts=500, seed=0, tensorboard_log=str(tmp_path),
                policy_kwargs=dict(net_arch=[32, 32]))
    model.learn(5000, log_interval=1)
    [run] = find_runs(tmp_path)
    report = judge_run(run)
    top = first_problem(report.findings, spans=report.spans)
    if scale > 1:
        assert top is not None and top.code == "reward_scale_huge"
    else:  # nor is the fall of the mean return after epsilon reached its floor a falling reward
        assert [f.code for f in report.findings if f.severity >= Severity.WARNING] == []


@pytest.mark.parametrize("family", ["dqn", pytest.param("sac", marks=pytest.mark.slow)])
def test_off_policy_live_and_post_hoc_agree_on_codes_roots_and_counts(learn, tmp_path, family):
    # Off-policy, the callback judges every off_policy_interval steps while SB3 dumps rollout/* every episode
    # (log_interval=1): post hoc judges at the callback's moments, so the findings are the same, each at the
    # step of the log dump that carried it (at most one episode later).
    import gymnasium as gym
    from stable_baselines3 import DQN, SAC
    from stable_baselines3.common.env_util import make_vec_env

    from sb3_diagnostics.faults import RewardScale
    from sb3_diagnostics.triage import first_problem

    if family == "dqn":
        env = make_vec_env(lambda: RewardScale(gym.make("CartPole-v1"), scale=1e4), seed=0)
        model = DQN("MlpPolicy", env, learning_starts=500, seed=0, tensorboard_log=str(tmp_path),
                    policy_kwargs=dict(net_arch=[32, 32]))
        callback, steps, episode = DiagnosticsCallback(), 6000, 500
    else:
        model = SAC("MlpPolicy", RewardScale(gym.make("Pendulum-v1"), 1e4), learning_starts=100, batch_size=64,
                    gamma=0.999, learning_rate=1e-3, seed=0, tensorboard_log=str(tmp_path),
                    policy_kwargs=dict(net_arch=[32, 32]))
        # judged once per 200-step episode: with a shorter interval, several judgements share one log dump
        callback, steps, episode = DiagnosticsCallback(off_policy_interval=200), 3000, 200
    learn(model, steps, callback)
    [run] = find_runs(tmp_path)
    report = judge_run(run)
    live, post = callback.findings, report.findings
    assert [(f.code, f.severity) for f in live] == [(f.code, f.severity) for f in post] and live
    assert all(0 <= p.step - f.step <= episode for f, p in zip(live, post, strict=True))
    live_root = first_problem(live, spans=callback.engine.spans)
    post_root = first_problem(post, spans=report.spans)
    assert live_root is not None and post_root is not None and live_root.code == post_root.code == "reward_scale_huge"


@pytest.mark.parametrize("ent_coef, collapses", [(0.0, True), ("auto", False)])
def test_sac_without_entropy_bonus_is_read_from_its_logged_ent_coef(learn, tmp_path, ent_coef, collapses):
    # SAC with ent_coef=0 (the zoo's sac_no_entropy_bonus): SB3 logs no std for SAC, only train/ent_coef = 0.
    # The report said "All trainer diagnostics look healthy"; it now infers the collapse, and says so.
    from stable_baselines3 import SAC

    model = SAC("MlpPolicy", "Pendulum-v1", ent_coef=ent_coef, learning_starts=100, batch_size=64, seed=0,
                tensorboard_log=str(tmp_path), policy_kwargs=dict(net_arch=[32, 32]))
    learn(model, 1500)
    [run] = find_runs(tmp_path)
    found = [f for f in judge_run(run).findings if f.code == "action_std_collapse"]
    assert bool(found) == collapses
    if collapses:
        assert found[0].severity == Severity.WARNING and "Inferred" in found[0].message
