"""LSTMResetCallback on real runs: a policy that ignores episode_starts, a wrapper that hides episode ends."""

import torch as th
from conftest import train
from sb3_contrib import RecurrentPPO
from sb3_contrib.common.recurrent.policies import RecurrentActorCriticPolicy
from stable_baselines3.common.env_util import make_vec_env

from sb3_diagnostics import LSTMResetCallback, Severity
from sb3_diagnostics.envs import SwallowEpisodeEnd

SMALL_LSTM = dict(n_steps=64, batch_size=64, seed=0, policy_kwargs=dict(lstm_hidden_size=16, net_arch=[16]))


class ForgetfulLstmPolicy(RecurrentActorCriticPolicy):
    """A custom recurrent policy whose sequence processing never resets the state."""

    @staticmethod
    def _process_sequence(features, lstm_states, episode_starts, lstm):  # type: ignore[no-untyped-def]
        never = th.zeros_like(episode_starts)
        return RecurrentActorCriticPolicy._process_sequence(features, lstm_states, never, lstm)


def test_custom_policy_ignoring_episode_starts():
    model = RecurrentPPO(ForgetfulLstmPolicy, make_vec_env("CartPole-v1", n_envs=2, seed=0), **SMALL_LSTM)
    run = train(model, 1024, LSTMResetCallback())
    assert run.severity("lstm_state_not_reset") == Severity.ERROR
    assert "ignores episode_starts" in run.findings[0].message


def test_wrapper_hiding_episode_ends():
    env = make_vec_env("CartPole-v1", n_envs=2, seed=0, wrapper_class=SwallowEpisodeEnd)
    run = train(RecurrentPPO("MlpLstmPolicy", env, **SMALL_LSTM), 1024, LSTMResetCallback())
    assert run.severity("lstm_state_not_reset") == Severity.ERROR
    assert "done=False" in run.findings[0].message


def test_stock_recurrent_ppo_resets_its_state():
    cb = LSTMResetCallback()
    run = train(RecurrentPPO("MlpLstmPolicy", make_vec_env("CartPole-v1", n_envs=2, seed=0), **SMALL_LSTM), 1024, cb)
    assert run.codes(Severity.INFO) == set()
    assert cb.logger is not None


def test_shared_and_critic_lstm_variants_reset_too():
    for kwargs in (dict(shared_lstm=True, enable_critic_lstm=False), dict(enable_critic_lstm=False)):
        small = dict(SMALL_LSTM, policy_kwargs=dict(lstm_hidden_size=16, net_arch=[16], **kwargs))
        run = train(RecurrentPPO("MlpLstmPolicy", make_vec_env("CartPole-v1", n_envs=2, seed=0), **small),
                    512, LSTMResetCallback())
        assert run.codes(Severity.INFO) == set(), kwargs
