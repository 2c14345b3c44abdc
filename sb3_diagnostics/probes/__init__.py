"""
Probe environments: unit tests for an RL algorithm or a custom policy (A. Jones, "Debugging RL, Without the Agonizing Pain").

    from sb3_diagnostics.probes import assert_probes_pass
    assert_probes_pass(lambda env: PPO("MlpPolicy", env, seed=0))

Importing this package registers the probes with gymnasium as
``sb3_diagnostics/Probe{1..5}-{Discrete,Continuous}-v0``.
"""

from sb3_diagnostics.probes.envs import (
    PROBE_TABLE,
    Probe1Env,
    Probe2Env,
    Probe3Env,
    Probe4Env,
    Probe5Env,
    ProbeEnv,
    make_probe_env,
    probe_id,
    register_probes,
)
from sb3_diagnostics.probes.runner import (
    DEFAULT_BUDGETS,
    ProbeResult,
    ProbeSetupError,
    assert_probes_pass,
    diagnose,
    predict_actions,
    predict_values,
    run_probe,
    run_probes,
    value_kind,
)

register_probes()

__all__ = [
    "DEFAULT_BUDGETS",
    "PROBE_TABLE",
    "Probe1Env",
    "Probe2Env",
    "Probe3Env",
    "Probe4Env",
    "Probe5Env",
    "ProbeEnv",
    "ProbeResult",
    "ProbeSetupError",
    "assert_probes_pass",
    "diagnose",
    "make_probe_env",
    "predict_actions",
    "predict_values",
    "probe_id",
    "register_probes",
    "run_probe",
    "run_probes",
    "value_kind",
]
