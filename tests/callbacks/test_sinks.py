"""Alert sinks: W&B Alerts for new findings, once per episode of trouble, never breaking training."""

from __future__ import annotations

import logging
import sys
import warnings
from datetime import timedelta

import pytest
from stable_baselines3 import PPO

from sb3_diagnostics import DiagnosticsCallback, Finding, InvalidThresholdError, Severity, WandbAlertSink
from sb3_diagnostics.engine import Engine


@pytest.mark.slow  # 5 CPU-s; the default suite alerts on the runs of test_composite's report tests
def test_wandb_alerts_once_per_code_for_a_faulty_run_and_never_for_its_healthy_twin(fake_wandb, ppo_small, train):
    # learning_rate=3e-10: the policy never moves (policy_not_updating, error) and stays random (warning); both
    # hold for the whole run, yet each is alerted once, with the numbers of the finding and what to try
    broken = DiagnosticsCallback(alert_sink="wandb")
    run = train(PPO("MlpPolicy", "CartPole-v1", **ppo_small(learning_rate=3e-10, n_epochs=2)), 2048, broken)
    serious = [f for f in run.findings if f.severity >= Severity.WARNING]
    assert "policy_not_updating" in {f.code for f in serious}
    titles = [call["title"] for call in fake_wandb.calls]
    assert titles == [f"sb3-diagnostics {str(f.severity).upper()}: {f.code}" for f in serious]
    assert len(set(titles)) == len(titles)  # once per code
    call = fake_wandb.calls[[f.code for f in serious].index("policy_not_updating")]
    finding = next(f for f in serious if f.code == "policy_not_updating")
    assert call["level"] is fake_wandb.AlertLevel.ERROR
    assert finding.message in str(call["text"]) and f"Try: {finding.hint}" in str(call["text"])
    assert f"at step {finding.step}" in str(call["text"])
    assert call["wait_duration"] == timedelta(seconds=60)
    assert broken.engine.sink.sent == len(serious)  # type: ignore[union-attr]

    fake_wandb.calls.clear()
    healthy = DiagnosticsCallback(alert_sink="wandb")
    run = train(PPO("MlpPolicy", "CartPole-v1", **ppo_small(n_epochs=2)), 2048, healthy)
    assert run.codes(Severity.WARNING) == set() and fake_wandb.calls == []


def test_a_sink_that_raises_is_switched_off_and_training_goes_on(ppo_small, train, caplog):
    calls: list[Finding] = []

    def broken_sink(finding: Finding) -> None:
        calls.append(finding)
        raise ConnectionError("Slack is down")

    model = PPO("MlpPolicy", "CartPole-v1", **ppo_small(learning_rate=3e-10, n_epochs=2))
    with caplog.at_level(logging.WARNING, logger="sb3_diagnostics"):
        run = train(model, 2048, DiagnosticsCallback(alert_sink=broken_sink))
    assert model.num_timesteps == 2048  # training finished
    assert len(calls) == 1 and len(run.codes()) >= 1  # called once, then off; the findings are still there
    assert run.warned("policy_not_updating")  # and still warned
    assert "the alert sink" in caplog.text and "ConnectionError: Slack is down" in caplog.text


def test_wandb_sink_without_a_run_or_without_wandb(fake_wandb, monkeypatch, caplog):
    finding = Finding("kl_too_high", Severity.WARNING, 4096, "approx KL 0.9 > 0.2 for 3 updates.", "Lower learning_rate.")
    fake_wandb.run = None
    engine = Engine(sink=WandbAlertSink())
    with caplog.at_level(logging.WARNING, logger="sb3_diagnostics"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        engine.add(finding)
        engine.add(finding)
    assert fake_wandb.calls == [] and caplog.text.count("call wandb.init() before learn()") == 1
    # info findings are not sent by default; min_severity="info" sends them at INFO level
    fake_wandb.run = object()
    info = Finding("reward_sparse", Severity.INFO, 0, "99% of rewards are 0.", "Shape the reward.")
    WandbAlertSink()(info)
    WandbAlertSink(min_severity="info", wait_duration=0)(info)
    assert [c["level"] for c in fake_wandb.calls] == [fake_wandb.AlertLevel.INFO]
    assert "at step" not in str(fake_wandb.calls[0]["text"])
    # wandb not installed: a clear error when the sink is asked for, before training
    monkeypatch.setitem(sys.modules, "wandb", None)
    with pytest.raises(ImportError, match="pip install wandb"):
        DiagnosticsCallback(alert_sink="wandb")
    DiagnosticsCallback()  # without the sink, wandb is never imported
    with pytest.raises(InvalidThresholdError, match="'wandb'"):
        DiagnosticsCallback(alert_sink="slack")
    with pytest.raises(InvalidThresholdError, match="seconds"):
        WandbAlertSink(wait_duration=-1)
