"""GradientCallback on real runs."""

from __future__ import annotations

import gymnasium as gym
import pytest
from sb3_contrib import TRPO, CrossQ, RecurrentPPO
from stable_baselines3 import A2C, DQN, PPO, SAC, TD3
from stable_baselines3.common.env_util import make_vec_env

from sb3_diagnostics import BufferShapeCallback, DiagnosticsCallback, Severity
from sb3_diagnostics.callbacks.gradients import GradientCallback
from sb3_diagnostics.callbacks.nan import NaNCallback
from sb3_diagnostics.errors import InvalidThresholdError
from sb3_diagnostics.faults import (
    DetachedExtractor,
    LateValueHeadPolicy,
    LazyExtractor,
    ListExtractor,
    ObservationScale,
    RewardScale,
)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_huge_rewards_explode_gradients(ppo_small, train, seed):
    # Rewards x1e4 (returns of ~1e5): the value loss's gradients sit at ~1.7e5 before clipping on every
    # seed, 17x the threshold. (A learning rate of 100 is not used here: what its gradients do after the
    # first update is chaotic, 4e3 on one CPU and 1e6 on another; its KL is not, see rules/kl.)
    env = make_vec_env("CartPole-v1", seed=seed, wrapper_class=RewardScale, wrapper_kwargs=dict(scale=1e4))
    run = train(PPO("MlpPolicy", env, **ppo_small(seed=seed)), 768, GradientCallback())
    finding = next(f for f in run.findings if f.code == "grad_norm_exploding")
    assert finding.severity == Severity.WARNING and finding.value > 5e4
    assert run.warned("grad_norm_exploding")


def test_default_learning_rate_keeps_gradients_moderate(ppo_small, train):
    run = train(PPO("MlpPolicy", "CartPole-v1", **ppo_small()), 2048, GradientCallback())
    assert run.codes(Severity.INFO) == set()


def test_norm_every_must_be_a_whole_number_of_steps():
    with pytest.raises(InvalidThresholdError, match="norm_every=0"):
        GradientCallback(norm_every=0)
    with pytest.raises(InvalidThresholdError, match="norms_per_update=0"):
        GradientCallback(norms_per_update=0)


def test_unnormalised_observations_saturate_the_td3_actor(tiny, train):
    # Observations in raw sensor units (x1000): the tanh output of TD3's actor saturates, its
    # gradient vanishes while its loss (-Q) is far from 0; the critic's gradients explode.
    env = ObservationScale(gym.make("Pendulum-v1"), 1000.0)
    cb = GradientCallback(off_policy_interval=100)
    run = train(TD3("MlpPolicy", env, learning_starts=100, batch_size=64, **tiny()), 800, cb)
    # the actor's vanishing gradient is only info: a deterministic actor at its action bounds has none by design
    # (rl-zoo3's DDPG on MountainCarContinuous, healthy, looks the same); the exploding critic is the warning
    vanishing = next(f for f in run.findings if f.code == "grad_norm_vanishing")
    assert vanishing.severity == Severity.INFO and "actor gradient" in vanishing.message
    assert "bang-bang" in vanishing.message
    exploding = next(f for f in run.findings if f.code == "grad_norm_exploding")
    assert exploding.severity == Severity.WARNING and "critic gradient" in exploding.message


def test_detached_features_extractor_never_learns(train):
    kwargs = dict(features_extractor_class=DetachedExtractor, features_extractor_kwargs=dict(detach=True), net_arch=[16])
    model = PPO("MlpPolicy", "CartPole-v1", n_steps=128, batch_size=64, seed=0, policy_kwargs=kwargs)
    run = train(model, 768, GradientCallback())
    assert run.severity("param_no_grad") == Severity.ERROR
    finding = next(f for f in run.findings if f.code == "param_no_grad")
    assert "features_extractor.linear.weight" in finding.message and "detach" in finding.message
    assert finding.value == 2  # weight and bias


