"""What the library reports: :class:`Severity`, :class:`Finding`, and a rule's :class:`Alert`."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Severity(enum.IntEnum):
    """
    How bad a finding is. Ordered, so ``severity >= Severity.WARNING`` works.

    - ``INFO``: worth knowing, training is probably fine.
    - ``WARNING``: likely to stop the agent from learning.
    - ``ERROR``: training is broken.
    """

    INFO = 10
    WARNING = 20
    ERROR = 30

    def __str__(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, value: Severity | str) -> Severity:
        """
        Read a severity from its name ("warning", "ERROR") or return it unchanged.

        :param value: a :class:`Severity` or its case-insensitive name
        :return: the severity
        """
        if isinstance(value, Severity):
            return value
        try:
            return cls[str(value).upper()]
        except KeyError:
            names = ", ".join(str(s) for s in cls)
            raise ValueError(f"Unknown severity {value!r}: use one of {names}.") from None


@dataclass(frozen=True)
class Finding:
    """
    One problem detected in a training run or an environment.

    :param code: stable identifier from the catalog, e.g. ``"entropy_collapse"``
    :param severity: how bad it is
    :param step: ``num_timesteps`` when it was detected (0 for pre-flight findings)
    :param message: what was seen, with the numbers, and why it matters
    :param hint: what to try, naming the SB3 parameter to change
    :param value: the measured value that crossed the threshold (NaN when not a number)
    :param threshold: the threshold it crossed (NaN when not a number)
    :param check: key of the check that produced it (``"kl"``, ``"reward"``, ``"environment"`` ...)
    :param caused_by: code of the finding that explains this one (set by the triage), None for a root cause
    """

    code: str
    severity: Severity
    step: int
    message: str
    hint: str
    value: float = float("nan")
    threshold: float = float("nan")
    check: str = ""
    caused_by: str | None = None

    def __str__(self) -> str:
        where = f"step {self.step}: " if self.step else ""
        return f"[{self.code}] {where}{self.message} {self.hint}".strip()


@dataclass(frozen=True)
class Alert:
    """
    A rule's verdict that a code holds at this update; the engine turns it into a :class:`Finding`.

    :param code: catalog code
    :param message: what was seen, with the numbers, and why it matters
    :param value: the measured value
    :param threshold: the threshold it crossed
    :param severity: overrides the catalog default when given (e.g. explained variance < -0.5 -> error)
    :param hint: overrides the catalog hint when given (e.g. with a computed suggestion)
    """

    code: str
    message: str
    value: float
    threshold: float
    severity: Severity | None = None
    hint: str | None = None
