"""Using the callback from rl-zoo3 hyperparameter YAML, as a zoo user would."""

from __future__ import annotations

import os
import subprocess
import sys

from sb3_diagnostics.report import find_runs, read_run

YAML = """\
CartPole-v1:
  n_timesteps: 4096
  policy: 'MlpPolicy'
  n_steps: 256
  batch_size: 64
  learning_rate: 3.0e-10
  policy_kwargs: "dict(net_arch=[32, 32])"
  callback:
    - sb3_diagnostics.DiagnosticsCallback:
        stop_on: error
"""


def test_rl_zoo3_yaml_callback(tmp_path):
    (tmp_path / "hyperparams.yml").write_text(YAML)
    result = subprocess.run(
        [sys.executable, "-m", "rl_zoo3.train", "--algo", "ppo", "--env", "CartPole-v1", "-conf", "hyperparams.yml",
         "-f", "logs", "--tensorboard-log", "tb", "--seed", "0", "--eval-freq", "-1"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "PolicyUpdateWarning: [policy_not_updating]" in result.stderr
    [run] = find_runs(tmp_path / "tb")
    scalars = read_run(run).scalars
    assert "diagnostics/alert/policy_not_updating" in scalars
    # stop_on="error" stopped training before its 4096 steps
    assert max(step for step, _ in scalars["train/approx_kl"]) < 4096
