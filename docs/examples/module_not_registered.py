"""A custom features extractor that keeps its layers in a plain Python list: PyTorch never registers them."""

import torch
from stable_baselines3 import PPO

from sb3_diagnostics import check_policy


class ListExtractor(torch.nn.Module):
    def __init__(self, observation_space):
        super().__init__()
        self.features_dim = 16
        # the mistake: a list, not torch.nn.ModuleList(...)
        self.layers = [torch.nn.Linear(observation_space.shape[0], 16), torch.nn.Tanh()]

    def forward(self, obs):
        for layer in self.layers:
            obs = layer(obs)
        return obs


model = PPO("MlpPolicy", "CartPole-v1", policy_kwargs=dict(net_arch=[16], features_extractor_class=ListExtractor), seed=0)
report = check_policy(model)
print(report)
