"""
The fault zoo: seeded SB3 runs that reproduce, the way users create them, the failures of the
seeds, and healthy runs across algorithms and action spaces that must stay silent.

Each case states the codes that must be reported (warning or above), the codes that may also
be (consequences of the same fault), where the fault comes from, and the timestep where it
begins. Cases are data: the runner in ``run.py`` trains them and scores the library.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np
from sb3_contrib import QRDQN, TQC, TRPO, MaskablePPO, RecurrentPPO
from sb3_contrib.common.envs import InvalidActionEnvDiscrete
from stable_baselines3 import A2C, DDPG, DQN, PPO, SAC, TD3
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.envs import IdentityEnvMultiDiscrete
from stable_baselines3.common.noise import NormalActionNoise, OrnsteinUhlenbeckActionNoise
from stable_baselines3.common.vec_env import VecNormalize

from sb3_diagnostics.faults import (
    BanditEnv,
    ChainEnv,
    DeclaredActionBox,
    DetachedExtractor,
    DoubleUpdateSAC,
    EpisodeEndRewardEnv,
    ExpErrorReward,
    ForgetfulLstmPolicy,
    GlobalNoise,
    GridImageEnv,
    InPlaceObservation,
    LazyExtractor,
    ListExtractor,
    NaNObservation,
    NoisyRewardEnv,
    OldStepApi,
    OwnStepBudget,
    PovObservation,
    RewardComponents,
    RewardCurriculum,
    RewardScale,
    SetPointEnv,
    SharedBufferVecEnv,
    ShiftedDiscreteActions,
    ShortestPathGrid,
    SpikeObsEnv,
    SwallowEpisodeEnd,
    TimePenalty,
    WinBonusEnv,
    regularise_critic,
)


@dataclass(frozen=True)
class Case:
    """
    :param name: short id
    :param source: where the fault comes from: a public thread, or a note ("-" for healthy runs)
    :param make: builds the untrained model
    :param timesteps: training budget
    :param must: codes that must be reported at warning or above (empty: a healthy run)
    :param may: codes that may also be reported (consequences of the same fault)
    :param onset: timestep where the fault begins
    :param quick: part of the quick subset that runs in CI
    :param options: keyword arguments for ``DiagnosticsCallback``
    :param env: for a pre-flight case, builds the environment ``check_training_env`` runs on
        (``make`` and ``timesteps`` are then unused)
    :param root: the code the triage must name first (default: the only ``must`` code)
    """

    name: str
    source: str
    make: Callable[[], BaseAlgorithm]
    timesteps: int
    must: frozenset[str] = frozenset()
    may: frozenset[str] = frozenset()
    onset: int = 0
    quick: bool = False
    options: dict[str, Any] = field(default_factory=dict)
    env: Callable[[], Any] | None = None
    root: str | None = None

    @property
    def healthy(self) -> bool:
        return not self.must

    @property
    def root_code(self) -> str | None:
        """The code the report must name first (the cause the user should fix)."""
        if self.root is not None:
            return self.root
        return next(iter(self.must)) if len(self.must) == 1 else None


def _small(**overrides: Any) -> dict[str, Any]:
    return {"seed": 0, "policy_kwargs": dict(net_arch=[32, 32]), **overrides}


def _ppo(env: Any, **overrides: Any) -> PPO:
    return PPO("MlpPolicy", env, **_small(n_steps=256, batch_size=64, **overrides))


def _cartpole(n_envs: int = 1, **kwargs: Any) -> Any:
    return make_vec_env("CartPole-v1", n_envs=n_envs, seed=0, **kwargs)


_LSTM = dict(n_steps=64, batch_size=64, seed=0, policy_kwargs=dict(lstm_hidden_size=16, net_arch=[16]))

FAULTS: list[Case] = [
    Case("ppo_lr_too_high", "000 Issue E, #16", lambda: _ppo(_cartpole(), learning_rate=0.1, n_epochs=20), 4096,
         frozenset({"kl_too_high", "clip_fraction_high"}), frozenset({"entropy_collapse", "policy_not_updating",
         "episode_length_degenerate"}),
         quick=True, root="kl_too_high"),
    # the entropy collapses because the updates are far too large: the root is the learning rate (kl_too_high),
    # not the entropy bonus ("Start with entropy_collapse ... raise ent_coef" sends the user to the wrong fix)
    # Updates that wreck the policy (learning_rate 0.05, 20 epochs): the KL of one update passes 1 on every seed and
    # CPU; whether the entropy then also falls 80% in one update is the float trajectory's business (1 of 3 seeds on
    # one CPU, 0 of 1 on another), so the collapse is a consequence the report may add, not the required code.
    Case("ppo_entropy_wrecked", "000 Issue E, #18", lambda: _ppo(_cartpole(), learning_rate=0.05, n_epochs=20), 6000,
         frozenset({"kl_too_high"}), frozenset({"entropy_collapse", "clip_fraction_high", "policy_not_updating",
         "episode_length_degenerate"})),
    Case("a2c_lr_too_high", "000 #16, #18", lambda: A2C("MlpPolicy", "CartPole-v1", **_small(learning_rate=0.05,
         n_steps=8)), 2000, frozenset({"entropy_collapse"}),
         frozenset({"explained_variance_negative", "episode_length_degenerate"}),
         quick=True),
    Case("sac_no_entropy_bonus", "003 (action_std_min)", lambda: SAC("MlpPolicy", "Pendulum-v1", **_small(
         ent_coef=0.0, learning_starts=100, batch_size=64)), 3000, frozenset({"action_std_collapse"})),
    Case("ppo_lr_too_low", "000 #16; 004", lambda: _ppo("CartPole-v1", learning_rate=1e-5), 5000,
         frozenset({"policy_stays_random"}), frozenset({"explained_variance_negative"})),
    Case("ppo_lr_typo", "002 #2-#5", lambda: _ppo("CartPole-v1", learning_rate=3e-10), 3000,
         frozenset({"policy_not_updating"}), frozenset({"policy_stays_random", "explained_variance_negative"}),
         quick=True),
    # a reward of pure noise: the critic can only predict the mean (explained variance ~ -0.01 +- 0.006, not
    # clearly negative); what is broken is that it predicts nothing (SB3 #2240)
    Case("ppo_noise_reward", "003 1.2; SB3 #2240", lambda: _ppo(NoisyRewardEnv()), 16384,
         frozenset({"critic_not_learning"}), frozenset({"explained_variance_negative", "policy_stays_random"}),
         root="reward_low_snr"),
    # learning_rate=0.01 for 30 epochs over-updates both heads: the critic fits each rollout's noise and the policy
    # moves far; the fix for both is kl_too_high's (lower learning_rate and n_epochs), so that is the root
    Case("ppo_overfit_critic", "003 (explained variance < -0.5)", lambda: _ppo(NoisyRewardEnv(), learning_rate=0.01,
         n_epochs=30), 8192, frozenset({"explained_variance_negative"}), frozenset({"kl_too_high"}), root="kl_too_high"),
    Case("ppo_constant_reward", "002 #1", lambda: _ppo(BanditEnv((1.0, 1.0))), 2048,
         frozenset({"advantage_zero_variance", "policy_not_updating", "reward_constant"}), frozenset({"policy_stays_random"}),
         quick=True, root="reward_constant"),
    Case("trpo_constant_reward", "002 #1, #5", lambda: TRPO("MlpPolicy", BanditEnv((1.0, 1.0)), **_small(
         n_steps=256, batch_size=64)), 2048,
         frozenset({"advantage_zero_variance", "policy_not_updating", "line_search_failing", "reward_constant"}),
         frozenset({"policy_stays_random"}), root="reward_constant"),
    Case("ppo_reward_x100", "000 #8; 003 1.3", lambda: _ppo(_cartpole(2, wrapper_class=RewardScale,
         wrapper_kwargs=dict(scale=100.0))), 3000, frozenset({"advantage_explosion"}),
         frozenset({"policy_stays_random", "explained_variance_negative"})),
    Case("ppo_tight_target_kl", "000 #20", lambda: _ppo(_cartpole(4), learning_rate=1e-3, target_kl=0.001), 8000,
         frozenset({"target_kl_early_stop"})),
    Case("vecnormalize_sensor_spikes_clipped", "000 Issue A", lambda: _ppo(VecNormalize(make_vec_env(
         SpikeObsEnv, n_envs=4, seed=0), clip_obs=5.0)), 4096, frozenset({"vecnormalize_obs_clipped"})),
    Case("vecnormalize_reward_scale_drift", "000 Issue A, C", lambda: _ppo(VecNormalize(_cartpole(
         4, wrapper_class=RewardCurriculum, wrapper_kwargs=dict(after_steps=1000, factor=100.0)))), 6000,
         frozenset({"vecnormalize_stats_unstable"}), onset=4000),
    Case("lstm_policy_ignores_episode_starts", "000 #15, Issue D", lambda: RecurrentPPO(
         ForgetfulLstmPolicy, _cartpole(2), **_LSTM), 1024, frozenset({"lstm_state_not_reset"}), quick=True),
    Case("lstm_wrapper_hides_episode_end", "000 #15, Issue D", lambda: RecurrentPPO(
         "MlpLstmPolicy", _cartpole(2, wrapper_class=SwallowEpisodeEnd), **_LSTM), 1024,
         frozenset({"lstm_state_not_reset"}), frozenset({"episodes_never_end"})),  # the same wrapper, seen twice
]

def _exp_error(scale: float) -> Any:
    return make_vec_env(lambda: ExpErrorReward(gym.make("Pendulum-v1"), scale=scale), n_envs=2, seed=0)


def _time_penalty(reset_counter: bool) -> Any:
    # inside make_vec_env's Monitor, so ep_rew_mean is the penalised reward
    return make_vec_env(lambda: TimePenalty(gym.make("CartPole-v1"), reset_counter=reset_counter), seed=0)


def _observe(env_id: str, transform: Callable[[Any], Any], space: Any = None) -> gym.Env:
    env = gym.make(env_id)
    return gym.wrappers.TransformObservation(env, transform, space or env.observation_space)


REWARD_FAULTS: list[Case] = [
    Case("reward_exp_of_large_error", "004", lambda: _ppo(_exp_error(30.0)), 3000,
         frozenset({"reward_scale_tiny"}), frozenset({"reward_constant"}), quick=True),
    Case("reward_disconnected", "000 #6", lambda: _ppo(_cartpole(2, wrapper_class=RewardScale,
         wrapper_kwargs=dict(scale=0.0))), 3000, frozenset({"reward_all_zero"}),
         frozenset({"policy_stays_random", "explained_variance_negative"})),
    Case("reward_win_bonus_1e5", "000 #8", lambda: _ppo(make_vec_env(WinBonusEnv, n_envs=2, seed=0,
         env_kwargs=dict(win_bonus=1e5))), 3000, frozenset({"reward_scale_huge"}),
         # returns of 1e5 put the pre-clip gradient norm above 1e4: the same fault, seen by the gradient check
         frozenset({"advantage_explosion", "policy_stays_random", "explained_variance_negative",
                    "grad_norm_exploding"})),
    # +1 at the end of a 120-cell chain behind a 100-step time limit: no episode can reach it
    Case("reward_goal_behind_a_short_time_limit", "time limit shorter than the task", lambda: _ppo(make_vec_env(
         ChainEnv, n_envs=2, seed=0, env_kwargs=dict(length=120))), 8000, frozenset({"reward_all_zero"}),
         frozenset({"policy_stays_random", "critic_not_learning", "reward_sparse"})),
    Case("reward_component_dominates", "000 #9; 003 1.1", lambda: _ppo(_cartpole(2, wrapper_class=RewardComponents,
         wrapper_kwargs=dict(angle_weight=100.0, center_weight=0.01))), 3000,
         frozenset({"reward_component_imbalance"})),
    Case("reward_step_counter_not_reset", "000 what bad training looks like", lambda: _ppo(_time_penalty(False)),
         8000, frozenset({"reward_decreasing"}),
         # a reward that keeps moving: nothing to learn, and returns that outgrow the critic
         frozenset({"policy_stays_random", "advantage_explosion", "explained_variance_negative"})),
    Case("agent_dies_at_once", "003 3.3", lambda: _ppo(_cartpole(4), learning_rate=0.1, n_epochs=20), 20000,
         frozenset({"episode_length_degenerate"}),
         frozenset({"kl_too_high", "clip_fraction_high", "entropy_collapse", "policy_not_updating"}),
         root="kl_too_high"),  # it dies at once because a learning rate 300x too high wrecked the policy
]

ENV_FAULTS: list[Case] = [
    Case("env_obs_constant", "000 #1", lambda: None, 0, frozenset({"obs_constant"}),
         frozenset({"obs_dead_dims", "action_no_effect", "reward_not_learnable", "reset_not_randomized"}),
         env=lambda: _observe("CartPole-v1", lambda o: np.zeros_like(o)), quick=True),
    Case("env_action_ignored", "000 #2; 003 2.4", lambda: None, 0, frozenset({"action_no_effect"}),
         env=lambda: gym.wrappers.TransformAction(gym.make("CartPole-v1"), lambda a: 0, gym.make("CartPole-v1").action_space)),
    Case("env_unseeded_noise", "000 #3; 003 2.5", lambda: None, 0, frozenset({"env_nondeterministic"}),
         env=lambda: GlobalNoise(gym.make("CartPole-v1"))),
    Case("env_nan_observation", "000 #5", lambda: None, 0, frozenset({"obs_nan_inf"}),
         frozenset({"nan_detected", "obs_constant", "obs_dead_dims", "env_nondeterministic", "action_no_effect"}),
         env=lambda: NaNObservation(gym.make("CartPole-v1"), after_steps=50)),
    Case("env_dead_dims", "003 2.3", lambda: None, 0, frozenset({"obs_dead_dims"}),
         env=lambda: _observe("CartPole-v1", lambda o: np.concatenate([o, np.zeros(3, o.dtype)]),
                              gym.spaces.Box(-np.inf, np.inf, (7,), np.float32))),
    Case("env_scale_mismatch", "003 2.3", lambda: None, 0, frozenset({"obs_scale_mismatch"}),
         env=lambda: _observe("CartPole-v1", lambda o: o * np.array([1e4, 1, 1, 1], o.dtype),
                              gym.spaces.Box(-np.inf, np.inf, (4,), np.float32))),
    Case("env_reward_tiny", "004", lambda: None, 0, frozenset({"reward_scale_tiny"}), frozenset({"reward_constant"}),
         env=lambda: ExpErrorReward(gym.make("Pendulum-v1"), scale=30.0)),
]

_ANYTHING_AFTER_A_BLOWUP = frozenset({"kl_too_high", "clip_fraction_high", "entropy_collapse", "policy_not_updating",
                                      "policy_stays_random", "nan_detected", "explained_variance_negative",
                                      "advantage_explosion", "episode_length_degenerate"})

GRADIENT_AND_OFF_POLICY_FAULTS: list[Case] = [
    # lr=100: the first update wrecks the policy (KL in the hundreds on every seed); what its gradients do next
    # depends on the CPU's float trajectory (4e3 on one machine, 1e6 on another), so they may or may not explode.
    Case("ppo_lr_100_wrecks_the_policy", "000 #12, #16", lambda: _ppo("CartPole-v1", learning_rate=1e2), 1024,
         frozenset({"kl_too_high"}), _ANYTHING_AFTER_A_BLOWUP | {"grad_norm_exploding"}, quick=True),
    Case("ppo_reward_x1e4_gradients_explode", "000 #12; 003 1.3", lambda: _ppo(_cartpole(1, wrapper_class=RewardScale,
         wrapper_kwargs=dict(scale=1e4))), 4096, frozenset({"grad_norm_exploding"}),
         frozenset({"advantage_explosion", "reward_scale_huge", "explained_variance_negative", "policy_stays_random"}),
         root="reward_scale_huge"),  # the symptoms are in the gradients, the cause in the reward
    Case("ppo_detached_features_extractor", "000 checklist (gradient flow)", lambda: PPO("MlpPolicy", "CartPole-v1",
         n_steps=128, batch_size=64, seed=0, policy_kwargs=dict(features_extractor_class=DetachedExtractor,
         net_arch=[16])), 768, frozenset({"param_no_grad"}), quick=True),
    Case("dqn_nan_observation", "000 #5", lambda: DQN("MlpPolicy", NaNObservation(gym.make("CartPole-v1"),
         after_steps=300, index=2), **_small(learning_starts=100)), 1000, frozenset({"nan_detected"}),
         # SB3's exploration defaults on 1000 steps: epsilon reaches its final value at step 100 = learning_starts
         frozenset({"q_value_divergence", "grad_norm_exploding", "exploration_ends_before_learning"}), onset=300),
    Case("sac_reward_x1e4_gamma_0999", "003; 000 #8", lambda: SAC("MlpPolicy", RewardScale(gym.make("Pendulum-v1"),
         1e4), **_small(learning_starts=100, batch_size=64, gamma=0.999, learning_rate=1e-3)), 2500,
         frozenset({"q_value_divergence"}), frozenset({"reward_scale_huge", "grad_norm_exploding", "q_twin_divergence",
                                                       "action_std_collapse"}),
         root="reward_scale_huge"),
    Case("sac_doubled_polyak_update", "001 Issue 0.3", lambda: DoubleUpdateSAC("MlpPolicy", "Pendulum-v1",
         **_small(learning_starts=100, batch_size=64)), 500, frozenset({"target_update_too_fast"})),
    Case("sac_second_critic_never_trained", "003 (q_value_spread > 100)", lambda: regularise_critic(SAC(
         "MlpPolicy", "Pendulum-v1", **_small(learning_starts=100, batch_size=64))), 5600,
         frozenset({"q_twin_divergence"}), frozenset({"param_no_grad"}),
         root="param_no_grad"),  # as for TD3: the twin's parameters get no gradient; its Q-values drift as a result
    # TD3's actor follows Q1 alone and learns: |Q1| settles near 75, so the spread (~75, 200% of |mean Q|) stays
    # under q_twin_divergence's absolute 100; the twin's parameters outside every optimizer give the bug away.
    Case("td3_second_critic_never_trained", "003 (q_value_spread > 100)", lambda: regularise_critic(TD3(
         "MlpPolicy", "Pendulum-v1", **_small(learning_starts=100, batch_size=64))), 5000,
         frozenset({"param_no_grad"}), frozenset({"q_twin_divergence"})),
    Case("sac_observation_shape_1_by_n", "001 Issue 0.4", lambda: SAC("MlpPolicy", PovObservation(
         gym.make("Pendulum-v1")), **_small(learning_starts=100, batch_size=64)), 250,
         frozenset({"buffer_shape_mismatch"})),
]

def _resumed_with_fresh_vecnormalize(algo: type[BaseAlgorithm], env_id: str, pretrain: int, **kwargs: Any) -> Any:
    """A model trained behind VecNormalize, saved, then loaded behind a new VecNormalize (SB3 #1256)."""
    import tempfile

    env = VecNormalize(make_vec_env(env_id, n_envs=2, seed=0))
    model = algo("MlpPolicy", env, **_small(**kwargs))
    model.learn(pretrain)
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "model")
        model.save(path)
        return algo.load(path, env=VecNormalize(make_vec_env(env_id, n_envs=2, seed=1)))


