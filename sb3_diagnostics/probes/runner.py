"""
Run the probe environments against an algorithm or a custom policy: unit tests for RL code.

    from sb3_diagnostics.probes import assert_probes_pass, run_probes
    results = run_probes(lambda env: PPO("MlpPolicy", env, seed=0))
    assert_probes_pass(lambda env: PPO(MyPolicy, env, seed=0))   # in a pytest test

Each probe trains a fresh model built by ``make_model(env)`` for a small budget and then reads
what it learned: values through ``policy.predict_values`` (actor-critic), Q-values through the
critic (DQN, QR-DQN, SAC, TD3, TQC, CrossQ), actions through ``model.predict(deterministic=True)``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np
from stable_baselines3.common.base_class import BaseAlgorithm

from sb3_diagnostics.errors import ProbeSetupError
from sb3_diagnostics.probes.envs import ACTION_KINDS, PROBE_CLASSES, PROBE_TABLE, make_probe_env
from sb3_diagnostics.probes.judge import EpisodeLog, ValueFn, judge
from sb3_diagnostics.probes.results import ProbeResult, diagnose
from sb3_diagnostics.sb3.models import predict_actions, predict_values, value_kind

#: timesteps per probe when ``budget`` is None: a few seconds each at ~1000 steps/s
DEFAULT_BUDGETS: dict[int, int] = {1: 2000, 2: 3000, 3: 3000, 4: 3000, 5: 5000}

MakeModel = Callable[[Any], BaseAlgorithm]


# ---------------------------------------------------------------------------------------------
# The runner
# ---------------------------------------------------------------------------------------------


def _budgets(probes: tuple[int, ...], budget: int | Mapping[int, int] | None) -> dict[int, int]:
    out = {p: DEFAULT_BUDGETS[p] for p in probes}
    if budget is None:
        return out
    if isinstance(budget, Mapping):
        unknown = set(budget) - set(PROBE_CLASSES)
        if unknown:
            raise ProbeSetupError(f"budget has entries for unknown probes {sorted(unknown)}; probes are 1-5.")
        out.update({p: budget[p] for p in probes if p in budget})
    elif isinstance(budget, bool) or not isinstance(budget, (int, np.integer)):
        raise ProbeSetupError(f"budget={budget!r}: give a number of timesteps, a dict {{probe: timesteps}}, or None.")
    else:
        out = {p: int(budget) for p in probes}
    for p, n in out.items():
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ProbeSetupError(f"budget for probe {p} is {n!r}: it must be a whole number of timesteps >= 1.")
    return out


def _check_probes(probes: Iterable[int]) -> tuple[int, ...]:
    out = tuple(probes)
    bad = [p for p in out if p not in PROBE_CLASSES]
    if bad or not out:
        raise ProbeSetupError(f"probes={out!r}: choose among 1, 2, 3, 4, 5.")
    return tuple(sorted(set(out)))


def _build(make_model: MakeModel, probe: int, kinds: tuple[str, ...]) -> tuple[BaseAlgorithm, EpisodeLog, str] | str:
    """
    Build a model on the first probe variant it accepts.

    :return: (model, env, kind), or why no variant fits (when every failure is an action-space rejection)
    :raises ProbeSetupError: when ``make_model`` fails for another reason (a bug in it is not a skip)
    """
    errors: list[tuple[str, Exception]] = []
    for kind in kinds:
        env = EpisodeLog(make_probe_env(probe, kind))
        try:
            model = make_model(env)
        except Exception as exc:  # the algorithm may not support this action space
            errors.append((f"the {kind} variant ({env.action_space})", exc))
            continue
        if not isinstance(model, BaseAlgorithm):
            raise ProbeSetupError(
                f"make_model(env) returned {type(model).__name__}; it must return an unfitted SB3 model built on the "
                "env it is given, e.g. lambda env: PPO('MlpPolicy', env)."
            )
        return model, env, kind
    reasons = "; ".join(f"{where}: {type(exc).__name__}: {exc}" for where, exc in errors)
    if all("action space" in str(exc).lower() or "action_space" in str(exc) for _, exc in errors):
        return f"the model accepts none of the probe action spaces: {reasons}"
    raise ProbeSetupError(f"make_model(env) raised while building a model on probe {probe}: {reasons}") from errors[-1][1]


def _config_notes(model: BaseAlgorithm, probe: int, timesteps: int) -> str:
    """Settings that make a probe impossible to pass within its budget (not bugs, but worth saying)."""
    notes = []
    learning_starts = getattr(model, "learning_starts", None)
    if learning_starts is not None and learning_starts >= timesteps:
        notes.append(f"learning_starts={learning_starts} >= budget {timesteps}: the model never trained")
    interval = getattr(model, "target_update_interval", None)
    if probe == 3 and interval is not None and interval >= timesteps:
        notes.append(
            f"target_update_interval={interval} >= budget {timesteps}: the target network never moved, so V(s0) cannot "
            "learn gamma * V(s1); use a smaller interval for probes"
        )
    tau, n_updates = getattr(model, "tau", None), int(getattr(model, "_n_updates", 0) or 0)
    if probe == 3 and tau is not None and 0 < tau < 1 and (1 - tau) ** n_updates > 0.05:
        notes.append(
            f"tau={tau:g} over {n_updates} gradient steps: the target network moved only "
            f"{100 * (1 - (1 - tau) ** n_updates):.0f}% of the way, so V(s0) still lags gamma * V(s1); raise tau or "
            "the budget for probes"
        )
    n_steps = getattr(model, "n_steps", None)
    if n_steps is not None and hasattr(model, "rollout_buffer") and n_steps * model.n_envs > timesteps:
        notes.append(f"n_steps * n_envs = {n_steps * model.n_envs} > budget {timesteps}: one rollout, one update")
    return "; ".join(notes)


def run_probe(
    make_model: MakeModel,
    probe: int,
    budget: int | None = None,
    *,
    tolerance: float = 0.1,
    action_kind: str = "auto",
    value_fn: ValueFn | None = None,
) -> ProbeResult:
    """
    Build a fresh model on one probe, train it, and judge what it learned.

    :param make_model: ``make_model(env) -> model``, an unfitted SB3 model built on ``env``
    :param probe: 1-5
    :param budget: timesteps to train (default: :data:`DEFAULT_BUDGETS`)
    :param tolerance: allowed absolute error on values (probe 3 uses less when gamma is close to 1)
    :param action_kind: ``"discrete"``, ``"continuous"`` or ``"auto"`` (discrete if the model accepts it)
    :param value_fn: ``value_fn(model, obs) -> values`` for models whose value this module cannot read
    :return: the result
    """
    return run_probes(make_model, (probe,), None if budget is None else {probe: budget}, tolerance=tolerance,
                      action_kind=action_kind, value_fn=value_fn)[0]


def run_probes(
    make_model: MakeModel,
    probes: Iterable[int] = (1, 2, 3, 4, 5),
    budget: int | Mapping[int, int] | None = None,
    *,
    tolerance: float = 0.1,
    action_kind: str = "auto",
    value_fn: ValueFn | None = None,
    stop_at_first_failure: bool = False,
    verbose: int = 0,
) -> list[ProbeResult]:
    """
    Train a fresh model on each probe environment and check that it learned what a correct
    implementation learns (A. Jones, "Debugging RL, Without the Agonizing Pain").

    "If probe N fails but N-1 passes, the bug is in exactly the component N adds": run them in
    order and read the first failure (:func:`diagnose` says it in words).

    The probe envs have ``Box(-1, 1, (1,))`` observations and a ``Discrete(2)`` or ``Box(-1, 1, (1,))``
    action space; with ``action_kind="auto"`` the discrete variant is used when ``make_model``
    accepts it, else the continuous one. Probes that measure a value (1, 2, 3) are skipped for
    models without a value function (ARS) unless ``value_fn`` is given.

    Off-policy models need settings that can learn in a few thousand steps (``learning_starts``
    and ``target_update_interval`` well below the budget); the result's ``note`` says when they
    cannot. Training uses the model's own seed and the global RNG, as ``learn()`` always does.

    :param make_model: ``make_model(env) -> model``: an unfitted SB3 model built on the env given
        (reads gamma etc. from it), e.g. ``lambda env: PPO("MlpPolicy", env, seed=0)``
    :param probes: which probes to run
    :param budget: timesteps per probe: None (:data:`DEFAULT_BUDGETS`), one number for all, or
        a dict ``{probe: timesteps}`` overriding some defaults
    :param tolerance: allowed absolute error on values
    :param action_kind: ``"auto"``, ``"discrete"`` or ``"continuous"``
    :param value_fn: ``value_fn(model, obs) -> values, shape (batch,)`` for models whose value
        :func:`predict_values` cannot read
    :param stop_at_first_failure: skip the probes after the first failure
    :param verbose: 0 silent; 1 print one line per probe
    :return: one :class:`ProbeResult` per probe, in probe order
    :raises ProbeSetupError: on invalid arguments, or when ``make_model`` fails for a reason other
        than rejecting the probe's action space (that is a skip, with the reason in ``note``)
    """
    chosen = _check_probes(probes)
    budgets = _budgets(chosen, budget)
    if isinstance(tolerance, bool) or not isinstance(tolerance, (int, float)) or not tolerance > 0:
        raise ProbeSetupError(f"tolerance={tolerance!r}: must be a number > 0.")
    if action_kind not in ("auto", *ACTION_KINDS):
        raise ProbeSetupError(f"action_kind={action_kind!r}: use 'auto', 'discrete' or 'continuous'.")
    kinds = ACTION_KINDS if action_kind == "auto" else (action_kind,)
    results: list[ProbeResult] = []
    failed = False
    for probe in chosen:
        isolates, criterion, meaning = PROBE_TABLE[probe]
        if failed and stop_at_first_failure:
            results.append(ProbeResult(probe, None, {}, {}, meaning, isolates,
                                       note=f"not run: probe {results[-1].probe} failed first"))
            continue
        start = time.perf_counter()
        built = _build(make_model, probe, kinds)
        if isinstance(built, str):
            results.append(ProbeResult(probe, None, {}, {}, meaning, isolates, note=built))
            continue
        model, env, kind = built
        algorithm = type(model).__name__
        if probe in (1, 2, 3) and value_fn is None and value_kind(model) is None:
            results.append(ProbeResult(
                probe, None, {}, {}, meaning, isolates, algorithm=algorithm, action_kind=kind,
                note=f"{algorithm} has no value function (pass value_fn=... to measure one)",
            ))
            continue
        timesteps = budgets[probe]
        model.learn(total_timesteps=timesteps)
        passed, measured, expected, tol, note = judge(model, env, tolerance, value_fn)
        result = ProbeResult(
            probe, passed, measured, expected, meaning, isolates, tol, algorithm, kind,
            int(model.num_timesteps), time.perf_counter() - start, note,
            "" if passed else _config_notes(model, probe, timesteps),
        )
        results.append(result)
        failed = failed or not passed
        if verbose >= 1:
            print(f"sb3-diagnostics {result.describe()} ({result.seconds:.1f}s)")
    return results


def assert_probes_pass(
    make_model: MakeModel,
    probes: Iterable[int] = (1, 2, 3, 4, 5),
    budget: int | Mapping[int, int] | None = None,
    **kwargs: Any,
) -> list[ProbeResult]:
    """
    One-line pytest assertion: run the probes and raise ``AssertionError`` naming the first
    failing probe, what it measured against what was expected, and the component it isolates.

        def test_my_policy():
            assert_probes_pass(lambda env: PPO(MyPolicy, env, seed=0))

    :param make_model: see :func:`run_probes`
    :param probes: see :func:`run_probes`
    :param budget: see :func:`run_probes`
    :param kwargs: other keyword arguments of :func:`run_probes`
    :return: the results, when every probe that ran passed
    :raises AssertionError: when a probe failed, or when no probe could run
    """
    results = run_probes(make_model, probes, budget, stop_at_first_failure=True, **kwargs)
    if any(r.passed is False for r in results):
        raise AssertionError(diagnose(results))
    if all(r.skipped for r in results):
        raise AssertionError("no probe could run: " + "; ".join(f"probe {r.probe}: {r.note}" for r in results))
    return results


__all__ = [
    "DEFAULT_BUDGETS",
    "ProbeResult",
    "ProbeSetupError",
    "assert_probes_pass",
    "diagnose",
    "predict_actions",
    "predict_values",
    "run_probe",
    "run_probes",
    "value_kind",
]
