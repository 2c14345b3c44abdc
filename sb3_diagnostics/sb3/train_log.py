"""
SB3's logger keys, and reading the latest update's ``train/*`` values from a live model.

Torch-free: the post-hoc report reads the same tables, so a metric has one name whichever source
feeds the rules.
"""

from __future__ import annotations

from typing import Any

from sb3_diagnostics.sb3.state import MetricCache

#: SB3 logger keys (``train/*``) -> metric names. Names starting with ``_`` are context that rules
#: read but that is not re-logged under ``diagnostics/``.
SB3_TRAIN_KEYS: dict[str, str] = {
    "train/approx_kl": "approx_kl",
    "train/kl_divergence_loss": "approx_kl",  # TRPO
    "train/clip_fraction": "clip_fraction",
    "train/is_line_search_success": "line_search_success",
    "train/learning_rate": "_learning_rate",
    "train/entropy_loss": "_entropy_loss",
    "train/explained_variance": "_sb3_explained_variance",
    "train/value_loss": "_value_loss",
    "train/std": "_std",
}

#: SB3 logger keys written at dump time (``rollout/*``) -> metric names
SB3_ROLLOUT_KEYS: dict[str, str] = {
    "rollout/ep_rew_mean": "_ep_rew_mean",
    "rollout/ep_len_mean": "_ep_len_mean",
    "rollout/exploration_rate": "_exploration_rate",  # DQN, QR-DQN
}

#: SB3 logger keys read only after the fact (live, the checks measure these things on the model itself)
SB3_OFFLINE_KEYS: dict[str, str] = {
    "train/ent_coef": "_ent_coef",  # SAC, TQC, CrossQ: the entropy coefficient (fixed, or learned)
}

#: metric names whose values come straight from SB3's own ``train/*`` keys: the engine does not log
#: them a second time under ``diagnostics/``
LOGGED_BY_SB3: frozenset[str] = frozenset(n for n in SB3_TRAIN_KEYS.values() if not n.startswith("_"))


def read_train_metrics(model: Any) -> dict[str, float]:
    """
    The ``train/*`` values of the latest policy update, if there was one since the last call.

    SB3's on-policy ``learn()`` dumps logs *before* ``train()``, so the values of update k sit in
    ``model.logger.name_to_value`` until the dump after rollout k+1. Novelty is decided by
    ``model._n_updates``, shared per model through :class:`~sb3_diagnostics.sb3.state.MetricCache`.

    :param model: an SB3 algorithm
    :return: metric name -> value (empty when no new update happened)
    """
    state = MetricCache.for_model(model).state
    n_updates = int(getattr(model, "_n_updates", 0))
    previous = state.get("n_updates")
    state["n_updates"] = n_updates
    if previous is None or n_updates <= previous:
        # First look (we cannot tell whether the logged values are from this learn() call), or a
        # counter that restarted (a new model under the same callback): nothing new to read yet.
        return {}
    values = model.logger.name_to_value
    out: dict[str, float] = {}
    for key, name in SB3_TRAIN_KEYS.items():
        if key in values:
            out[name] = float(values[key])
    if "_learning_rate" in out:
        initial = float(model.lr_schedule(1.0))
        if initial > 0:
            out["_lr_ratio"] = out["_learning_rate"] / initial
    if hasattr(model, "n_epochs") and hasattr(model, "clip_range"):
        out["epochs_completed"] = float(n_updates - previous)
        out["n_epochs"] = float(model.n_epochs)
        from sb3_diagnostics.sb3.models import kl_is_logged_before_every_step  # torch: not for the report's import

        if kl_is_logged_before_every_step(model):  # one minibatch, one epoch: KL and clip fraction are 0 regardless
            out.pop("approx_kl", None)
            out.pop("clip_fraction", None)
    return out


def updates_done(model: Any) -> int:
    """:return: gradient updates the model has done over its whole life (SB3's ``_n_updates``, saved with it)"""
    return int(getattr(model, "_n_updates", 0) or 0)