def _resumed(algo: type[BaseAlgorithm], fixed: bool) -> Any:
    """
    An epsilon-greedy model trained 3000 steps, saved and loaded to train on (SB3 #1340, #1629). ``learn()``'s default
    ``reset_num_timesteps=True`` restarts epsilon at 1; the fix from the threads sets it to where it ended.
    """
    import tempfile

    model = algo("MlpPolicy", make_vec_env("CartPole-v1", seed=0), **_small(learning_starts=500,
                                                                          exploration_fraction=0.5))
    model.learn(3000)
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "model")
        model.save(path)
        eps = model.exploration_final_eps
        fix = dict(exploration_initial_eps=eps, exploration_final_eps=eps) if fixed else {}
        return algo.load(path, env=make_vec_env("CartPole-v1", seed=1), custom_objects=fix or None)


def _negated_cartpole() -> Any:
    """CartPole with -1 a step inside Monitor: a time penalty on a task where ending the episode is failing."""
    return make_vec_env(lambda: gym.wrappers.TransformReward(gym.make("CartPole-v1"), lambda r: -float(r)), seed=0)


_DELAYED = frozenset({"reward_sparse", "policy_stays_random", "critic_not_learning", "explained_variance_negative"})

PIPELINE_AND_CAPACITY_FAULTS: list[Case] = [
    Case("ppo_vec_env_hands_out_its_buffer", "SuperSuit PR #116", lambda: _ppo(SharedBufferVecEnv(_cartpole(2))),
         1024, frozenset({"obs_buffer_aliased"}), quick=True),
    Case("dqn_env_returns_its_state_array", "dm_control #34; chainerrl #157", lambda: DQN(
         "MlpPolicy", _cartpole(1, wrapper_class=InPlaceObservation), **_small(learning_starts=100)), 1500,
         frozenset({"obs_buffer_aliased"})),
    Case("env_returns_its_state_array", "dm_control #34", lambda: None, 0, frozenset({"obs_buffer_aliased"}),
         frozenset({"reset_not_randomized"}), env=lambda: InPlaceObservation(gym.make("Pendulum-v1"))),
    Case("ppo_resumed_behind_fresh_vecnormalize", "SB3 #1256", lambda: _resumed_with_fresh_vecnormalize(
         PPO, "Pendulum-v1", 1024, n_steps=256, batch_size=64), 512, frozenset({"vecnormalize_stats_not_restored"}),
         quick=True),
    Case("sac_resumed_behind_fresh_vecnormalize", "mesozoic-labs PR #131; SB3 #1256",
         lambda: _resumed_with_fresh_vecnormalize(SAC, "MountainCarContinuous-v0", 600, learning_starts=100,
                                                  batch_size=64), 300,
         frozenset({"vecnormalize_stats_not_restored"})),
    Case("ppo_score_at_episode_end_gamma_0_9", "gym-electric-motor #24", lambda: _ppo(make_vec_env(
         EpisodeEndRewardEnv, n_envs=2, seed=0), gamma=0.9), 4096, frozenset({"gamma_horizon_mismatch"}), _DELAYED),
    Case("dqn_score_at_episode_end_gamma_0_95", "Unity_ML_Agents (reinforcement-learning-kr) #9", lambda: DQN(
         "MlpPolicy", make_vec_env(lambda: EpisodeEndRewardEnv(length=200), n_envs=2, seed=0),
         **_small(learning_starts=200, gamma=0.95)), 4000, frozenset({"gamma_horizon_mismatch"}), _DELAYED),
    Case("ppo_step_penalty_agent_drops_the_pole", "simglucose #40; gym-electric-motor #24", lambda: PPO(
         "MlpPolicy", _negated_cartpole(), **_small(n_steps=512, batch_size=64)), 10_000,
         frozenset({"termination_exploited"}), frozenset({"episode_length_degenerate", "entropy_collapse"})),
    Case("a2c_step_penalty_agent_drops_the_pole", "simglucose #40", lambda: A2C("MlpPolicy", _negated_cartpole(),
         **_small()), 12_000, frozenset({"termination_exploited"}),
         frozenset({"episode_length_degenerate", "entropy_collapse"})),
    Case("ppo_net_arch_typo_bottleneck", "000 #13", lambda: _ppo("CartPole-v1", policy_kwargs=dict(net_arch=[64, 1])),
         1024, frozenset({"network_too_small"}), frozenset({"policy_stays_random"}), quick=True),
    Case("sac_two_unit_network", "000 #13", lambda: SAC("MlpPolicy", "Pendulum-v1", seed=0, learning_starts=100,
         batch_size=64, policy_kwargs=dict(net_arch=[2, 2])), 300, frozenset({"network_too_small"})),
]