def test_attached_features_extractor_is_quiet(train):
    kwargs = dict(features_extractor_class=DetachedExtractor, features_extractor_kwargs=dict(detach=False), net_arch=[16])
    model = PPO("MlpPolicy", "CartPole-v1", n_steps=128, batch_size=64, seed=0, policy_kwargs=kwargs)
    assert train(model, 768, GradientCallback()).codes(Severity.INFO) == set()


def test_layer_created_after_the_optimizer(train):
    model = PPO(LateValueHeadPolicy, "CartPole-v1", n_steps=128, batch_size=64, seed=0, policy_kwargs=dict(net_arch=[16]))
    run = train(model, 768, GradientCallback())
    finding = next(f for f in run.findings if f.code == "param_no_grad")
    assert finding.severity == Severity.ERROR and "value_net.weight" in finding.message and "no optimizer" in finding.message


@pytest.mark.parametrize("lazy", [True, False])
def test_layer_built_in_forward_after_learn_started(train, lazy):
    # built in the first forward(), the layer is in no optimizer's param groups: it gets gradients, is never stepped
    model = PPO("MlpPolicy", "CartPole-v1", n_steps=128, batch_size=64, seed=0, policy_kwargs=dict(
        net_arch=[16], features_extractor_class=LazyExtractor, features_extractor_kwargs=dict(lazy=lazy)))
    found = [f for f in train(model, 512, GradientCallback()).findings if f.code == "param_no_grad"]
    if lazy:
        assert found and "features_extractor.net.0.weight" in found[0].message
    else:  # the fix: the layer built in __init__ (its input size from observation_space)
        assert found == []


@pytest.mark.parametrize(("algo", "env", "registered"), [
    (PPO, "CartPole-v1", False), (PPO, "CartPole-v1", True), (DQN, "CartPole-v1", False), (DQN, "CartPole-v1", True),
])
def test_layers_in_a_plain_list_are_reported_live(train, algo, env, registered):
    # A custom extractor that keeps its layers in a Python list: they are in no optimizer and get no gradient hook,
    # so only the module tree shows them. The live callback says so when training starts, as check_policy does.
    model = algo("MlpPolicy", env, seed=0, policy_kwargs=dict(
        net_arch=[16], features_extractor_class=ListExtractor, features_extractor_kwargs=dict(registered=registered)))
    run = train(model, 256, DiagnosticsCallback())
    found = [f for f in run.findings if f.code == "module_not_registered"]
    if registered:  # the fix: the same layers in an nn.ModuleList
        assert found == []
    else:
        [finding] = found
        assert finding.severity == Severity.ERROR and finding.step == 0 and "features_extractor.layers[0]" in finding.message
        assert "layers[1]" not in finding.message  # the Tanh next to it has nothing to train
        assert "ModuleList" in finding.hint


@pytest.mark.parametrize("make_model, steps", [
    (lambda tiny: PPO("MlpPolicy", "CartPole-v1", **tiny(n_steps=256, batch_size=64)), 1024),
    (lambda tiny: A2C("MlpPolicy", "CartPole-v1", **tiny(n_steps=8)), 400),
    # TRPO updates its actor outside the optimizer and sets the actor's gradients to None before each critic step
    (lambda tiny: TRPO("MlpPolicy", "CartPole-v1", **tiny(n_steps=256, batch_size=64)), 1024),
    (lambda tiny: RecurrentPPO("MlpLstmPolicy", "CartPole-v1", n_steps=64, batch_size=64, seed=0,
                          policy_kwargs=dict(lstm_hidden_size=8, net_arch=[8])), 256),
    # gSDE: log_std is the std of the exploration matrix, and it does get gradients
    (lambda tiny: PPO("MlpPolicy", "Pendulum-v1", use_sde=True, **tiny(n_steps=256, batch_size=64)), 768),
], ids=["ppo", "a2c", "trpo", "recurrent_ppo", "ppo_gsde"])
def test_stock_on_policy_algorithms_are_quiet(train, tiny, make_model, steps):
    run = train(make_model(tiny), steps, [GradientCallback(), NaNCallback(), BufferShapeCallback()])
    assert run.findings == [], [(f.code, f.message) for f in run.findings]


