"""ExplainedVarianceCallback on real runs."""

from __future__ import annotations

from sb3_contrib import TRPO
from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env

from sb3_diagnostics import ExplainedVarianceCallback, Severity
from sb3_diagnostics.faults import BanditEnv, NoisyRewardEnv, RewardScale


def test_noise_dominated_reward_gives_negative_explained_variance(ppo_small, train):
    # seed 003 1.2: a reward drowned in noise; the critic explains none of the returns.
    run = train(PPO("MlpPolicy", NoisyRewardEnv(learnable=False), **ppo_small()), 8192, ExplainedVarianceCallback())
    assert run.severity("explained_variance_negative") == Severity.WARNING


def test_overfitting_critic_is_an_error(ppo_small, train):
    model = PPO("MlpPolicy", NoisyRewardEnv(learnable=False), learning_rate=0.01, n_epochs=30, **ppo_small())
    run = train(model, 8192, ExplainedVarianceCallback())
    assert run.severity("explained_variance_negative") == Severity.ERROR


def test_learnable_reward_has_positive_explained_variance(ppo_small, train):
    run = train(PPO("MlpPolicy", NoisyRewardEnv(learnable=True), **ppo_small()), 8192, ExplainedVarianceCallback())
    assert run.codes(Severity.INFO) == set()


def test_constant_reward_gives_zero_variance_advantages(ppo_small, train):
    # seed 002 #1: "Min/Max reward: 0.0001 / 0.0001 - All the same! Advantages std: 0.000000".
    for algo in (PPO, TRPO):
        run = train(algo("MlpPolicy", BanditEnv(rewards=(1.0, 1.0)), **ppo_small()), 1024, ExplainedVarianceCallback())
        assert run.severity("advantage_zero_variance") == Severity.ERROR, algo


def test_action_dependent_reward_gives_advantage_signal(ppo_small, train):
    run = train(PPO("MlpPolicy", BanditEnv(rewards=(1.0, -1.0)), **ppo_small()), 1024, ExplainedVarianceCallback())
    assert run.codes(Severity.INFO) == set()


def test_huge_reward_scale_explodes_advantages(ppo_small, train):
    # seed 000 #8: rewards in [10000, 20000]; seed 003: "advantage_abs_max > 100 -> reward scale too large".
    env = make_vec_env("CartPole-v1", n_envs=2, seed=0, wrapper_class=RewardScale, wrapper_kwargs=dict(scale=100.0))
    run = train(PPO("MlpPolicy", env, **ppo_small()), 3000, ExplainedVarianceCallback())
    assert run.severity("advantage_explosion") == Severity.WARNING


def test_normal_reward_scale_does_not(ppo_small, train):
    env = make_vec_env("CartPole-v1", n_envs=2, seed=0)
    run = train(PPO("MlpPolicy", env, **ppo_small()), 3000, ExplainedVarianceCallback())
    assert run.codes(Severity.INFO) == set()
