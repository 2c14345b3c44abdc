"""
SB3 #526 -- https://github.com/DLR-RM/stable-baselines3/issues/526 ("DQN example fails")

What the user saw: the documentation's DQN example (DQN("MlpPolicy", CartPole, verbose=1),
learn(total_timesteps=10000)) does not learn CartPole, while A2C does.
Cause (Miffyli): total_timesteps (10k) is much lower than learning_starts (50k, SB3 1.x's DQN
default), "so there is no actual learning happening" -- not one gradient step.

Reproduction: DQN on CartPole with learning_starts=50_000 (the then-default) and learn(10_000).
Healthy twin: rl-zoo3's tuned CartPole DQN hyper-parameters (learning_starts=1000, train_freq=256,
gradient_steps=128, target_update_interval=10, exploration_fraction=0.16, lr=2.3e-3), same budget.
"""
import _harness as H
from stable_baselines3 import DQN

expected = ["policy_not_updating"]
stage = "live"
STEPS = 10_000


def faulty():
    return DQN("MlpPolicy", "CartPole-v1", learning_starts=50_000, seed=0, policy_kwargs=dict(net_arch=[64, 64]))


def healthy():
    return DQN("MlpPolicy", "CartPole-v1", learning_rate=2.3e-3, batch_size=64, buffer_size=100_000,
               learning_starts=1000, gamma=0.99, target_update_interval=10, train_freq=256, gradient_steps=128,
               exploration_fraction=0.16, exploration_final_eps=0.04, seed=0, policy_kwargs=dict(net_arch=[64, 64]))


def main():
    H.report("case_dqn_learning_starts", expected, stage, [
        H.live("faulty DQN learning_starts=50000, learn(10000)", faulty, STEPS),
        H.live("healthy DQN rl-zoo3 CartPole params", healthy, STEPS),
    ])


if __name__ == "__main__":
    main()