# Delayed actor updates: the actor's optimizer steps once every `policy_delay` gradient steps, so the
# sampled gradient steps of an off-policy window may hold only critic steps. A parameter is "without
# gradient" only when its optimizer took a sampled step and its gradient was still missing.
@pytest.mark.parametrize("make_model, interval", [
    (lambda tiny: TD3("MlpPolicy", "Pendulum-v1", policy_delay=3, learning_starts=100, batch_size=32, **tiny()), 1),
    (lambda tiny: TD3("MlpPolicy", "Pendulum-v1", policy_delay=3, learning_starts=100, batch_size=32, **tiny()), 50),
    (lambda tiny: SAC("MlpPolicy", "Pendulum-v1", learning_starts=100, batch_size=32, **tiny()), 1),
    # CrossQ's defaults: policy_delay=3, batch norm in the critic
    (lambda tiny: CrossQ("MlpPolicy", "Pendulum-v1", learning_starts=100, batch_size=32, **tiny()), 1),
    (lambda tiny: CrossQ("MlpPolicy", "Pendulum-v1", learning_starts=100, batch_size=32, **tiny()), 50),
], ids=["td3_delay3_every_step", "td3_delay3", "sac_every_step", "crossq_every_step", "crossq"])
def test_delayed_actor_updates_are_not_missing_gradients(train, tiny, make_model, interval):
    checks = [GradientCallback(off_policy_interval=interval), NaNCallback(off_policy_interval=interval)]
    run = train(make_model(tiny), 600, checks)
    assert "param_no_grad" not in run.codes(Severity.INFO), [(f.code, f.message) for f in run.findings]
    assert run.codes() == set(), [(f.code, f.message) for f in run.findings]


def test_detached_td3_critic_extractor_is_still_caught_with_delayed_actor(train):
    # the fault behind the rule: a critic whose features never get a gradient, with policy_delay=3
    kwargs = dict(features_extractor_class=DetachedExtractor, features_extractor_kwargs=dict(detach=True),
                  net_arch=[16], share_features_extractor=False)
    model = TD3("MlpPolicy", "Pendulum-v1", policy_delay=3, learning_starts=100, batch_size=32, seed=0, policy_kwargs=kwargs)
    run = train(model, 600, GradientCallback(off_policy_interval=1))
    assert run.severity("param_no_grad") == Severity.ERROR
    assert "features_extractor.linear.weight" in next(f for f in run.findings if f.code == "param_no_grad").message



def test_a_bottleneck_in_net_arch_is_reported_when_training_starts(ppo_small, train):
    # net_arch=dict(pi=[2], vf=[64]): the actor sees the 4-dim CartPole state through 2 units
    model = PPO("MlpPolicy", "CartPole-v1", **ppo_small(policy_kwargs=dict(net_arch=dict(pi=[2], vf=[64]))))
    (finding,) = train(model, 256, GradientCallback()).findings
    assert finding.code == "network_too_small" and finding.step == 0 and "net_arch['pi'][0] = 2" in finding.message
    assert train(PPO("MlpPolicy", "CartPole-v1", **ppo_small()), 256, GradientCallback()).findings == []


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_learning_rate_of_100_is_named_by_its_kl_not_by_the_gradients_it_throws_up(ppo_small, train, seed):
    # learning_rate=100 (a typo for 1e-4, 000 #12): the first update's own steps throw the parameters so far
    # that its later steps see gradients of ~1e5-1e6 (how far is chaotic: 4e3 on one CPU, 9e5 on another).
    # The cause the user must fix is the step size, which the update's KL shows (~1e2-1e3): the report names
    # kl_too_high first, and a spike that arose within an update that began with ordinary gradients is
    # reported only if the next update shows it again.
    from sb3_diagnostics.triage import first_problem

    run = train(PPO("MlpPolicy", "CartPole-v1", **ppo_small(learning_rate=100.0, seed=seed)), 1024, DiagnosticsCallback())
    assert run.warned("kl_too_high")
    top = first_problem(run.callback.triage())
    assert top is not None and top.code == "kl_too_high"
