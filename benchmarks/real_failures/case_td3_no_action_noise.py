"""
SB3 #936 -- https://github.com/DLR-RM/stable-baselines3/issues/936
("`MountainCarContinuous-v0` with `DDPG` and `TD3` does not learn")

What the user saw: TD3("MlpPolicy", "MountainCarContinuous-v0") from the README example,
learn(10_000): the agent does not learn (it learns to stay still and save the action cost).
Cause (qgallouedec): no exploration noise -- SB3's TD3/DDPG act deterministically unless
action_noise is given, and after the short uniform warm-up the car never reaches the flag.
Fix from the thread: action_noise=OrnsteinUhlenbeckActionNoise(0, 0.5) and a longer budget.

Reproduction: exactly the user's TD3 call (default hyper-parameters except a small net) vs the
thread's fix (OU noise sigma=0.5), same budget.
"""
import _harness as H
import numpy as np
from stable_baselines3 import TD3
from stable_baselines3.common.noise import OrnsteinUhlenbeckActionNoise

expected = ["action_noise_missing"]
stage = "live"
STEPS = 4_000


def faulty():
    return TD3("MlpPolicy", "MountainCarContinuous-v0", seed=0, policy_kwargs=dict(net_arch=[64, 64]))


def healthy():
    noise = OrnsteinUhlenbeckActionNoise(np.zeros(1), 0.5 * np.ones(1))
    return TD3("MlpPolicy", "MountainCarContinuous-v0", action_noise=noise, seed=0,
               policy_kwargs=dict(net_arch=[64, 64]))


def main():
    H.report("case_td3_no_action_noise", expected, stage, [
        H.live("faulty TD3 without action noise", faulty, STEPS),
        H.live("healthy TD3 with OU noise 0.5", healthy, STEPS),
    ])


if __name__ == "__main__":
    main()
