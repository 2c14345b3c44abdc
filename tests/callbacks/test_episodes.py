"""EpisodeCallback on real runs."""

from __future__ import annotations

import gymnasium as gym
import pytest
from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env

from sb3_diagnostics import DiagnosticsCallback, EpisodeCallback, Severity
from sb3_diagnostics.faults import NoisyRewardEnv, TimePenalty


@pytest.fixture
def run_time_penalty(ppo_small, train):
    def make(reset_counter: bool):  # type: ignore[no-untyped-def]
        # the wrapper inside make_vec_env's Monitor, so ep_rew_mean is the penalised reward the agent gets
        env = make_vec_env(lambda: TimePenalty(gym.make("CartPole-v1"), coef=1e-3, reset_counter=reset_counter), seed=0)
        return train(PPO("MlpPolicy", env, **ppo_small()), 7000, DiagnosticsCallback())

    return make


def test_time_penalty_never_reset_makes_the_reward_fall(run_time_penalty):
    # The penalty counts steps since the env was built: after ~1000 steps every step costs more than
    # it earns, ep_rew_mean drifts from ~+18 down to ~-100 by 6000 steps and the agent learns nothing.
    run = run_time_penalty(reset_counter=False)
    assert run.severity("reward_decreasing") == Severity.WARNING
    finding = next(f for f in run.findings if f.code == "reward_decreasing")
    # first judged at 3 * min_points = 24 updates of 256 steps: caught at the first chance
    assert finding.step == 24 * 256 and finding.value > 0.2
    assert "step counter" in finding.message and run.warned("reward_decreasing")
    # a reward that keeps moving: the agent learns nothing and the returns outgrow the critic
    assert run.codes() <= {"reward_decreasing", "policy_stays_random", "advantage_explosion"}


def test_time_penalty_reset_at_each_episode_is_quiet(run_time_penalty):
    run = run_time_penalty(reset_counter=True)
    assert run.codes(Severity.INFO) == set(), [(f.code, f.message) for f in run.findings]


@pytest.mark.slow  # CI: make test-slow
def test_agent_that_dies_at_once(ppo_small, train):
    # learning_rate=0.1: the policy collapses to always pushing one way; CartPole episodes last ~9 steps
    env = make_vec_env("CartPole-v1", n_envs=4, seed=0)
    model = PPO("MlpPolicy", env, **ppo_small(learning_rate=0.1, n_epochs=20))
    run = train(model, 20000, EpisodeCallback())
    assert run.severity("episode_length_degenerate") == Severity.WARNING


class _Drift(gym.Env):
    """A 1-d drift the action pushes; reward -|x|. No terminal state and, unless wrapped, no time limit."""

    observation_space = gym.spaces.Box(-10.0, 10.0, (1,))
    action_space = gym.spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.x = 0.0
        return self._obs(), {}

    def _obs(self):
        import numpy as np

        return np.array([self.x], dtype=np.float32)

    def step(self, action):
        self.x = min(10.0, max(-10.0, self.x + (0.1 if action else -0.1)))
        return self._obs(), -abs(self.x), False, False, {}


def test_episodes_that_never_end_are_reported_live(ppo_small, train):
    # SB3 #1806: a custom env with neither a time limit nor a reachable terminal state
    th = {"episodes": {"never_end_steps": 1500}}
    run = train(PPO("MlpPolicy", _Drift(), **ppo_small()), 2048, DiagnosticsCallback(thresholds=th))
    finding = next(f for f in run.findings if f.code == "episodes_never_end")
    assert finding.severity is Severity.WARNING and "TimeLimit" in finding.hint and finding.step >= 1500
    # the fix: a time limit
    fixed = gym.wrappers.TimeLimit(_Drift(), max_episode_steps=200)
    run = train(PPO("MlpPolicy", fixed, **ppo_small()), 2048, DiagnosticsCallback(thresholds=th))
    assert "episodes_never_end" not in run.codes(Severity.INFO)


