"""
The healthy runs of the calibration benchmark, as data, and how each one becomes a model.

Three kinds:

- ``zoo``: rl-zoo3's tuned hyper-parameters, read at run time from the installed ``rl_zoo3``
  package's ``hyperparams/<algo>.yml`` and turned into a model by rl-zoo3's own
  :class:`rl_zoo3.exp_manager.ExperimentManager` (the same code path as
  ``python -m rl_zoo3.train --algo ALGO --env ENV --seed SEED -n STEPS --eval-freq -1``), so the
  model, its VecNormalize / frame-stack / wrappers, schedules, action noise and the config's own
  callbacks are exactly what rl-zoo3 builds. Only the length is capped (``-n``), see :func:`zoo_cap`.
- ``default``: SB3's default hyper-parameters, trained until the task is solved.
- ``tricky``: small tasks in ``envs.py`` with properties that are unusual but legitimate
  (sparse reward, a deterministic optimum, short successful episodes, a huge reward under
  VecNormalize, a fixed horizon, a dominant reward component, image and Dict observations).

Every run here is healthy: any finding at warning or above on one of them is a false alarm.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

#: rl-zoo3 config file stem -> the algorithm's display name
ZOO_ALGOS = {
    "ppo": "PPO",
    "a2c": "A2C",
    "trpo": "TRPO",
    "ars": "ARS",
    "ppo_lstm": "RecurrentPPO",
    "dqn": "DQN",
    "qrdqn": "QR-DQN",
    "sac": "SAC",
    "td3": "TD3",
    "ddpg": "DDPG",
    "tqc": "TQC",
    "crossq": "CrossQ",
}
OFF_POLICY = {"dqn", "qrdqn", "sac", "td3", "ddpg", "tqc", "crossq"}

#: Cheap environments that need no extra package; rl-zoo3 configs for anything else are excluded
#: except the Box2D ones below (MuJoCo, PyBullet, Atari, MiniGrid, Fetch/Panda, highway need packages
#: or compute this machine does not have).
CHEAP_ENVS = (
    "CartPole-v1",
    "Acrobot-v1",
    "MountainCar-v0",
    "MountainCarContinuous-v0",
    "Pendulum-v1",
    "CartPoleNoVel-v1",
    "PendulumNoVel-v1",
    "MountainCarNoVel-v0",
    "MountainCarContinuousNoVel-v0",
)

#: Box2D environments, run when the ``bench`` extra (Box2D, pygame) is installed (``make calibration`` installs
#: it): larger observation and action spaces, shaped rewards in the hundreds, episodes of up to 1000-1600 steps
#: and rl-zoo3's larger networks ([400, 300]) -- healthy runs unlike the classic-control ones.
BOX2D_ENVS = ("LunarLander-v3", "LunarLanderContinuous-v3", "BipedalWalker-v3")


def box2d_available() -> bool:
    import importlib.util

    return all(importlib.util.find_spec(m) is not None for m in ("Box2D", "pygame"))


#: default caps on a zoo run's length (the config's own n_timesteps when that is smaller).
#: Sized for a 2-core CPU-only machine where SAC-style updates run at ~35-100 env steps a second:
#: the whole benchmark is ~3 CPU-hours on a busy machine, ~1 hour with 2 workers on a quiet one.
ON_POLICY_CAP = 50_000
OFF_POLICY_CAP = 3_000

#: per-config caps, where the default cap does not fit: (algo, env) -> timesteps.
ZOO_CAPS: dict[tuple[str, str], int] = {
    # TD3/DDPG's Pendulum configs only start learning at 10k (learning_starts=10000)
    ("td3", "Pendulum-v1"): 11_000,
    ("ddpg", "Pendulum-v1"): 11_000,
    # DQN/QR-DQN: cheap (0.5 gradient steps per env step), except Acrobot (one per env step)
    ("dqn", "CartPole-v1"): 10_000,
    ("qrdqn", "CartPole-v1"): 10_000,
    ("dqn", "MountainCar-v0"): 10_000,
    ("qrdqn", "MountainCar-v0"): 10_000,
    ("dqn", "Acrobot-v1"): 8_000,
    ("qrdqn", "Acrobot-v1"): 8_000,
    # Recurrent PPO is ~10x slower per step than PPO: a few rollouts each
    ("ppo_lstm", "CartPoleNoVel-v1"): 8_192,  # 32 rollouts of 8x32
    ("ppo_lstm", "PendulumNoVel-v1"): 12_288,  # 3 rollouts of 4x1024
    ("ppo_lstm", "Acrobot-v1"): 12_288,  # 3 rollouts of 16x256
    ("ppo_lstm", "MountainCarNoVel-v0"): 8_192,  # 32 rollouts of 16x16
    ("ppo_lstm", "MountainCarContinuousNoVel-v0"): 16_384,  # 2 rollouts of 8x1024
    ("ppo", "Pendulum-v1"): 49_152,  # 12 rollouts of 4x1024
    ("trpo", "Pendulum-v1"): 40_960,  # 20 rollouts of 2x1024
    # Box2D: off-policy configs start learning at 10k, then 3000 updates (12 measurements); on-policy, 6+ rollouts
    **{(algo, env): 13_000 for algo in ("sac", "td3", "ddpg", "tqc", "crossq")
       for env in ("LunarLanderContinuous-v3", "BipedalWalker-v3")},
    ("dqn", "LunarLander-v3"): 20_000,  # learning_starts=0, train_freq=4
    ("qrdqn", "LunarLander-v3"): 14_000,  # learning_starts=10000, then 4000 updates (170 quantiles: ~70 s per 1000)
    ("ppo", "LunarLander-v3"): 98_304,  # 6 rollouts of 16x1024
    ("ppo", "LunarLanderContinuous-v3"): 98_304,
    ("ppo", "BipedalWalker-v3"): 196_608,  # 3 rollouts of 32x2048
    ("ppo_lstm", "BipedalWalker-v3"): 32_768,  # 4 rollouts of 32x256
}


@dataclass(frozen=True)
class Run:
    """
    One healthy run.

    :param name: unique, used on the command line
    :param kind: ``zoo``, ``default`` or ``tricky``
    :param algo: display name of the algorithm
    :param env: display name of the environment
    :param timesteps: training length
    :param quick: part of ``--quick``
    :param zoo_algo: rl-zoo3 config stem (``zoo`` runs)
    :param make: ``make(seed) -> model`` (``default`` and ``tricky`` runs)
    :param note: what makes it interesting
    :param min_final_return: the run counts as having learned when the mean return of its last 10%
        of episodes (at least 5) reaches this
    :param schedule_timesteps: the zoo's ``n_timesteps`` for a capped zoo run (see the field)
    """

    name: str
    kind: str
    algo: str
    env: str
    timesteps: int
    quick: bool = False
    zoo_algo: str = ""
    make: Callable[[int], Any] | None = field(default=None, compare=False, repr=False)
    note: str = ""
    min_final_return: float | None = None
    #: ``total_timesteps`` passed to ``learn`` when larger than ``timesteps`` (a capped zoo run): the run trains
    #: on the zoo's own schedule (learning-rate schedules, the progress rules see) and is stopped at ``timesteps``
    schedule_timesteps: int = 0


# --------------------------------------------------------------------------------------------- zoo


def zoo_hyperparams_dir() -> str:
    import rl_zoo3

    return os.path.join(os.path.dirname(rl_zoo3.__file__), "hyperparams")


def zoo_config(algo: str) -> dict[str, Any]:
    import yaml

    with open(os.path.join(zoo_hyperparams_dir(), f"{algo}.yml")) as f:
        return yaml.safe_load(f)


def zoo_cap(
    algo: str, env_id: str, n_timesteps: int, on_policy_cap: int = ON_POLICY_CAP, off_policy_cap: int = OFF_POLICY_CAP
) -> int:
    """The run's length: the zoo's n_timesteps, capped."""
    cap = ZOO_CAPS.get((algo, env_id), off_policy_cap if algo in OFF_POLICY else on_policy_cap)
    return int(min(n_timesteps, cap))


def zoo_runs(on_policy_cap: int = ON_POLICY_CAP, off_policy_cap: int = OFF_POLICY_CAP) -> list[Run]:
    """One run per (rl-zoo3 config, cheap env) pair that the installed rl_zoo3 has."""
    import gymnasium as gym
    import rl_zoo3.import_envs  # noqa: F401  (registers the NoVel envs)

    runs = []
    for algo, display in ZOO_ALGOS.items():
        path = os.path.join(zoo_hyperparams_dir(), f"{algo}.yml")
        if not os.path.exists(path):
            continue
        config = zoo_config(algo)
        for env_id in CHEAP_ENVS + (BOX2D_ENVS if box2d_available() else ()):
            if env_id not in config:
                continue
            try:
                gym.spec(env_id)
            except gym.error.Error:
                continue
            n_timesteps = int(float(config[env_id]["n_timesteps"]))
            steps = zoo_cap(algo, env_id, n_timesteps, on_policy_cap, off_policy_cap)
            # A capped run is the start of the zoo's run: same schedule, stopped early. ARS ignores a callback's
            # request to stop, so it trains on the capped budget.
            schedule = n_timesteps if algo != "ars" and n_timesteps > steps else 0
            runs.append(Run(name=f"zoo_{algo}_{env_id}", kind="zoo", algo=display, env=env_id, timesteps=steps,
                            zoo_algo=algo, schedule_timesteps=schedule))
    return runs


def make_zoo(algo: str, env_id: str, seed: int, timesteps: int, log_folder: str) -> tuple[Any, list[Any]]:
    """
    Build the model exactly as ``python -m rl_zoo3.train --algo ALGO --env ENV --seed SEED -n
    TIMESTEPS --eval-freq -1 -f LOG_FOLDER`` does (``verbose=0`` only silences printing).

    :return: the model and the config's own callbacks (to pass to ``learn`` as rl-zoo3 does)
    """
    from rl_zoo3.exp_manager import ExperimentManager
    from stable_baselines3.common.utils import set_random_seed

    set_random_seed(seed)  # as rl_zoo3.train does before building the experiment
    args = argparse.Namespace(algo=algo, env=env_id, seed=seed, n_timesteps=timesteps, log_folder=log_folder)
    manager = ExperimentManager(
        args,
        algo,
        env_id,
        log_folder,
        n_timesteps=timesteps,
        eval_freq=-1,
        save_freq=-1,
        seed=seed,
        verbose=0,
    )
    with contextlib.redirect_stdout(io.StringIO()):  # it always prints the hyper-parameters
        result = manager.setup_experiment()
    assert result is not None
    model, _ = result
    if algo == "ars" and manager.n_envs > 1:  # rl-zoo3's learn() passes an AsyncEval then; none of ours has n_envs > 1
        raise NotImplementedError("ARS with n_envs > 1 needs AsyncEval")
    return model, list(manager.callbacks)


# ----------------------------------------------------------------------------------------- default


def _default(cls_path: str, policy: str, env_id: str) -> Callable[[int], Any]:
    def make(seed: int) -> Any:
        module, name = cls_path.rsplit(".", 1)
        import importlib

        cls = getattr(importlib.import_module(module), name)
        return cls(policy, env_id, seed=seed)

    return make


DEFAULT_RUNS = [
    Run(
        "default_ppo_CartPole-v1",
        "default",
        "PPO",
        "CartPole-v1",
        150_000,
        quick=False,
        make=_default("stable_baselines3.PPO", "MlpPolicy", "CartPole-v1"),
        min_final_return=400,
        note="SB3 defaults until solved",
    ),
    Run(
        "default_a2c_CartPole-v1",
        "default",
        "A2C",
        "CartPole-v1",
        100_000,
        make=_default("stable_baselines3.A2C", "MlpPolicy", "CartPole-v1"),
        min_final_return=300,
        note="SB3 defaults until solved",
    ),
    Run(
        "default_dqn_CartPole-v1",
        "default",
        "DQN",
        "CartPole-v1",
        100_000,
        make=_default("stable_baselines3.DQN", "MlpPolicy", "CartPole-v1"),
        note="SB3 defaults (learning_starts=100, target_update_interval=10000): slow but healthy",
    ),
    Run(
        "default_sac_Pendulum-v1",
        "default",
        "SAC",
        "Pendulum-v1",
        10_000,
        make=_default("stable_baselines3.SAC", "MlpPolicy", "Pendulum-v1"),
        min_final_return=-400,
        note="SB3 defaults until solved (~10k steps; SAC runs at ~35 steps/s on this machine)",
    ),
    Run(
        "default_td3_Pendulum-v1",
        "default",
        "TD3",
        "Pendulum-v1",
        10_000,
        make=_default("stable_baselines3.TD3", "MlpPolicy", "Pendulum-v1"),
        note="SB3 defaults, no action_noise (the policy's own swing explores Pendulum); deterministic actor",
    ),
]


# ------------------------------------------------------------------------------------------ tricky


def _vec(env_fn: Callable[[], Any], n_envs: int, seed: int, wrapper: Callable[[Any], Any] | None = None) -> Any:
    from stable_baselines3.common.env_util import make_vec_env

    env = make_vec_env(env_fn, n_envs=n_envs, seed=seed)
    return wrapper(env) if wrapper is not None else env


def _tricky_sparse(seed: int) -> Any:
    from envs import SparseCorridor
    from stable_baselines3 import PPO

    return PPO("MlpPolicy", _vec(SparseCorridor, 4, seed), n_steps=256, seed=seed)


def _tricky_deterministic(seed: int) -> Any:
    from envs import DeterministicOptimum
    from stable_baselines3 import PPO

    return PPO("MlpPolicy", _vec(DeterministicOptimum, 4, seed), n_steps=256, seed=seed)


def _tricky_short(seed: int) -> Any:
    from envs import ShortSuccess
    from stable_baselines3 import PPO

    return PPO("MlpPolicy", _vec(ShortSuccess, 4, seed), n_steps=256, seed=seed)


def _tricky_huge_reward(seed: int) -> Any:
    from envs import scaled_cartpole
    from stable_baselines3 import PPO
    from stable_baselines3.common.vec_env import VecNormalize

    env = _vec(scaled_cartpole, 8, seed, lambda e: VecNormalize(e, norm_obs=False, norm_reward=True, gamma=0.98))
    # rl-zoo3's tuned CartPole PPO, constant schedules
    return PPO(
        "MlpPolicy",
        env,
        n_steps=32,
        batch_size=256,
        gae_lambda=0.8,
        gamma=0.98,
        n_epochs=20,
        ent_coef=0.0,
        learning_rate=1e-3,
        seed=seed,
    )


def _tricky_fixed_horizon(seed: int) -> Any:
    from envs import ReachAndHold
    from stable_baselines3 import PPO

    return PPO("MlpPolicy", _vec(ReachAndHold, 4, seed), n_steps=512, gamma=0.95, seed=seed)


def _tricky_components(seed: int) -> Any:
    from envs import WinBonus
    from stable_baselines3 import PPO

    return PPO("MlpPolicy", _vec(WinBonus, 4, seed), n_steps=256, seed=seed)


def _tricky_image(seed: int) -> Any:
    from envs import TinyCNN, TinyImageGrid
    from stable_baselines3 import PPO

    return PPO(
        "CnnPolicy",
        _vec(TinyImageGrid, 4, seed),
        n_steps=256,
        seed=seed,
        policy_kwargs=dict(features_extractor_class=TinyCNN, features_extractor_kwargs=dict(features_dim=64)),
    )


def _tricky_dict(seed: int) -> Any:
    from envs import DictGoalGrid
    from stable_baselines3 import PPO

    return PPO("MultiInputPolicy", _vec(DictGoalGrid, 4, seed), n_steps=256, seed=seed)


TRICKY_RUNS = [
    Run(
        "tricky_sparse_corridor",
        "tricky",
        "PPO",
        "SparseCorridor",
        40_000,
        make=_tricky_sparse,
        min_final_return=0.9,
        note="terminal-only +1 reward at the end of a corridor, 0 everywhere else",
    ),
    Run(
        "tricky_deterministic_optimum",
        "tricky",
        "PPO",
        "DeterministicOptimum",
        40_000,
        make=_tricky_deterministic,
        min_final_return=19,
        note="the optimal action is a deterministic function of the observation: entropy -> ~0",
    ),
    Run(
        "tricky_short_success",
        "tricky",
        "PPO",
        "ShortSuccess",
        40_000,
        make=_tricky_short,
        min_final_return=0.9,
        note="goal reached in 2-5 steps once learned: episodes get short",
    ),
    Run(
        "tricky_huge_reward_vecnormalize",
        "tricky",
        "PPO",
        "CartPole-v1 x1000 + VecNormalize",
        50_000,
        make=_tricky_huge_reward,
        min_final_return=300_000,
        note="reward x1000, normalized by VecNormalize(norm_reward=True)",
    ),
    Run(
        "tricky_fixed_horizon",
        "tricky",
        "PPO",
        "ReachAndHold",
        50_000,
        make=_tricky_fixed_horizon,
        min_final_return=-8,
        note="every episode is truncated at 40 steps, none terminates",
    ),
    Run(
        "tricky_reward_components",
        "tricky",
        "PPO",
        "WinBonus",
        40_000,
        make=_tricky_components,
        min_final_return=95,
        note="info['reward_components']: a +100 win bonus dominates small shaping terms",
    ),
    Run(
        "tricky_image_obs",
        "tricky",
        "PPO",
        "TinyImageGrid (uint8 1x12x12)",
        40_000,
        make=_tricky_image,
        min_final_return=0.7,
        note="uint8 image observations, CnnPolicy with a tiny CNN",
    ),
    Run(
        "tricky_dict_obs",
        "tricky",
        "PPO",
        "DictGoalGrid",
        40_000,
        make=_tricky_dict,
        min_final_return=0.7,
        note="Dict observations, MultiInputPolicy",
    ),
]


#: the ``--quick`` selection: short but covering on-/off-policy, discrete/continuous, recurrent,
#: VecNormalize, the config's schedules, and a few tricky properties
QUICK = {
    "zoo_ppo_CartPole-v1": 30_000,
    "zoo_a2c_Acrobot-v1": 30_000,
    "zoo_dqn_CartPole-v1": 10_000,
    "zoo_sac_Pendulum-v1": 2_000,
    "zoo_ppo_lstm_CartPoleNoVel-v1": 4_096,
    "tricky_sparse_corridor": 30_000,
    "tricky_reward_components": 30_000,
    "tricky_huge_reward_vecnormalize": 30_000,
}


def all_runs(on_policy_cap: int = ON_POLICY_CAP, off_policy_cap: int = OFF_POLICY_CAP) -> list[Run]:
    return zoo_runs(on_policy_cap, off_policy_cap) + DEFAULT_RUNS + TRICKY_RUNS
