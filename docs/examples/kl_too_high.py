"""PPO with learning_rate=0.1 (about 300x SB3's default) and 20 epochs per rollout: every update moves the policy too far."""

from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env

from sb3_diagnostics import DiagnosticsCallback

model = PPO("MlpPolicy", make_vec_env("CartPole-v1", n_envs=1, seed=0), learning_rate=0.1, n_epochs=20,
            n_steps=256, batch_size=64, policy_kwargs=dict(net_arch=[32, 32]), seed=0)
cb = DiagnosticsCallback()
model.learn(4096, callback=cb)
print(cb.report())
