"""GradientCallback on real runs: exploding and vanishing gradients, parameters that never learn, and their healthy twins."""

import gymnasium as gym
import pytest
import torch as th
from conftest import ppo_small, tiny, train
from sb3_contrib import TRPO, RecurrentPPO
from stable_baselines3 import A2C, PPO, SAC, TD3
from stable_baselines3.common.callbacks import BaseCallback, CallbackList, CheckpointCallback
from stable_baselines3.common.policies import ActorCriticPolicy
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor

from sb3_diagnostics import Severity
from sb3_diagnostics.callbacks.gradients import GradientCallback, GradientTap
from sb3_diagnostics.callbacks.nan import NaNCallback
from sb3_diagnostics.callbacks.offpolicy import BufferShapeCallback, QValueCallback
from sb3_diagnostics.errors import InvalidThresholdError
from sb3_diagnostics.faults_offpolicy import ObservationScale


class LinearExtractor(BaseFeaturesExtractor):
    """A custom features extractor; ``detach=True`` is the bug (features computed "without gradient")."""

    def __init__(self, observation_space: gym.spaces.Box, features_dim: int = 16, detach: bool = False) -> None:
        super().__init__(observation_space, features_dim)
        self.linear = th.nn.Linear(observation_space.shape[0], features_dim)
        self.detach = detach

    def forward(self, observations: th.Tensor) -> th.Tensor:
        features = th.relu(self.linear(observations))
        return features.detach() if self.detach else features


class LateValueHeadPolicy(ActorCriticPolicy):
    """Replaces the value head after ``super()._build()`` has created the optimizer: the new head is in no optimizer."""

    def _build(self, lr_schedule) -> None:  # type: ignore[no-untyped-def]
        super()._build(lr_schedule)
        self.value_net = th.nn.Linear(self.mlp_extractor.latent_dim_vf, 1)


class Together(CallbackList):
    """Several checks as one callback, with their findings together (what ``train()`` reads)."""

    @property
    def findings(self):  # type: ignore[no-untyped-def]
        return [f for cb in self.callbacks for f in getattr(cb, "findings", [])]


def _hooks_on(model) -> int:  # type: ignore[no-untyped-def]
    tap = GradientTap.for_model(model)
    # Not even an empty hook dict: autograd would still call into Python for it at every backward pass.
    on_params = sum(p._backward_hooks is not None for p in model.policy.parameters())
    on_optimizers = sum(len(o._optimizer_step_pre_hooks) + len(o._optimizer_step_post_hooks) for o in tap.optimizers.values())
    return on_params + on_optimizers


def test_learning_rate_too_high_explodes_gradients():
    # seed 000 #12 / #16: "if NaN/divergence, decrease 10x". The first update's steps reach ~1e6.
    run = train(PPO("MlpPolicy", "CartPole-v1", **ppo_small(learning_rate=1e2)), 1024, GradientCallback())
    assert run.severity("grad_norm_exploding") == Severity.WARNING
    assert run.warned("grad_norm_exploding")


def test_default_learning_rate_keeps_gradients_moderate():
    run = train(PPO("MlpPolicy", "CartPole-v1", **ppo_small()), 2048, GradientCallback())
    assert run.codes(Severity.INFO) == set()


