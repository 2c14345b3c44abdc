"""What a check reports: :class:`Severity` and :class:`Finding`."""

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
    :param check: name of the check that produced it
    """

    code: str
    severity: Severity
    step: int
    message: str
    hint: str
    value: float = float("nan")
    threshold: float = float("nan")
    check: str = ""

    def __str__(self) -> str:
        where = f"step {self.step}: " if self.step else ""
        return f"[{self.code}] {where}{self.message} {self.hint}".strip()
