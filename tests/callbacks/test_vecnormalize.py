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


@pytest.mark.parametrize("clip_reward", [10.0, 150.0])
def test_a_win_bonus_clipped_far_above_ordinary_rewards_is_not_a_problem(ppo_small, train, clip_reward):
    # A +100 win under VecNormalize(clip_reward=10) is cut, but still reaches the agent ~1000x above a +0.1
    # hit; raising clip_reward to 150 changes the final return by 0.1 (106.2 vs 106.1). Not worth a warning.
    run = train(PPO("MlpPolicy", _win_env(clip_reward), **ppo_small()), 12000, VecNormalizeAuditCallback())
    assert run.codes(Severity.INFO) == set()


def test_vecnormalize_found_below_other_wrappers(ppo_small, train):
    # VecMonitor on top: the callback must still find VecNormalize and read what it normalised.
    env = VecMonitor(VecNormalize(DummyVecEnv([WinBonusEnv] * 4), clip_reward=10.0))
    cb = VecNormalizeAuditCallback()
    run = train(PPO("MlpPolicy", env, **ppo_small()), 4096, cb)
    assert run.findings == [] and cb.engine.update_index >= 3


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
