"""EntropyCollapseCallback on real runs."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from sb3_contrib import QRDQN
from stable_baselines3 import A2C, DQN, PPO, SAC
from stable_baselines3.common.env_util import make_vec_env

from sb3_diagnostics import DiagnosticsCallback, EntropyCollapseCallback, Severity


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ppo_learning_rate_too_high_collapses_entropy(ppo_small, train, seed):
    # "one bad PPO update destroys the policy": learning_rate=0.5 for 20 epochs collapses the entropy in the first
    # update on every seed. (At 0.05 whether it collapses in one update, and onto a bad policy rather than a good
    # one, which is info, depends on the CPU's float trajectory: warning on one machine, info on another.)
    run = train(PPO("MlpPolicy", "CartPole-v1", **ppo_small(learning_rate=0.5, n_epochs=20, seed=seed)), 6000,
                EntropyCollapseCallback())
    assert run.severity("entropy_collapse") == Severity.WARNING
    assert run.warned("entropy_collapse")


def test_a2c_learning_rate_too_high_collapses_entropy(tiny, train):
    run = train(A2C("MlpPolicy", "CartPole-v1", learning_rate=0.05, n_steps=8, **tiny()), 2000, EntropyCollapseCallback())
    assert "entropy_collapse" in run.codes()


@pytest.mark.parametrize("algo, settings", [(PPO, dict(n_steps=256, batch_size=64)), (A2C, dict(n_steps=8))])
def test_sensible_learning_rate_keeps_entropy(tiny, train, algo, settings):
    run = train(algo("MlpPolicy", "CartPole-v1", **tiny(**settings)), 6000, EntropyCollapseCallback())
    assert run.codes(Severity.INFO) == set()


def test_learning_rate_too_low_policy_stays_random(ppo_small, train):
    # seed 000 #16: "no learning (too low)"; seed 004: entropy ~ maximum, KL ~ 0.
    run = train(PPO("MlpPolicy", "CartPole-v1", learning_rate=1e-5, **ppo_small()), 5000, EntropyCollapseCallback())
    assert run.codes() == {"policy_stays_random"}
    assert run.severity("policy_stays_random") == Severity.WARNING


@pytest.mark.parametrize("learning_rate", [1e-5, 1e-6])
def test_a2c_whose_learning_rate_is_too_low_stays_random(tiny, train, learning_rate):
    # A2C logs no KL: its action distribution on a fixed batch of its first rollout's observations is compared
    # with where it started. At 1e-5 (70x below A2C's default) it moved a KL of ~1e-5 in 8192 steps; healthy A2C
    # (the test above, rl-zoo3's A2C on CartPole, Acrobot, MountainCar) moves 2e-3 or more in its first updates.
    env = make_vec_env("CartPole-v1", n_envs=4, seed=0)
    model = A2C("MlpPolicy", env, **tiny(learning_rate=learning_rate, n_steps=32))
    run = train(model, 8192, EntropyCollapseCallback())
    assert run.codes() == {"policy_stays_random"}
    assert "moved a mean KL" in next(f for f in run.findings if f.code == "policy_stays_random").message


def test_sac_without_entropy_bonus_collapses_action_std(tiny, train):
    # ent_coef=0 "to make it less random": the squashed Gaussian's std shrinks 100x.
    cb = EntropyCollapseCallback(off_policy_interval=200)
    run = train(SAC("MlpPolicy", "Pendulum-v1", ent_coef=0.0, learning_starts=100, batch_size=64, **tiny()), 2000, cb)
    assert run.severity("action_std_collapse") == Severity.WARNING
    finding = next(f for f in run.findings if f.code == "action_std_collapse")
    assert finding.value < 0.01 and "below its initial" in finding.message


def test_sac_with_auto_entropy_keeps_action_std(tiny, train):
    cb = EntropyCollapseCallback(off_policy_interval=200)
    run = train(SAC("MlpPolicy", "Pendulum-v1", ent_coef="auto", learning_starts=100, batch_size=64, **tiny()), 2000, cb)
    assert run.codes(Severity.INFO) == set()


@pytest.mark.parametrize("ent_coef", [0.0, "auto"], ids=["no entropy bonus", "SAC default"])
def test_sac_std_collapse_within_a_short_run_is_seen_with_default_cadence(tiny, train, ent_coef):
    # The std of a SAC without entropy bonus falls under 1% of the action range after ~1300 steps. A gate of one
    # measurement per 1000 steps judged a 2000-step run twice; measuring every 250 gradient updates sees it.
    model = SAC("MlpPolicy", "Pendulum-v1", ent_coef=ent_coef, learning_starts=100, batch_size=64, **tiny())
    run = train(model, 2000, DiagnosticsCallback(checks=["entropy"]))
    if ent_coef == 0.0:
        assert run.severity("action_std_collapse") == Severity.WARNING
    else:
        assert run.codes(Severity.INFO) == set()


def test_gsde_small_initial_std_is_not_a_collapse(train):
    # rl-zoo3 style gSDE with log_std_init=-3: the std starts tiny on purpose.
    model = PPO("MlpPolicy", "Pendulum-v1", use_sde=True, n_steps=256, batch_size=64, seed=0,
                policy_kwargs=dict(log_std_init=-3, net_arch=[32, 32]))
    cb = EntropyCollapseCallback()
    run = train(model, 2048, cb)
    assert "action_std_collapse" not in run.codes(Severity.INFO)
    assert cb._rules[1].initial < 0.05  # it did measure the small std


def test_not_applicable_to_deterministic_policies_says_so_once(train):
    # ARS searches a deterministic linear policy: no entropy, no action noise, no epsilon (TD3 and DDPG explore by
    # their action_noise, which the check does judge)
    from sb3_contrib import ARS

    cb = EntropyCollapseCallback()
    model = ARS("LinearPolicy", "CartPole-v1", n_delta=2, seed=0)
    run = train(model, 300, cb)
    train(model, 300, cb)
    assert [f.code for f in cb.findings] == ["check_not_applicable"]
    assert run.warnings == []


@pytest.mark.parametrize("fraction, expected", [(0.1, {"exploration_ends_before_learning"}), (0.75, set())])
def test_dqn_epsilon_decays_before_learning_starts(tiny, train, fraction, expected):
    # SB3 #529: exploration_fraction * total_timesteps ends before learning_starts, so epsilon is at its final
    # value from the first gradient step on. Twin: epsilon still decaying after learning starts.
    model = DQN("MlpPolicy", "CartPole-v1", learning_starts=1000, exploration_fraction=fraction, **tiny())
    run = train(model, 1500, EntropyCollapseCallback())
    assert run.codes() == expected
    if expected:
        message = run.findings[0].message
        assert "by step 150" in message and "learning_starts=1000" in message
        # the suggestion ends the decay halfway between learning_starts and the end of training
        assert "exploration_fraction=0.83: epsilon reaches 0.05 at step 1250" in run.findings[0].hint


@pytest.mark.parametrize("algo", [DQN, QRDQN])
def test_resumed_model_restarts_its_exploration(tiny, train, tmp_path, algo):
    # SB3 #1340 / #1629: a trained DQN / QR-DQN is saved, loaded and trained on with learn()'s default
    # reset_num_timesteps=True: epsilon is back at 1. Twin: reset_num_timesteps=False.
    algo("MlpPolicy", "CartPole-v1", learning_starts=100, exploration_fraction=0.5, **tiny()).learn(600).save(
        tmp_path / "model")
    restarted = train(algo.load(tmp_path / "model", env=gym.make("CartPole-v1")), 300, EntropyCollapseCallback())
    assert restarted.codes() == {"exploration_restarted"}
    assert "exploration_initial_eps=1" in restarted.findings[0].message
    continued = train(algo.load(tmp_path / "model", env=gym.make("CartPole-v1")), 300, EntropyCollapseCallback(),
                      reset_num_timesteps=False)
    assert continued.codes(Severity.INFO) == set()


@pytest.mark.parametrize("env_id, noise", [
    pytest.param("MountainCarContinuous-v0", None, id="SB3 #936: no action noise"),
    pytest.param("MountainCarContinuous-v0", "ou", id="the thread's fix: OU noise"),
    pytest.param("Pendulum-v1", None, id="Pendulum: no noise needed", marks=pytest.mark.slow),  # calibration has more
])
def test_td3_without_action_noise_takes_one_action(tiny, train, env_id, noise):
    # SB3 #936: TD3("MlpPolicy", "MountainCarContinuous-v0") acts deterministically after learning_starts and keeps
    # pushing one way; it never reaches the flag. With the thread's OU noise it explores; on Pendulum the policy's
    # own swing varies its actions, so SB3's default (no noise) is fine there.
    from stable_baselines3 import TD3
    from stable_baselines3.common.noise import OrnsteinUhlenbeckActionNoise

    action_noise = OrnsteinUhlenbeckActionNoise(np.zeros(1), 0.5 * np.ones(1)) if noise else None
    run = train(TD3("MlpPolicy", env_id, action_noise=action_noise, **tiny()), 1500, DiagnosticsCallback(checks=["entropy"]))
    if env_id == "MountainCarContinuous-v0" and noise is None:
        finding = next(f for f in run.findings if f.code == "action_noise_missing")
        assert finding.severity == Severity.WARNING and "no action_noise is set" in finding.message
        assert finding.value < 0.05 and "NormalActionNoise" in finding.hint
    else:
        assert run.codes(Severity.INFO) == set()
