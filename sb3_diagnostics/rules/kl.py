"""Policy updates: KL too high, clipping, no movement, target_kl early stops, TRPO line search."""

from __future__ import annotations

from sb3_diagnostics.findings import Alert, Severity
from sb3_diagnostics.rules.base import Metrics, ReturnProgress, Rule, Streak, Window, get
from sb3_diagnostics.thresholds import KLThresholds


class PolicyUpdateRule(Rule):
    """
    Reads, per update: ``approx_kl`` (PPO's ``train/approx_kl``, TRPO's ``train/kl_divergence_loss``),
    ``clip_fraction``, ``_lr_ratio`` (learning rate / its initial value), ``entropy_normalized``,
    ``epochs_completed`` and ``n_epochs`` (PPO), ``line_search_success`` (TRPO, fraction of
    successful line searches in the update).
    """

    codes = ("kl_too_high", "clip_fraction_high", "policy_not_updating", "target_kl_early_stop", "line_search_failing")

    def __init__(self, thresholds: KLThresholds | None = None) -> None:
        super().__init__()
        th = self.th = thresholds or KLThresholds()
        self._high = Streak()
        self._still = Streak()
        #: whether every update of the current still streak logged a clip fraction of exactly 0 (PPO)
        self._unclipped = False
        self._clip = Window(th.window)
        self._entropy = Window(th.window + 1)
        self._early = Window(th.window)
        self._line_search_failed = Window(th.window)
        self.returns = ReturnProgress()

    def _observe(self, step: int, metrics: Metrics) -> list[Alert]:
        self.returns.observe(metrics)
        alerts: list[Alert] = []
        kl, clip = get(metrics, "approx_kl"), get(metrics, "clip_fraction")
        entropy = get(metrics, "entropy_normalized")
        if entropy is not None:
            self._entropy.push(entropy)
        if kl is not None:
            alerts += self._judge_kl(kl)
        if clip is not None:
            alerts += self._judge_clip(clip, kl)
        if kl is not None:
            alerts += self._judge_movement(kl, clip, get(metrics, "_lr_ratio"), get(metrics, "_learning_rate"),
                                           offline=bool(get(metrics, "_offline")))
        alerts += self._judge_early_stop(get(metrics, "epochs_completed"), get(metrics, "n_epochs"))
        alerts += self._judge_line_search(get(metrics, "line_search_success"))
        return alerts

    def _judge_kl(self, kl: float) -> list[Alert]:
        th = self.th
        n = self._high.update(kl > th.kl_high)
        if kl > th.kl_extreme:
            return [Alert(
                "kl_too_high",
                f"approx KL of one update was {kl:.3g} (threshold {th.kl_extreme:g} for a single update): that update "
                "moved the policy so far that it can wreck what it had learned.",
                kl, th.kl_extreme,
            )]
        if n >= th.kl_consecutive:
            return [Alert(
                "kl_too_high",
                f"approx KL was above {th.kl_high:g} for {n} updates in a row (now {kl:.3g}); tuned runs stay around "
                "0.01-0.05: each update moves the policy too far and learning becomes unstable.",
                kl, th.kl_high,
            )]
        return []

    def _judge_clip(self, clip: float, kl: float | None) -> list[Alert]:
        th = self.th
        self._clip.push(clip)
        median = self._clip.median()
        if not self._clip.full or median <= th.clip_fraction:
            return []
        fall = 0.0
        if len(self._entropy) >= 2 and self._entropy.first() > 0:
            fall = 1.0 - self._entropy.values[-1] / self._entropy.first()
        base = f"the median clip fraction of the last {len(self._clip)} updates is {median:.2f} (threshold {th.clip_fraction})"
        if kl is not None and kl > th.kl_high:
            return [Alert("clip_fraction_high", f"{base} and approx KL is {kl:.3g} (above {th.kl_high:g}): the "
                          "policy changes too fast per update.", median, th.clip_fraction)]
        if fall > th.entropy_fall:
            return [Alert("clip_fraction_high", f"{base} while entropy fell {100 * fall:.0f}% over those updates: "
                          "the updates are collapsing the policy.", median, th.clip_fraction)]
        return [Alert("clip_fraction_high", f"{base}; KL and entropy look fine, which tuned runs also show, so this "
                      "is only worth knowing.", median, th.clip_fraction, severity=Severity.INFO)]

    def _judge_movement(
        self, kl: float, clip: float | None, lr_ratio: float | None, learning_rate: float | None,
        offline: bool = False,
    ) -> list[Alert]:
        th = self.th
        still = kl < th.not_updating_kl and (clip is None or clip == 0.0)
        # PPO logs a KL of ~0 (float noise) and a clip fraction of exactly 0 both when nothing moves the policy and
        # when each update is one gradient step on one minibatch (SB3 measures them before that step). Live, the
        # callback tells them apart (it compares the policy's outputs); from the logs alone it cannot.
        self._unclipped = (self._unclipped if self._still.count else True) and clip == 0.0
        scheduled_end = lr_ratio is not None and lr_ratio < th.lr_floor
        n = self._still.update(still and not scheduled_end)
        if n < th.not_updating_consecutive:
            return []
        clip_text = "" if clip is None else f" and clip fraction {clip:g}"
        seen = f"approx KL was {kl:.2g}{clip_text} for {n} updates (threshold {th.not_updating_kl:g})"
        entropy = self._entropy.values[-1] if len(self._entropy) else None
        deterministic = entropy is not None and entropy < th.deterministic_entropy
        if deterministic and self.returns.improved(th.converged_gain):
            return [Alert(
                "policy_not_updating",
                f"{seen}, with the policy deterministic (entropy {entropy:.2g} of its maximum) and "
                f"{self.returns.describe()}: a policy that picks one action for sure has nothing left to change. "
                "Converged, not broken.",
                kl, th.not_updating_kl, severity=Severity.INFO,
                hint="Nothing to fix while the return holds; keep ent_coef > 0 if the task may still change.",
            )]
        if deterministic:
            return [Alert(
                "policy_not_updating",
                f"{seen}: the policy became deterministic (entropy {entropy:.2g} of its maximum), so the ratio of new "
                "to old probabilities is 1 for every sampled action and the update cannot move it. It collapsed "
                "before it learned the task (the return is not at a level it improved to).",
                kl, th.not_updating_kl,
                hint="Find what collapsed it (a learning rate or n_epochs too high: look at kl_too_high and "
                "entropy_collapse), then keep it exploring: ent_coef 0.01-0.03, a lower learning_rate.",
            )]
        lr = "" if lr_ratio is None else f" (learning_rate is at {100 * lr_ratio:.0f}% of its start)"
        if learning_rate is not None and learning_rate < th.lr_tiny:
            return [Alert(
                "policy_not_updating",
                f"{seen}: learning_rate is {learning_rate:.2g}, far below any that trains (tuned runs use 1e-5 to "
                "1e-3), so each step moves the weights by nothing. A typo such as 3e-10 for 3e-4 does this.",
                kl, th.not_updating_kl,
                hint=f"Set learning_rate to a working value (SB3's PPO default is 3e-4; it is {learning_rate:.2g}).",
            )]
        if offline and self._unclipped:
            return [Alert(
                "policy_not_updating",
                f"{seen}{lr}: no sample was ever clipped. Either the policy's parameters never change (frozen, or "
                "not in the optimizer), or each update is a single gradient step on a single minibatch (n_epochs=1 "
                "with batch_size >= n_steps * n_envs), where SB3 measures KL and clip fraction before that step. The "
                "logs cannot tell these apart; DiagnosticsCallback, which compares the policy's outputs, can.",
                kl, th.not_updating_kl, severity=Severity.WARNING,
                hint="If n_epochs=1 and batch_size >= n_steps * n_envs, this is expected; otherwise check that the "
                "policy's parameters are in the optimizer and receive gradients (param_no_grad).",
            )]
        if learning_rate is not None:
            return [Alert(
                "policy_not_updating",
                f"{seen}{lr}, although learning_rate ({learning_rate:.2g}) is one that trains: the gradient steps "
                "do not reach the policy, so nothing is being learned.",
                kl, th.not_updating_kl,
                hint="Check that the advantages vary (the reward must depend on the actions: advantage_zero_variance) "
                "and that the policy's parameters are in the optimizer and receive gradients (param_no_grad).",
            )]
        return [Alert(
            "policy_not_updating",
            f"{seen}{lr}: the policy is not changing at all, so nothing is being learned.",
            kl, th.not_updating_kl,
        )]

    def _judge_early_stop(self, epochs: float | None, n_epochs: float | None) -> list[Alert]:
        th = self.th
        if epochs is None or n_epochs is None or n_epochs <= 1:
            return []
        self._early.push(1.0 if epochs <= 1 else 0.0)
        share = self._early.mean()
        if not self._early.full or share <= th.early_stop_frac:
            return []
        return [Alert(
            "target_kl_early_stop",
            f"target_kl stopped PPO after its first of {int(n_epochs)} epochs on {100 * share:.0f}% of the last "
            f"{len(self._early)} updates (threshold {100 * th.early_stop_frac:.0f}%): the constraint is so tight "
            "that the policy can barely change.",
            share, th.early_stop_frac,
        )]

    def _judge_line_search(self, success: float | None) -> list[Alert]:
        th = self.th
        if success is None:
            return []
        self._line_search_failed.push(1.0 - success)
        failed = self._line_search_failed.mean()
        if not self._line_search_failed.full or failed <= th.line_search_fail_frac:
            return []
        return [Alert(
            "line_search_failing",
            f"TRPO's line search failed on {100 * failed:.0f}% of the last {len(self._line_search_failed)} updates "
            f"(threshold {100 * th.line_search_fail_frac:.0f}%): a failed search reverts the step, so the policy "
            "is not improving.",
            failed, th.line_search_fail_frac,
        )]


