"""LSTMResetCallback on real runs."""

from __future__ import annotations

from sb3_contrib import RecurrentPPO
from stable_baselines3.common.env_util import make_vec_env

from sb3_diagnostics import LSTMResetCallback, Severity
from sb3_diagnostics.faults import ForgetfulLstmPolicy, SwallowEpisodeEnd

SMALL_LSTM = dict(n_steps=64, batch_size=64, seed=0, policy_kwargs=dict(lstm_hidden_size=16, net_arch=[16]))


def test_custom_policy_ignoring_episode_starts(train):
    model = RecurrentPPO(ForgetfulLstmPolicy, make_vec_env("CartPole-v1", n_envs=2, seed=0), **SMALL_LSTM)
    run = train(model, 1024, LSTMResetCallback())
    assert run.severity("lstm_state_not_reset") == Severity.ERROR
    assert "ignores episode_starts" in run.findings[0].message


def test_wrapper_hiding_episode_ends(train):
    env = make_vec_env("CartPole-v1", n_envs=2, seed=0, wrapper_class=SwallowEpisodeEnd)
    run = train(RecurrentPPO("MlpLstmPolicy", env, **SMALL_LSTM), 1024, LSTMResetCallback())
    assert run.severity("lstm_state_not_reset") == Severity.ERROR
    assert "done=False" in run.findings[0].message


def test_stock_recurrent_ppo_resets_its_state(train):
    cb = LSTMResetCallback()
    run = train(RecurrentPPO("MlpLstmPolicy", make_vec_env("CartPole-v1", n_envs=2, seed=0), **SMALL_LSTM), 1024, cb)
    assert run.codes(Severity.INFO) == set()
    assert cb.logger is not None


def test_shared_and_critic_lstm_variants_reset_too(train):
    for kwargs in (dict(shared_lstm=True, enable_critic_lstm=False), dict(enable_critic_lstm=False)):
        small = dict(SMALL_LSTM, policy_kwargs=dict(lstm_hidden_size=16, net_arch=[16], **kwargs))
        run = train(RecurrentPPO("MlpLstmPolicy", make_vec_env("CartPole-v1", n_envs=2, seed=0), **small),
                    512, LSTMResetCallback())
        assert run.codes(Severity.INFO) == set(), kwargs
