"""A wrapper whose reset() ignores the seed it is given: every episode starts in the same state."""

import gymnasium as gym

from sb3_diagnostics import check_training_env


class FixedStart(gym.Wrapper):
    def reset(self, *, seed=None, options=None):
        return self.env.reset(seed=0)  # the mistake: a hard-coded seed


env = FixedStart(gym.make("CartPole-v1"))
report = check_training_env(env)
print(report)