def learn_schedule(model: Any) -> dict[str, float]:
    """
    The exploration and learning schedule of the current ``learn()`` call, read at its start: where it starts
    (``_learn_start``, 0 when ``reset_num_timesteps=True``) and ends (``_learn_end``), the gradient updates the
    model did before it (``_updates_before``), ``_learning_starts`` (off-policy), and for epsilon-greedy models
    (DQN, QR-DQN) ``_eps_initial``, ``_eps_final`` and ``_eps_end`` (the step at which epsilon reaches its final
    value: ``exploration_fraction`` of the progress SB3 counts to ``_learn_end``).
    """
    out: dict[str, float] = {"_learn_start": float(model.num_timesteps), "_updates_before": float(updates_done(model))}
    end = getattr(model, "_total_timesteps", None)
    if isinstance(end, (int, float)) and end > 0:
        out["_learn_end"] = float(end)
    starts = getattr(model, "learning_starts", None)
    if isinstance(starts, (int, float)) and not isinstance(starts, bool):
        out["_learning_starts"] = float(starts)
    eps = [getattr(model, name, None) for name in ("exploration_initial_eps", "exploration_final_eps",
                                                   "exploration_fraction")]
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in eps) and "_learn_end" in out:
        initial, final, fraction = (float(v) for v in eps)  # type: ignore[arg-type]
        out.update(_eps_initial=initial, _eps_final=final, _eps_end=fraction * out["_learn_end"])
    return out


def progress(model: Any) -> float:
    """:return: fraction of the current ``learn()`` call done, from SB3's own progress counter."""
    return float(1.0 - model._current_progress_remaining)


def episode_stats(model: Any) -> dict[str, float]:
    """
    SB3's own statistics of the last (up to 100) finished episodes (``ep_info_buffer``, filled by ``Monitor``).

    :param model: an SB3 algorithm
    :return: ``_ep_rew_mean``, ``_ep_rew_std``, ``_ep_count``, ``_ep_len_mean``, ``_ep_len_std`` and, for
        epsilon-greedy algorithms, ``_exploration_rate``; empty before the first episode ends
    """
    buffer = getattr(model, "ep_info_buffer", None)
    if not buffer:
        return {}
    exploration = getattr(model, "exploration_rate", None)  # DQN, QR-DQN: epsilon-greedy's current epsilon
    rewards = [float(ep["r"]) for ep in buffer]
    lengths = [float(ep["l"]) for ep in buffer]
    n = len(lengths)
    mean_len = sum(lengths) / n
    mean_rew = sum(rewards) / n
    return {
        "_ep_rew_mean": mean_rew,
        "_ep_rew_std": (sum((x - mean_rew) ** 2 for x in rewards) / n) ** 0.5,
        "_ep_count": float(n),
        "_ep_len_mean": mean_len,
        "_ep_len_std": (sum((x - mean_len) ** 2 for x in lengths) / n) ** 0.5,
        **({"_exploration_rate": float(exploration)} if isinstance(exploration, (int, float)) else {}),
    }


def dump_final_update(logger: Any, step: int) -> None:
    """
    Write what the logger holds (the last update of ``learn()``, which SB3 never dumps) to its files:
    TensorBoard, CSV, JSON, but not SB3's text tables (``stdout``, ``log``). SB3 itself prints no table
    for that update, so the console stays exactly as without the callback, and nothing is printed
    after ``learn()`` returns.

    :param logger: the model's SB3 logger
    :param step: ``num_timesteps``
    """
    from stable_baselines3.common.logger import DISABLED, HumanOutputFormat, KVWriter

    formats = getattr(logger, "output_formats", None)
    values = getattr(logger, "name_to_value", None)
    if formats is None or values is None:  # not SB3's Logger: let it dump the way it does
        logger.dump(step)
        return
    if getattr(logger, "level", None) != DISABLED:
        for output in formats:
            if isinstance(output, KVWriter) and not isinstance(output, HumanOutputFormat) and values:
                output.write(values, logger.name_to_excluded, step)
    values.clear()
    logger.name_to_count.clear()
    logger.name_to_excluded.clear()