class RecordingGradients(GradientCallback):
    """Keeps each update's measured median and how many optimizer steps were measured in full."""

    def __init__(self, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(**kwargs)
        self.medians: list[float] = []
        self.measured: list[dict[str, float]] = []
        self.exact = 0

    def _on_optimizer_step(self, optimizer, norm, bad, exact) -> None:  # type: ignore[no-untyped-def]
        self.exact += exact
        super()._on_optimizer_step(optimizer, norm, bad, exact)

    def _measure(self):  # type: ignore[no-untyped-def]
        out = super()._measure()
        if "grad_norm" in out:
            self.medians.append(out["grad_norm"])
        self.measured.append(out)
        return out


def test_sampled_norms_measure_what_every_step_measures():
    # Same seed, so both runs see the same gradients: the default (one step in 16 plus the first
    # of each update) measures under half of the steps and gives each update's median within 25%.
    every, sampled = RecordingGradients(norm_every=1), RecordingGradients()
    for cb in (every, sampled):
        PPO("MlpPolicy", "CartPole-v1", **ppo_small()).learn(1024, callback=cb)
    assert sampled.exact < every.exact / 2
    assert len(sampled.medians) == len(every.medians) >= 3
    for a, b in zip(sampled.medians, every.medians, strict=True):
        assert b / 1.25 < a < b * 1.25


def test_long_updates_are_sampled_about_norms_per_update_times():
    # 20 epochs of 32 minibatches: 640 optimizer steps per update. One in 16 would measure 40 of them;
    # 32 per update (one in 20, plus the first) give the same median, and norm_every=1 still measures all.
    kwargs = dict(n_steps=256, batch_size=8, n_epochs=20, seed=0, policy_kwargs=dict(net_arch=[16]))
    every, sampled = RecordingGradients(norm_every=1), RecordingGradients()
    for cb in (every, sampled):
        PPO("MlpPolicy", "CartPole-v1", **kwargs).learn(768, callback=cb)
    assert every.exact == 3 * 640
    assert 3 * 30 <= sampled.exact <= 3 * 34
    assert len(sampled.medians) == len(every.medians) == 3
    for a, b in zip(sampled.medians, every.medians, strict=True):
        assert b / 1.25 < a < b * 1.25


class EveryStepListener(BaseCallback):
    """Counts the optimizer steps it hears of, through the tap's pre-step listeners."""

    def __init__(self) -> None:
        super().__init__()
        self.steps = 0

    def _on_training_start(self) -> None:
        GradientTap.for_model(self.model).attach(self, self.model, on_pre=self._count)

    def _count(self, optimizer: str) -> None:
        self.steps += 1

    def _on_step(self) -> bool:
        return True

    def _on_training_end(self) -> None:
        GradientTap.for_model(self.model).detach(self)


@pytest.mark.parametrize("make_model, steps", [
    (lambda: PPO("MlpPolicy", "CartPole-v1", **ppo_small(n_epochs=12)), 768),  # 48 steps per update
    (lambda: SAC("MlpPolicy", "Pendulum-v1", learning_starts=100, **tiny()), 500),  # critic and actor blocks
], ids=["ppo", "sac"])
def test_unsampled_steps_take_a_short_path_that_measures_the_same(make_model, steps, monkeypatch):
    # Most optimizer steps only count, check the sentinel and call the pre-step listeners. With the
    # short path switched off, every step takes the full one. Same seed, same schedule: the same steps
    # measured, the same numbers, and the listeners called before every step either way.
    results = []
    for full in (False, True):
        if full:  # no step is ever short
            monkeypatch.setattr(GradientTap, "_fast", property(lambda self: 0, lambda self, value: None), raising=False)
        recorder, listener = RecordingGradients(off_policy_interval=100), EveryStepListener()
        model = make_model()
        model.learn(steps, callback=CallbackList([recorder, listener]))
        tap = GradientTap.for_model(model)
        results.append((recorder.measured, recorder.exact, dict(tap.step_count), list(tap.grad_count)))
        assert listener.steps == sum(tap.step_count.values()) > 0
    assert results[0] == results[1]
    assert 0 < results[0][1] < sum(results[0][2].values()) / 4  # sampled, not every step


def test_norm_every_must_be_a_whole_number_of_steps():
    with pytest.raises(InvalidThresholdError, match="norm_every=0"):
        GradientCallback(norm_every=0)
    with pytest.raises(InvalidThresholdError, match="norms_per_update=0"):
        GradientCallback(norms_per_update=0)


def test_unnormalised_observations_saturate_the_td3_actor():
    # Observations in raw sensor units (x1000): the tanh output of TD3's actor saturates, its
    # gradient vanishes while its loss (-Q) is far from 0; the critic's gradients explode.
    env = ObservationScale(gym.make("Pendulum-v1"), 1000.0)
    cb = GradientCallback(off_policy_interval=100)
    run = train(TD3("MlpPolicy", env, learning_starts=100, batch_size=64, **tiny()), 800, cb)
    vanishing = next(f for f in run.findings if f.code == "grad_norm_vanishing")
    assert vanishing.severity == Severity.WARNING and "actor gradient" in vanishing.message
    assert "critic gradient" in next(f for f in run.findings if f.code == "grad_norm_exploding").message


def test_detached_features_extractor_never_learns():
    kwargs = dict(features_extractor_class=LinearExtractor, features_extractor_kwargs=dict(detach=True), net_arch=[16])
    model = PPO("MlpPolicy", "CartPole-v1", n_steps=128, batch_size=64, seed=0, policy_kwargs=kwargs)
    run = train(model, 768, GradientCallback())
    assert run.severity("param_no_grad") == Severity.ERROR
    finding = next(f for f in run.findings if f.code == "param_no_grad")
    assert "features_extractor.linear.weight" in finding.message and "detach" in finding.message
    assert finding.value == 2  # weight and bias


def test_attached_features_extractor_is_quiet():
    kwargs = dict(features_extractor_class=LinearExtractor, net_arch=[16])
    model = PPO("MlpPolicy", "CartPole-v1", n_steps=128, batch_size=64, seed=0, policy_kwargs=kwargs)
    assert train(model, 768, GradientCallback()).codes(Severity.INFO) == set()


def test_layer_created_after_the_optimizer():
    model = PPO(LateValueHeadPolicy, "CartPole-v1", n_steps=128, batch_size=64, seed=0, policy_kwargs=dict(net_arch=[16]))
    run = train(model, 768, GradientCallback())
    finding = next(f for f in run.findings if f.code == "param_no_grad")
    assert finding.severity == Severity.ERROR and "value_net.weight" in finding.message and "no optimizer" in finding.message


@pytest.mark.parametrize("make_model, steps", [
    (lambda: PPO("MlpPolicy", "CartPole-v1", **ppo_small()), 1024),
    (lambda: A2C("MlpPolicy", "CartPole-v1", **tiny(n_steps=8)), 400),
    # TRPO updates its actor outside the optimizer and sets the actor's gradients to None before each critic step
    (lambda: TRPO("MlpPolicy", "CartPole-v1", **ppo_small()), 1024),
    (lambda: RecurrentPPO("MlpLstmPolicy", "CartPole-v1", n_steps=64, batch_size=64, seed=0,
                          policy_kwargs=dict(lstm_hidden_size=8, net_arch=[8])), 256),
    # gSDE: log_std is the std of the exploration matrix, and it does get gradients
    (lambda: PPO("MlpPolicy", "Pendulum-v1", use_sde=True, **ppo_small()), 768),
], ids=["ppo", "a2c", "trpo", "recurrent_ppo", "ppo_gsde"])
def test_stock_on_policy_algorithms_are_quiet(make_model, steps):
    run = train(make_model(), steps, Together([GradientCallback(), NaNCallback(), BufferShapeCallback()]))
    assert run.findings == [], [(f.code, f.message) for f in run.findings]


def test_hooks_live_only_during_learn_and_survive_save_load(tmp_path):
    cb = GradientCallback(off_policy_interval=100)
    model = SAC("MlpPolicy", "Pendulum-v1", learning_starts=50, batch_size=32, **tiny())
    # CheckpointCallback saves while the hooks are installed: SB3 saves state dicts, never the hooks.
    train(model, 200, Together([cb, QValueCallback(off_policy_interval=100), CheckpointCallback(100, str(tmp_path))]))
    assert _hooks_on(model) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rl_model_100_steps.zip", "rl_model_200_steps.zip"]
    model.save(tmp_path / "model.zip")
    loaded = SAC.load(tmp_path / "model.zip", env=model.get_env())
    loaded.learn(150, callback=cb)  # same callback, new model: the hooks follow
    loaded.set_parameters(model.get_parameters())  # type: ignore[arg-type]
    loaded.learn(150, callback=cb, reset_num_timesteps=False)
    assert _hooks_on(loaded) == 0
    assert cb.model is loaded and sum(GradientTap.for_model(loaded).step_count.values()) > 0  # it measured
    assert cb.findings == []
