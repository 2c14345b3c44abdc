"""
Where metric names meet SB3's logger keys. The live callbacks and the post-hoc report both read
``train/*`` through this table, so a metric has one name whichever source feeds the rules.
"""

from __future__ import annotations

#: prefix of every scalar this library records
PREFIX = "diagnostics/"

#: SB3 logger keys (``train/*``) -> metric names. Names starting with ``_`` are context that rules
#: read but that is not re-logged under ``diagnostics/`` (SB3 already logs it).
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
}

#: TensorBoard custom-scalars layout: the ``diagnostics/`` charts grouped by concern, in triage
#: order (regular expressions match every series of a family).
CUSTOM_SCALARS_LAYOUT: dict[str, dict[str, list]] = {
    "sb3-diagnostics": {
        "NaN and gradients": ["Multiline", [r"diagnostics/grad_norm.*", r"diagnostics/params_without_grad"]],
        "VecNormalize": ["Multiline", [r"diagnostics/vecnorm_.*"]],
        "recurrent state": ["Multiline", [r"diagnostics/lstm_.*"]],
        "value function": ["Multiline", [r"diagnostics/explained_variance", r"diagnostics/q_.*"]],
        "exploration": ["Multiline", [r"diagnostics/entropy_normalized", r"diagnostics/action_std_min"]],
        "advantages": ["Multiline", [r"diagnostics/advantage_.*"]],
        "policy updates": ["Multiline", [r"diagnostics/approx_kl", r"diagnostics/clip_fraction",
                                         r"diagnostics/epochs_completed", r"diagnostics/line_search_success"]],
        "reward": ["Multiline", [r"diagnostics/reward_.*", r"diagnostics/return_.*", r"diagnostics/truncation_frac"]],
        "alerts": ["Multiline", [r"diagnostics/alert/.*"]],
    }
}
