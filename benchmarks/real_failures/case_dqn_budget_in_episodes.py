"""
Trystan4/SSP_RL #34 -- https://github.com/Trystan4/SSP_RL/issues/34 ("SSP-501 -- DQN, configuration assainie")

What the project saw: its stable-baselines3 DQN on stochastic-shortest-path instances "could not
learn anything" (committed figures flat).
Cause written in the issue: learning_starts was 10,000 while the training budget passed to learn()
was the number of *episodes* typed at the keyboard (100 in the committed runs): "no gradient step
was ever executed"; in addition, constructor arguments passed positionally shifted epsilon into
the discount parameter (gamma = 0.1). Fix: learning_starts bounded to 1/20 of the budget,
parameters passed by name.

Reproduction: a 6x6 shortest-path grid (cost 1 per move, one-hot observation); faulty run 1 =
learning_starts=10_000 with learn(total_timesteps=<episodes typed>=3000); faulty run 2 = the
budget fixed but gamma=0.1 (epsilon in the discount slot). Healthy twin: learning_starts = budget/20,
gamma=0.99, all by name.
"""
import _harness as H
import gymnasium as gym
import numpy as np
from gymnasium import spaces
from stable_baselines3 import DQN
from stable_baselines3.common.env_util import make_vec_env

expected = [
    "policy_not_updating (run 1: no gradient step at all)",
    "gamma_horizon_mismatch (run 2: gamma=0.1, goal ~10 steps away)",
]
stage = "live"
BUDGET = 12_000
N = 6


class ShortestPath(gym.Env):
    def __init__(self):
        self.observation_space = spaces.Box(0, 1, (N * N,), np.float32)
        self.action_space = spaces.Discrete(4)

    def _obs(self):
        o = np.zeros(N * N, np.float32)
        o[self.pos[0] * N + self.pos[1]] = 1
        return o

    def reset(self, seed=None, options=None):
        super().reset(seed=seed)
        self.pos, self.t = np.array([0, 0]), 0
        return self._obs(), {}

    def step(self, action):
        move = [(0, 1), (1, 0), (0, -1), (-1, 0)][int(action)]
        if self.np_random.random() < 0.1:  # stochastic shortest path: 10% slip
            move = [(0, 1), (1, 0), (0, -1), (-1, 0)][int(self.np_random.integers(4))]
        self.pos = np.clip(self.pos + move, 0, N - 1)
        self.t += 1
        goal = bool((self.pos == N - 1).all())
        return self._obs(), (0.0 if goal else -1.0), goal, self.t >= 100, {}


KW = dict(learning_rate=1e-3, batch_size=64, train_freq=4, target_update_interval=250, exploration_fraction=0.3,
          seed=0, policy_kwargs=dict(net_arch=[64, 64]))


def no_gradient_step():
    return DQN("MlpPolicy", make_vec_env(ShortestPath, seed=0), learning_starts=10_000, gamma=0.99, **KW)


def gamma_is_epsilon():
    return DQN("MlpPolicy", make_vec_env(ShortestPath, seed=0), learning_starts=BUDGET // 20, gamma=0.1, **KW)


def healthy():
    return DQN("MlpPolicy", make_vec_env(ShortestPath, seed=0), learning_starts=BUDGET // 20, gamma=0.99, **KW)


def main():
    H.report("case_dqn_budget_in_episodes", expected, stage, [
        H.live("faulty 1: learning_starts=10000, learn(3000 'episodes')", no_gradient_step, 3000),
        H.live("faulty 2: gamma=0.1 (epsilon in the discount slot)", gamma_is_epsilon, BUDGET),
        H.live("healthy: learning_starts=budget/20, gamma=0.99", healthy, BUDGET),
    ])


if __name__ == "__main__":
    main()
