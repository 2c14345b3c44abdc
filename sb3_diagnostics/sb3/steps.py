"""
The environment step a model is in: what its training loop holds while callbacks run (``_last_obs``),
and what its ``DummyVecEnv`` keeps by reference. Read only.
"""

from __future__ import annotations

from typing import Any

from sb3_diagnostics.sb3.state import MetricCache


def time_limit(env: Any) -> int | None:
    """``max_episode_steps`` of a gymnasium env (or of the first sub-env of a VecEnv), when its spec knows one."""
    from stable_baselines3.common.vec_env import VecEnv

    try:
        spec = env.get_attr("spec", [0])[0] if isinstance(env, VecEnv) else getattr(env, "spec", None)
        limit = getattr(spec, "max_episode_steps", None)
        return int(limit) if limit else None
    except Exception:  # a VecEnv that cannot answer get_attr: no limit known
        return None


def last_observation(model: Any) -> Any:
    """
    The observation the model acted on at the current step (``_last_obs``). Inside ``on_step()`` SB3 has
    not yet replaced it with ``new_obs``: it stores it in its buffer right after the callback returns.
    """
    return getattr(model, "_last_obs", None)


def raw_terminal_observation(model: Any, env_index: int) -> tuple[Any, Any] | None:
    """
    For a model on a ``DummyVecEnv`` (under any VecEnv wrappers): the object env ``env_index`` returned as
    its last terminal observation, before the VecEnv's ``deepcopy`` of the infos, and that env's current
    observation as the VecEnv copied it (a dict per key for Dict spaces). None for other VecEnvs.
    """
    get_env = getattr(model, "get_env", None)
    venv = get_env() if callable(get_env) else None
    base = getattr(venv, "unwrapped", None)
    infos, buf_obs = getattr(base, "buf_infos", None), getattr(base, "buf_obs", None)
    if not isinstance(infos, list) or not isinstance(buf_obs, dict) or not 0 <= env_index < len(infos):
        return None
    info = infos[env_index]
    terminal = info.get("terminal_observation") if isinstance(info, dict) else None
    if terminal is None:
        return None
    current = {k: v[env_index] for k, v in buf_obs.items()}
    return terminal, current[None] if list(current) == [None] else current


def original_rewards(model: Any, locals_: dict[str, Any]) -> Any:
    """
    The rewards of the current step as the environment gave them, before ``VecNormalize``
    (``get_original_reward()``, a copy) or the step's ``rewards`` when there is none. Read once per step
    per model and shared by every check that wants it (the episode, reward and VecNormalize checks).
    """
    def read() -> Any:
        vn = model.get_vec_normalize_env()
        return vn.get_original_reward() if vn is not None else locals_["rewards"]

    return MetricCache.for_model(model).get(model.num_timesteps, "original_rewards", read)
