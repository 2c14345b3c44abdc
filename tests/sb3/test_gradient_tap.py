"""The gradient tap: sampling, the short path, hooks that live only during learn()."""

from __future__ import annotations

import pytest
from stable_baselines3 import PPO, SAC
from stable_baselines3.common.callbacks import BaseCallback, CallbackList, CheckpointCallback

from sb3_diagnostics import QValueCallback
from sb3_diagnostics.callbacks.gradients import GradientCallback
from sb3_diagnostics.sb3.gradient_tap import GradientTap, Schedule


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


def test_sampled_norms_measure_what_every_step_measures(ppo_small):
    # Same seed, so both runs see the same gradients: the default (one step in 16 plus the first
    # of each update) measures under half of the steps and gives each update's median within 25%.
    every, sampled = RecordingGradients(norm_every=1), RecordingGradients()
    for cb in (every, sampled):
        PPO("MlpPolicy", "CartPole-v1", **ppo_small()).learn(1024, callback=cb)
    assert sampled.exact < every.exact / 2
    assert len(sampled.medians) == len(every.medians) >= 3
    for a, b in zip(sampled.medians, every.medians, strict=True):
        assert b / 1.25 < a < b * 1.25


@pytest.mark.slow  # 20 s: PPO's default 2560-step updates
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
    (lambda tiny: PPO("MlpPolicy", "CartPole-v1", **tiny(n_steps=256, batch_size=64, n_epochs=12)), 768),  # 48 per update
    (lambda tiny: SAC("MlpPolicy", "Pendulum-v1", learning_starts=100, **tiny()), 500),  # critic and actor blocks
], ids=["ppo", "sac"])
def test_unsampled_steps_take_a_short_path_that_measures_the_same(tiny, make_model, steps, monkeypatch):
    # Most optimizer steps only count, check the sentinel and call the pre-step listeners. With the
    # short path switched off, every step takes the full one. Same seed, same schedule: the same steps
    # measured, the same numbers, and the listeners called before every step either way.
    results = []
    for full in (False, True):
        if full:  # no step is ever short
            monkeypatch.setattr(Schedule, "fast", property(lambda self: 0, lambda self, value: None), raising=False)
        recorder, listener = RecordingGradients(off_policy_interval=100), EveryStepListener()
        model = make_model(tiny)
        model.learn(steps, callback=CallbackList([recorder, listener]))
        tap = GradientTap.for_model(model)
        results.append((recorder.measured, recorder.exact, dict(tap.step_count), list(tap.grad_count)))
        assert listener.steps == sum(tap.step_count.values()) > 0
    assert results[0] == results[1]
    assert 0 < results[0][1] < sum(results[0][2].values()) / 4  # sampled, not every step


def test_hooks_live_only_during_learn_and_survive_save_load(tiny, train, tmp_path):
    cb = GradientCallback(off_policy_interval=100)
    model = SAC("MlpPolicy", "Pendulum-v1", learning_starts=50, batch_size=32, **tiny())
    # CheckpointCallback saves while the hooks are installed: SB3 saves state dicts, never the hooks.
    train(model, 200, [cb, QValueCallback(off_policy_interval=100), CheckpointCallback(100, str(tmp_path))])
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


def _hooks_on(model) -> int:  # type: ignore[no-untyped-def]
    tap = GradientTap.for_model(model)
    # Not even an empty hook dict: autograd would still call into Python for it at every backward pass.
    on_params = sum(p._backward_hooks is not None for p in model.policy.parameters())
    on_optimizers = sum(len(o._optimizer_step_pre_hooks) + len(o._optimizer_step_post_hooks) for o in tap.optimizers.values())
    return on_params + on_optimizers
