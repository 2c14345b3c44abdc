"""An action mapping that always sends action 0 to the simulation."""

import gymnasium as gym

from sb3_diagnostics import check_training_env

env = gym.wrappers.TransformAction(gym.make("CartPole-v1"), lambda a: 0, gym.make("CartPole-v1").action_space)
report = check_training_env(env)
print(report)
