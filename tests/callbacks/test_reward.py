"""RewardSignalCallback on real runs."""

from __future__ import annotations

import gymnasium as gym
import pytest
from stable_baselines3 import DQN, PPO
from stable_baselines3.common.env_util import make_vec_env

from sb3_diagnostics import RewardSignalCallback, Severity
from sb3_diagnostics.faults import (
    BanditEnv,
    ChainEnv,
    EpisodeEndRewardEnv,
    ExpErrorReward,
    RewardComponents,
    RewardScale,
    ShortestPathGrid,
    WinBonusEnv,
)
from sb3_diagnostics.rules.reward import step_baseline


@pytest.fixture
def run_ppo(ppo_small, train):
    def make(env, steps=3000, **kwargs):  # type: ignore[no-untyped-def]
        return train(PPO("MlpPolicy", env, **ppo_small(**kwargs)), steps, RewardSignalCallback())

    return make


def _pendulum_exp_error(scale):  # type: ignore[no-untyped-def]
    # exp(-error) inside the env, as in seed 004, so Monitor sees the same reward the agent does
    return make_vec_env(lambda: ExpErrorReward(gym.make("Pendulum-v1"), scale=scale), n_envs=2, seed=0)


def test_exp_of_a_large_error_is_a_tiny_reward(run_ppo):
    run = run_ppo(_pendulum_exp_error(30.0))
    assert run.severity("reward_scale_tiny") == Severity.WARNING
    assert "exp(-error)" in next(f.message for f in run.findings if f.code == "reward_scale_tiny")


def test_exp_of_a_scaled_error_is_a_sane_reward(run_ppo):
    assert run_ppo(_pendulum_exp_error(1.0)).codes() == set()


def test_zero_reward(run_ppo):
    # "reward_manager is not connected": every reward is 0
    env = make_vec_env("CartPole-v1", n_envs=2, seed=0, wrapper_class=RewardScale, wrapper_kwargs=dict(scale=0.0))
    assert run_ppo(env).severity("reward_all_zero") == Severity.ERROR


@pytest.mark.parametrize("win_bonus, expected", [(1e5, "reward_scale_huge"), (100.0, None)])
def test_huge_win_bonus(run_ppo, win_bonus, expected):
    run = run_ppo(make_vec_env(WinBonusEnv, n_envs=2, seed=0, env_kwargs=dict(win_bonus=win_bonus)))
    assert run.codes() == ({expected} if expected else set())


@pytest.mark.parametrize("seed", [0, pytest.param(1, marks=pytest.mark.slow), pytest.param(2, marks=pytest.mark.slow)])
def test_a_goal_exploration_never_reaches_pays_nothing(run_ppo, seed):
    # +1 only at the end of a 120-cell chain, behind a time limit of 100 steps: no episode can get there (a
    # time limit too short for the task). From the reward stream this cannot be told from a disconnected
    # reward; no episode terminates, so it is not an error: only worth knowing early, a warning once a
    # quarter of training has passed without any reward.
    env = make_vec_env(ChainEnv, n_envs=2, seed=seed, env_kwargs=dict(length=120))
    run = run_ppo(env, steps=8000, seed=seed)
    zero = [f for f in run.findings if f.code == "reward_all_zero"]
    assert zero[0].severity == Severity.INFO and "normal while exploration" in zero[0].message
    assert zero[-1].severity == Severity.WARNING and "no episode terminated" in zero[-1].message


def test_a_sparse_goal_the_agent_learns_to_reach_is_fine(run_ppo):
    # +1 at the end of a 25-cell chain: reached in ~1% of random episodes; PPO finds and learns it
    env = make_vec_env(ChainEnv, n_envs=2, seed=0, env_kwargs=dict(length=25))
    assert run_ppo(env, steps=6000).codes(Severity.INFO) == set()


@pytest.mark.slow
def test_shaped_twin_and_a_terminal_reward_most_episodes_collect_are_not_sparse(run_ppo):
    assert "reward_sparse" not in run_ppo(make_vec_env(ChainEnv, n_envs=2, seed=0, env_kwargs=dict(shaped=True)),
                                          steps=6000).codes(Severity.INFO)
    # +1 at the end of a duel that half the episodes win: feedback in every other episode
    env = make_vec_env(WinBonusEnv, n_envs=2, seed=0, env_kwargs=dict(hit_reward=0.0, win_bonus=1.0))
    assert "reward_sparse" not in run_ppo(env).codes()


def test_constant_reward_that_ignores_the_action(run_ppo):
    assert run_ppo(BanditEnv((1.0, 1.0)), steps=2048).codes() == {"reward_constant"}
    assert run_ppo(BanditEnv((1.0, -1.0)), steps=2048).codes() == set()  # one-step episodes are not "dying"


def test_every_episode_runs_to_its_time_limit(run_ppo):
    # CartPole cannot fall within 8 steps, so a time limit of 8 makes every episode run to it with return 8, the way
    # a solved CartPole (or a solved model resumed with VecNormalize.load, SB3 #1256's fix) does: +1 a step, the
    # agent already collects the most the env offers. A note, not a warning.
    solved = make_vec_env("CartPole-v1", n_envs=2, seed=0, env_kwargs=dict(max_episode_steps=8))
    found = [f for f in run_ppo(solved).findings if f.code == "reward_constant"]
    assert found and {f.severity for f in found} == {Severity.INFO}
    assert "most return the env pays" in found[0].message
    # Its twin: -1 a step until a goal random play never reaches (MountainCar): a warning once exploration has had
    # its time
    stuck = make_vec_env("MountainCar-v0", n_envs=4, seed=0)
    assert run_ppo(stuck).severity("reward_constant") == Severity.WARNING


