"""VecNormalizeAuditCallback on real runs."""

from __future__ import annotations

import pytest
from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.vec_env import DummyVecEnv, VecMonitor, VecNormalize

from sb3_diagnostics import Severity, VecNormalizeAuditCallback
from sb3_diagnostics.faults import RewardCurriculum, SpikeObsEnv, WinBonusEnv


def _win_env(clip_reward):
    return VecNormalize(make_vec_env(WinBonusEnv, n_envs=4, seed=0), clip_reward=clip_reward)


def test_win_bonus_clipped_by_clip_reward(ppo_small, train):
    # seed 000 Issue B: "Win reward = 100, but clip_reward=10 cuts it to 10".
    run = train(PPO("MlpPolicy", _win_env(10.0), **ppo_small()), 12000, VecNormalizeAuditCallback())
    assert run.severity("vecnormalize_reward_clipped") == Severity.WARNING
    assert run.warned("vecnormalize_reward_clipped")


def test_raised_clip_reward_keeps_the_win_bonus(ppo_small, train):
    run = train(PPO("MlpPolicy", _win_env(150.0), **ppo_small()), 12000, VecNormalizeAuditCallback())
    assert run.codes(Severity.INFO) == set()


def test_vecnormalize_found_below_other_wrappers(ppo_small, train):
    # VecMonitor on top: the callback must still find VecNormalize and read what it clipped.
    env = VecMonitor(VecNormalize(DummyVecEnv([WinBonusEnv] * 4), clip_reward=10.0))
    run = train(PPO("MlpPolicy", env, **ppo_small()), 12000, VecNormalizeAuditCallback())
    assert "vecnormalize_reward_clipped" in run.codes()


@pytest.mark.parametrize("clip_obs, expected", [(5.0, {"vecnormalize_obs_clipped"}), (10.0, set())])
def test_rare_sensor_spikes_clipped_by_clip_obs(ppo_small, train, clip_obs, expected):
    # seed 000 Issue A: clip_obs=5.0; a contact sensor spiking on 3% of steps lies 5.7 std out.
    env = VecNormalize(make_vec_env(SpikeObsEnv, n_envs=4, seed=0), clip_obs=clip_obs)
    run = train(PPO("MlpPolicy", env, **ppo_small()), 4096, VecNormalizeAuditCallback())
    assert run.codes(Severity.INFO) == expected


@pytest.mark.parametrize("factor, expected", [(100.0, {"vecnormalize_stats_unstable"}), (1.0, set())])
def test_reward_scale_change_makes_normalisation_drift(ppo_small, train, factor, expected):
    env = VecNormalize(make_vec_env("CartPole-v1", n_envs=4, seed=0, wrapper_class=RewardCurriculum,
                                    wrapper_kwargs=dict(after_steps=1000, factor=factor)))
    run = train(PPO("MlpPolicy", env, **ppo_small()), 6000, VecNormalizeAuditCallback())
    assert run.codes(Severity.INFO) == expected


def test_no_vecnormalize_is_one_info_and_silence(ppo_small, train):
    cb = VecNormalizeAuditCallback()
    run = train(PPO("MlpPolicy", "CartPole-v1", **ppo_small()), 600, cb)
    assert [(f.code, f.severity) for f in run.findings] == [("check_not_applicable", Severity.INFO)]
    assert run.warnings == []
