"""
SB3 #529 -- https://github.com/DLR-RM/stable-baselines3/issues/529 ("[Question] Exploration rate DQN algorithm")

What the user saw: "my network keeps predicting and sampling the same action for all states";
"by the time num_timesteps reaches learning_starts, the exploration rate is already at its end
value (exploration_final_eps)".
Cause (Miffyli: "Yes, this is somewhat expected. There are three parameters that control
exploration ..."): exploration_fraction * total_timesteps ends before learning_starts, so epsilon
has decayed to 0.05 while the Q-network is still untrained: the replay buffer fills with the
greedy actions of a random network (mostly one action) and exploration is gone once learning begins.

Reproduction: DQN on an 8x8 grid (reach the far corner, -1 per step, 100-step limit, one-hot
observation), total 20k, learning_starts=10_000, exploration_fraction=0.1 (epsilon hits 0.05 at
step 2000, 8000 steps before the first gradient step). Healthy twin: exploration ending after
learning starts (exploration_fraction=0.6 -> epsilon reaches its end at step 12000).
"""
import _harness as H
import gymnasium as gym
import numpy as np
from gymnasium import spaces
from stable_baselines3 import DQN
from stable_baselines3.common.env_util import make_vec_env

expected = ["exploration_ends_before_learning"]
stage = "live"
STEPS = 20_000
N = 8


class Grid(gym.Env):
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
        self.pos = np.clip(self.pos + [(0, 1), (1, 0), (0, -1), (-1, 0)][int(action)], 0, N - 1)
        self.t += 1
        goal = bool((self.pos == N - 1).all())
        return self._obs(), (0.0 if goal else -1.0), goal, self.t >= 100, {}


KW = dict(learning_starts=10_000, learning_rate=1e-3, train_freq=4, target_update_interval=500, batch_size=64,
          seed=0, policy_kwargs=dict(net_arch=[64, 64]))


def faulty():
    return DQN("MlpPolicy", make_vec_env(Grid, seed=0), exploration_fraction=0.1, **KW)


def healthy():
    return DQN("MlpPolicy", make_vec_env(Grid, seed=0), exploration_fraction=0.6, **KW)


def main():
    H.report("case_dqn_exploration_ends_early", expected, stage, [
        H.live("faulty DQN eps at 0.05 from step 2000, learning_starts=10000", faulty, STEPS),
        H.live("healthy DQN eps decays until step 12000", healthy, STEPS),
    ])


if __name__ == "__main__":
    main()
