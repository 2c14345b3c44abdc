"""A custom LSTM policy that ignores episode_starts: its memory leaks from one episode into the next."""

from sb3_contrib import RecurrentPPO
from stable_baselines3.common.env_util import make_vec_env

from sb3_diagnostics import DiagnosticsCallback
from sb3_diagnostics.faults import ForgetfulLstmPolicy  # the library's fault reproductions (not a stable API)

model = RecurrentPPO(ForgetfulLstmPolicy, make_vec_env("CartPole-v1", n_envs=2, seed=0), n_steps=64, batch_size=64,
                     policy_kwargs=dict(lstm_hidden_size=16, net_arch=[16]), seed=0)
cb = DiagnosticsCallback()
model.learn(1024, callback=cb)
print(cb.report())
