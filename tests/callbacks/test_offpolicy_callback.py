"""QValueCallback and BufferShapeCallback on real runs: diverging Q, doubled target updates, wrong shapes, healthy twins."""

import gymnasium as gym
import numpy as np
import pytest
from conftest import ppo_small, tiny, train
from stable_baselines3 import DQN, PPO, SAC, TD3
from stable_baselines3.common.buffers import ReplayBuffer
from stable_baselines3.common.callbacks import BaseCallback, CallbackList
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.save_util import save_to_pkl
from stable_baselines3.common.utils import polyak_update
from stable_baselines3.common.vec_env import SubprocVecEnv

from sb3_diagnostics import Severity
from sb3_diagnostics.callbacks.gradients import GradientCallback
from sb3_diagnostics.callbacks.nan import NaNCallback
from sb3_diagnostics.callbacks.offpolicy import BufferShapeCallback, QValueCallback
from sb3_diagnostics.envs import RewardScale
from sb3_diagnostics.faults_offpolicy import PovObservation


class Together(CallbackList):
    """Several checks as one callback, with their findings together (what ``train()`` reads)."""

    @property
    def findings(self):  # type: ignore[no-untyped-def]
        return [f for cb in self.callbacks for f in getattr(cb, "findings", [])]


class DoubleUpdateSAC(SAC):
    """seed 001 Issue 0.3: the learner loop calls soft_update() and so does train_step()."""

    def train(self, gradient_steps: int, batch_size: int = 64) -> None:
        super().train(gradient_steps, batch_size)
        polyak_update(self.critic.parameters(), self.critic_target.parameters(), self.tau)


