"""What a probe run returns, and how to read a list of results."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


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
    :param settings: why the model trained too little for this probe to be judged (e.g. DQN's
        ``target_update_interval`` larger than the budget, PPO's ``n_steps`` larger than the budget);
        set only on a failure, which is then inconclusive, not a broken component; empty when none
    :param needs: the budget (timesteps) that gives the probe enough training to be judged, when
        ``settings`` is set; 0 otherwise
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
    needs: int = 0

    @property
    def skipped(self) -> bool:
        """Whether the probe did not run (``passed`` is None)."""
        return self.passed is None

    @property
    def inconclusive(self) -> bool:
        """Whether the probe failed with too little training to judge (``settings`` says why, ``needs`` what budget)."""
        return self.passed is False and bool(self.settings)

    def _budget_advice(self) -> str:
        if not self.needs:
            return "change these settings or raise the budget"
        return (f"run it again with a budget of at least {self.needs} timesteps (run_probes(..., budget={{{self.probe}: "
                f"{self.needs}}}), or sb3-diagnostics probes ... --budget {self.needs})")

    def describe(self) -> str:
        """:return: one line: probe, verdict, measured vs expected, and what a failure means"""
        if self.passed is None:
            return f"probe {self.probe} ({self.isolates}): skipped: {self.note}"
        verdict = "passed" if self.passed else ("INCONCLUSIVE" if self.inconclusive else "FAILED")
        pairs = ", ".join(
            f"{k} = {_fmt(self.measured.get(k, float('nan')))} (expected {_fmt(v)})" for k, v in self.expected.items()
        )
        text = f"probe {self.probe} ({self.isolates}) {verdict} for {self.algorithm}: {pairs}"
        if self.inconclusive:
            text += f"; too little training to judge: {self.settings}; {self._budget_advice()}"
        elif not self.passed:
            text += f"; a failure here means: {self.meaning}"
        if self.note:
            text += f" [{self.note}]"
        return text

    def __str__(self) -> str:
        return self.describe()


def _fmt(x: float) -> str:
    return f"{x:+.3f}"


def diagnose(results: Iterable[ProbeResult], *, with_result: bool = True) -> str:
    """
    Read a list of results the way the probes are meant to be read.

    :param results: from :func:`run_probes`
    :param with_result: start with the first failure's own line (:meth:`ProbeResult.describe`); False when
        that line was already shown (``run_probes(..., verbose=1)`` prints every result as it ends)
    :return: which component is broken (from the first failure and the probe before it), that the
        first failure had too little training to be judged (and the budget it needs), or that every
        probe that ran passed
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
    if first.inconclusive:
        where = (
            f"Probe {first.probe} could not be judged: the model trained too little, so this says nothing yet about "
            f"{first.meaning.replace(' broken', '')}; {first._budget_advice()}. The probes after it are read only once "
            "it passes."
        )
    elif first.probe == 1:
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
    return f"{first.describe()}. {where}" if with_result else where
