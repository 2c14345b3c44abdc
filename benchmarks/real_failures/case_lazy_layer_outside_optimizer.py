"""
SB3 #1271 -- https://github.com/DLR-RM/stable-baselines3/issues/1271 ("[Feature Request] Make optimizer only when needed")

What the user saw: a policy that constructs its network during the first forward pass
("when the input shape is not known a priori") "fails silently(!) right now because the optimizer
is constructed at initialization, thus .parameters() doesn't contain self.net.parameters()".
Cause: parameters created after the optimizer are never in any optimizer param group -- they get
gradients but are never stepped; the policy trains only on what was built in __init__.

Reproduction: a features extractor that builds its Linear layer lazily in forward(), PPO CartPole.
Healthy twin: the same layer built in __init__ (SB3's documented way: compute the shape up front).
"""
import _harness as H
from stable_baselines3 import PPO
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from torch import nn

expected = ["param_no_grad (trainable parameter outside every optimizer group)"]
stage = "live"
STEPS = 15_000


class LazyExtractor(BaseFeaturesExtractor):
    def __init__(self, observation_space, features_dim=64):
        super().__init__(observation_space, features_dim)
        self.net = None

    def forward(self, x):
        if self.net is None:  # built on first call: after the optimizer exists
            self.net = nn.Sequential(nn.Linear(x.shape[1], self.features_dim), nn.Tanh()).to(x.device)
        return self.net(x)


class EagerExtractor(BaseFeaturesExtractor):
    def __init__(self, observation_space, features_dim=64):
        super().__init__(observation_space, features_dim)
        self.net = nn.Sequential(nn.Linear(observation_space.shape[0], features_dim), nn.Tanh())

    def forward(self, x):
        return self.net(x)


def make(cls):
    return lambda: PPO("MlpPolicy", "CartPole-v1", n_steps=512, batch_size=64, seed=0,
                       policy_kwargs=dict(features_extractor_class=cls, net_arch=[32]))


def main():
    H.report("case_lazy_layer_outside_optimizer", expected, stage, [
        H.live("faulty PPO, extractor built lazily in forward()", make(LazyExtractor), STEPS),
        H.live("healthy PPO, extractor built in __init__", make(EagerExtractor), STEPS),
    ])


if __name__ == "__main__":
    main()
