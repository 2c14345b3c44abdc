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
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import numpy as np
from stable_baselines3.common.base_class import BaseAlgorithm

from sb3_diagnostics.errors import ProbeSetupError
from sb3_diagnostics.probes.envs import ACTION_KINDS, PROBE_CLASSES, PROBE_TABLE, make_probe_env
from sb3_diagnostics.probes.judge import EpisodeLog, ValueFn, judge
from sb3_diagnostics.probes.results import ProbeResult, diagnose
from sb3_diagnostics.sb3.models import predict_actions, predict_values, value_kind

#: timesteps per probe when ``budget`` is None: one update of PPO's defaults (``n_steps=2048``) for probes 1, 2,
#: 4 and 5, two for probe 3 (its V(s0) is learned from V(s1)); a few seconds each at ~1000 steps/s
DEFAULT_BUDGETS: dict[int, int] = {1: 2000, 2: 2000, 3: 3000, 4: 2000, 5: 2000}

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


#: optimizer steps x learning rate below which a failure is too little training to judge. Adam moves each weight
#: by about ``learning_rate`` per step; a correct value head goes from 0 to 1 in about 0.02-0.05 of that, and
#: probe 3 learns two values one after the other (V(s0) from V(s1)): PPO on it passes from about 0.2.
MIN_STEP_DISTANCE: dict[int, float] = {1: 0.05, 2: 0.05, 3: 0.2, 4: 0.05, 5: 0.05}


def _learning_rate(model: BaseAlgorithm) -> float | None:
    lr = getattr(model, "learning_rate", None)
    if callable(lr):
        lr = lr(1.0)
    return float(lr) if isinstance(lr, (int, float)) and lr > 0 else None


def _rollout(model: BaseAlgorithm) -> int:
    """Timesteps per update of an on-policy model (``n_steps * n_envs``), 0 for other models."""
    n_steps = getattr(model, "n_steps", None)
    if not isinstance(n_steps, int) or not hasattr(model, "rollout_buffer"):
        return 0
    return n_steps * int(model.n_envs)


