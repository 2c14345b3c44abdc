"""
The catalog of findings: one row per code, as data.

Each row says which check reports the code (the check key, the one name of a concern: it names
the rule module, the callback module and the ``thresholds=`` entry), its default severity, its
family (which decides the warning category), where it sits in the triage order, a one-line title,
the hint, a public reference a user can open, and which other codes it can explain (the causal
edges the triage follows to put root causes first).

Nothing here imports torch, SB3 or gymnasium.
"""

from __future__ import annotations

from dataclasses import dataclass

from sb3_diagnostics.errors import UnknownCodeError
from sb3_diagnostics.findings import Severity

E, W, I = Severity.ERROR, Severity.WARNING, Severity.INFO  # noqa: E741 (a table reads better with one letter)

#: Triage stages, most upstream first: the order in which a practitioner rules causes out
#: (A. Jones, "Debugging RL, Without the Agonizing Pain"; SB3's RL tips).
STAGES: tuple[str, ...] = (
    "nan",
    "environment",
    "pipeline",
    "value function",
    "exploration",
    "gradients",
    "advantages",
    "policy updates",
    "reward",
    "lagging indicators",
    "diagnostics itself",
)

# Public references (a user can open every one of them).
RL_TIPS = "https://stable-baselines3.readthedocs.io/en/master/guide/rl_tips.html"
JONES = "https://andyljones.com/posts/rl-debugging.html"
KL_NOTE = "http://joschu.net/blog/kl-approx.html"
PPO_DETAILS = "https://iclr-blog-track.github.io/2022/03/25/ppo-implementation-details/"
WHAT_MATTERS = "https://arxiv.org/abs/2006.05990"
NAN_GUIDE = "https://stable-baselines3.readthedocs.io/en/master/guide/checking_nan.html"
VEC_NORMALIZE = "https://stable-baselines3.readthedocs.io/en/master/guide/vec_envs.html#vecnormalize"
CUSTOM_POLICY = "https://stable-baselines3.readthedocs.io/en/master/guide/custom_policy.html"
CUSTOM_ENV = "https://stable-baselines3.readthedocs.io/en/master/guide/custom_env.html"
ENV_CHECKER = "https://stable-baselines3.readthedocs.io/en/master/common/env_checker.html"
RECURRENT_PPO = "https://sb3-contrib.readthedocs.io/en/master/modules/ppo_recurrent.html"
TRPO_DOCS = "https://sb3-contrib.readthedocs.io/en/master/modules/trpo.html"
TD3_NOTES = "https://spinningup.openai.com/en/latest/algorithms/td3.html"
SHAPING = "https://people.eecs.berkeley.edu/~russell/papers/icml99-shaping.pdf"
TIME_LIMITS = "https://gymnasium.farama.org/tutorials/gymnasium_basics/handling_time_limits/"
ISSUES = "https://github.com/DLR-RM/stable-baselines3/issues/"


@dataclass(frozen=True)
class CatalogEntry:
    """
    One row of the catalog.

    :param code: stable identifier
    :param check: key of the check that reports it (``"kl"``, ``"reward"``, ``"environment"`` for the
        pre-flight, ``"policy"`` for ``check_policy``, ``"internal"`` for the library itself)
    :param severity: default severity
    :param family: key of :data:`sb3_diagnostics.warnings.CATEGORIES`
    :param stage: index into :data:`STAGES` (lower is more upstream)
    :param title: one line saying what the code means
    :param hint: what to try, naming the SB3 parameter
    :param reference: a public URL that explains the problem
    :param explains: codes this one can cause (the triage folds them under it)
    """

    code: str
    check: str
    severity: Severity
    family: str
    stage: int
    title: str
    hint: str
    reference: str
    explains: tuple[str, ...] = ()


_Row = tuple[str, str, Severity, str, str, str, str, str, tuple[str, ...]]


def _rows(*rows: _Row) -> dict[str, CatalogEntry]:
    out = {}
    for code, check, sev, family, stage, title, hint, reference, explains in rows:
        out[code] = CatalogEntry(code, check, sev, family, STAGES.index(stage), title, hint, reference, explains)
    return out


#: consequences shared by several upstream causes
_LEARNING = ("policy_stays_random", "policy_not_updating", "reward_decreasing", "episode_length_degenerate")
_CRITIC = ("explained_variance_negative", "critic_not_learning", "q_value_divergence", "q_twin_divergence")

