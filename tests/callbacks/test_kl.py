"""KLWatchdogCallback on real runs."""

from __future__ import annotations

import pytest
from sb3_contrib import TRPO, MaskablePPO
from sb3_contrib.common.envs import InvalidActionEnvDiscrete
from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env

from sb3_diagnostics import DiagnosticsCallback, KLWatchdogCallback, Severity
from sb3_diagnostics.faults import BanditEnv


def test_learning_rate_too_high_blows_up_kl(ppo_small, train):
    run = train(PPO("MlpPolicy", "CartPole-v1", **ppo_small(learning_rate=0.1, n_epochs=20)), 3000, KLWatchdogCallback())
    assert run.severity("kl_too_high") == Severity.WARNING
    # clipping together with a KL above threshold is a warning, not just info
    assert run.severity("clip_fraction_high") == Severity.WARNING


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_learning_rate_of_100_wrecks_the_policy_in_one_update(ppo_small, train, seed):
    # What the gradients do after such an update depends on the CPU's float trajectory; the KL of the
    # update does not: several hundred or more on every seed, far above the single-update limit of 1.
    model = PPO("MlpPolicy", "CartPole-v1", **ppo_small(learning_rate=1e2, seed=seed))
    run = train(model, 768, DiagnosticsCallback())
    kl = next(f for f in run.findings if f.code == "kl_too_high")
    assert kl.value > 100 and kl.step == 512
    roots = [f.code for f in run.callback.triage() if f.caused_by is None and f.severity >= Severity.WARNING]
    assert roots[0] == "kl_too_high"  # the collapse of entropy it causes is folded under it


@pytest.mark.slow
def test_default_learning_rate_keeps_kl_small(ppo_small, train):
    run = train(PPO("MlpPolicy", "CartPole-v1", **ppo_small()), 6000, KLWatchdogCallback())
    assert run.codes(Severity.INFO) == set()


def test_learning_rate_typo_means_policy_not_updating(ppo_small, train):
    # 3e-4 typed as 3e-10: seed 002's "KL divergence: 0.000000", every update.
    run = train(PPO("MlpPolicy", "CartPole-v1", **ppo_small(learning_rate=3e-10)), 2048, KLWatchdogCallback())
    assert run.severity("policy_not_updating") == Severity.ERROR
    # the hint fits the cause: the learning rate itself, not "raise learning_rate" in general
    finding = next(f for f in run.findings if f.code == "policy_not_updating")
    assert "learning_rate is 3e-10" in finding.message and "3e-4" in finding.hint


def test_a_policy_that_does_not_move_with_a_working_learning_rate_points_at_the_gradient(ppo_small, train):
    # PPO on a reward that never differs between actions: learning_rate 3e-4 trains, yet the policy never
    # moves. "Raise learning_rate" would be the wrong fix; the hint points at the advantages and the optimizer.
    run = train(PPO("MlpPolicy", BanditEnv(rewards=(1.0, 1.0)), **ppo_small()), 2048, KLWatchdogCallback())
    finding = next(f for f in run.findings if f.code == "policy_not_updating")
    assert "is one that trains" in finding.message
    assert "advantages vary" in finding.hint and "Raise learning_rate" not in finding.hint


def test_linear_schedule_to_zero_is_not_reported(ppo_small, train):
    # The end of a linear schedule: the learning rate reaches ~0 by design.
    model = PPO("MlpPolicy", "CartPole-v1", **ppo_small(learning_rate=lambda progress: 3e-4 * progress**8))
    run = train(model, 4096, KLWatchdogCallback())
    assert "policy_not_updating" not in run.codes(Severity.INFO)


def test_tight_target_kl_stops_after_first_epoch(ppo_small, train):
    # seed 000 #20: "KL divergence hitting target_kl every update".
    env = make_vec_env("CartPole-v1", n_envs=4, seed=0)
    run = train(PPO("MlpPolicy", env, **ppo_small(learning_rate=1e-3, target_kl=0.001)), 8000, KLWatchdogCallback())
    assert run.severity("target_kl_early_stop") == Severity.WARNING


def test_reasonable_target_kl_lets_epochs_run(ppo_small, train):
    env = make_vec_env("CartPole-v1", n_envs=4, seed=0)
    run = train(PPO("MlpPolicy", env, **ppo_small(learning_rate=1e-3, target_kl=0.02)), 8000, KLWatchdogCallback())
    assert run.codes(Severity.INFO) == set()


def test_trpo_line_search_fails_when_reward_is_constant(ppo_small, train):
    # seed 002 #5 and the broken-training trace: "Line search: Failed", KL 0.
    run = train(TRPO("MlpPolicy", BanditEnv(rewards=(1.0, 1.0)), **ppo_small()), 2048, KLWatchdogCallback())
    assert run.severity("line_search_failing") == Severity.WARNING
    assert run.severity("policy_not_updating") == Severity.ERROR


def test_trpo_line_search_succeeds_when_reward_has_signal(ppo_small, train):
    run = train(TRPO("MlpPolicy", BanditEnv(rewards=(1.0, -1.0)), **ppo_small()), 2048, KLWatchdogCallback())
    assert run.codes(Severity.INFO) == set()


def test_maskable_ppo_is_watched(ppo_small, train):
    env = InvalidActionEnvDiscrete(dim=20, n_invalid_actions=10)
    model = MaskablePPO("MlpPolicy", env, **ppo_small(learning_rate=3e-10))
    run = train(model, 2048, KLWatchdogCallback())
    assert "policy_not_updating" in run.codes()


