"""NaNCallback: the first NaN/Inf in observations, rewards, actions, losses, gradients or parameters."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch as th

from sb3_diagnostics.callbacks.base import DiagnosticCallback, StopOn
from sb3_diagnostics.findings import Finding, Severity
from sb3_diagnostics.rules.base import listing
from sb3_diagnostics.rules.nan import NONFINITE_AT
from sb3_diagnostics.sb3.gradient_tap import GradientTap

# Causal order inside one step, used to sort what was found at the same timestep: a NaN loss
# makes NaN gradients, which make NaN parameters, which make NaN actions.
_LOSS, _GRAD, _PARAM, _ENV = range(4)


#: arrays up to this size are checked through Python floats (faster than a numpy reduction there)
_SMALL = 256


def _finite(value: Any) -> bool:
    """Fast path: True when ``value`` (array, dict of arrays or None) surely holds no NaN/Inf."""
    if type(value) is np.ndarray:  # the hot path: a few hundred nanoseconds
        kind = value.dtype.kind
        if kind != "f":
            return kind != "c" or math.isfinite(abs(value.sum()))
        # A sum is NaN/Inf when an entry is (or, rarely, when finite entries overflow: the exact check
        # decides). Small arrays (vector observations, rewards) are summed as Python floats, which
        # skips numpy's reduction machinery, the larger part of the cost there.
        if value.size <= _SMALL:
            return math.isfinite(sum(value.ravel().tolist()))
        return math.isfinite(value.sum())
    if value is None:
        return True
    if isinstance(value, dict):
        return all(_finite(v) for v in value.values())
    return _finite(np.asarray(value))


def _arrays(value: Any, what: str) -> Iterator[tuple[str, np.ndarray]]:
    if isinstance(value, dict):
        for key, sub in value.items():
            yield f"{what} key {key!r}", np.asarray(sub)
    elif value is not None:
        yield what, np.asarray(value)


def nonfinite_entries(array: np.ndarray, batched: bool = True) -> tuple[int, str]:
    """
    Count the NaN/Inf entries of an array and say where they are.

    :param array: float array; with ``batched``, shape ``(n_envs, ...)`` (observations, actions) or
        ``(n_envs,)`` (rewards), else one observation
    :param batched: whether the first axis indexes environments
    :return: (number of non-finite entries, e.g. ``"env 0, index [2]"``; empty when all are finite)
    """
    bad = ~np.isfinite(array)
    count = int(bad.sum())
    if not count:
        return 0, ""
    if not batched or array.ndim == 0:
        flat = np.nonzero(bad.reshape(-1))[0]
        positions = [str([int(i) for i in np.unravel_index(int(j), array.shape)]) for j in flat]
        return count, f"index {listing(positions, 4)}" if array.ndim else "the value"
    rows = bad.reshape(array.shape[0], -1)
    env = int(np.nonzero(rows.any(axis=1))[0][0])
    if rows.shape[1] == 1:
        return count, f"env {env}"
    positions = [str([int(i) for i in np.unravel_index(int(j), array.shape[1:])]) for j in np.nonzero(rows[env])[0]]
    return count, f"env {env}, index {listing(positions, 4)}"


#: logged values that SB3 sets to NaN on purpose when they are undefined, not because training broke:
#: explained variance is NaN when the returns do not vary (``common/utils.py: explained_variance``)
_UNDEFINED_AS_NAN = frozenset({"train/explained_variance"})


class NaNCallback(DiagnosticCallback):
    """
    Finds the first NaN/Inf and says where it came from, which is what you need to fix it:

    - every environment step: the observations, rewards and actions the algorithm just got
      (``np.isfinite`` on arrays SB3 already holds, microseconds per step);
    - every optimizer step: the gradients, through the shared :class:`GradientTap` hooks (every
      gradient on sampled steps; on the others one small sum over a single bias's gradient, which
      a NaN loss, or ``clip_grad_norm_`` spreading one NaN gradient, makes NaN too);
    - every update: the ``train/*`` losses in the logger and every policy parameter.

    A problem found at an environment step is judged at once, so with ``stop_on="error"``
    training stops at that very step: before SB3 stores the observation in its buffer or
    trains on it, so the parameters stay finite. NaNs born inside the update (loss, gradient)
    are reported with the step of the update; training stops at the next environment step,
    after that update. Logs ``diagnostics/nonfinite_count``.

    See :class:`~sb3_diagnostics.callbacks.base.DiagnosticCallback` for the parameters; there are no thresholds.
    """

    check_name = "nan"
    uses_tap = True

    def __init__(
        self, *, stop_on: StopOn = None, cooldown: int = 10, seed: int = 0, off_policy_interval: int = 1000,
        off_policy_updates: int | None = 250, verbose: int = 0
    ) -> None:
        super().__init__(None, stop_on=stop_on, cooldown=cooldown, seed=seed, off_policy_interval=off_policy_interval,
                         off_policy_updates=off_policy_updates, verbose=verbose)

    def _init_state(self) -> None:
        self._tap: GradientTap | None = None
        self._found: list[tuple[int, int, str, int]] = []  # (step, causal rank, where, count)
        self._judged_at: int | None = None
        self._corrupt: set[str] = set()  # parts of the policy already reported as corrupt

    def _setup(self) -> None:
        self._tap = GradientTap.for_model(self.model)
        self._tap.attach(self, self.model, on_step=self._on_optimizer_step)

    def _on_optimizer_step(self, optimizer: str, norm: float, bad: str | None, exact: bool) -> None:
        if bad is None or not self._active:
            return
        whose = f" ({optimizer} optimizer)" if optimizer else ""
        what = "NaN" if math.isnan(norm) else "Inf (an Inf entry, or entries beyond float32's range)"
        self._found.append((self.model.num_timesteps, _GRAD, f"the gradient of parameter {bad}{whose}, norm {what}", 1))
        if self._judged_at is None:
            # Judge inside the update: SB3 often crashes on the NaN parameters before the update ends
            # ("Expected parameter loc ... to satisfy the constraint Real()"); the finding comes first.
            self._judged_at = self.model.num_timesteps
            self._guard(lambda: self._judge(self._collect()))

    def _on_env_step(self) -> None:
        locals_ = self.locals
        obs, rewards = locals_.get("new_obs"), locals_.get("rewards")
        actions = locals_.get("clipped_actions")
        if actions is None:
            actions = locals_.get("actions")
        dones = locals_.get("dones")
        done_list = [] if dones is None else np.asarray(dones).tolist()
        ended = True in done_list
        if _finite(obs) and _finite(rewards) and _finite(actions) and (not ended or self._terminals_finite(done_list)):
            return
        checked = (
            ("the observation returned by env.step()", obs),
            ("the reward", rewards),
            ("the action sent to env.step()", actions),
        )
        step = self.model.num_timesteps
        found = False
        for what, value in checked:
            for label, array in _arrays(value, what):
                if array.dtype.kind not in "fc" or np.isfinite(array).all():
                    continue
                count, where = nonfinite_entries(array)
                self._found.append((step, _ENV, f"{label} ({where})", count))
                found = True
        if ended:
            assert dones is not None
            # The observation that ended an episode is not in new_obs (the VecEnv reset already) but
            # SB3 still uses it: off-policy stores it as next_obs, on-policy bootstraps from it.
            for i in np.nonzero(dones)[0]:
                terminal = locals_["infos"][i].get("terminal_observation")
                for label, array in _arrays(terminal, f"the terminal observation of env {i}"):
                    if array.dtype.kind in "fc" and not np.isfinite(array).all():
                        count, where = nonfinite_entries(array, batched=False)
                        self._found.append((step, _ENV, f"{label} ({where})", count))
                        found = True
        if found and self._judged_at is None:
            # Judge now, not at the end of the rollout: stop_on="error" then stops before SB3 stores
            # the value or trains on it. Look at the model too: NaN actions come from NaN parameters,
            # and those from the last update's loss or gradients, which then sort first.
            self._judged_at = step
            self._scan_model()
            self._judge(self._collect())

    def _terminals_finite(self, done_list: list[bool]) -> bool:
        infos = self.locals["infos"]
        return all(_finite(info.get("terminal_observation")) for info, done in zip(infos, done_list, strict=True) if done)

    def _collect(self) -> dict[str, float]:
        found = sorted(self._found, key=lambda f: (f[0], f[1]))
        self._found = []
        out: dict[str, float] = {"nonfinite_count": float(sum(f[3] for f in found))}
        for step, _, where, _ in found:
            out.setdefault(NONFINITE_AT + where, float(step))
        return out

    def _scan_model(self) -> None:
        tap = self._tap
        assert tap is not None
        error = tap.error_of(self)
        if error is not None:
            raise error
        step = tap.last_step_timestep
        for key, value in self.model.logger.name_to_value.items():
            if key in _UNDEFINED_AS_NAN:
                continue
            if key.startswith("train/") and isinstance(value, (int, float, np.floating)) and not math.isfinite(value):
                self._found.append((step, _LOSS, f"the logged value {key}", 1))
        corrupt: dict[str, int] = {}
        with th.no_grad():
            for name, param in self.model.policy.named_parameters():
                if not bool(th.isfinite(param).all()):
                    count = int((~th.isfinite(param)).sum())
                    self._found.append((step, _PARAM, f"the parameter {name}", count))
                    part = name.split(".", 1)[0]
                    corrupt[part] = corrupt.get(part, 0) + count
        for part, count in corrupt.items():
            if part not in self._corrupt:
                self._corrupt.add(part)
                self._report_corrupt(part, count, step)

    def _report_corrupt(self, part: str, count: int, step: int) -> None:
        """Once per part of the policy: its parameters hold NaN/Inf, so the model is lost from here on."""
        self._emit(Finding(
            "nan_detected", Severity.ERROR, int(self.model.num_timesteps),
            f"the model is now corrupt: {count} parameter value(s) of '{part}' are NaN/Inf (first seen after the update "
            f"at step {step}). Every later update and action is computed from them, so training cannot recover; "
            f"{type(self.model).__name__} may keep running, but what it learns from here on is lost.",
            "Stop training, fix the first NaN reported above, and restart from a checkpoint saved before step "
            f"{step} (CheckpointCallback), or from scratch.",
            value=float(count), threshold=0.0, check=self.check_name,
        ))

    def _measure(self) -> dict[str, float]:
        self._scan_model()
        self._judged_at = None
        return self._collect()

    def _measure_final(self) -> dict[str, float]:
        return self._measure()

    def _teardown(self) -> None:
        if self._tap is not None:
            self._tap.detach(self)
