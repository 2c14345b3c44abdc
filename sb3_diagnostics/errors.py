"""Exceptions raised for invalid input. Each says what to do instead."""

from __future__ import annotations


class DiagnosticsError(Exception):
    """Base class of every exception raised by sb3-diagnostics."""


class InvalidThresholdError(DiagnosticsError, ValueError):
    """A threshold, window or option has a value that cannot work (e.g. a negative window)."""


class UnknownCodeError(DiagnosticsError, KeyError):
    """A finding code that is not in the catalog (typo in ``stop_on`` or a threshold override)."""

    def __str__(self) -> str:  # KeyError would print the repr of the message
        return str(self.args[0]) if self.args else ""