def test_ars_is_not_applicable(train):
    # ARS evaluates its candidates outside SB3's rollout and replay loops: nothing to compare between updates
    from sb3_contrib import ARS

    run = train(ARS("LinearPolicy", "Pendulum-v1", n_delta=2, seed=0), 400, KLWatchdogCallback())
    assert [f.code for f in run.findings] == ["check_not_applicable"]


def _freeze_actor(model):  # type: ignore[no-untyped-def]
    """What a user freezing "the pretrained actor" does: requires_grad=False on the actor's layers."""
    policy = model.policy
    modules = [policy.action_net, policy.mlp_extractor.policy_net] if hasattr(policy, "action_net") else [model.actor]
    for module in modules:
        for parameter in module.parameters():
            parameter.requires_grad = False
    return model


@pytest.mark.parametrize("fault", ["frozen_actor", pytest.param("learning_rate_typo", marks=pytest.mark.slow)])
def test_an_a2c_policy_that_never_moves_is_seen_directly(fault, tiny, train):
    # A2C logs no KL: its policy's outputs on a fixed batch are compared instead. A frozen actor gives exactly
    # no change; learning_rate=7e-10 (a typo for 7e-4) moves float32 weights by ~5e-9 of the outputs per update
    from stable_baselines3 import A2C

    faulty = A2C("MlpPolicy", "CartPole-v1", **tiny(learning_rate=7e-10 if fault == "learning_rate_typo" else 7e-4))
    run = train(_freeze_actor(faulty) if fault == "frozen_actor" else faulty, 2100, KLWatchdogCallback())
    finding = next(f for f in run.findings if f.code == "policy_not_updating")
    assert finding.severity == Severity.ERROR and "fixed batch of observations" in finding.message
    assert ("learning rate is 7e-10" in finding.message) == (fault == "learning_rate_typo")
    healthy = train(A2C("MlpPolicy", "CartPole-v1", **tiny()), 2100, KLWatchdogCallback())
    assert healthy.findings == []


@pytest.mark.parametrize("algo", [pytest.param("SAC", marks=pytest.mark.slow), "DQN"])
def test_an_off_policy_actor_that_never_moves_is_seen_directly(algo, tiny, train):
    # SAC with its actor frozen; DQN with learning_rate=0: gradient steps happen, the policy stays where it began
    import stable_baselines3

    cls = getattr(stable_baselines3, algo)
    env = "Pendulum-v1" if algo == "SAC" else "CartPole-v1"

    def make(broken: bool):  # type: ignore[no-untyped-def]
        if algo == "DQN":
            return cls("MlpPolicy", env, learning_starts=100, **tiny(learning_rate=0.0 if broken else 1e-3))
        model = cls("MlpPolicy", env, learning_starts=100, batch_size=64, **tiny())
        return _freeze_actor(model) if broken else model

    run = train(make(True), 1000, KLWatchdogCallback(off_policy_interval=200))
    assert run.severity("policy_not_updating") == Severity.ERROR
    assert train(make(False), 1000, KLWatchdogCallback(off_policy_interval=200)).findings == []


@pytest.mark.parametrize("learning_starts", [5000, 100])
def test_learning_starts_beyond_the_budget_means_no_gradient_step(tiny, train, learning_starts):
    # SB3 #526: the DQN example trained 10_000 steps with learning_starts=50_000 and "doesn't learn": not a
    # single gradient step happened. Said at the first measurement, as an error (stop_on="error" ends the run).
    from stable_baselines3 import DQN

    model = DQN("MlpPolicy", "CartPole-v1", learning_starts=learning_starts, **tiny())
    callback = DiagnosticsCallback(stop_on="error")
    run = train(model, 3000, callback)
    if learning_starts >= 3000:
        finding = next(f for f in run.findings if f.code == "policy_not_updating")
        assert finding.severity == Severity.ERROR and "learning_starts=5000" in finding.message
        assert model.num_timesteps <= 1000  # stopped at the first measurement, not after the whole budget
    else:
        assert "policy_not_updating" not in {f.code for f in run.findings}


def test_gradient_steps_zero_means_no_gradient_step(tiny, train):
    from stable_baselines3 import SAC

    model = SAC("MlpPolicy", "Pendulum-v1", learning_starts=100, gradient_steps=0, **tiny())
    run = train(model, 1000, KLWatchdogCallback())  # the "policy updates" check, for every algorithm
    assert run.severity("policy_not_updating") == Severity.ERROR


def test_ppo_with_one_minibatch_and_one_epoch_is_judged_on_its_outputs_not_its_zero_kl(tiny, train):
    # PPO logs approx_kl before each minibatch's gradient step: with n_epochs=1 and batch_size = n_steps * n_envs
    # there is one step per update, so the KL SB3 logs is exactly 0 however far the policy moves. A healthy run of
    # that shape was an ERROR (policy_not_updating); its outputs on a fixed batch say it moves.
    single = dict(n_steps=256, batch_size=256, n_epochs=1)
    healthy = train(PPO("MlpPolicy", "CartPole-v1", **tiny(**single)), 3072, DiagnosticsCallback(checks=["kl", "entropy"]))
    assert not {"policy_not_updating", "policy_stays_random"} & healthy.codes(Severity.INFO)  # rl-zoo3 samples it
    # the same shape with the actor frozen: the outputs do not move, and that is still seen
    frozen = train(_freeze_actor(PPO("MlpPolicy", "CartPole-v1", **tiny(**single))), 3072, KLWatchdogCallback())
    finding = next(f for f in frozen.findings if f.code == "policy_not_updating")
    assert finding.severity == Severity.ERROR and "fixed batch of observations" in finding.message
