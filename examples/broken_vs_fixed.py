"""
The main job in a few seconds: train a broken PPO run and its fixed twin with
``DiagnosticsCallback`` and show what the library says about each.

The fault is the first guess of seed 000 ("VecNormalize clipping win rewards, VERY LIKELY"):
a duel where winning pays +100, trained under ``VecNormalize(clip_reward=10)``. Normalised by
the std of returns, the rare win bonus lands above the clip and is cut down, so winning is
barely worth more than an ordinary hit. The twin raises ``clip_reward`` to 150.

    python examples/broken_vs_fixed.py
"""

from __future__ import annotations

import argparse
import warnings

import torch
from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.vec_env import VecNormalize

from sb3_diagnostics import DiagnosticsCallback, Severity
from sb3_diagnostics.faults import WinBonusEnv


def run(clip_reward: float, timesteps: int) -> DiagnosticsCallback:
    env = VecNormalize(make_vec_env(WinBonusEnv, n_envs=4, seed=0), clip_reward=clip_reward)
    model = PPO("MlpPolicy", env, n_steps=256, batch_size=64, seed=0, policy_kwargs=dict(net_arch=[32, 32]))
    callback = DiagnosticsCallback()  # the one line a user adds
    model.learn(timesteps, callback=callback)
    return callback


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--timesteps", type=int, default=12_000)
    args = parser.parse_args()
    torch.set_num_threads(1)
    warnings.simplefilter("default")  # show each DiagnosticWarning as training emits it

    print("=== Broken: VecNormalize(clip_reward=10) on a duel with a +100 win bonus ===", flush=True)
    broken = run(clip_reward=10.0, timesteps=args.timesteps)
    print(broken.report(), flush=True)

    print("\n=== Fixed twin: VecNormalize(clip_reward=150) ===", flush=True)
    fixed = run(clip_reward=150.0, timesteps=args.timesteps)
    print(fixed.report(), flush=True)

    caught = {f.code for f in broken.findings if f.severity >= Severity.WARNING}
    false_alarms = {f.code for f in fixed.findings if f.severity >= Severity.WARNING}
    print(f"\nbroken run: {sorted(caught) or 'nothing found'}; fixed run: {sorted(false_alarms) or 'silent'}")


if __name__ == "__main__":
    main()