class NoUpdateRule(Rule):
    """
    Reads ``_learning_starts``, ``_gradient_steps`` (off-policy algorithms) and ``_learn_end`` (the step at which
    this ``learn()`` call ends): an off-policy run whose schedule leaves no room for a single gradient step gets
    ``policy_not_updating`` at its first measurement, for every algorithm (the KL-based one is for PPO and TRPO).

    - ``learning_starts`` at or beyond the end of ``learn()``: training never starts (SB3 #526: DQN's example
      with ``total_timesteps=10_000`` below its then default ``learning_starts=50_000``);
    - ``gradient_steps=0``: every call to ``train()`` takes no step.
    """

    codes = ("policy_not_updating",)

    def __init__(self, thresholds: KLThresholds | None = None) -> None:
        super().__init__()
        self.th = thresholds or KLThresholds()
        self._frozen = Streak()
        self._first_lr: float | None = None

    def _observe(self, step: int, metrics: Metrics) -> list[Alert]:
        return self._schedule(metrics) or self._unchanged(metrics)

    def _unchanged(self, metrics: Metrics) -> list[Alert]:
        """The policy's outputs on a fixed batch did not change at all across comparisons with gradient updates."""
        th = self.th
        change, between = get(metrics, "policy_change"), get(metrics, "_updates_between")
        lr = get(metrics, "_learning_rate")
        if lr is not None and self._first_lr is None:
            self._first_lr = lr
        if change is None or not between:
            return []  # nothing compared, or no update in between: no evidence either way
        if (get(metrics, "_saturated") or 0.0) >= 0.5:
            return []  # TD3 / DDPG actions at their bound: tanh passes ~no gradient, unchanged outputs prove nothing
        # a learning-rate schedule near its end (linear to 0) legitimately stops moving the policy
        ending = lr is not None and self._first_lr is not None and lr < th.lr_floor * self._first_lr
        per_update = change / between
        if self._frozen.update(per_update < th.frozen_change and not ending) < th.not_updating_consecutive:
            return []
        if lr is not None and lr < th.lr_tiny:
            why = (f"the learning rate is {lr:.3g}: steps that small do not move float32 weights at all (a typo for "
                   "3e-4?)")
            hint = "Set learning_rate to a usable value (SB3's default is 3e-4 for PPO, 7e-4 for A2C, 1e-4 for DQN)."
        else:
            why = ("no optimizer step reaches the parameters that produce it: frozen (requires_grad=False), left out of "
                   "the optimizer (a layer created after it), or detached from the loss")
            hint = ("Check that the actor's parameters have requires_grad=True and are in the optimizer "
                    "(check_policy(model) says which ones get no gradient).")
        return [Alert(
            "policy_not_updating",
            f"the policy's outputs on a fixed batch of observations changed by {change:.2g} of their size over "
            f"{int(between)} gradient updates ({per_update:.2g} per update, threshold {th.frozen_change:g}), and as "
            f"little in each of {self._frozen.count} comparisons in a row: {why}. The policy stays as it was "
            "initialised.",
            per_update, th.frozen_change, hint=hint,
        )]

    def _schedule(self, metrics: Metrics) -> list[Alert]:
        starts, end = get(metrics, "_learning_starts"), get(metrics, "_learn_end")
        if starts is not None and end is not None and starts >= end:
            return [Alert(
                "policy_not_updating",
                f"learning_starts={int(starts)} is at or beyond the end of this learn() call (step {int(end)}): "
                "off-policy algorithms only collect experience until learning_starts, so not a single gradient step "
                "will happen and the policy stays as it was initialised (SB3 #526).",
                starts, end,
                hint=f"Lower learning_starts well below total_timesteps (e.g. to {max(1, int(end) // 20)}: a "
                "twentieth of the budget), or train for more steps.",
            )]
        if get(metrics, "_gradient_steps") == 0:
            return [Alert(
                "policy_not_updating",
                "gradient_steps=0: each call to train() takes no gradient step, so the policy never changes.",
                0.0, 1.0,
                hint="Set gradient_steps to 1 or more (or -1: as many as env steps collected).",
            )]
        return []
