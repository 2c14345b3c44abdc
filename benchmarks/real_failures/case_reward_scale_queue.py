"""
SB3 #2240 -- https://github.com/DLR-RM/stable-baselines3/issues/2240
"[Question] whether my ppo implementation for sumo-rl env is converged?"

What the user saw: PPO on single-intersection traffic-signal control (4 discrete phases, 200 steps
per episode, n_steps=2000, ent_coef=0.15, no VecNormalize): explained_variance ~5.96e-8 for the
whole 1.1M-step run, value_loss ~738k and still falling, entropy stuck near ln(4).
Cause shown in the thread: the reward "accumulates vehicle queue values each step", so per-step
rewards are in the hundreds and nothing normalises them (plus a large ent_coef).

Reproduction: a toy 4-approach intersection; reward = -10 * sum(queue lengths) (hundreds per step),
raw queue lengths as observation, PPO(ent_coef=0.15, no normalisation). Healthy twin: the thread's
fix -- VecNormalize (observations and rewards) and a normal ent_coef (0.01).
"""
import _harness as H
import gymnasium as gym
import numpy as np
from gymnasium import spaces
from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.vec_env import VecNormalize

expected = ["reward_scale_huge", "critic_not_learning", "policy_stays_random"]  # root first
stage = "live+preflight"
STEPS = 14_000


class QueueIntersection(gym.Env):
    """4 approaches; the action picks the green phase, which discharges up to 5 cars from that queue."""

    ARRIVAL = np.array([1.4, 0.9, 1.2, 0.7])

    def __init__(self):
        self.observation_space = spaces.Box(0, np.inf, (4,), np.float32)
        self.action_space = spaces.Discrete(4)

    def reset(self, seed=None, options=None):
        super().reset(seed=seed)
        self.q = self.np_random.integers(0, 10, 4).astype(np.float64)
        self.t = 0
        return self.q.astype(np.float32), {}

    def step(self, action):
        self.q += self.np_random.poisson(self.ARRIVAL)
        self.q[action] = max(0.0, self.q[action] - 5)
        self.t += 1
        reward = -10.0 * float(self.q.sum())  # "priority pressure": accumulated queue values
        return self.q.astype(np.float32), reward, False, self.t >= 200, {}


def faulty():
    env = make_vec_env(QueueIntersection, n_envs=1, seed=0)
    return PPO("MlpPolicy", env, n_steps=1024, batch_size=64, ent_coef=0.15, seed=0,
               policy_kwargs=dict(net_arch=[64, 64]))


def healthy():
    env = VecNormalize(make_vec_env(QueueIntersection, n_envs=1, seed=0))
    return PPO("MlpPolicy", env, n_steps=1024, batch_size=64, ent_coef=0.01, seed=0,
               policy_kwargs=dict(net_arch=[64, 64]))


def main():
    H.report("case_reward_scale_queue", expected, stage, [
        H.preflight("faulty env", QueueIntersection),
        H.live("faulty PPO, raw rewards, ent_coef=0.15", faulty, STEPS),
        H.live("healthy PPO, VecNormalize, ent_coef=0.01", healthy, STEPS),
    ])


if __name__ == "__main__":
    main()
