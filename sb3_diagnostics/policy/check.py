"""
Check a policy before training it: one gradient step's worth of checks, without training.

    from sb3_diagnostics.policy_check import check_policy
    report = check_policy(PPO(MyPolicy, env))
    assert report.ok, report.format()

- every trainable parameter gets a gradient from the algorithm's loss and sits in an optimizer
  (``param_no_grad``: a detached custom features extractor, a layer missing from the optimizer;
  seed 000's "feature extractor passes gradient flow test");
- outputs have the shapes SB3 expects and actions stay inside the action space
  (``policy_output_invalid``), and nothing is NaN (``nan_detected``);
- recurrent policies (RecurrentPPO, custom ``RecurrentActorCriticPolicy``) reset their state
  where ``episode_starts`` is 1 (``lstm_state_not_reset``, seed 000 #15, Issue D).

The model is left exactly as it was: no optimizer step, gradients through ``torch.autograd.grad``
(no ``.grad`` is written), parameters and buffers (e.g. batch-norm statistics) restored, module
train/eval modes restored, and the global torch RNG state restored (``torch.random.fork_rng``);
inputs come from the check's own seeded generators.

For evaluation loops of recurrent policies, :func:`evaluate_recurrent` passes ``episode_start``
correctly and :func:`warn_missing_episode_start` catches a loop that does not.
"""

from __future__ import annotations

import copy
import math
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import gymnasium as gym
import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.policies import ActorCriticPolicy
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv

from sb3_diagnostics import metrics as M
from sb3_diagnostics.catalog import LSTMThresholds, entry
from sb3_diagnostics.core import warn_findings
from sb3_diagnostics.errors import InvalidThresholdError
from sb3_diagnostics.findings import Finding, Severity
from sb3_diagnostics.rules.pipeline import RecurrentStateRule
from sb3_diagnostics.triage import triage_order
from sb3_diagnostics.warnings import RecurrentStateWarning

#: SB3's ``predict()`` of a recurrent model defaults ``episode_start`` to all False
PREDICT_EPISODE_START_NOTE = (
    "RecurrentPPO.predict(obs, state) defaults episode_start to all False, so in a hand-written evaluation "
    "loop the LSTM state of the previous episode leaks into the next one unless you pass "
    "episode_start=dones (True on the first step of each episode). Use "
    "sb3_diagnostics.policy_check.evaluate_recurrent(model, env, n_episodes) or SB3's evaluate_policy, or wrap "
    "your loop in warn_missing_episode_start(model) to catch it."
)