CATALOG: dict[str, CatalogEntry] = _rows(
    # --- NaN -----------------------------------------------------------------------------
    ("nan_detected", "nan", E, "nan", "nan", "NaN or Inf in observations, rewards, losses or parameters",
     "Find where it first appeared: guard divisions and log() in the reward, clip observations, "
     "lower learning_rate and set max_grad_norm=0.5.", NAN_GUIDE, ("*",)),
    # --- environment (pre-flight) ----------------------------------------------------------
    ("obs_constant", "environment", E, "environment", "environment", "observations never change",
     "Check that step() updates the state it returns.", JONES, ("policy_stays_random", *_CRITIC)),
    ("action_no_effect", "environment", E, "environment", "environment", "actions do not change what happens",
     "Check that step() passes the action to the simulation (action scaling, action mapping).", JONES,
     ("policy_stays_random", "advantage_zero_variance", "reward_constant")),
    ("env_nondeterministic", "environment", W, "environment", "environment",
     "same seed and actions give different results",
     "Draw randomness from self.np_random (seeded by reset(seed=...)), not from the global random/np.random.",
     CUSTOM_ENV, ()),
    ("obs_nan_inf", "environment", E, "environment", "environment", "NaN or Inf in observations",
     "Guard divisions and clip observations in the observation function.", NAN_GUIDE, ("nan_detected",)),
    ("obs_dead_dims", "environment", W, "environment", "environment", "some observation dimensions never change",
     "Remove the dead dimensions or fix the code that should fill them.", RL_TIPS, ("vecnormalize_stats_unstable",)),
    ("obs_scale_mismatch", "environment", W, "environment", "environment",
     "observation dimensions differ in scale by > 100x",
     "Normalise observations: wrap the env in VecNormalize(norm_obs=True) or rescale in the env.", RL_TIPS,
     ("grad_norm_exploding", *_CRITIC)),
    ("obs_too_large", "environment", I, "environment", "environment", "more than 1000 observation dimensions for an MLP",
     "Reduce dimensions (feature selection, a CNN for images) or use a larger net_arch.", RL_TIPS, ()),
    ("reward_not_learnable", "environment", W, "environment", "environment",
     "no observation dimension correlates with reward",
     "Make sure the observation contains what the reward depends on.", JONES, ("explained_variance_negative",)),
    ("action_space_degenerate", "buffers", E, "environment", "environment",
     "an action dimension offers no choice: a Box dimension of zero width, a Discrete(1)",
     "Give every action dimension a range (low < high) or remove it from the action space.",
     "https://github.com/hill-a/stable-baselines/issues/553", ("action_no_effect", "policy_stays_random")),
    ("action_space_not_normalized", "buffers", W, "environment", "environment",
     "Box action bounds far from [-1, 1]",
     "Declare the action space as Box(-1, 1) and rescale inside step() (or wrap the env in "
     "gymnasium.wrappers.RescaleAction(env, -1.0, 1.0)): Gaussian policies start at mean 0, std 1.",
     RL_TIPS + "#tips-and-tricks-when-creating-a-custom-environment",
     ("policy_stays_random", "action_std_collapse", "entropy_collapse")),
    ("env_api_violation", "environment", E, "environment", "environment",
     "the env breaks the Gymnasium API or uses a space SB3 cannot train on (what SB3's and Gymnasium's "
     "check_env assert)",
     "Make reset(seed=None, options=None) return (obs, info) and step() return (obs, reward, terminated, "
     "truncated, info) with a float reward, bool flags and a dict info; use the spaces SB3 supports (Box, "
     "Discrete and MultiDiscrete starting at 0, MultiBinary, one-level Dict). Run "
     "stable_baselines3.common.env_checker.check_env(env) to see each problem where it happens.",
     ENV_CHECKER, ("*",)),
    ("obs_not_in_space", "environment", E, "environment", "environment",
     "observations outside the declared space (dtype or bounds)",
     "Return observations of observation_space's dtype (np.float32 for a float32 Box: obs.astype(np.float32)) "
     "within its bounds, or widen the bounds to what the env really emits.", ENV_CHECKER, ()),
    ("image_obs_not_scaled", "buffers", W, "environment", "environment",
     "float image observations in [0, 255]",
     "Declare the images as Box(0, 255, shape, np.uint8) so SB3 divides them by 255, or divide by 255 in the env "
     "and declare Box(0, 1).", ISSUES + "268", ("policy_stays_random", "explained_variance_negative",
                                                "critic_not_learning", "grad_norm_exploding")),
    ("reset_not_randomized", "environment", I, "environment", "environment", "reset() always returns the same observation",
     "Randomise initial states with self.np_random in reset() if the task should generalise.", CUSTOM_ENV, ()),
    # --- episodes ------------------------------------------------------------------------
    ("episode_length_degenerate", "episodes", W, "environment", "environment",
     "episodes are degenerate (end at once or never)",
     "Make the task more forgiving (termination conditions) or add intermediate goals.", TIME_LIMITS, ()),
    ("termination_exploited", "episodes", W, "reward", "reward",
     "the agent learned to end episodes early to stop a per-step penalty",
     "Make every step worth living: a positive reward for surviving or progress, a terminal penalty larger than "
     "the penalties it avoids, or no termination on failure (truncate instead).",
     "https://github.com/jxx123/simglucose/issues/40", ("episode_length_degenerate", "reward_decreasing", "entropy_collapse")),
    ("timeout_as_termination", "environment", W, "environment", "environment",
     "every episode ends with terminated=True at one step count: a time limit reported as termination",
     "If the episode ends because its step budget ran out, return terminated=False, truncated=True (or wrap the env in "
     "gymnasium.wrappers.TimeLimit(env, max_episode_steps=N)); if it truly ends there, put the time left in the "
     "observation.", TIME_LIMITS, ()),
    ("episodes_never_end", "episodes", W, "environment", "environment",
     "no episode ends (no time limit, and no terminal state reached)",
     "Give the env a time limit (gym.make(..., max_episode_steps=N) or gymnasium.wrappers.TimeLimit) and return "
     "terminated=True when the task ends.", TIME_LIMITS, ()),
    # --- data pipeline: wrappers, buffers, recurrent state --------------------------------
    ("vecnormalize_reward_clipped", "vecnormalize", W, "vecnormalize", "pipeline", "VecNormalize clips rewards",
     "Raise clip_reward in VecNormalize (above the largest normalised reward) or set norm_reward=False.",
     VEC_NORMALIZE, _LEARNING),
    ("vecnormalize_obs_clipped", "vecnormalize", W, "vecnormalize", "pipeline", "VecNormalize clips observations",
     "Raise clip_obs in VecNormalize (e.g. 10.0), or rescale the heavy-tailed observation in the env.",
     VEC_NORMALIZE, (*_CRITIC, *_LEARNING)),
    ("vecnormalize_stats_unstable", "vecnormalize", W, "vecnormalize", "pipeline",
     "VecNormalize running statistics are unstable",
     "Warm up the statistics before training, set norm_reward=False, or remove constant observation dims.",
     VEC_NORMALIZE, ("grad_norm_exploding", *_CRITIC, *_LEARNING)),
    ("vecnormalize_stats_not_restored", "vecnormalize", W, "vecnormalize", "pipeline",
     "a trained model starts behind fresh VecNormalize statistics",
     "Load the statistics saved with the model (VecNormalize.load(path, venv)) instead of wrapping a new VecNormalize.",
     ISSUES + "1256", ("vecnormalize_stats_unstable", "explained_variance_negative", "critic_not_learning",
                       *_LEARNING)),
    ("lstm_state_not_reset", "lstm", E, "recurrent", "pipeline", "recurrent state leaks across episodes",
     "Reset the hidden state where episode_starts is 1 (custom policies: multiply the state by "
     "1 - episode_start) and make sure wrappers pass terminated/truncated through to the VecEnv.",
     RECURRENT_PPO, ("explained_variance_negative", *_LEARNING)),
    ("buffer_shape_mismatch", "buffers", E, "pipeline", "pipeline", "stored observations do not match the observation space",
     "Return observations of exactly observation_space.shape from reset() and step().", ENV_CHECKER,
     (*_CRITIC, *_LEARNING)),
    ("obs_buffer_aliased", "buffers", E, "pipeline", "pipeline",
     "the env returns one observation array, mutated in place",
     "Return a new array from reset() and step() (return self.state.copy(), or np.array(self.state)); a VecEnv "
     "must not hand out its internal buffer either.", "https://github.com/Farama-Foundation/SuperSuit/pull/116",
     ("obs_constant", "action_no_effect", "reward_not_learnable", *_CRITIC, *_LEARNING)),
    ("policy_output_invalid", "policy", E, "pipeline", "pipeline", "the policy's outputs do not match the spaces",
     "Return actions of action_space.shape inside its bounds, values of shape (batch, 1) and log-probabilities "
     "of shape (batch,) summed over action dims.", CUSTOM_POLICY, (*_CRITIC, *_LEARNING)),
    ("module_not_registered", "gradients", E, "pipeline", "pipeline",
     "a layer is kept in a plain list or dict, invisible to the optimizer",
     "Keep layers in nn.ModuleList / nn.ModuleDict (parameters in nn.ParameterList), or assign each to an "
     "attribute, so that PyTorch registers them.", "https://pytorch.org/docs/stable/generated/torch.nn.ModuleList.html",
     ("param_no_grad", "grad_norm_vanishing", *_CRITIC, *_LEARNING)),
    # --- value function ------------------------------------------------------------------
    ("explained_variance_negative", "value", W, "value", "value function",
     "the value function explains none of the returns",
     "Check the reward scale (target returns in [-10, 10]; try VecNormalize(norm_reward=True)), lower "
     "learning_rate, try a separate critic (net_arch=dict(pi=[64, 64], vf=[64, 64])) or gae_lambda=0.95.",
     PPO_DETAILS, ("advantage_explosion", "reward_decreasing")),
    ("critic_not_learning", "value", W, "value", "value function", "the value function predicts nothing",
     "Scale the returns into a range the critic can fit (VecNormalize(norm_reward=True) or divide the reward), make "
     "sure the observation contains what the return depends on, and give the critic capacity and steps "
     "(net_arch=dict(pi=[64, 64], vf=[64, 64]), n_epochs, vf_coef).", ISSUES + "2240",
     ("policy_stays_random", "advantage_explosion", "reward_decreasing")),
    ("q_value_divergence", "q_values", W, "value", "value function", "Q-values diverge",
     "Scale rewards down, lower learning_rate or gamma, or use a smaller tau.", TD3_NOTES,
     ("q_twin_divergence", "grad_norm_exploding", "action_std_collapse", "reward_decreasing")),
    ("q_twin_divergence", "q_values", W, "value", "value function", "the twin critics disagree",
     "Lower the critic learning_rate or scale rewards down; if one critic stays near 0, check that every "
     "critic is in the critic optimizer and the critic loss.", TD3_NOTES, ("reward_decreasing",)),
    ("target_update_too_fast", "q_values", W, "value", "value function",
     "the target network moves faster than tau allows",
     "Apply polyak_update once per gradient step with the configured tau / target_update_interval.", TD3_NOTES,
     ("q_value_divergence", "q_twin_divergence", "grad_norm_exploding", "reward_decreasing")),
    # --- exploration ---------------------------------------------------------------------
    ("entropy_collapse", "entropy", W, "exploration", "exploration", "policy entropy collapsed",
     "Raise ent_coef (0.01-0.03) or lower learning_rate so the policy keeps exploring.", RL_TIPS,
     ("policy_not_updating", "clip_fraction_high", "reward_decreasing", "episode_length_degenerate")),
    ("action_std_collapse", "entropy", W, "exploration", "exploration", "the action standard deviation collapsed",
     "Raise ent_coef, lower learning_rate, or raise log_std_init; with SAC keep ent_coef='auto'.", RL_TIPS,
     ("policy_not_updating", "reward_decreasing", "episode_length_degenerate")),
    ("action_noise_missing", "entropy", W, "exploration", "exploration",
     "a deterministic actor (TD3, DDPG) takes one action everywhere: no action noise to explore with",
     "Pass action_noise=NormalActionNoise(mean=np.zeros(n), sigma=0.1 * np.ones(n)) to TD3 / DDPG, or use SAC.", "https://github.com/DLR-RM/stable-baselines3/issues/936",
     ("reward_constant", "policy_stays_random")),
    ("policy_stays_random", "entropy", W, "exploration", "exploration", "the policy never left its random start",
     "Raise learning_rate (e.g. 10x), and check that rewards vary and reach the agent.", JONES,
     ("episode_length_degenerate",)),
    ("exploration_ends_before_learning", "entropy", W, "exploration", "exploration",
     "epsilon reaches its final value before the first gradient step (DQN, QR-DQN)",
     "Raise exploration_fraction so that epsilon decays after learning_starts, or lower learning_starts.",
     ISSUES + "529", ()),
    ("exploration_restarted", "entropy", W, "exploration", "exploration",
     "a trained model's exploration schedule restarted (learn() with reset_num_timesteps=True)",
     "Continue training with model.learn(N, reset_num_timesteps=False), or set exploration_initial_eps to the "
     "epsilon the model ended with.", ISSUES + "1340", ("reward_decreasing",)),
    # --- gradients -----------------------------------------------------------------------
    ("grad_norm_exploding", "gradients", W, "gradient", "gradients", "gradient norm explodes",
     "Lower learning_rate and max_grad_norm (e.g. 0.5); scale rewards down.", WHAT_MATTERS,
     ("entropy_collapse", "action_std_collapse", "kl_too_high", "clip_fraction_high", *_CRITIC, *_LEARNING)),
    ("grad_norm_vanishing", "gradients", W, "gradient", "gradients", "gradient norm vanishes",
     "Raise learning_rate, use ReLU activations (activation_fn=nn.ReLU), check ortho_init.", WHAT_MATTERS,
     _LEARNING),
    ("network_too_small", "gradients", W, "gradient", "gradients",
     "a hidden layer is a 1-2 unit bottleneck, or most of its units are dead or saturated",
     "Widen net_arch (e.g. [64, 64]); scale observations into ~[-1, 1] so tanh units do not saturate; lower "
     "learning_rate if ReLU units die.", CUSTOM_POLICY,
     ("grad_norm_vanishing", "policy_stays_random", *_CRITIC)),
    ("param_no_grad", "gradients", E, "gradient", "gradients", "a trainable parameter never receives a gradient",
     "Do not .detach() features in a custom extractor and put every layer in the optimizer.", CUSTOM_POLICY,
     ("grad_norm_vanishing", *_CRITIC, *_LEARNING)),
    # --- advantages ----------------------------------------------------------------------
    ("advantage_zero_variance", "value", E, "advantage", "advantages", "advantages carry no signal",
     "Rewards do not differ between actions: check the reward function; try a lower gae_lambda.", JONES,
     ("line_search_failing", *_LEARNING)),
    ("advantage_explosion", "value", W, "advantage", "advantages", "advantages are huge",
     "Scale rewards down (divide by 10-100) or use VecNormalize(norm_reward=True).", RL_TIPS,
     ("grad_norm_exploding",)),
    # --- policy updates ------------------------------------------------------------------
    ("kl_too_high", "kl", W, "update", "policy updates", "policy updates are too large",
     "Lower learning_rate, set target_kl=0.02-0.05, lower n_epochs or clip_range.", KL_NOTE,
     ("entropy_collapse", "action_std_collapse", "clip_fraction_high", "grad_norm_exploding", "advantage_explosion",
      *_CRITIC, *_LEARNING)),
    ("clip_fraction_high", "kl", W, "update", "policy updates", "most PPO ratios are clipped",
     "Lower learning_rate or n_epochs; set target_kl to stop epochs early.", PPO_DETAILS, ()),
    ("policy_not_updating", "kl", E, "update", "policy updates", "the policy does not change",
     "Raise learning_rate; check that advantages vary and that the policy parameters are in the optimizer.",
     JONES, ("policy_stays_random", "reward_decreasing")),
    ("target_kl_early_stop", "kl", W, "update", "policy updates", "target_kl stops PPO after its first epoch",
     "Raise target_kl (e.g. 0.015 -> 0.03-0.05) or lower learning_rate so n_epochs can run.", PPO_DETAILS,
     ("policy_stays_random",)),
    ("line_search_failing", "kl", W, "update", "policy updates", "TRPO's line search keeps failing",
     "Raise target_kl, check the rewards, or increase cg_damping.", TRPO_DOCS, ("policy_stays_random",
                                                                                "policy_not_updating")),
    # --- reward --------------------------------------------------------------------------
    ("reward_all_zero", "reward", E, "reward", "reward", "every reward is zero",
     "Check that the reward function is called and its result returned from step().", JONES,
     ("advantage_zero_variance", "line_search_failing", "reward_sparse", *_CRITIC, *_LEARNING)),
    ("reward_sparse", "reward", W, "reward", "reward", "almost every reward is zero",
     "Add dense shaping (potential-based) or a curriculum.", SHAPING,
     ("advantage_zero_variance", "explained_variance_negative", *_LEARNING)),
    ("reward_scale_tiny", "reward", W, "reward", "reward", "rewards are tiny",
     "Scale the reward to roughly [-10, 10]; for exp(-error) divide the error by its typical size first.",
     RL_TIPS, ("grad_norm_vanishing", "advantage_zero_variance", "entropy_collapse", *_CRITIC, *_LEARNING)),
    ("reward_scale_huge", "reward", W, "reward", "reward", "rewards or returns are huge",
     "Scale the reward down to roughly [-10, 10] or use VecNormalize(norm_reward=True).", RL_TIPS,
     ("advantage_explosion", "grad_norm_exploding", "kl_too_high", "clip_fraction_high", "entropy_collapse",
      "action_std_collapse", *_CRITIC, *_LEARNING)),
    ("reward_constant", "reward", E, "reward", "reward", "the reward never differs between outcomes",
     "Make the reward depend on what the agent does.", JONES,
     ("advantage_zero_variance", "line_search_failing", "reward_sparse", *_CRITIC, *_LEARNING)),
    ("reward_low_snr", "reward", I, "reward", "reward", "the reward is mostly noise",
     "Remove noisy bonus terms or average them out.", JONES, ("explained_variance_negative", "critic_not_learning")),
    ("reward_component_imbalance", "reward", W, "reward", "reward", "one reward component dominates",
     "Reweight the components so that none carries more than ~80% of the variance.", SHAPING, _LEARNING),
    ("gamma_horizon_mismatch", "reward", W, "reward", "value function",
     "rewards come far beyond the discount horizon 1/(1-gamma)",
     "Raise gamma so that 1/(1-gamma) covers the steps to the reward (0.99 -> 0.999), or shape the reward so that "
     "progress pays sooner.", WHAT_MATTERS,
     ("policy_stays_random", "critic_not_learning", "explained_variance_negative", "reward_decreasing")),
    # --- lagging -------------------------------------------------------------------------
    ("reward_decreasing", "episodes", W, "reward", "lagging indicators", "the episode reward falls steadily",
     "Look upstream first (entropy, value function, KL); then check for reward hacking, and for env state "
     "(e.g. a step counter) that reset() does not reset.", JONES, ()),
    # --- the tool itself -----------------------------------------------------------------
    ("diagnostics_internal_error", "internal", W, "internal", "diagnostics itself", "a check failed and was disabled",
     "Training continues without this check. Please report the traceback to sb3-diagnostics.",
     "https://github.com/sb3-diagnostics/sb3-diagnostics/issues", ()),
    ("check_not_applicable", "internal", I, "internal", "diagnostics itself", "a check cannot apply to this model",
     "Nothing to do; use DiagnosticsCallback to get only the checks that apply.",
     "https://github.com/sb3-diagnostics/sb3-diagnostics#what-it-is", ()),
)


def entry(code: str) -> CatalogEntry:
    """
    Look up a catalog row.

    :param code: a finding code
    :return: its catalog entry
    :raises UnknownCodeError: with the list of valid codes
    """
    try:
        return CATALOG[code]
    except KeyError:
        raise UnknownCodeError(f"Unknown finding code {code!r}. Known codes: {', '.join(sorted(CATALOG))}.") from None


def codes_of(check: str) -> tuple[str, ...]:
    """
    :param check: a check key
    :return: the codes that check reports, in catalog order
    """
    return tuple(code for code, row in CATALOG.items() if row.check == check)


def explains(cause: str, consequence: str) -> bool:
    """
    :param cause: a finding code
    :param consequence: another finding code
    :return: whether ``cause`` can explain ``consequence`` (a causal edge of the catalog)
    """
    edges = entry(cause).explains
    return cause != consequence and ("*" in edges or consequence in edges)
