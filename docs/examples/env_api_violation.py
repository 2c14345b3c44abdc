"""Blackjack's Tuple observations, which SB3 cannot train on (SB3 #1140): SB3's own check_env says so."""

import gymnasium as gym

from sb3_diagnostics import check_training_env

report = check_training_env(gym.make("Blackjack-v1"))
print(report)
