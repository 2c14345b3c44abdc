"""
SB3 #284 -- https://github.com/DLR-RM/stable-baselines3/issues/284
("[Bug] Infinite horizon tasks are handled like episodic tasks"); follow-up SB3 #633 for on-policy.

What the user saw: SAC on an infinite-horizon task wrapped in a time limit: the episode end at
the time limit is stored as done=True, so the target r + (1 - done) * gamma * Q(s') drops the
bootstrap and the last states look terminal ("we should not see that last state as a terminal
state", Pardo et al. 2018, Time Limits in RL).
Cause: a timeout reported as termination. (SB3 now handles `truncated`/TimeLimit.truncated --
the mistake remains in any env that returns terminated=True when its step budget runs out.)

Reproduction: Pendulum (an infinite-horizon swing-up) inside a custom env that ends its episode
itself after 200 steps with terminated=True. Healthy twin: the same env returning truncated=True.
"""
import _harness as H
import gymnasium as gym
from stable_baselines3 import SAC
from stable_baselines3.common.env_util import make_vec_env

expected = ["timeout_as_termination"]
stage = "live (+preflight)"
STEPS = 3_000


class MyPendulum(gym.Wrapper):
    """The user's env: counts its own steps and says done at 200."""

    def __init__(self, as_truncation: bool):
        super().__init__(gym.make("Pendulum-v1", max_episode_steps=10_000))
        self.as_truncation = as_truncation

    def reset(self, **kw):
        self.t = 0
        return self.env.reset(**kw)

    def step(self, action):
        obs, r, term, trunc, info = self.env.step(action)
        self.t += 1
        if self.t >= 200:
            if self.as_truncation:
                trunc = True
            else:
                term = True
        return obs, r, term, trunc, info


def make(as_truncation):
    return lambda: SAC("MlpPolicy", make_vec_env(lambda: MyPendulum(as_truncation), seed=0), learning_starts=200,
                       batch_size=128, learning_rate=1e-3, seed=0, policy_kwargs=dict(net_arch=[64, 64]))


def main():
    H.report("case_sac_timeout_as_termination", expected, stage, [
        H.preflight("faulty env (terminated=True at 200)", lambda: MyPendulum(False), n_steps=1000),
        H.live("faulty SAC, timeout as termination", make(False), STEPS),
        H.live("healthy SAC, timeout as truncation", make(True), STEPS),
    ])


if __name__ == "__main__":
    main()