class DoubleUpdateDQN(DQN):
    """The same for a soft-update DQN: its own target update after SB3's."""

    def _on_step(self) -> None:
        super()._on_step()
        if self._n_calls % max(self.target_update_interval // self.n_envs, 1) == 0:
            polyak_update(self.q_net.parameters(), self.q_net_target.parameters(), self.tau)


class EveryStepUpdateDQN(DQN):
    """seed 001 Issue 4.2: target_update_interval says every 500 steps, train() updates at every gradient step."""

    def train(self, gradient_steps: int, batch_size: int = 100) -> None:
        super().train(gradient_steps, batch_size)
        polyak_update(self.q_net.parameters(), self.q_net_target.parameters(), self.tau)


def _sac(env="Pendulum-v1", cls=SAC, **kwargs):  # type: ignore[no-untyped-def]
    return cls("MlpPolicy", env, learning_starts=100, batch_size=64, **tiny(**kwargs))


def _dqn(cls=DQN, **kwargs):  # type: ignore[no-untyped-def]
    return cls("MlpPolicy", "CartPole-v1", learning_starts=100, **tiny(**kwargs))


# -- Q-values --------------------------------------------------------------------------------------
def test_huge_rewards_and_long_horizon_diverge_q_values():
    # seed 003: "Q-values diverging in SAC"; rewards x1e4 (seed 000 #8) with gamma=0.999.
    model = _sac(RewardScale(gym.make("Pendulum-v1"), 1e4), gamma=0.999, learning_rate=1e-3)
    run = train(model, 1000, QValueCallback(off_policy_interval=100))
    assert run.severity("q_value_divergence") == Severity.WARNING
    finding = next(f for f in run.findings if f.code == "q_value_divergence")
    assert abs(finding.value) > 1000 and "still growing" in finding.message
    assert run.warned("q_value_divergence")


# -- target networks -------------------------------------------------------------------------------
def test_sac_with_doubled_polyak_update():
    cb = QValueCallback(off_policy_interval=100)
    run = train(_sac(cls=DoubleUpdateSAC), 500, cb)
    finding = next(f for f in run.findings if f.code == "target_update_too_fast")
    assert finding.severity == Severity.WARNING and finding.value == pytest.approx(2.0, abs=0.05)


def test_soft_update_dqn_with_doubled_polyak_update():
    run = train(_dqn(DoubleUpdateDQN, tau=0.01, target_update_interval=1), 1000, QValueCallback(off_policy_interval=200))
    finding = next(f for f in run.findings if f.code == "target_update_too_fast")
    assert finding.value == pytest.approx(2.0, abs=0.05)


def test_hard_update_dqn_updated_at_every_gradient_step():
    run = train(_dqn(EveryStepUpdateDQN, target_update_interval=500), 1500, QValueCallback(off_policy_interval=200))
    finding = next(f for f in run.findings if f.code == "target_update_too_fast")
    assert finding.value > 10  # 50 copies per 200 steps where at most one is due


def test_soft_update_dqn_is_on_schedule():
    cb = QValueCallback(off_policy_interval=200)
    assert train(_dqn(tau=0.01, target_update_interval=1), 1000, cb).codes(Severity.INFO) == set()


# -- healthy twins: every check of this change, standard hyperparameters ---------------------------
@pytest.mark.parametrize("make_model, steps", [
    (lambda: _sac(), 1000),
    (lambda: _sac(cls=TD3), 1000),
    (lambda: _dqn(target_update_interval=250), 2000),
], ids=["sac_pendulum", "td3_pendulum", "dqn_cartpole"])
def test_healthy_off_policy_runs_are_quiet(make_model, steps):
    checks: list[BaseCallback] = [QValueCallback(off_policy_interval=100), GradientCallback(off_policy_interval=100),
                                  NaNCallback(off_policy_interval=100), BufferShapeCallback(off_policy_interval=100)]
    run = train(make_model(), steps, Together(checks))
    assert run.codes(Severity.INFO) == set(), [(f.code, f.message) for f in run.findings]


def test_q_values_do_not_apply_to_on_policy():
    run = train(PPO("MlpPolicy", "CartPole-v1", **ppo_small()), 256, QValueCallback())
    assert [f.code for f in run.findings] == ["check_not_applicable"]


# -- buffer shapes ---------------------------------------------------------------------------------
def test_env_returning_1_by_n_observations_is_caught_despite_dummy_vec_env():
    # seed 001 Issue 0.4: pov() returns image.reshape(1, -1) while the space says (n,).
    run = train(_sac(PovObservation(gym.make("Pendulum-v1"))), 250, BufferShapeCallback())
    finding = next(f for f in run.findings if f.code == "buffer_shape_mismatch")
    assert finding.severity == Severity.WARNING and finding.step == 200  # the first episode end
    assert "(1, 3)" in finding.message and "(3,)" in finding.message


def test_subprocess_envs_stop_before_the_buffer_gets_the_wrong_shape():
    # With SubprocVecEnv (seed 001 is a multiprocessing setup) the (1, n) observations arrive as
    # (n_envs, 1, n): SB3 would crash in rollout_buffer.add with a bare numpy broadcasting error.
    env = make_vec_env("Pendulum-v1", n_envs=2, seed=0, wrapper_class=PovObservation, vec_env_cls=SubprocVecEnv,
                       vec_env_kwargs=dict(start_method="fork"))
    model = PPO("MlpPolicy", env, **ppo_small())
    try:
        run = train(model, 512, BufferShapeCallback(stop_on="error"))
    finally:
        env.close()
    assert run.severity("buffer_shape_mismatch") == Severity.ERROR
    assert "(2, 1, 3)" in run.findings[0].message and model.num_timesteps == 2


def test_replay_buffer_built_from_raw_observations(tmp_path):
    # seed 001 Issue 1.2: a demonstration buffer sized from what the env returned, then loaded for training.
    env = PovObservation(gym.make("Pendulum-v1"))
    obs, _ = env.reset(seed=0)
    demos = ReplayBuffer(500, gym.spaces.Box(-np.inf, np.inf, obs.shape, np.float32), env.action_space)
    for _ in range(100):
        action = env.action_space.sample()
        next_obs, reward, terminated, _, _ = env.step(action)
        demos.add(obs, next_obs, action, np.array([reward]), np.array([terminated]), [{}])
        obs = next_obs
    save_to_pkl(tmp_path / "demos.pkl", demos)
    model = _sac()
    model.load_replay_buffer(tmp_path / "demos.pkl")
    run = train(model, 50, BufferShapeCallback(stop_on="error"))
    (finding,) = run.findings
    assert finding.severity == Severity.ERROR and finding.step == 0
    assert "replay buffer stores observations and next_observations of shape (1, 3)" in finding.message
    assert model.num_timesteps == 1  # stopped at the first step


def test_rollout_buffer_between_learn_calls_is_not_a_mismatch():
    # After train(), RolloutBuffer keeps its arrays flattened to (n_steps * n_envs, ...) until the next rollout.
    cb = BufferShapeCallback()
    model = PPO("MlpPolicy", "CartPole-v1", **ppo_small())
    train(model, 256, cb)
    assert train(model, 256, cb).findings == []
