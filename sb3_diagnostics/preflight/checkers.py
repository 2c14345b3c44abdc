"""
SB3's and Gymnasium's own env checkers, run inside ``check_training_env``.

SB3's ``check_env`` (``stable_baselines3.common.env_checker``) and Gymnasium's
(``gymnasium.utils.env_checker``) assert the API contract (what ``reset()`` and ``step()`` return, the
observation's type, shape, dtype and bounds) and warn about spaces SB3 does not support. This module
only runs them and records what they said; :class:`~sb3_diagnostics.rules.environment.EnvironmentRule`
turns each message into a finding with a code and a hint.

They run on one ``gymnasium.Env``: the env itself, or the first env of a ``DummyVecEnv`` (under any
VecEnv wrappers). The envs of a ``SubprocVecEnv`` live in other processes: the checkers are skipped there.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable
from typing import Any

import gymnasium as gym
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv

#: ANSI colour codes Gymnasium's logger wraps its warnings in
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def checked_env(env: gym.Env | VecEnv) -> gym.Env | None:
    """
    :param env: what ``check_training_env`` was given
    :return: the ``gymnasium.Env`` the checkers can step, or None (a VecEnv whose envs are in other processes)
    """
    if isinstance(env, gym.Env):
        return env
    base = env.unwrapped if isinstance(env, VecEnv) else None
    if isinstance(base, DummyVecEnv) and base.envs:
        first = base.envs[0]
        return first if isinstance(first, gym.Env) else None
    return None


def _clean(text: str) -> str:
    text = _ANSI.sub("", text).strip()
    return text[len("WARN: "):] if text.startswith("WARN: ") else text


def _run(check: Callable[[], Any]) -> tuple[list[str], str | None]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        failure = None
        try:
            check()
        except (AssertionError, TypeError, ValueError, gym.error.Error) as exc:
            # how the checkers stop at an API violation (a result of the wrong length is a ValueError)
            failure = _clean(f"{exc}") or type(exc).__name__
        except Exception:  # noqa: BLE001 - the env itself crashed: the rollout reports it with its step and action
            pass
    said = []
    for w in caught:
        # the checkers' own warnings, not the env's or another library's
        if issubclass(w.category, DeprecationWarning) or not any(
            part in w.filename for part in ("stable_baselines3", "gymnasium")
        ):
            continue
        message = _clean(str(w.message))
        if message and message not in said:
            said.append(message)
    return said, failure


def run_checkers(env: gym.Env) -> list[tuple[str, str, str]]:
    """
    Run SB3's ``check_env(env, warn=True)`` and Gymnasium's ``check_env(env.unwrapped)`` on ``env``.
    Their warnings are captured (not shown to the user); an assertion is recorded, not raised.

    The env is reset and stepped with random actions: reset it before use.

    :param env: a gymnasium ``Env``
    :return: ``(checker, kind, message)`` triples: checker ``"SB3"`` or ``"Gymnasium"``, kind ``"assert"``
        (the checker stopped there) or ``"warn"``
    """
    from gymnasium.utils.env_checker import check_env as gymnasium_check_env
    from stable_baselines3.common.env_checker import check_env as sb3_check_env

    found: list[tuple[str, str, str]] = []
    checks: list[tuple[str, Callable[[], Any]]] = [
        ("SB3", lambda: sb3_check_env(env, warn=True, skip_render_check=True)),
        # on the unwrapped env, as Gymnasium recommends (it warns about wrappers otherwise); SB3's sees the wrappers
        ("Gymnasium", lambda: gymnasium_check_env(env.unwrapped, skip_render_check=True)),
    ]
    for checker, check in checks:
        said, failure = _run(check)
        found.extend((checker, "warn", message) for message in said)
        if failure is not None:
            found.append((checker, "assert", failure))
    return found
