"""Every exception sb3-diagnostics raises, each for invalid input; each message says what to do instead."""

from __future__ import annotations


class DiagnosticsError(Exception):
    """Base class of every exception raised by sb3-diagnostics."""


class InvalidThresholdError(DiagnosticsError, ValueError):
    """A threshold, window or option has a value that cannot work (e.g. a negative window)."""


class UnknownCodeError(DiagnosticsError, KeyError):
    """A finding code that is not in the catalog (typo in ``stop_on`` or a threshold override)."""

    def __str__(self) -> str:  # KeyError would print the repr of the message
        return str(self.args[0]) if self.args else ""


class NotAnEnvironmentError(DiagnosticsError, TypeError):
    """``check_training_env`` was given something that is neither an env id, a gymnasium ``Env`` nor an SB3 ``VecEnv``."""


class EnvCrashedError(DiagnosticsError, RuntimeError):
    """
    The user's environment raised inside ``reset()`` or ``step()`` during a check; the message
    names the call, the step and the action, and the original exception is chained as ``__cause__``.
    """


class ProbeSetupError(DiagnosticsError, ValueError):
    """``run_probes`` got arguments it cannot use (unknown probe, bad budget) or ``make_model`` itself failed."""


class ReportInputError(DiagnosticsError):
    """A path given to the post-hoc report holds no readable TensorBoard run (missing, unreadable, or not event files)."""