_NOISE = NormalActionNoise(np.zeros(1), 0.3 * np.ones(1))

#: more mistakes from public threads, on the algorithms the cases above do not cover (DDPG, TD3, QR-DQN, TQC)
#: and the env API faults SB3's and Gymnasium's own checkers find
THREAD_FAULTS: list[Case] = [
    Case("ddpg_env_reward_nan_for_some_actions", "hill-a/stable-baselines #789", lambda: DDPG(
         "MlpPolicy", make_vec_env(SetPointEnv, seed=0), action_noise=_NOISE, **_small(learning_starts=200,
                                                                                       batch_size=64)), 1500,
         frozenset({"nan_detected"})),
    Case("td3_env_reward_nan_for_some_actions", "hill-a/stable-baselines #789", lambda: TD3(
         "MlpPolicy", make_vec_env(SetPointEnv, seed=0), action_noise=_NOISE, **_small(learning_starts=200,
                                                                                       batch_size=64)), 1500,
         frozenset({"nan_detected"})),
    Case("dqn_learning_starts_above_budget", "SB3 #526", lambda: DQN("MlpPolicy", "CartPole-v1", **_small(
         learning_starts=50_000)), 2000, frozenset({"policy_not_updating"})),
    Case("qrdqn_budget_typed_in_episodes", "Trystan4/SSP_RL #34", lambda: QRDQN("MlpPolicy", "CartPole-v1", **_small(
         learning_starts=10_000)), 2000, frozenset({"policy_not_updating"})),
    Case("dqn_epsilon_spent_before_learning", "SB3 #529", lambda: DQN("MlpPolicy", make_vec_env(
         "CartPole-v1", seed=0), **_small(learning_starts=2000, exploration_fraction=0.1)), 4000,
         frozenset({"exploration_ends_before_learning"})),
    Case("qrdqn_epsilon_spent_before_learning", "SB3 #529", lambda: QRDQN("MlpPolicy", make_vec_env(
         "Acrobot-v1", seed=0), **_small(learning_starts=1000, exploration_fraction=0.2)), 3000,
         frozenset({"exploration_ends_before_learning"})),
    Case("qrdqn_resumed_restarts_epsilon", "SB3 #1340; rl-zoo3 #490", lambda: _resumed(QRDQN, fixed=False), 1500,
         frozenset({"exploration_restarted"})),
    Case("dqn_resumed_restarts_epsilon", "SB3 #1629", lambda: _resumed(DQN, fixed=False), 1500,
         frozenset({"exploration_restarted"}), frozenset({"reward_decreasing"})),
    Case("ppo_action_box_low_equals_high", "hill-a/stable-baselines #553", lambda: _ppo(make_vec_env(
         lambda: DeclaredActionBox(gym.make("Pendulum-v1"), 30.0, 30.0), n_envs=2, seed=0)), 1024,
         frozenset({"action_space_degenerate"}), frozenset({"policy_stays_random", "reward_constant"})),
    Case("a2c_action_box_low_equals_high", "hill-a/stable-baselines #553", lambda: A2C("MlpPolicy", make_vec_env(
         lambda: DeclaredActionBox(gym.make("MountainCarContinuous-v0"), 5.0, 5.0), n_envs=2, seed=0),
         **_small(n_steps=8)), 1000, frozenset({"action_space_degenerate"}),
         frozenset({"policy_stays_random", "reward_constant"})),
    Case("ppo_action_box_0_to_10000", "hill-a/stable-baselines #277; SB3 #1972", lambda: _ppo(make_vec_env(
         lambda: DeclaredActionBox(gym.make("Pendulum-v1"), 0.0, 10_000.0), n_envs=2, seed=0)), 1024,
         frozenset({"action_space_not_normalized"})),
    Case("sac_action_box_0_to_10000", "hill-a/stable-baselines #277; SB3 #389", lambda: SAC("MlpPolicy", make_vec_env(
         lambda: DeclaredActionBox(gym.make("Pendulum-v1"), 0.0, 10_000.0), seed=0), **_small(learning_starts=100,
         batch_size=64)), 600, frozenset({"action_space_not_normalized"})),
    Case("env_wrapper_swallows_episode_ends", "SB3 #1806", lambda: None, 0, frozenset({"episodes_never_end"}),
         env=lambda: SwallowEpisodeEnd(gym.make("CartPole-v1"))),
    # the same wrapper live: CartPole's own 500-step time limit says the ends are hidden after 1000 steps per env
    Case("ppo_wrapper_swallows_episode_ends", "SB3 #1806", lambda: _ppo(_cartpole(2, wrapper_class=SwallowEpisodeEnd)),
         3072, frozenset({"episodes_never_end"})),
    Case("dqn_wrapper_swallows_episode_ends", "SB3 #1806", lambda: DQN("MlpPolicy", make_vec_env(
         "Acrobot-v1", seed=0, wrapper_class=SwallowEpisodeEnd), **_small(learning_starts=500,
         exploration_fraction=0.5)), 2500, frozenset({"episodes_never_end"})),
    Case("ppo_float_images_0_255", "SB3 #268", lambda: _ppo(make_vec_env(lambda: GridImageEnv(np.float32), n_envs=2,
         seed=0)), 1024, frozenset({"image_obs_not_scaled"})),
    # variants of the classes above on other algorithms
    Case("dqn_float_images_0_255", "SB3 #268", lambda: DQN("MlpPolicy", make_vec_env(lambda: GridImageEnv(np.float32),
         seed=0), **_small(learning_starts=200, buffer_size=2000, exploration_fraction=0.5)), 600,
         frozenset({"image_obs_not_scaled"})),
    Case("a2c_noise_reward", "SB3 #2240", lambda: A2C("MlpPolicy", make_vec_env(NoisyRewardEnv, n_envs=4, seed=0),
         **_small(n_steps=32)), 16384, frozenset({"critic_not_learning"}),
         frozenset({"explained_variance_negative", "policy_stays_random"}), root="reward_low_snr"),
    Case("a2c_lr_too_low", "000 #16", lambda: A2C("MlpPolicy", _cartpole(4), **_small(learning_rate=1e-6,
         n_steps=32)), 8192, frozenset({"policy_stays_random"}), frozenset({"explained_variance_negative"})),
    Case("ppo_layer_built_in_forward", "SB3 #1271", lambda: _ppo(_cartpole(2), policy_kwargs=dict(
         net_arch=[32], features_extractor_class=LazyExtractor)), 2048, frozenset({"param_no_grad"})),
    # PyTorch registers layers assigned as attributes or held in nn.ModuleList, not in a plain list: those layers are
    # in no optimizer (the catalog's reference: torch.nn.ModuleList); SB3 #1860 is a user asking whether the
    # parameters of a custom extractor are trained at all
    Case("ppo_extractor_layers_in_a_list", "SB3 #1860; torch.nn.ModuleList docs", lambda: _ppo(
         _cartpole(2), policy_kwargs=dict(net_arch=[32], features_extractor_class=ListExtractor)), 1024,
         frozenset({"module_not_registered"}), frozenset({"policy_stays_random"})),
    Case("dqn_extractor_layers_in_a_list", "SB3 #1860; torch.nn.ModuleList docs", lambda: DQN("MlpPolicy", "CartPole-v1",
         **_small(learning_starts=100, exploration_fraction=0.5, policy_kwargs=dict(net_arch=[32],
                                                                             features_extractor_class=ListExtractor))),
         1000, frozenset({"module_not_registered"})),
    # the observation promoted to float64 for a float32 space (gym-pybullet-drones #87, SB3 #1992), and values
    # outside the declared bounds (SB3 #1992): what SB3's and Gymnasium's checkers flag, found pre-flight
    # SB3 #936: TD3 / DDPG from the README on MountainCarContinuous, without action noise (the thread's fix: OU noise)
    Case("td3_without_action_noise", "SB3 #936", lambda: TD3("MlpPolicy", "MountainCarContinuous-v0", **_small()), 2000,
         frozenset({"action_noise_missing"}), onset=100),  # deterministic from learning_starts on
    Case("ddpg_without_action_noise", "SB3 #936", lambda: DDPG("MlpPolicy", "MountainCarContinuous-v0", **_small()),
         2000, frozenset({"action_noise_missing"}), onset=100),
    # Trystan4/SSP_RL #34: DQN arguments passed by position put epsilon (0.1) into gamma; the goal costs 10+ moves
    Case("dqn_gamma_is_epsilon_cost_per_step", "Trystan4/SSP_RL #34", lambda: DQN("MlpPolicy", make_vec_env(
         ShortestPathGrid, n_envs=4, seed=0), gamma=0.1, learning_starts=200, exploration_fraction=0.5, **_small()),
         4000, frozenset({"gamma_horizon_mismatch"})),
    Case("env_timeout_reported_as_termination", "SB3 #284", lambda: None, 0, frozenset({"timeout_as_termination"}),
         frozenset({"action_space_not_normalized"}),
         env=lambda: OwnStepBudget(gym.make("Pendulum-v1", max_episode_steps=10_000), 200)),
    Case("env_budget_ends_as_termination_mountaincar", "SB3 #284", lambda: None, 0,
         frozenset({"timeout_as_termination"}), frozenset({"reward_constant"}),  # MountainCar's -1 per step
         env=lambda: OwnStepBudget(gym.make("MountainCar-v0", max_episode_steps=10_000), 100)),
    Case("env_obs_promoted_to_float64", "gym-pybullet-drones #87; SB3 #1992", lambda: None, 0,
         frozenset({"obs_not_in_space"}), env=lambda: _observe("CartPole-v1", lambda o: o.astype(np.float64))),
    Case("env_obs_outside_declared_bounds", "SB3 #1992", lambda: None, 0, frozenset({"obs_not_in_space"}),
         frozenset({"obs_scale_mismatch"}),
         env=lambda: _observe("Pendulum-v1", lambda o: o, gym.spaces.Box(-1.0, 1.0, (3,), np.float32))),
    Case("tqc_resumed_behind_fresh_vecnormalize", "SB3 #1256", lambda: _resumed_with_fresh_vecnormalize(
         TQC, "Pendulum-v1", 600, learning_starts=100, batch_size=64), 300,
         frozenset({"vecnormalize_stats_not_restored"})),
    Case("env_blackjack_tuple_observation", "SB3 #1140", lambda: None, 0, frozenset({"env_api_violation"}),
         frozenset({"episode_length_degenerate", "reward_sparse", "reset_not_randomized", "reward_not_learnable"}),
         env=lambda: gym.make("Blackjack-v1")),
    Case("env_discrete_actions_from_one", "SB3 #1841, #2052, #913", lambda: None, 0,
         frozenset({"env_api_violation"}), env=lambda: ShiftedDiscreteActions(gym.make("CartPole-v1"), start=1)),
    Case("env_step_returns_four_values", "Gymnasium #1179", lambda: None, 0, frozenset({"env_api_violation"}),
         env=lambda: OldStepApi(gym.make("CartPole-v1"))),
]

