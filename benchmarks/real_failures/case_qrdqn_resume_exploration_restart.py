"""
SB3 #1340 -- https://github.com/DLR-RM/stable-baselines3/issues/1340 ("Will exploration continue when I load a saved agent?"),
same failure reported for DQN in SB3 #1629 (https://github.com/DLR-RM/stable-baselines3/issues/1629,
"DQN resets exploration rate from saved model": after reload "the exploration rate gets back to 1,
not 0.05 as before" and rewards drop to small values) and rl-zoo3 #490.

What the users saw: a QR-DQN / DQN agent trained with a linear epsilon decay is saved, loaded and
trained further with model.learn(); the new learn() starts exploring from exploration_initial_eps
again and performance collapses to random.
Cause (araffin): learn() resets num_timesteps by default (reset_num_timesteps=True), so the
exploration schedule restarts from the beginning; either pass reset_num_timesteps=False or set
exploration_initial/final_eps / exploration_fraction when loading.

Reproduction: QRDQN on CartPole (#1340's exploration settings: exploration_fraction=0.3,
exploration_initial_eps=0.99, exploration_final_eps=0.001; gamma left at 0.99), trained 15k, saved, loaded,
learn(8000) again. Healthy twin: the second learn() with reset_num_timesteps=False.
"""
import os
import tempfile

import _harness as H
import gymnasium as gym
from sb3_contrib import QRDQN

expected = ["exploration_restarted"]
stage = "live"
PRETRAIN, STEPS = 15_000, 8_000
TMP = tempfile.mkdtemp(prefix="qrdqn_case_")


def _pretrain():
    path = os.path.join(TMP, "qrdqn")
    if not os.path.exists(path + ".zip"):
        m = QRDQN("MlpPolicy", "CartPole-v1", learning_rate=2.3e-3, batch_size=64, learning_starts=1000,
                  train_freq=4, gradient_steps=1, target_update_interval=500, exploration_fraction=0.3,
                  exploration_initial_eps=0.99, exploration_final_eps=0.001, seed=0,
                  policy_kwargs=dict(net_arch=[64, 64], n_quantiles=25))
        m.learn(PRETRAIN)
        m.save(path)
        print(f"stage 1: mean return {H.mean_return(m):.1f}, final epsilon {m.exploration_rate:.3f}")
    return path


def loaded():
    return QRDQN.load(_pretrain(), env=gym.make("CartPole-v1"), seed=0)


def main():
    H.report("case_qrdqn_resume_exploration_restart", expected, stage, [
        H.live("faulty: load + learn() (reset_num_timesteps=True default)", loaded, STEPS),
        H.live("healthy: load + learn(reset_num_timesteps=False)", loaded, STEPS,
               learn_kwargs=dict(reset_num_timesteps=False)),
    ])


if __name__ == "__main__":
    main()
