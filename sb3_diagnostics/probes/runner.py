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
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, SupportsFloat

import gymnasium as gym
import numpy as np
import torch as th
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.policies import ActorCriticPolicy

from sb3_diagnostics.errors import ProbeSetupError
from sb3_diagnostics.probes.envs import ACTION_KINDS, PROBE_CLASSES, PROBE_TABLE, ProbeEnv, make_probe_env

#: timesteps per probe when ``budget`` is None: a few seconds each at ~1000 steps/s
DEFAULT_BUDGETS: dict[int, int] = {1: 2000, 2: 3000, 3: 3000, 4: 3000, 5: 5000}

#: a continuous action counts as "the good action" when it is at least this far towards it (actions are in [-1, 1])
ACTION_MARGIN = 0.5

MakeModel = Callable[[Any], BaseAlgorithm]
ValueFn = Callable[[BaseAlgorithm, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class ProbeResult:
    """
    The outcome of one probe.

    :param probe: probe number, 1-5
    :param passed: True / False, or None when the probe was skipped (see ``note``)
    :param measured: what the trained model gives, e.g. ``{"V(0)": 0.98}``
    :param expected: what a correct implementation gives, same keys
    :param meaning: what a failure means (the component this probe adds to the previous one)
    :param isolates: the probe environment, in words
    :param tolerance: allowed absolute error on values
    :param algorithm: class name of the model
    :param action_kind: ``"discrete"`` or ``"continuous"`` (the probe variant used)
    :param timesteps: timesteps trained
    :param seconds: wall time of training and measuring
    :param note: skip reason, or caveats that help reading the result
    :param settings: model settings that alone keep this probe from passing within its budget
        (e.g. DQN's ``target_update_interval`` larger than the budget); empty when none
    """

    probe: int
    passed: bool | None
    measured: dict[str, float]
    expected: dict[str, float]
    meaning: str
    isolates: str = ""
    tolerance: float = float("nan")
    algorithm: str = ""
    action_kind: str | None = None
    timesteps: int = 0
    seconds: float = 0.0
    note: str = ""
    settings: str = ""

    @property
    def skipped(self) -> bool:
        """Whether the probe did not run (``passed`` is None)."""
        return self.passed is None

    def describe(self) -> str:
        """:return: one line: probe, verdict, measured vs expected, and what a failure means"""
        verdict = "skipped" if self.passed is None else ("passed" if self.passed else "FAILED")
        if self.passed is None:
            return f"probe {self.probe} ({self.isolates}): skipped: {self.note}"
        pairs = ", ".join(
            f"{k} = {_fmt(self.measured.get(k, float('nan')))} (expected {_fmt(v)})" for k, v in self.expected.items()
        )
        text = f"probe {self.probe} ({self.isolates}) {verdict} for {self.algorithm}: {pairs}"
        if not self.passed:
            text += f"; a failure here means: {self.meaning}"
        if self.settings:
            text += f" (settings: {self.settings})"
        if self.note:
            text += f" [{self.note}]"
        return text

    def __str__(self) -> str:
        return self.describe()


def _fmt(x: float) -> str:
    return f"{x:+.3f}"


# ---------------------------------------------------------------------------------------------
# Measuring a trained model
# ---------------------------------------------------------------------------------------------


def _obs_batch(env: ProbeEnv, states: Iterable[float]) -> np.ndarray:
    return np.array([[s] for s in states], dtype=np.float32)


def _is_recurrent(model: BaseAlgorithm) -> bool:
    return hasattr(model.policy, "lstm_actor")


def _recurrent_inputs(model: BaseAlgorithm, batch: int) -> tuple[tuple[th.Tensor, th.Tensor], th.Tensor]:
    """Initial LSTM state (zeros) and ``episode_starts = 1`` for a batch of first observations."""
    lstm: Any = getattr(model.policy, "lstm_actor")  # noqa: B009  (recurrent policies only)
    zeros = th.zeros(lstm.num_layers, batch, lstm.hidden_size, device=model.device)
    return (zeros, zeros.clone()), th.ones(batch, device=model.device)


def _critic_q(model: BaseAlgorithm, obs_t: th.Tensor, actions_t: th.Tensor) -> th.Tensor:
    """Mean over critics (and quantiles) of Q(s, a), shape (batch,)."""
    policy: Any = model.policy
    out = policy.critic(obs_t, actions_t)
    if isinstance(out, (tuple, list)):
        return th.stack([q.reshape(q.shape[0], -1).mean(dim=1) for q in out]).mean(dim=0)
    return out.reshape(out.shape[0], -1).mean(dim=1)


def _discrete_q(model: BaseAlgorithm, obs_t: th.Tensor) -> th.Tensor | None:
    """Q-values of every action, shape (batch, n_actions), for DQN and QR-DQN; None for other models."""
    policy: Any = model.policy
    if hasattr(policy, "quantile_net"):
        return policy.quantile_net(obs_t).mean(dim=1)
    if hasattr(policy, "q_net"):
        return policy.q_net(obs_t)
    return None


def value_kind(model: BaseAlgorithm) -> str | None:
    """
    :param model: an SB3 / sb3-contrib algorithm
    :return: how its value is read: ``"v"`` (``predict_values``), ``"q_discrete"`` (DQN, QR-DQN),
        ``"q_critic"`` (SAC, TD3, TQC, CrossQ), or None when it has no value function (ARS)
    """
    policy: Any = model.policy
    if isinstance(policy, ActorCriticPolicy) or hasattr(policy, "predict_values"):
        return "v"
    if hasattr(policy, "quantile_net") or hasattr(policy, "q_net"):
        return "q_discrete"
    if hasattr(policy, "critic") and getattr(policy, "critic", None) is not None:
        return "q_critic"
    return None


def predict_values(model: BaseAlgorithm, obs: np.ndarray, episode_starts: np.ndarray | None = None) -> np.ndarray:
    """
    The value the model assigns to each observation: ``V(s)`` for actor-critic policies, and
    ``Q(s, a*)`` at the model's own deterministic action ``a*`` for Q-learners.

    :param model: a trained model
    :param obs: observations, shape ``(batch, *obs_shape)``
    :param episode_starts: recurrent policies only: None (every observation starts an episode), or
        flags marking ``obs`` as one trajectory (e.g. ``[1, 0]``: a first and a second step)
    :return: shape ``(batch,)``
    :raises ValueError: when the model has no value function
    """
    kind = value_kind(model)
    if kind is None:
        raise ValueError(f"{type(model).__name__} has no value function to measure.")
    policy: Any = model.policy
    was_training = policy.training
    policy.set_training_mode(False)
    try:
        with th.no_grad():
            obs_t, _ = policy.obs_to_tensor(obs)
            if kind == "v":
                if _is_recurrent(model) and episode_starts is not None:
                    states, _ = _recurrent_inputs(model, 1)  # one sequence
                    starts = th.as_tensor(np.asarray(episode_starts, dtype=np.float32), device=model.device)
                    values = policy.predict_values(obs_t, states, starts)
                elif _is_recurrent(model):
                    states, starts = _recurrent_inputs(model, obs.shape[0])
                    values = policy.predict_values(obs_t, states, starts)
                else:
                    values = policy.predict_values(obs_t)
            elif kind == "q_discrete":
                q = _discrete_q(model, obs_t)
                assert q is not None
                values = q.max(dim=1).values
            else:
                actions_t = policy._predict(obs_t, deterministic=True)
                values = _critic_q(model, obs_t, actions_t.reshape(obs_t.shape[0], -1).float())
    finally:
        policy.set_training_mode(was_training)
    return values.reshape(-1).cpu().numpy().astype(np.float64)


def predict_actions(model: BaseAlgorithm, obs: np.ndarray) -> np.ndarray:
    """
    The model's deterministic action for each observation, each one the first step of an episode.

    :param model: a trained model
    :param obs: observations, shape ``(batch, *obs_shape)``
    :return: actions, shape ``(batch, ...)``
    """
    if _is_recurrent(model):
        actions, _ = model.predict(obs, state=None, episode_start=np.ones(obs.shape[0], dtype=bool), deterministic=True)
    else:
        actions, _ = model.predict(obs, deterministic=True)
    return np.asarray(actions)


def _soft_value_bonus(model: BaseAlgorithm, obs: np.ndarray, seed: int = 0) -> float:
    """
    For maximum-entropy critics (SAC, TQC, CrossQ): ``alpha * H(pi(.|s))`` at ``obs`` (batch of 1),
    the entropy bonus a soft Q-value adds to the discounted reward. 0 for every other model.

    Samples with its own ``torch.Generator``, never the global RNG.
    """
    alpha_t = None
    log_ent_coef, ent_coef_tensor = getattr(model, "log_ent_coef", None), getattr(model, "ent_coef_tensor", None)
    if log_ent_coef is not None:
        alpha_t = th.exp(log_ent_coef.detach())
    elif ent_coef_tensor is not None:
        alpha_t = ent_coef_tensor
    actor: Any = getattr(model, "actor", None)
    if alpha_t is None or actor is None or not hasattr(actor, "get_action_dist_params"):
        return 0.0
    generator = th.Generator(device=model.device).manual_seed(seed)
    n = 1024
    with th.no_grad():
        obs_t, _ = model.policy.obs_to_tensor(np.repeat(obs[:1], n, axis=0))
        mean, log_std, kwargs = actor.get_action_dist_params(obs_t)
        dist = actor.action_dist.proba_distribution(mean, log_std, **kwargs)
        normal = dist.distribution
        eps = th.randn(normal.mean.shape, generator=generator, device=model.device)
        gaussian = normal.mean + normal.stddev * eps
        log_prob = dist.log_prob(th.tanh(gaussian), gaussian)
    return float(alpha_t.reshape(-1)[0]) * float(-log_prob.mean())


class _EpisodeLog(gym.Wrapper):
    """Records (first observation, return) of every finished episode: what the agent actually got."""

    def __init__(self, env: ProbeEnv, maxlen: int = 20_000) -> None:
        super().__init__(env)
        self.episodes: deque[tuple[float, float, int]] = deque(maxlen=maxlen)
        self._first = 0.0
        self._return = 0.0
        self._length = 0

    def reset(self, **kwargs: Any) -> tuple[Any, dict]:
        obs, info = self.env.reset(**kwargs)
        self._first, self._return, self._length = float(np.asarray(obs).reshape(-1)[0]), 0.0, 0
        return obs, info

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        self._return += float(reward)
        self._length += 1
        if terminated or truncated:
            self.episodes.append((self._first, self._return, self._length))
        return obs, reward, terminated, truncated, info

    def recent_returns(self, state: float, steps: int) -> np.ndarray:
        """Returns of the episodes that started at ``state`` among the episodes of the last ``steps`` timesteps."""
        out, seen = [], 0
        for first, ret, length in reversed(self.episodes):
            if seen >= steps:
                break
            seen += length
            if first == state:
                out.append(ret)
        return np.asarray(out, dtype=np.float64)


def _fitted_window(model: BaseAlgorithm) -> int:
    """
    Timesteps of recent experience an on-policy critic was last fitted to: the last rollout when it
    is large enough to be fitted on its own (PPO, TRPO, RecurrentPPO), else the last 256 steps (A2C's
    5-step rollouts each move the critic a little, so it averages over many of them).
    """
    rollout = int(getattr(model, "n_steps", 0) or 0) * int(getattr(model, "n_envs", 1) or 1)
    return rollout if rollout >= 64 else 256


# ---------------------------------------------------------------------------------------------
# Judging one probe
# ---------------------------------------------------------------------------------------------


def _probe3_tolerance(tolerance: float, gamma: float) -> float:
    """V(s0) must land closer to gamma than to 1, or a missing discount would pass unnoticed."""
    return min(tolerance, max(0.5 * (1.0 - gamma), 0.03))


def _judge(
    model: BaseAlgorithm, log: _EpisodeLog, tolerance: float, value_fn: ValueFn | None
) -> tuple[bool, dict[str, float], dict[str, float], float, str]:
    """Measure a trained model on its probe; :return: passed, measured, expected, tolerance used, note."""
    env = log.unwrapped
    assert isinstance(env, ProbeEnv)
    probe = env.probe
    states = env.states
    obs = _obs_batch(env, states)
    names = [_state_name(s) for s in states]
    has_value = value_fn is not None or value_kind(model) is not None
    values = None
    if probe in (1, 2, 3, 5) and has_value:
        # probe 3's states are the two steps of one episode (a recurrent critic sees them in sequence)
        starts = np.array([1.0, 0.0]) if probe == 3 else None
        values = value_fn(model, obs) if value_fn is not None else predict_values(model, obs, starts)
        values = np.asarray(values, dtype=np.float64).reshape(-1)
    measured: dict[str, float] = {}
    expected: dict[str, float] = {}
    note = ""
    tol = tolerance

    if probe in (1, 2, 3):
        assert values is not None
        gamma = float(getattr(model, "gamma", 0.99))
        targets = {1: [1.0], 2: [1.0, -1.0], 3: [gamma, 1.0]}[probe]
        tolerances = [tolerance] * len(targets)
        if probe == 3:
            bonus = _soft_value_bonus(model, obs[1:2])
            targets[0] = gamma * (1.0 + bonus)
            tolerances[0] = _probe3_tolerance(tolerance, gamma)
            if bonus:
                note = (
                    f"soft value: V(s0) = gamma * (1 + alpha * H(pi(.|s1))) = {gamma:.3g} * (1 + {bonus:.3g}), the "
                    "entropy bonus of a maximum-entropy critic"
                )
            if 1.0 - gamma < 2 * tolerances[0]:
                note = "; ".join(filter(None, [note, (
                    f"gamma={gamma:g}: a missing discount moves V(s0) by only {1 - gamma:.3g}, inside the tolerance "
                    f"{tolerances[0]:g}; build the model with gamma <= 0.9 for a sharp test of discounting"
                )]))
            tol = tolerances[0]
        for name, v, t in zip(names, values, targets, strict=True):
            measured[f"V({name})"], expected[f"V({name})"] = float(v), float(t)
        passed = all(abs(values[i] - targets[i]) <= tolerances[i] for i in range(len(targets)))
        return bool(passed), measured, expected, tol, note

    actions = predict_actions(model, obs)
    action_values = [env.action_value(a) for a in actions.reshape(len(states), -1)]
    if probe == 4:
        good = 1.0
        measured["action(0)"], expected["action(0)"] = action_values[0], good
        ok = action_values[0] >= ACTION_MARGIN if env.action_kind == "continuous" else action_values[0] == good
        if env.action_kind == "continuous":
            note = f"passes when the action is >= {ACTION_MARGIN}"
        return bool(ok), measured, expected, tol, note

    # probe 5: the right action for each observation, and a value that matches the policy
    ok_actions = []
    for name, s, a in zip(names, states, action_values, strict=True):
        measured[f"action({name})"], expected[f"action({name})"] = a, s
        ok_actions.append(a * s >= ACTION_MARGIN if env.action_kind == "continuous" else a == s)
    passed = all(ok_actions)
    if values is not None:
        if value_kind(model) == "v" and value_fn is None:
            # An on-policy critic estimates the policy that collected its last rollout, not the updated one:
            # compare with the mean return the agent actually got in that experience.
            window = _fitted_window(model)
            recent = [log.recent_returns(s, window) for s in states]
            value_targets = np.array([np.mean(r) if r.size else np.nan for r in recent])
            # that mean is itself a sample: allow two of its standard errors on top of the tolerance
            errors = np.array([np.std(r) / np.sqrt(r.size) if r.size else 0.0 for r in recent])
            state_tolerances = tolerance + 2.0 * errors
            tol = float(np.max(state_tolerances))
            note = (
                f"V(s) is compared with the mean return of the last {window} timesteps of experience (the data the "
                "critic was fitted to), within the tolerance plus two standard errors of that mean"
            )
        else:
            value_targets = np.array(
                [env.reward(s, a) for s, a in zip(states, actions.reshape(len(states), -1), strict=True)]
            )
            state_tolerances = np.full(len(states), tolerance)
        for name, v, t in zip(names, values, value_targets, strict=True):
            measured[f"V({name})"], expected[f"V({name})"] = float(v), float(t)
        passed = passed and bool(np.all(np.abs(values - value_targets) <= state_tolerances))  # nan (no data) fails
    return bool(passed), measured, expected, tol, note


def _state_name(s: float) -> str:
    return f"{s:+g}" if s != 0 else "0"


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


def _build(make_model: MakeModel, probe: int, kinds: tuple[str, ...]) -> tuple[BaseAlgorithm, _EpisodeLog, str] | str:
    """
    Build a model on the first probe variant it accepts.

    :return: (model, env, kind), or why no variant fits (when every failure is an action-space rejection)
    :raises ProbeSetupError: when ``make_model`` fails for another reason (a bug in it is not a skip)
    """
    errors: list[tuple[str, Exception]] = []
    for kind in kinds:
        env = _EpisodeLog(make_probe_env(probe, kind))
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
    implementation learns (seed 003 phase 1; A. Jones, "Debugging RL, Without the Agonizing Pain").

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
        passed, measured, expected, tol, note = _judge(model, env, tolerance, value_fn)
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


def diagnose(results: Iterable[ProbeResult]) -> str:
    """
    Read a list of results the way the probes are meant to be read.

    :param results: from :func:`run_probes`
    :return: which component is broken (from the first failure and the probe before it), or
        that every probe that ran passed
    """
    results = sorted(results, key=lambda r: r.probe)
    ran = {r.probe: r for r in results if not r.skipped}
    failures = [r for r in results if r.passed is False]
    if not failures:
        skipped = [r for r in results if r.skipped]
        text = f"every probe that ran passed ({', '.join(str(p) for p in ran) or 'none'})"
        if skipped:
            text += "; skipped: " + "; ".join(f"probe {r.probe}: {r.note}" for r in skipped)
        return text
    first = failures[0]
    previous = ran.get(first.probe - 1)
    if first.probe == 1:
        where = f"Probe 1 is the simplest probe: {first.meaning}."
    elif previous is not None and previous.passed:
        where = (
            f"Probe {first.probe - 1} passed, so the bug is in exactly what probe {first.probe} adds: {first.meaning}."
        )
    else:
        where = (
            f"Probe {first.probe - 1} did not run, so the bug is in what probe {first.probe} tests or in an earlier "
            f"component: run probes 1-{first.probe} to locate it. Probe {first.probe} failing means: {first.meaning}."
        )
    text = f"{first.describe()}. {where}"
    if first.settings:
        text += f" But first fix the settings that alone keep it from passing: {first.settings}."
    return text


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