def _steps_per_update(model: BaseAlgorithm, rollout: int) -> int:
    """Optimizer steps of one on-policy update: PPO's epochs x minibatches, TRPO's critic updates, A2C's one."""
    batch_size = getattr(model, "batch_size", None) or rollout
    minibatches = -(-rollout // max(int(batch_size), 1))
    if hasattr(model, "n_epochs"):
        return int(model.n_epochs) * minibatches
    if hasattr(model, "n_critic_updates"):
        return int(model.n_critic_updates) * minibatches
    return 1


def _timesteps_per_gradient_step(model: BaseAlgorithm) -> float | None:
    """Off-policy: timesteps between two gradient steps (``train_freq`` / ``gradient_steps``), None when unknown."""
    freq = getattr(model, "train_freq", None)
    frequency = getattr(freq, "frequency", freq)
    gradient_steps = getattr(model, "gradient_steps", 1)
    if not isinstance(frequency, int) or frequency < 1:
        return None
    unit = str(getattr(getattr(freq, "unit", None), "value", "step"))
    per_train = frequency * (2 if unit == "episode" else 1)  # a probe episode lasts 1 or 2 steps
    # gradient_steps=-1: as many gradient steps as timesteps collected
    return float(per_train) / (per_train if gradient_steps < 0 else max(int(gradient_steps), 1))


def _too_little_training(model: BaseAlgorithm, probe: int, timesteps: int) -> tuple[str, int]:
    """
    Why a correct implementation could not have passed this probe with this training, and the budget it needs.

    :return: (the reasons, the budget in timesteps that removes them), or ``("", 0)`` when training was enough
    """
    notes: list[str] = []
    needs: list[int] = []
    trained = max(int(model.num_timesteps), timesteps)
    default = DEFAULT_BUDGETS[probe]
    rollout = _rollout(model)
    lr = _learning_rate(model)
    learning_starts = getattr(model, "learning_starts", None)
    starts = int(learning_starts) if isinstance(learning_starts, int) else 0
    if learning_starts is not None and starts >= trained:
        notes.append(f"learning_starts={starts} >= budget {timesteps}: the model never took a gradient step")
        needs.append(starts + default)
    per_step = _timesteps_per_gradient_step(model) if learning_starts is not None else None
    interval = getattr(model, "target_update_interval", None)
    if probe == 3 and isinstance(interval, int) and interval >= trained - starts:
        notes.append(
            f"target_update_interval={interval}: the target network was updated less than once after learning_starts, "
            "so V(s0) could not learn gamma * V(s1)"
        )
        needs.append(starts + 3 * interval)
    tau, n_updates = getattr(model, "tau", None), int(getattr(model, "_n_updates", 0) or 0)
    if probe == 3 and isinstance(tau, float) and 0 < tau < 1 and (1 - tau) ** n_updates > 0.05:
        notes.append(
            f"tau={tau:g} over {n_updates} gradient steps: the target network moved only "
            f"{100 * (1 - (1 - tau) ** n_updates):.0f}% of the way, so V(s0) still lags gamma * V(s1)"
        )
        if per_step is not None:
            needs.append(starts + int(np.ceil(np.log(0.05) / np.log(1 - tau) * per_step)))
    if rollout:
        updates = trained // rollout
        gae_lambda = float(getattr(model, "gae_lambda", 1.0))
        wanted = 2 if probe == 3 and gae_lambda < 1 else 1
        steps = updates * _steps_per_update(model, rollout)
        if lr is not None and steps * lr < MIN_STEP_DISTANCE[probe]:
            wanted = max(wanted, int(np.ceil(MIN_STEP_DISTANCE[probe] / (lr * _steps_per_update(model, rollout)))))
        if updates < wanted:
            what = f"{updates} update{'s' if updates != 1 else ''} of n_steps * n_envs = {rollout} timesteps"
            if rollout > timesteps:
                what = f"n_steps * n_envs = {rollout} > budget {timesteps}: SB3 trained on one rollout, one update"
            if probe == 3 and wanted == 2:
                why = "V(s0) is learned from the V(s1) of the previous update (gae_lambda < 1 bootstraps)"
            elif lr is not None:
                why = f"{steps} optimizer steps at learning_rate={lr:g} move the weights too little to learn the probe"
            else:
                why = "no update finished"
            notes.append(f"{what}; probe {probe} needs at least {wanted} updates: {why}")
            needs.append(wanted * rollout)
    elif learning_starts is not None and lr is not None and per_step is not None and starts < trained:
        steps = n_updates
        if steps * lr < MIN_STEP_DISTANCE[probe]:
            wanted = int(np.ceil(MIN_STEP_DISTANCE[probe] / lr))
            notes.append(
                f"{steps} gradient steps at learning_rate={lr:g} move the weights too little to learn the probe "
                f"(it needs about {wanted}, with learning_starts={starts} and a gradient step every {per_step:g} "
                "timesteps)"
            )
            needs.append(starts + int(np.ceil(wanted * per_step)))
    if not notes:
        return "", 0
    need = max(needs) if needs else 0
    if rollout and need:
        need = -(-need // rollout) * rollout
    return "; ".join(notes), max(need, timesteps + 1) if needs else 0


@contextmanager
def _without_distribution_checks() -> Iterator[None]:
    """
    Skip torch.distributions' argument checks while a probe trains (restored after): they cost up to ~20% of a
    probe's CPU time (a Categorical is built at every step and minibatch) and change no number or random draw.
    """
    from torch.distributions import Distribution

    before = Distribution._validate_args
    Distribution.set_default_validate_args(False)
    try:
        yield
    finally:
        Distribution.set_default_validate_args(before)


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

    A failure with too little training to judge (``learning_starts`` or ``target_update_interval``
    above the budget, a budget of one on-policy rollout when the probe needs two updates, too few
    optimizer steps for the learning rate) is inconclusive, not a broken component: the result's
    ``settings`` says why and ``needs`` the budget that would judge it. Training uses the model's
    own seed and the global RNG, as ``learn()`` always does.

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
        with _without_distribution_checks():
            model.learn(total_timesteps=timesteps)
            passed, measured, expected, tol, note = judge(model, env, tolerance, value_fn)
        settings, needs = "", 0
        if not passed:
            try:
                settings, needs = _too_little_training(model, probe, timesteps)
            except Exception:  # a bug in this check must not hide the verdict: the failure then stands as measured
                settings, needs = "", 0
        result = ProbeResult(
            probe, passed, measured, expected, meaning, isolates, tol, algorithm, kind,
            int(model.num_timesteps), time.perf_counter() - start, note, settings, needs,
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
