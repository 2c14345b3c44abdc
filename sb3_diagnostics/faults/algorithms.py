"""Algorithms changed the way users change them, with a bug in the change (target updates, critic optimizers)."""

from __future__ import annotations

from stable_baselines3 import DQN, SAC
from stable_baselines3.common.off_policy_algorithm import OffPolicyAlgorithm
from stable_baselines3.common.utils import polyak_update


def regularise_critic(
    model: OffPolicyAlgorithm, weight_decay: float = 1e-4, first_critic_only: bool = True
) -> OffPolicyAlgorithm:
    """
    Rebuilds the critic's optimizer with weight decay over ``critic.q_networks[0]``: code written
    for a single critic (DDPG, ``n_critics=1``, where that network is *the* critic) and reused with
    SAC or TD3, which have twin critics by default. The second critic never leaves its
    initialisation (Q ~ 0) while the first learns the task's values, so the twins drift apart by
    ``|Q1|`` (and the gradient check sees parameters that belong to no optimizer).
    ``first_critic_only=False`` is the fix: the same optimizer over every critic.

    :param model: SAC, TD3 or DDPG (anything whose ``critic`` has ``q_networks``)
    :param weight_decay: L2 penalty of the rebuilt optimizer
    :param first_critic_only: the bug: optimise only ``critic.q_networks[0]``
    :return: the model, modified in place
    """
    policy, critic = model.policy, model.critic  # type: ignore[attr-defined]
    # the fix, as SB3 builds it: every critic parameter but a features extractor shared with the actor
    every = [p for name, p in critic.named_parameters() if "features_extractor" not in name]
    params = list(critic.q_networks[0].parameters()) if first_critic_only else every
    kwargs = {**policy.optimizer_kwargs, "weight_decay": weight_decay}
    critic.optimizer = policy.optimizer_class(params, lr=model.lr_schedule(1.0), **kwargs)  # type: ignore[call-arg]
    return model


class DoubleUpdateSAC(SAC):
    """The learner loop calls the soft target update, and so does ``train()``: the target moves twice per step."""

    def train(self, gradient_steps: int, batch_size: int = 64) -> None:
        super().train(gradient_steps, batch_size)
        polyak_update(self.critic.parameters(), self.critic_target.parameters(), self.tau)


class DoubleUpdateDQN(DQN):
    """A soft-update DQN with its own target update after SB3's: the target moves twice as fast."""

    def _on_step(self) -> None:
        super()._on_step()
        if self._n_calls % max(self.target_update_interval // self.n_envs, 1) == 0:
            polyak_update(self.q_net.parameters(), self.q_net_target.parameters(), self.tau)


class EveryStepUpdateDQN(DQN):
    """``target_update_interval`` says every N steps, but ``train()`` updates the target at every gradient step."""

    def train(self, gradient_steps: int, batch_size: int = 100) -> None:
        super().train(gradient_steps, batch_size)
        polyak_update(self.q_net.parameters(), self.q_net_target.parameters(), self.tau)