def test_cartpole_constant_step_reward_is_fine(run_ppo):
    assert run_ppo(make_vec_env("CartPole-v1", n_envs=2, seed=0)).codes(Severity.INFO) == set()


@pytest.mark.parametrize("weights, expected", [((100.0, 0.01), {"reward_component_imbalance"}), ((10.0, 1.0), set())])
def test_reward_components_imbalance(ppo_small, train, weights, expected):
    angle, center = weights
    env = make_vec_env("CartPole-v1", n_envs=2, seed=0, wrapper_class=RewardComponents,
                       wrapper_kwargs=dict(angle_weight=angle, center_weight=center))
    cb = RewardSignalCallback()
    run = train(PPO("MlpPolicy", env, **ppo_small()), 3000, cb)
    assert run.codes() == expected


@pytest.mark.slow
def test_reward_drowned_in_noise_is_worth_knowing(run_ppo):
    # seed 003 1.2: |mean| / std of the reward below 0.1. Info only: learning is slow, not broken.
    from sb3_diagnostics.faults import NoisyRewardEnv

    run = run_ppo(NoisyRewardEnv(learnable=False))
    assert run.severity("reward_low_snr") == Severity.INFO
    assert not run.warned("reward_low_snr")
    # |mean| / std cannot tell a learnable zero-mean reward from noise (seed 003's metric), so the
    # twin is a reward with a clear level: Pendulum's, about -6 +- 3 per step.
    assert "reward_low_snr" not in run_ppo(make_vec_env("Pendulum-v1", n_envs=2, seed=0)).codes(Severity.INFO)


class RecordingReward(RewardSignalCallback):
    """Keeps the sample count of every judged reward window."""

    def __init__(self) -> None:
        super().__init__()
        self.windows: list[float] = []

    def _measure(self):  # type: ignore[no-untyped-def]
        out = super()._measure()
        if "_reward_samples" in out:
            self.windows.append(out["_reward_samples"])
        return out


def test_window_survives_learn_calls_and_a_new_env(ppo_small, tmp_path):
    # A window gathers rewards across learn() calls (continued training). The same callback on the
    # model loaded with 4 envs starts a new one: rewards of 1 and 4 envs make no rows of one array.
    cb = RecordingReward()
    model = PPO("MlpPolicy", BanditEnv((0.0, 1.0)), **ppo_small())
    model.learn(768, callback=cb)  # 3 rollouts of 256: under a window of 1000
    assert cb.windows == []
    model.learn(512, callback=cb, reset_num_timesteps=False)  # the 4th rollout completes it
    assert cb.windows == [1024.0]
    model.learn(256, callback=cb, reset_num_timesteps=False)  # 256 samples wait for the next window
    model.save(tmp_path / "model")
    model = PPO.load(tmp_path / "model", make_vec_env(lambda: BanditEnv((0.0, 1.0)), n_envs=4, seed=0))
    model.learn(1024, callback=cb, reset_num_timesteps=False)  # 4 x 256: a window of the 4 envs only
    assert cb._active and cb.windows == [1024.0, 1024.0]


@pytest.mark.parametrize("algo", ["ppo", "dqn"])
def test_a_reward_paid_far_beyond_the_discount_horizon(algo, tiny, train):
    # gym-electric-motor #24 (gamma 0.9 on 10 000-step episodes), reinforcement-learning-kr/Unity_ML_Agents #9
    # (a reward 1000 steps away under gamma 0.99): the score comes at the end of a 100-step episode while
    # gamma=0.9 looks 10 steps ahead. The twin with gamma=0.999 (a 1000-step horizon) is silent.
    def run(gamma: float) -> list:
        env = make_vec_env(EpisodeEndRewardEnv, n_envs=2, seed=0)
        model = (PPO("MlpPolicy", env, gamma=gamma, **tiny(n_steps=256, batch_size=64)) if algo == "ppo" else
                 DQN("MlpPolicy", env, gamma=gamma, learning_starts=200, **tiny()))
        return train(model, 2100, RewardSignalCallback()).findings

    (finding,) = [f for f in run(0.9) if f.code == "gamma_horizon_mismatch"]
    assert finding.severity == Severity.WARNING and "100 steps after its start" in finding.message
    assert "gamma=0.9" in finding.message and "gamma=0.995" in finding.hint
    assert "gamma_horizon_mismatch" not in {f.code for f in run(0.999)}


@pytest.mark.parametrize("gamma", [0.1, 0.99])
def test_a_goal_behind_a_cost_per_step_and_a_tiny_gamma(tiny, train, gamma):
    # Trystan4/SSP_RL #34: DQN arguments passed by position put epsilon (0.1) into gamma. Every move costs -1, so the
    # first reward is at the first step; the event is reaching the goal, 10+ moves away against a horizon of 1.1
    # steps. The twin with gamma=0.99 (a 100-step horizon) is silent.
    model = DQN("MlpPolicy", make_vec_env(ShortestPathGrid, n_envs=4, seed=0), gamma=gamma, learning_starts=200,
                exploration_fraction=0.5, **tiny())
    found = [f for f in train(model, 4000, RewardSignalCallback()).findings if f.code == "gamma_horizon_mismatch"]
    if gamma == 0.1:
        assert found and found[0].severity == Severity.WARNING and "gamma=0.1" in found[0].message
    else:
        assert found == []


def test_step_baseline_is_the_cost_most_steps_pay():
    assert step_baseline([-1.0, -1.0, -1.0, 0.0]) == -1.0
    assert step_baseline([0.0, 0.0, 1.0]) == 0.0
    assert step_baseline([1.0, 1.0, 1.0, -10.0]) == 0.0  # +1 per step alive: a reward, not a cost
    assert step_baseline([0.3, -1.2, 0.5, float("nan")]) == 0.0  # no reward most steps get: events are non-zero
