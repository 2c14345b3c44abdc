"""
Check a policy before training it: one gradient step's worth of checks, without training.

    from sb3_diagnostics import check_policy
    report = check_policy(PPO(MyPolicy, env))
    assert report.ok, report.format()

- every trainable parameter gets a gradient from the algorithm's loss and sits in an optimizer
  (``param_no_grad``: a detached custom features extractor, a layer missing from the optimizer);
- outputs have the shapes SB3 expects and actions stay inside the action space
  (``policy_output_invalid``), and nothing is NaN (``nan_detected``);
- recurrent policies (RecurrentPPO, custom ``RecurrentActorCriticPolicy``) reset their state
  where ``episode_starts`` is 1 (``lstm_state_not_reset``);
- no hidden layer is a 1-2 unit bottleneck, and most units of a layer are not dead or saturated on
  the sampled observations (``network_too_small``).

The model is left exactly as it was: no optimizer step, gradients through ``torch.autograd.grad``
(no ``.grad`` is written), parameters and buffers (e.g. batch-norm statistics) restored, module
train/eval modes restored, and the global torch RNG state restored (``torch.random.fork_rng``);
inputs come from the check's own seeded generators.

For evaluation loops of recurrent policies, :func:`evaluate_recurrent` passes ``episode_start``
correctly and :func:`warn_missing_episode_start` catches a loop that does not.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.policies import ActorCriticPolicy

from sb3_diagnostics import metrics as M
from sb3_diagnostics.catalog import entry
from sb3_diagnostics.engine import warn_findings
from sb3_diagnostics.errors import InvalidThresholdError
from sb3_diagnostics.findings import Finding, Severity
from sb3_diagnostics.policy.recurrent import PREDICT_EPISODE_START_NOTE
from sb3_diagnostics.rules.gradients import NetworkRule, RegistrationRule, network_metrics, registration_metrics
from sb3_diagnostics.rules.lstm import RecurrentStateRule
from sb3_diagnostics.sb3.models import (
    is_recurrent,
    lstm_states,
    optimizer_label,
    own_sde_noise,
    policy_optimizers,
    q_values,
    trainable_parameters,
    unregistered_modules,
    value_kind,
)
from sb3_diagnostics.sb3.network import narrow_layers, unit_activity
from sb3_diagnostics.sb3.spaces import action_tensor, as_space_sample, sample_batch
from sb3_diagnostics.thresholds import GradientThresholds, LSTMThresholds
from sb3_diagnostics.triage import Report


class PolicyCheckReport(Report):
    """
    The findings of :func:`check_policy` (a ``list[Finding]``, root causes first) plus what was checked.

    :param findings: the findings
    :param summary: ``policy``, ``parameters`` checked, ``optimizers`` found, ``notes``
    """

    def _rows(self) -> list[tuple[str, str]]:
        s = self.summary
        return [
            ("policy", f"{s.get('algorithm', '?')} with {s.get('policy', '?')}"),
            ("trainable parameters", f"{s.get('parameters', '?')} tensors ({s.get('parameter_count', '?')} values)"),
            ("optimizers", str(s.get("optimizers", "?"))),
        ]

    @property
    def title(self) -> str:  # type: ignore[override]
        return "sb3-diagnostics policy check"


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
    if is_recurrent(policy):
        n_seq = 2 if batch % 2 == 0 else 1
        states = lstm_states(policy, n_seq, device)
        starts = th.zeros(batch, device=device)
        starts[:: batch // n_seq] = 1.0  # each sequence starts an episode
        return _ac_terms(*policy.evaluate_actions(obs_t, actions_t, states, starts))
    if isinstance(policy, ActorCriticPolicy):
        return _ac_terms(*policy.evaluate_actions(obs_t, actions_t))
    kind = value_kind(policy)
    if kind == "q_discrete":  # DQN, QR-DQN
        return [("Q(s, a)", q_values(policy, obs_t, actions_t).mean())]
    if kind == "q_critic":  # SAC, TD3, TQC, CrossQ, DDPG
        terms = [("critic Q(s, a)", q_values(policy, obs_t, actions_t).mean())]
        actor = policy.actor
        if hasattr(actor, "action_log_prob"):  # maximum entropy: SAC, TQC, CrossQ
            actions_pi, log_prob = actor.action_log_prob(obs_t)
            terms.append(("actor log_prob - Q(s, pi(s))", log_prob.mean() - q_values(policy, obs_t, actions_pi).mean()))
        else:
            terms.append(("actor -Q(s, pi(s))", -q_values(policy, obs_t, actor(obs_t)).mean()))
        return terms
    raise NotImplementedError(type(policy).__name__)


def _ac_terms(values: th.Tensor, log_prob: th.Tensor, entropy: th.Tensor | None) -> list[tuple[str, th.Tensor]]:
    terms = [("log_prob (policy loss)", log_prob.mean()), ("values (value loss)", values.mean())]
    if entropy is not None:
        terms.append(("entropy (entropy bonus)", entropy.mean()))
    return terms


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
        self.obs_np = sample_batch(model.observation_space, n_samples, seed)
        self.actions_np = sample_batch(model.action_space, n_samples, seed + 1)

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
        self._check_registration()
        self._check_capacity()
        self._check_parameters_finite()
        with own_sde_noise(self.policy, self.seed):
            self._check_gradients()
            self._check_outputs()
        if is_recurrent(self.policy):
            self._check_recurrent()

    def _check_registration(self) -> None:
        for alert in RegistrationRule().observe(0, registration_metrics(unregistered_modules(self.policy))):
            self.add(alert.code, alert.message, alert.value, alert.threshold)

    def _check_capacity(self) -> None:
        """Bottleneck layers, and units dead or saturated on every sampled observation (before any update)."""
        th_ = GradientThresholds()
        try:
            activity = unit_activity(self.model, self.obs_np)
        except Exception as exc:  # a custom policy whose value or action path needs more than observations
            activity = None
            self.note(f"unit activity not measured ({type(exc).__name__}: {exc})")
        metrics = network_metrics(narrow_layers(self.model, th_.narrow_width), activity, th_)
        for alert in NetworkRule(th_).observe(0, metrics):
            self.findings.append(Finding(alert.code, entry(alert.code).severity, int(self.model.num_timesteps),
                                         alert.message, alert.hint or entry(alert.code).hint, float(alert.value),
                                         float(alert.threshold), check="policy"))

    def _check_parameters_finite(self) -> None:
        bad = [n for n, p in self.policy.named_parameters() if not th.all(th.isfinite(p))]
        if bad:
            self.add("nan_detected", f"parameters contain NaN or Inf: {', '.join(bad[:5])}: every output will be NaN.")

    def _check_gradients(self) -> None:
        params = trainable_parameters(self.policy)
        self.summary["parameters"] = len(params)
        self.summary["parameter_count"] = int(sum(p.numel() for _, p in params))
        optimizers = [(optimizer_label(k), o) for k, o in policy_optimizers(self.model).items()]
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
        actions_t = action_tensor(self.policy, self.model.action_space, self.actions_np, self.device)
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
        connected = [False] * len(tensors)
        for _, term in terms:
            if not term.requires_grad:
                continue
            grads = th.autograd.grad(term, tensors, allow_unused=True, retain_graph=True)
            for i, g in enumerate(grads):
                connected[i] = connected[i] or g is not None
                reached[i] = reached[i] or (g is not None and bool(th.any(g != 0)))
        # in the graph but with a gradient of exactly 0 everywhere: saturated (a tanh or squashing at its bound, a
        # clamped log_std), not disconnected
        flat = [n for (n, _), ok, linked in zip(params, reached, connected, strict=True) if linked and not ok]
        dead = [n for (n, _), linked in zip(params, connected, strict=True) if not linked]
        if flat:
            self.add("grad_norm_vanishing", (
                f"{len(flat)} of {len(params)} trainable parameter tensors are in the loss ({how}) but their gradient "
                f"is exactly 0 on every sampled observation: {_names(flat)}. The units in front of them are saturated "
                "(a tanh or the action squashing pinned at a bound, a clamped log_std, ReLUs that are all 0), most often "
                "because observations are far outside [-1, 1] (these samples come from the observation space)."
            ), len(flat), 0.0)
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
                actions_t = action_tensor(policy, space, self.actions_np, self.device)
                if is_recurrent(policy):
                    states = lstm_states(policy, self.n, self.device)
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
            if is_recurrent(policy):
                actions, _ = model.predict(obs_np, state=None, episode_start=np.ones(self.n, dtype=bool),
                                           deterministic=True)
            else:
                actions, _ = model.predict(obs_np, deterministic=True)
            expected = (self.n, *(space.shape or ()))
            if np.shape(actions) != expected:
                problems.append(f"predict() returned actions of shape {np.shape(actions)}, expected {expected}")
            else:
                outside = [i for i in range(self.n) if not space.contains(as_space_sample(space, actions[i]))]
                if outside:
                    problems.append(
                        f"{len(outside)} of {self.n} predicted actions are outside {space} (e.g. {actions[outside[0]]!r})"
                    )
            if getattr(policy, "squash_output", False) and isinstance(space, spaces.Box) and not is_recurrent(policy):
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
        zero = lstm_states(policy, self.n, device)
        carried = lstm_states(policy, self.n, device, generator)

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


def _names(names: list[str], limit: int = 6) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def check_policy(
    model: BaseAlgorithm,
    n_samples: int = 32,
    seed: int = 0,
    *,
    lstm_thresholds: LSTMThresholds | Mapping[str, Any] | None = None,
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
    :param lstm_thresholds: :class:`~sb3_diagnostics.thresholds.LSTMThresholds` or a dict of its fields
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
    report = PolicyCheckReport(checker.findings, checker.summary)
    if warn:
        warn_findings(report)
    if verbose >= 1:
        print(report.format())
    return report