class PolicyCheckReport(list[Finding]):
    """
    The findings of :func:`check_policy` (a ``list[Finding]``) plus what was checked.

    :param findings: the findings
    :param summary: ``policy``, ``parameters`` checked, ``optimizers`` found, ``notes``
    """

    def __init__(self, findings: list[Finding] | None = None, summary: dict[str, Any] | None = None) -> None:
        super().__init__(findings or [])
        self.summary: dict[str, Any] = summary or {}

    @property
    def ok(self) -> bool:
        """Whether no finding is at warning level or above."""
        return all(f.severity < Severity.WARNING for f in self)

    def format(self) -> str:
        """:return: what was checked, then the findings"""
        s = self.summary
        lines = [
            f"sb3-diagnostics policy check: {s.get('algorithm', '?')} with {s.get('policy', '?')}",
            f"  trainable parameters: {s.get('parameters', '?')} tensors ({s.get('parameter_count', '?')} values), "
            f"optimizers: {s.get('optimizers', '?')}",
        ]
        lines += [f"  note: {n}" for n in s.get("notes", [])]
        if not self:
            lines.append("No findings.")
        for f in self:
            lines.append(f"[{f.severity}] {f.code}: {f.message}")
            lines.append(f"    -> {f.hint}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.format()


# ---------------------------------------------------------------------------------------------
# Inputs
# ---------------------------------------------------------------------------------------------


def _sample_batch(space: spaces.Space, n: int, seed: int) -> Any:
    """``n`` samples of ``space`` stacked along a new first axis (dicts per key), from a seeded copy."""
    own = copy.deepcopy(space)
    own.seed(int(seed))
    samples = [own.sample() for _ in range(n)]
    if isinstance(space, spaces.Dict):
        return {k: np.stack([np.asarray(s[k]) for s in samples]) for k in space.spaces}
    return np.stack([np.asarray(s) for s in samples])


def _action_tensor(policy: Any, space: spaces.Space, actions: np.ndarray, device: th.device) -> th.Tensor:
    """Actions in the form the algorithm's loss sees them (as stored in its buffers)."""
    if isinstance(space, spaces.Box):
        a = actions.astype(np.float32)
        if getattr(policy, "squash_output", False) or _is_off_policy_continuous(policy):
            a = np.clip(policy.scale_action(a), -1 + 1e-6, 1 - 1e-6)
        return th.as_tensor(a.reshape(len(a), -1), device=device)
    if isinstance(space, spaces.Discrete):
        return th.as_tensor(actions.reshape(-1) - int(space.start), device=device).long()
    if isinstance(space, spaces.MultiDiscrete):
        return th.as_tensor(actions.reshape(len(actions), -1), device=device).long()
    return th.as_tensor(actions.reshape(len(actions), -1), device=device).float()


def _is_off_policy_continuous(policy: Any) -> bool:
    return hasattr(policy, "actor") and hasattr(policy, "critic") and getattr(policy, "critic", None) is not None


def _is_recurrent(policy: Any) -> bool:
    return hasattr(policy, "lstm_actor") and hasattr(policy, "_process_sequence")


def _lstm_states(policy: Any, n_seq: int, generator: th.Generator | None, device: th.device) -> Any:
    """Recurrent states for ``n_seq`` sequences: zeros, or random with ``generator``."""
    from sb3_contrib.common.recurrent.type_aliases import RNNStates

    def pair(lstm: Any) -> tuple[th.Tensor, th.Tensor]:
        shape = (lstm.num_layers, n_seq, lstm.hidden_size)
        if generator is None:
            return th.zeros(shape, device=device), th.zeros(shape, device=device)
        return (th.randn(shape, generator=generator).to(device), th.randn(shape, generator=generator).to(device))

    pi = pair(policy.lstm_actor)
    critic = getattr(policy, "lstm_critic", None)
    vf = pair(critic) if critic is not None else (pi[0].clone(), pi[1].clone())
    return RNNStates(pi, vf)


# ---------------------------------------------------------------------------------------------
# The loss: what each algorithm differentiates
# ---------------------------------------------------------------------------------------------


def _losses(
    model: BaseAlgorithm, obs_t: Any, actions_t: th.Tensor, batch: int, device: th.device
) -> list[tuple[str, th.Tensor]]:
    """
    The terms the algorithm differentiates, each kept apart (summed terms can cancel exactly, e.g. a
    critic bias in ``Q(s, a) - Q(s, pi(s))``): :return: ``[(description, scalar loss), ...]``.
    """
    policy: Any = model.policy
    if _is_recurrent(policy):
        n_seq = 2 if batch % 2 == 0 else 1
        states = _lstm_states(policy, n_seq, None, device)
        starts = th.zeros(batch, device=device)
        starts[:: batch // n_seq] = 1.0  # each sequence starts an episode
        return _ac_terms(*policy.evaluate_actions(obs_t, actions_t, states, starts))
    if isinstance(policy, ActorCriticPolicy):
        return _ac_terms(*policy.evaluate_actions(obs_t, actions_t))
    if hasattr(policy, "quantile_net"):  # QR-DQN
        q = policy.quantile_net(obs_t).mean(dim=1)
        return [("quantile Q(s, a)", q.gather(1, actions_t.reshape(-1, 1)).mean())]
    if hasattr(policy, "q_net"):  # DQN
        return [("Q(s, a)", policy.q_net(obs_t).gather(1, actions_t.reshape(-1, 1)).mean())]
    if _is_off_policy_continuous(policy):  # SAC, TD3, TQC, CrossQ, DDPG
        terms = [("critic Q(s, a)", _mean_outputs(policy.critic(obs_t, actions_t)))]
        actor = policy.actor
        if hasattr(actor, "action_log_prob"):  # maximum entropy: SAC, TQC, CrossQ
            actions_pi, log_prob = actor.action_log_prob(obs_t)
            terms.append(("actor log_prob - Q(s, pi(s))", log_prob.mean() - _mean_outputs(policy.critic(obs_t, actions_pi))))
        else:
            terms.append(("actor -Q(s, pi(s))", -_mean_outputs(policy.critic(obs_t, actor(obs_t)))))
        return terms
    raise NotImplementedError(type(policy).__name__)


def _ac_terms(values: th.Tensor, log_prob: th.Tensor, entropy: th.Tensor | None) -> list[tuple[str, th.Tensor]]:
    terms = [("log_prob (policy loss)", log_prob.mean()), ("values (value loss)", values.mean())]
    if entropy is not None:
        terms.append(("entropy (entropy bonus)", entropy.mean()))
    return terms


def _mean_outputs(out: Any) -> th.Tensor:
    if isinstance(out, (tuple, list)):
        return th.stack([o.mean() for o in out]).sum()
    return out.mean()


def _trainable(policy: th.nn.Module) -> list[tuple[str, th.nn.Parameter]]:
    """Parameters that training should move: requires_grad, not part of a target network."""
    return [(n, p) for n, p in policy.named_parameters() if p.requires_grad and "_target" not in n]


def _optimizers(model: BaseAlgorithm) -> list[tuple[str, th.optim.Optimizer]]:
    out: list[tuple[str, th.optim.Optimizer]] = []
    policy = model.policy
    for name, module in [("policy", policy), *policy.named_modules()]:
        opt = getattr(module, "optimizer", None)
        if isinstance(opt, th.optim.Optimizer) and all(opt is not o for _, o in out):
            out.append((f"{name}.optimizer" if name != "policy" else "policy.optimizer", opt))
    return out


# ---------------------------------------------------------------------------------------------
# The checks
# ---------------------------------------------------------------------------------------------


class _PolicyChecker:
    def __init__(self, model: BaseAlgorithm, n_samples: int, seed: int, lstm_th: LSTMThresholds) -> None:
        self.model = model
        self.policy: Any = model.policy
        self.n = n_samples
        self.seed = seed
        self.lstm_th = lstm_th
        self.device = model.device
        self.findings: list[Finding] = []
        self.summary: dict[str, Any] = {
            "algorithm": type(model).__name__, "policy": type(self.policy).__name__, "notes": [],
        }
        self.obs_np = _sample_batch(model.observation_space, n_samples, seed)
        self.actions_np = _sample_batch(model.action_space, n_samples, seed + 1)

    def add(self, code: str, message: str, value: float = math.nan, threshold: float = math.nan,
            severity: Severity | None = None) -> None:
        row = entry(code)
        self.findings.append(Finding(code, severity or row.severity, int(self.model.num_timesteps), message, row.hint,
                                     float(value), float(threshold), check="policy"))

    def note(self, text: str) -> None:
        self.summary["notes"].append(text)

    def obs_tensor(self) -> Any:
        obs_t, _ = self.policy.obs_to_tensor(self.obs_np)
        return obs_t

    def run(self) -> None:
        self._check_parameters_finite()
        self._check_gradients()
        self._check_outputs()
        if _is_recurrent(self.policy):
            self._check_recurrent()

    def _check_parameters_finite(self) -> None:
        bad = [n for n, p in self.policy.named_parameters() if not th.all(th.isfinite(p))]
        if bad:
            self.add("nan_detected", f"parameters contain NaN or Inf: {', '.join(bad[:5])}: every output will be NaN.")

    def _check_gradients(self) -> None:
        params = _trainable(self.policy)
        self.summary["parameters"] = len(params)
        self.summary["parameter_count"] = int(sum(p.numel() for _, p in params))
        optimizers = _optimizers(self.model)
        self.summary["optimizers"] = ", ".join(n for n, _ in optimizers) or "none found"
        if not optimizers:
            self.note(f"{type(self.policy).__name__} has no torch optimizer (gradient-free algorithm?): "
                      "gradient checks skipped")
            return
        in_optimizer = {id(p) for _, opt in optimizers for group in opt.param_groups for p in group["params"]}
        missing = [n for n, p in params if id(p) not in in_optimizer]
        if missing:
            self.add("param_no_grad", (
                f"{len(missing)} trainable parameter tensor(s) are in no optimizer, so no optimizer step ever changes "
                f"them: {_names(missing)}. They stay at their initial values (a layer created after the optimizer, "
                "or a wrong parameter group)."
            ), len(missing), 0.0)
        actions_t = _action_tensor(self.policy, self.model.action_space, self.actions_np, self.device)
        try:
            terms = _losses(self.model, self.obs_tensor(), actions_t, self.n, self.device)
        except NotImplementedError:
            self.note(f"no loss known for {type(self.policy).__name__}: gradient flow not checked")
            return
        how = " + ".join(name for name, _ in terms)
        self.summary["loss"] = how
        bad = [name for name, t in terms if not th.isfinite(t)]
        if bad:
            self.add("nan_detected", f"the loss terms {', '.join(bad)} are NaN/Inf on sampled observations.")
            return
        tensors = [p for _, p in params]
        reached = [False] * len(tensors)
        for _, term in terms:
            if not term.requires_grad:
                continue
            grads = th.autograd.grad(term, tensors, allow_unused=True, retain_graph=True)
            for i, g in enumerate(grads):
                reached[i] = reached[i] or (g is not None and bool(th.any(g != 0)))
        dead = [n for (n, _), ok in zip(params, reached, strict=True) if not ok]
        if dead:
            self.add("param_no_grad", (
                f"{len(dead)} of {len(params)} trainable parameter tensors get no gradient from the loss ({how}): "
                f"{_names(dead)}. They never learn; the usual cause is a .detach() (or torch.no_grad, .numpy()) "
                "in a custom features extractor or network, or an output that is never used."
            ), len(dead), 0.0)

    def _check_outputs(self) -> None:
        model, policy, space = self.model, self.policy, self.model.action_space
        obs_np: Any = self.obs_np
        problems = []
        with th.no_grad():
            if isinstance(self.policy, ActorCriticPolicy):
                obs_t = self.obs_tensor()
                actions_t = _action_tensor(policy, space, self.actions_np, self.device)
                if _is_recurrent(policy):
                    states = _lstm_states(policy, self.n, None, self.device)
                    values, log_prob, _ = policy.evaluate_actions(obs_t, actions_t, states, th.ones(self.n))
                else:
                    values, log_prob, _ = policy.evaluate_actions(obs_t, actions_t)
                if tuple(values.shape) not in ((self.n, 1), (self.n,)):
                    problems.append(f"values have shape {tuple(values.shape)}, expected ({self.n}, 1)")
                if tuple(log_prob.shape) != (self.n,):
                    problems.append(
                        f"log_prob has shape {tuple(log_prob.shape)}, expected ({self.n},) (summed over action dims)"
                    )
                if not (th.all(th.isfinite(values)) and th.all(th.isfinite(log_prob))):
                    self.add("nan_detected", "values or log-probabilities are NaN/Inf on sampled observations.")
            if _is_recurrent(policy):
                actions, _ = model.predict(obs_np, state=None, episode_start=np.ones(self.n, dtype=bool),
                                           deterministic=True)
            else:
                actions, _ = model.predict(obs_np, deterministic=True)
            expected = (self.n, *(space.shape or ()))
            if np.shape(actions) != expected:
                problems.append(f"predict() returned actions of shape {np.shape(actions)}, expected {expected}")
            else:
                outside = [i for i in range(self.n) if not space.contains(_as_space_sample(space, actions[i]))]
                if outside:
                    problems.append(
                        f"{len(outside)} of {self.n} predicted actions are outside {space} (e.g. {actions[outside[0]]!r})"
                    )
            if getattr(policy, "squash_output", False) and isinstance(space, spaces.Box) and not _is_recurrent(policy):
                raw = policy._predict(self.obs_tensor(), deterministic=True)
                if th.any(raw.abs() > 1.0 + 1e-6):
                    problems.append(f"the squashed policy output reaches {float(raw.abs().max()):.3g}, outside [-1, 1]")
        if problems:
            self.add("policy_output_invalid", (
                "; ".join(problems) + ". SB3's losses and buffers assume these shapes and bounds: a wrong one "
                "broadcasts silently or crashes mid-training."
            ))

    def _check_recurrent(self) -> None:
        """Same observations, episode_starts = 1: a random carried state must make no difference."""
        policy, device = self.policy, self.device
        obs_t = self.obs_tensor()
        generator = th.Generator().manual_seed(self.seed)
        starts = th.ones(self.n, device=device)
        zero = _lstm_states(policy, self.n, None, device)
        carried = _lstm_states(policy, self.n, generator, device)

        def outputs(states: Any, episode_starts: th.Tensor) -> np.ndarray:
            dist, _ = policy.get_distribution(obs_t, states.pi, episode_starts)
            inner = dist.distribution
            parts = inner if isinstance(inner, list) else [inner]
            arrays = [d.probs if hasattr(d, "probs") else th.cat([d.mean, d.stddev], dim=-1) for d in parts]
            values = policy.predict_values(obs_t, states.vf, episode_starts)
            return th.cat([a.reshape(self.n, -1) for a in [*arrays, values]], dim=1).cpu().numpy()

        with th.no_grad():
            violation = M.relative_difference(outputs(carried, starts), outputs(zero, starts))
            uses_state = M.relative_difference(outputs(carried, starts * 0), outputs(zero, starts * 0))
        self.summary["lstm_reset_violation"] = violation
        rule = RecurrentStateRule(self.lstm_th)
        for alert in rule.observe(0, {"lstm_reset_violation": violation, "_lstm_reset_checked": float(self.n)}):
            self.add(alert.code, alert.message, alert.value, alert.threshold, alert.severity)
        if not uses_state > self.lstm_th.tolerance:
            self.note("the policy's output does not depend on its LSTM state even mid-episode: it has no memory")
        self.note(PREDICT_EPISODE_START_NOTE)


def _as_space_sample(space: spaces.Space, a: Any) -> Any:
    if isinstance(space, spaces.Discrete):
        return np.int64(np.asarray(a).reshape(-1)[0])
    return np.asarray(a).astype(space.dtype) if space.dtype is not None else a


def _names(names: list[str], limit: int = 6) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def check_policy(
    model: BaseAlgorithm,
    n_samples: int = 32,
    seed: int = 0,
    *,
    lstm_thresholds: LSTMThresholds | dict[str, Any] | None = None,
    warn: bool = True,
    verbose: int = 0,
) -> PolicyCheckReport:
    """
    Check an (untrained or trained) model's policy without training it and without changing it.

    On ``n_samples`` observations sampled from the observation space (the check's own seeded
    generator): builds the loss the algorithm differentiates (``evaluate_actions`` for actor-critic,
    Q-values for DQN, critic and actor terms for SAC/TD3) and verifies that every trainable
    parameter receives a gradient and is in an optimizer (``param_no_grad``); that values,
    log-probabilities and actions have the shapes SB3 expects and actions lie in the action space
    (``policy_output_invalid``); that nothing is NaN (``nan_detected``); and, for recurrent
    policies, that the LSTM state is reset where ``episode_starts`` is 1 (``lstm_state_not_reset``).

    :param model: an SB3 / sb3-contrib algorithm (PPO, A2C, DQN, SAC, TD3, RecurrentPPO, TRPO,
        QR-DQN, TQC, custom policies)
    :param n_samples: observations in the batch (even, so recurrent checks can use two sequences)
    :param seed: seed of the sampled observations, actions and LSTM states
    :param lstm_thresholds: :class:`~sb3_diagnostics.catalog.LSTMThresholds` or a dict of its fields
    :param warn: also raise a Python warning per finding at warning level or above
    :param verbose: 0 silent; 1 print the report
    :return: a :class:`PolicyCheckReport` (a ``list[Finding]`` with ``.summary`` and ``.format()``)
    """
    if not isinstance(model, BaseAlgorithm):
        raise TypeError(f"check_policy needs an SB3 model (e.g. PPO('MlpPolicy', env)); got {type(model).__name__}.")
    if isinstance(n_samples, bool) or not isinstance(n_samples, int) or n_samples < 2:
        raise InvalidThresholdError(f"n_samples={n_samples!r}: must be a whole number >= 2.")
    lstm_th = LSTMThresholds.coerce(lstm_thresholds)
    policy: Any = model.policy
    saved_state = {k: v.detach().clone() for k, v in policy.state_dict().items()}
    saved_modes = {name: m.training for name, m in policy.named_modules()}
    devices = [model.device] if model.device.type == "cuda" else []
    checker = _PolicyChecker(model, n_samples, seed, lstm_th)
    try:
        with th.random.fork_rng(devices=devices):
            th.manual_seed(seed)  # any sampling inside SB3 code (e.g. SAC's rsample) draws from a private state
            policy.set_training_mode(True)  # the mode the algorithm's loss runs in
            checker.run()
    finally:
        with th.no_grad():
            for key, value in policy.state_dict().items():
                value.copy_(saved_state[key])
        for name, module in policy.named_modules():
            module.training = saved_modes[name]
    report = PolicyCheckReport(triage_order(checker.findings), checker.summary)
    if warn:
        warn_findings(report)
    if verbose >= 1:
        print(report.format())
    return report


# ---------------------------------------------------------------------------------------------
# Evaluating recurrent policies
# ---------------------------------------------------------------------------------------------


def evaluate_recurrent(
    model: BaseAlgorithm,
    env: gym.Env | VecEnv,
    n_episodes: int = 10,
    deterministic: bool = True,
    seed: int | None = None,
) -> np.ndarray:
    """
    Evaluate a model the way a recurrent policy must be evaluated: the LSTM state is carried from
    step to step and reset at every episode start (``episode_start=True`` on the first step of each
    episode). ``model.predict(obs, state)`` without ``episode_start`` does not reset it, because
    SB3 defaults ``episode_start`` to all False. Works for non-recurrent models too.

    :param model: the trained model
    :param env: a gymnasium ``Env`` (wrapped in a ``DummyVecEnv``) or a ``VecEnv``
    :param n_episodes: episodes to finish
    :param deterministic: whether to use deterministic actions
    :param seed: seed of the first reset (None: the env's current RNG)
    :return: the undiscounted return of each episode, in order of completion, shape ``(n_episodes,)``
    """
    if isinstance(n_episodes, bool) or not isinstance(n_episodes, int) or n_episodes < 1:
        raise InvalidThresholdError(f"n_episodes={n_episodes!r}: must be a whole number >= 1.")
    venv = env if isinstance(env, VecEnv) else DummyVecEnv([lambda: env])
    if seed is not None:
        venv.seed(seed)
    obs: Any = venv.reset()
    state = None
    episode_start = np.ones(venv.num_envs, dtype=bool)
    running = np.zeros(venv.num_envs)
    returns: list[float] = []
    while len(returns) < n_episodes:
        actions, state = model.predict(obs, state=state, episode_start=episode_start, deterministic=deterministic)
        obs, rewards, dones, _ = venv.step(actions)
        running += rewards
        for i in np.flatnonzero(dones):
            returns.append(float(running[i]))
            running[i] = 0.0
        episode_start = dones
    return np.asarray(returns[:n_episodes])


@contextmanager
def warn_missing_episode_start(model: BaseAlgorithm) -> Iterator[BaseAlgorithm]:
    """
    Inside the block, a call ``model.predict(obs, state)`` that passes a recurrent state but no
    ``episode_start`` raises a :class:`~sb3_diagnostics.warnings.RecurrentStateWarning`: SB3
    then treats every step as mid-episode, so the LSTM state leaks across episodes.

        with warn_missing_episode_start(model):
            my_evaluation_loop(model, env)

    :param model: a (recurrent) model; its ``predict`` is wrapped for the duration of the block
    :return: the model
    """
    had_own = "predict" in vars(model)
    original = model.predict

    def predict(observation: Any, state: Any = None, episode_start: Any = None, deterministic: bool = False) -> Any:
        if state is not None and episode_start is None:
            warnings.warn(
                f"[{entry('lstm_state_not_reset').code}] model.predict(obs, state) was called without episode_start: "
                + PREDICT_EPISODE_START_NOTE,
                RecurrentStateWarning,
                stacklevel=2,
            )
        return original(observation, state=state, episode_start=episode_start, deterministic=deterministic)

    model.predict = predict  # type: ignore[method-assign]
    try:
        yield model
    finally:
        if had_own:
            model.predict = original  # type: ignore[method-assign]
        else:
            del model.predict