def test_a_wrapper_that_swallows_episode_ends_is_reported_from_the_envs_own_time_limit(ppo_small, train):
    # SB3 #1806: a wrapper that resets the env itself and returns terminated=False, truncated=False. CartPole-v1
    # ends every episode within its 500-step time limit; 1000 steps per env without an ending is the wrapper.
    # Default thresholds (never_end_steps=10_000 alone would need 10x longer).
    from sb3_diagnostics.faults import SwallowEpisodeEnd

    swallowed = make_vec_env("CartPole-v1", n_envs=2, seed=0, wrapper_class=SwallowEpisodeEnd)
    run = train(PPO("MlpPolicy", swallowed, **ppo_small()), 2560, DiagnosticsCallback())
    finding = next(f for f in run.findings if f.code == "episodes_never_end")
    assert finding.severity is Severity.WARNING and 1000 <= finding.step <= 2560 and "wrapper" in finding.message
    healthy = make_vec_env("CartPole-v1", n_envs=2, seed=0)
    run = train(PPO("MlpPolicy", healthy, **ppo_small()), 2560, DiagnosticsCallback())
    assert "episodes_never_end" not in run.codes(Severity.INFO)


@pytest.mark.slow  # 20 s a seed; the default suite keeps the reward-falling twins of this check
@pytest.mark.parametrize("seed", [0, 1])
def test_a_drifting_mean_of_returns_the_agent_cannot_change_is_not_a_falling_reward(ppo_small, train, seed):
    # The reward is the first observation (the agent's actions change nothing): SB3's 100-episode mean of
    # returns with std 7 wanders by +-2 (seed 0: 1.1 -> -0.9 over the last third, rank correlation < -0.8).
    # Within the noise of the two means, it is not reported as a falling reward.
    run = train(PPO("MlpPolicy", NoisyRewardEnv(learnable=True), **ppo_small(seed=seed)), 16_384, EpisodeCallback())
    assert "reward_decreasing" not in run.codes(Severity.INFO)


@pytest.mark.parametrize("penalty_inside_monitor", [True, pytest.param(False, marks=pytest.mark.slow)])
def test_an_agent_that_learns_to_end_episodes_under_a_step_penalty(penalty_inside_monitor, tiny, train):
    # simglucose #40, gym-electric-motor #24: every step costs, so the best the agent finds is to end the
    # episode (CartPole's -1 a step: drop the pole at once). Judged on the rewards the agent receives, whether
    # the penalty sits inside Monitor (ep_rew_mean rises) or outside it (ep_rew_mean shows the env's +1).
    def penalty(env: gym.Env) -> gym.Env:
        return gym.wrappers.TransformReward(env, lambda r: -float(r))

    env = (make_vec_env(lambda: penalty(gym.make("CartPole-v1")), seed=0) if penalty_inside_monitor else
           make_vec_env("CartPole-v1", seed=0, wrapper_class=penalty))
    run = train(PPO("MlpPolicy", env, **tiny(n_steps=512, batch_size=64)), 10_000, EpisodeCallback())
    finding = next(f for f in run.findings if f.code == "termination_exploited")
    assert finding.severity == Severity.WARNING and "ending the episode" in finding.message
    assert finding.value >= 2.0  # episodes at least twice shorter than at the start


def test_reaching_a_goal_fast_under_a_step_penalty_is_not_exploiting(tiny, train):
    # the healthy twin: -0.1 a step and +1 at the goal 4 cells away; episodes shrink from tens of steps to 4 as
    # the return rises, but the last step pays more than the others: the agent ends episodes by succeeding
    from sb3_diagnostics.faults import ChainEnv

    env = make_vec_env(lambda: gym.wrappers.TransformReward(ChainEnv(length=4, max_steps=100), lambda r: r - 0.1),
                       seed=0)
    run = train(PPO("MlpPolicy", env, **tiny(n_steps=512, batch_size=64)), 10_000, EpisodeCallback())
    assert "termination_exploited" not in run.codes(Severity.INFO)
    assert "episode_length_degenerate" not in run.codes(Severity.INFO)
    lengths = [episode["l"] for episode in run.callback.model.ep_info_buffer]
    assert sum(lengths) / len(lengths) < 10  # it did learn to end episodes fast: the twin is a real test