# Healthy epsilon-greedy runs decay epsilon after learning starts, as every rl-zoo3 DQN / QR-DQN config does (CartPole:
# learning_starts=1000, epsilon at its end at step 8000 of 50k).
HEALTHY: list[Case] = [
    Case("healthy_ppo_cartpole", "-", lambda: _ppo(_cartpole(4)), 12000, quick=True),
    Case("healthy_a2c_cartpole", "-", lambda: A2C("MlpPolicy", _cartpole(4), **_small(n_steps=8)), 8000, quick=True),
    Case("healthy_recurrent_ppo_cartpole", "-", lambda: RecurrentPPO("MlpLstmPolicy", _cartpole(2), **_LSTM), 3000),
    Case("healthy_trpo_cartpole", "-", lambda: TRPO("MlpPolicy", "CartPole-v1", **_small(n_steps=256,
         batch_size=64)), 6000),
    Case("healthy_maskable_ppo", "-", lambda: MaskablePPO("MlpPolicy", InvalidActionEnvDiscrete(dim=20,
         n_invalid_actions=10), **_small(n_steps=256, batch_size=64)), 4096),
    Case("healthy_ppo_multidiscrete", "-", lambda: _ppo(IdentityEnvMultiDiscrete(dim=3)), 4096, quick=True),
    Case("healthy_ppo_pendulum_vecnormalize", "-", lambda: _ppo(VecNormalize(make_vec_env("Pendulum-v1",
         n_envs=4, seed=0)), gae_lambda=0.95, gamma=0.9), 8192),
    Case("healthy_ppo_pendulum_gsde", "-", lambda: PPO("MlpPolicy", VecNormalize(make_vec_env("Pendulum-v1",
         n_envs=4, seed=0)), use_sde=True, n_steps=256, batch_size=64, seed=0,
         policy_kwargs=dict(log_std_init=-2, net_arch=[32, 32])), 8192),
    Case("healthy_dqn_cartpole", "-", lambda: DQN("MlpPolicy", "CartPole-v1", **_small(
         learning_starts=500, exploration_fraction=0.25)), 4000),
    Case("healthy_sac_pendulum", "-", lambda: SAC("MlpPolicy", "Pendulum-v1", **_small(learning_starts=100,
         batch_size=64)), 2000, quick=True),
    Case("healthy_td3_pendulum", "-", lambda: TD3("MlpPolicy", "Pendulum-v1", **_small(learning_starts=100,
         batch_size=64)), 2000),
    Case("healthy_ddpg_set_point_guarded_log", "-", lambda: DDPG("MlpPolicy", make_vec_env(
         lambda: SetPointEnv(guard=True), seed=0), action_noise=_NOISE, **_small(learning_starts=200, batch_size=64)),
         1500),
    Case("healthy_td3_set_point_guarded_log", "-", lambda: TD3("MlpPolicy", make_vec_env(
         lambda: SetPointEnv(guard=True), seed=0), action_noise=_NOISE, **_small(learning_starts=200, batch_size=64)),
         1500),
    Case("healthy_qrdqn_cartpole", "-", lambda: QRDQN("MlpPolicy", "CartPole-v1", **_small(
         learning_starts=500, exploration_fraction=0.25)),
         3000),
    Case("healthy_ppo_action_box_rescaled", "-", lambda: _ppo(make_vec_env(
         lambda: DeclaredActionBox(gym.make("Pendulum-v1"), -1.0, 1.0), n_envs=2, seed=0)), 1024),
    Case("healthy_ppo_float_images_divided", "-", lambda: _ppo(make_vec_env(
         lambda: GridImageEnv(np.float32, scale=1 / 255), n_envs=2, seed=0)), 1024),
    Case("healthy_ppo_layer_built_in_init", "-", lambda: _ppo(_cartpole(2), policy_kwargs=dict(
         net_arch=[32], features_extractor_class=LazyExtractor, features_extractor_kwargs=dict(lazy=False))), 2048),
    Case("healthy_ppo_extractor_layers_in_modulelist", "-", lambda: _ppo(_cartpole(2), policy_kwargs=dict(
         net_arch=[32], features_extractor_class=ListExtractor, features_extractor_kwargs=dict(registered=True))), 1024),
    Case("healthy_td3_with_ou_noise", "-", lambda: TD3("MlpPolicy", "MountainCarContinuous-v0", action_noise=(
         OrnsteinUhlenbeckActionNoise(np.zeros(1), 0.5 * np.ones(1))), **_small()), 2000),
    Case("healthy_dqn_cost_per_step_gamma_0_99", "-", lambda: DQN("MlpPolicy", make_vec_env(
         ShortestPathGrid, n_envs=4, seed=0), gamma=0.99, learning_starts=200, exploration_fraction=0.5, **_small()),
         4000),
    Case("healthy_env_budget_ends_as_truncation", "-", lambda: None, 0,
         env=lambda: OwnStepBudget(gym.make("Pendulum-v1", max_episode_steps=10_000), 200, as_truncation=True)),
    Case("healthy_env_obs_cast_to_float32", "-", lambda: None, 0,
         env=lambda: _observe("CartPole-v1", lambda o: o.astype(np.float64).astype(np.float32))),
    Case("healthy_qrdqn_resumed_epsilon_kept", "-", lambda: _resumed(QRDQN, fixed=True), 1500),
    Case("healthy_dqn_epsilon_after_learning", "-", lambda: DQN("MlpPolicy", make_vec_env(
         "CartPole-v1", seed=0), **_small(learning_starts=2000, exploration_fraction=0.75)), 4000),
    Case("healthy_tqc_pendulum", "-", lambda: TQC("MlpPolicy", "Pendulum-v1", **_small(learning_starts=100,
         batch_size=64)), 1500),
    Case("healthy_sac_critic_weight_decay", "-", lambda: regularise_critic(SAC("MlpPolicy", "Pendulum-v1",
         **_small(learning_starts=100, batch_size=64)), first_critic_only=False), 5600),
    Case("healthy_td3_critic_weight_decay", "-", lambda: regularise_critic(TD3("MlpPolicy", "Pendulum-v1",
         **_small(learning_starts=100, batch_size=64)), first_critic_only=False), 5000),
    Case("healthy_ppo_time_penalty_reset", "-", lambda: _ppo(_time_penalty(True)), 8000),
    Case("healthy_ppo_balanced_components", "-", lambda: _ppo(_cartpole(2, wrapper_class=RewardComponents,
         wrapper_kwargs=dict(angle_weight=10.0, center_weight=1.0))), 3000),
    Case("healthy_env_cartpole", "-", lambda: None, 0, env=lambda: gym.make("CartPole-v1"), quick=True),
    Case("healthy_env_pendulum", "-", lambda: None, 0, env=lambda: gym.make("Pendulum-v1")),
    # A +100 win under VecNormalize(clip_reward=10) is cut but still reaches the agent far above every +0.1 hit:
    # the final return is the same as with clip_reward=150 (106.2 vs 106.1). Clipping that loses nothing is fine.
    Case("healthy_ppo_win_bonus_clip10", "-", lambda: _ppo(VecNormalize(make_vec_env(WinBonusEnv, n_envs=4, seed=0),
         clip_reward=10.0)), 12000, quick=True),
    Case("healthy_ppo_sparse_chain_learned", "-", lambda: _ppo(make_vec_env(ChainEnv, n_envs=2, seed=0,
         env_kwargs=dict(length=20))), 6000),
    Case("healthy_ppo_win_bonus_clip150", "-", lambda: _ppo(VecNormalize(make_vec_env(WinBonusEnv, n_envs=4, seed=0),
         clip_reward=150.0)), 12000),
]

CASES: dict[str, Case] = {
    case.name: case for case in (FAULTS + REWARD_FAULTS + ENV_FAULTS + GRADIENT_AND_OFF_POLICY_FAULTS
                                 + PIPELINE_AND_CAPACITY_FAULTS + THREAD_FAULTS + HEALTHY)
}

