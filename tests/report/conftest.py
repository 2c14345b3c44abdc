"""A sweep of plain SB3 runs (no callback) with real faults, shared by the report tests."""

from __future__ import annotations

import warnings

import pytest
from stable_baselines3 import A2C, PPO

from sb3_diagnostics.faults import NoisyRewardEnv

_PPO = dict(n_steps=256, batch_size=64)

#: plain SB3 runs (no callback), each with a real fault, and the healthy twin.
#: From SB3's logs alone, entropy is train/entropy_loss averaged over an update's epochs while the
#: policy moves: blurrier than the live measurement, so the collapse case is an unambiguous one.
PLAIN_RUNS = {
    "entropy_collapse": (A2C, lambda: "CartPole-v1", dict(learning_rate=0.05, n_steps=8), 2000, "entropy_collapse"),
    "kl_blowup": (PPO, lambda: "CartPole-v1", dict(learning_rate=0.1, n_epochs=20, **_PPO), 3000, "kl_too_high"),
    "critic_broken": (PPO, NoisyRewardEnv, dict(learning_rate=0.01, n_epochs=30, **_PPO), 8192,
                      "explained_variance_negative"),
    "lr_typo": (PPO, lambda: "CartPole-v1", dict(learning_rate=3e-10, **_PPO), 3000, "policy_not_updating"),
    "healthy": (PPO, lambda: "CartPole-v1", dict(_PPO), 6000, None),
}


def _learn(model, steps, callback=None):  # type: ignore[no-untyped-def]
    """Learn with our warnings silenced, logging every update."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.learn(steps, callback=callback, log_interval=1)  # A2C logs every 100 updates by default


@pytest.fixture(scope="session")
def sweep(tmp_path_factory):  # type: ignore[no-untyped-def]
    """The PLAIN_RUNS, trained once for every test of the report that reads them."""
    root = tmp_path_factory.mktemp("sweep")
    for name, (algo, make_env, kwargs, steps, _) in PLAIN_RUNS.items():
        model = algo("MlpPolicy", make_env(), tensorboard_log=str(root / name), seed=0,
                     policy_kwargs=dict(net_arch=[32, 32]), **kwargs)
        _learn(model, steps, None)
    return root


@pytest.fixture(scope="module")
def plain_runs():  # type: ignore[no-untyped-def]
    """Run name -> (algorithm, env maker, settings, timesteps, the code its plain SB3 logs must give)."""
    return PLAIN_RUNS


@pytest.fixture
def learn():  # type: ignore[no-untyped-def]
    """``learn(model, steps, callback=None)``: train with warnings silenced and a log dump after every update."""
    return _learn
