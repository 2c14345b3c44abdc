"""VecNormalizeAuditCallback on real runs."""

from __future__ import annotations

import pytest
from stable_baselines3 import PPO, SAC
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


@pytest.mark.parametrize("p, clip_obs, expected", [(0.03, 5.0, {"vecnormalize_obs_clipped"}), (0.005, 10.0, set())])
def test_a2c_rollouts_are_pooled_before_their_clipped_share_is_judged(tiny, train, p, clip_obs, expected):
    # A2C's 8-step rollouts hold 16 entries: one rare contact reading clipped is 6% of one. Two such rollouts in a
    # row said "6% clipped" of a sensor clipped on 0.25% of its entries (rl-zoo3's A2C on LunarLanderContinuous, whose
    # leg contacts are such readings, got that warning). Judged on 2048 pooled entries: the 1.5% of a sensor spiking
    # on 3% of steps under clip_obs=5 is still reported, the 0.25% is not.
    from stable_baselines3 import A2C

    env = VecNormalize(make_vec_env(lambda: SpikeObsEnv(p=p), n_envs=1, seed=0), clip_obs=clip_obs)
    run = train(A2C("MlpPolicy", env, **tiny(n_steps=8)), 12_000, VecNormalizeAuditCallback())
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


@pytest.mark.parametrize(("algo", "kwargs"), [(PPO, {"n_steps": 128, "batch_size": 64}),
                                              pytest.param(SAC, {"learning_starts": 100}, marks=pytest.mark.slow)])
@pytest.mark.parametrize("reset_num_timesteps", [True, False])
def test_a_loaded_model_behind_fresh_vecnormalize_statistics(algo, kwargs, reset_num_timesteps, tiny, train, tmp_path):
    # SB3 #1256 (and mesozoic-labs PR #131): the model is loaded to resume training, but the env gets a new
    # VecNormalize instead of VecNormalize.load(...); the policy sees inputs normalised from scratch.
    env = VecNormalize(make_vec_env("Pendulum-v1", n_envs=2, seed=0))
    algo("MlpPolicy", env, **tiny(**kwargs)).save(tmp_path / "untrained")
    model_path = tmp_path / "model"
    trained = algo("MlpPolicy", env, **tiny(**kwargs))
    trained.learn(300)
    trained.save(model_path)
    env.save(tmp_path / "vec_normalize.pkl")

    def resume(restore: bool, path=model_path) -> tuple[list, int]:  # type: ignore[no-untyped-def]
        venv = make_vec_env("Pendulum-v1", n_envs=2, seed=1)
        env = VecNormalize.load(str(tmp_path / "vec_normalize.pkl"), venv) if restore else VecNormalize(venv)
        model = algo.load(path, env=env)
        run = train(model, 128, VecNormalizeAuditCallback(), reset_num_timesteps=reset_num_timesteps)
        return run.findings, model.num_timesteps

    (finding,), _ = resume(restore=False)
    assert finding.code == "vecnormalize_stats_not_restored" and finding.severity == Severity.WARNING
    assert "gradient updates" in finding.message and "VecNormalize.load" in finding.hint
    assert resume(restore=True)[0] == []  # the healthy twin: statistics loaded
    assert resume(restore=False, path=tmp_path / "untrained")[0] == []  # a model saved before any update
