"""
SB3 #268 -- https://github.com/DLR-RM/stable-baselines3/issues/268 ("CNN policy needs a normalize preprocess?")

What the user saw: a custom CNN on observations declared spaces.Box(0, 255, shape=(3,128,128),
dtype='float32') learns poorly; after the user normalised the images themselves "it seems to be
necessary ... to make it better to learn".
Cause (araffin): SB3 only rescales image spaces that are uint8 (normalize_images applies to
uint8 Box(0, 255)); float32 images in [0, 255] reach the network unscaled.

Reproduction: a tiny visual task (a bright bar on the left or right of a 3x24x24 float32 image in
[0, 255]; pick the side) with a custom CNN features extractor, PPO. Healthy twin: the same images
divided by 255 (Box(0, 1)), as the user ended up doing.
"""
import _harness as H
import gymnasium as gym
import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from torch import nn

expected = ["image_obs_not_scaled"]
stage = "preflight (+live)"
STEPS = 6_000


class SideEnv(gym.Env):
    def __init__(self, scaled: bool = False):
        self.scaled = scaled
        high = 1.0 if scaled else 255.0
        self.observation_space = spaces.Box(0, high, (3, 24, 24), np.float32)
        self.action_space = spaces.Discrete(2)

    def _img(self):
        img = self.np_random.uniform(0, 120, (3, 24, 24)).astype(np.float32)
        cols = slice(2, 8) if self.side == 0 else slice(16, 22)
        img[:, 6:18, cols] = 255.0
        return img / 255.0 if self.scaled else img

    def reset(self, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        self.side = int(self.np_random.integers(2))
        return self._img(), {}

    def step(self, action):
        reward = 1.0 if int(action) == self.side else -1.0
        self.t += 1
        self.side = int(self.np_random.integers(2))
        return self._img(), reward, False, self.t >= 20, {}


class SmallCNN(BaseFeaturesExtractor):
    def __init__(self, observation_space, features_dim=32):
        super().__init__(observation_space, features_dim)
        self.cnn = nn.Sequential(nn.Conv2d(3, 8, 4, stride=2), nn.ReLU(), nn.Conv2d(8, 8, 3, stride=2), nn.ReLU(),
                                 nn.Flatten())
        with th.no_grad():
            n = self.cnn(th.zeros(1, *observation_space.shape)).shape[1]
        self.linear = nn.Sequential(nn.Linear(n, features_dim), nn.ReLU())

    def forward(self, x):
        return self.linear(self.cnn(x))


KW = dict(n_steps=256, batch_size=64, seed=0, policy_kwargs=dict(features_extractor_class=SmallCNN, net_arch=[32]))


def faulty():
    return PPO("MlpPolicy", make_vec_env(SideEnv, n_envs=2, seed=0), **KW)


def healthy():
    return PPO("MlpPolicy", make_vec_env(lambda: SideEnv(True), n_envs=2, seed=0), **KW)


def main():
    H.report("case_float_images_0_255", expected, stage, [
        H.preflight("faulty env float32 [0, 255]", SideEnv),
        H.preflight("healthy env float32 [0, 1]", lambda: SideEnv(True)),
        H.live("faulty PPO custom CNN", faulty, STEPS),
        H.live("healthy PPO custom CNN", healthy, STEPS),
    ])


if __name__ == "__main__":
    main()
