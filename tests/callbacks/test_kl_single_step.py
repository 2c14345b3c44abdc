"""PPO with one gradient step per update (n_epochs=1, one minibatch): SB3 logs approx_kl=0 whatever the step did."""

from __future__ import annotations

from stable_baselines3 import PPO

from sb3_diagnostics import DiagnosticsCallback, Severity

#: rl-zoo3's PPO search samples n_epochs=1 with batch_size >= n_steps: each minibatch's KL is taken before its step
ONE_STEP = dict(n_steps=128, batch_size=128, n_epochs=1)


def test_a_policy_trained_by_one_step_per_update_is_not_called_frozen(tiny, train):
    run = train(PPO("MlpPolicy", "CartPole-v1", learning_rate=1e-3, **tiny(**ONE_STEP)), 1024,
                DiagnosticsCallback(checks=["kl"]))
    assert "policy_not_updating" not in run.codes(Severity.INFO)


def test_a_policy_that_does_not_move_is_still_found_from_its_outputs(tiny, train):
    # A learning rate of 0: the outputs on a fixed batch do not change at all. (A typo such as 3e-10 moves them by
    # float32 rounding, ~1e-7 over 4 updates, above the per-update threshold: this set-up no longer catches it.)
    run = train(PPO("MlpPolicy", "CartPole-v1", learning_rate=0.0, **tiny(**ONE_STEP)), 2560,
                DiagnosticsCallback(checks=["kl"]))
    assert run.severity("policy_not_updating") >= Severity.WARNING
    (finding,) = [f for f in run.findings if f.code == "policy_not_updating"]
    assert "outputs on a fixed batch" in finding.message
