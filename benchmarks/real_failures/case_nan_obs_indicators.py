"""
SB3 #364 -- https://github.com/DLR-RM/stable-baselines3/issues/364
(PPO crashes with "ValueError: Expected parameter loc ... found invalid values: nan")

What the user saw: training a stock-trading agent crashes with
"ValueError: Expected parameter loc (Tensor ...) of distribution Normal(...) ... nan".
Cause shown in the thread: NaN in the observation -- financial indicators computed over a window
that the first rows of the data do not fill (maintainers point to VecCheckNan / checking the data).

Reproduction: a trading env whose observation holds price returns and a 20-day moving-average
indicator computed like pandas' rolling(20).mean() (NaN until 20 rows exist); each episode starts
near the start of the data (rows 1-60), so a third of the episodes begin inside the NaN warm-up rows.
PPO with a Box(-1, 1) position action.
Healthy twin: the fix -- indicators back-filled / episodes start after the warm-up window.
"""
import _harness as H
import gymnasium as gym
import numpy as np
from gymnasium import spaces
from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env

expected = ["nan_detected", "obs_nan_inf"]
stage = "preflight+live"
STEPS = 10_000

rng = np.random.default_rng(0)
_r = np.zeros(3000)
for _t in range(1, 3000):  # returns with momentum (AR(1)), so following the last return pays
    _r[_t] = 0.4 * _r[_t - 1] + rng.normal(0.0, 0.01)
PRICES = 100 * np.exp(np.cumsum(_r))
MA20 = np.full_like(PRICES, np.nan)
MA20[19:] = np.convolve(PRICES, np.ones(20) / 20, mode="valid")  # rolling(20).mean(): NaN for the first 19 rows


class TradingEnv(gym.Env):
    def __init__(self, start_after_warmup: bool = False):
        self.start_after_warmup = start_after_warmup
        self.observation_space = spaces.Box(-np.inf, np.inf, (3,), np.float32)
        self.action_space = spaces.Box(-1, 1, (1,), np.float32)

    def reset(self, seed=None, options=None):
        super().reset(seed=seed)
        # episodes start near the beginning of the data, as in most trading envs
        lo = 20 if self.start_after_warmup else 1
        self.i = int(self.np_random.integers(lo, lo + 60))
        self.t0 = self.i
        return self._obs(), {}

    def _obs(self):
        p = PRICES[self.i]
        return np.array([PRICES[self.i] / PRICES[self.i - 1] - 1, p / MA20[self.i] - 1, (self.i - self.t0) / 250],
                        np.float32)

    def step(self, action):
        pos = float(np.clip(np.asarray(action).reshape(-1)[0], -1, 1))
        self.i += 1
        reward = 100 * pos * (PRICES[self.i] / PRICES[self.i - 1] - 1)
        return self._obs(), reward, False, self.i - self.t0 >= 250, {}


def faulty():
    return PPO("MlpPolicy", make_vec_env(TradingEnv, n_envs=4, seed=0), n_steps=256, batch_size=64, seed=0,
               policy_kwargs=dict(net_arch=[64, 64]))


def healthy():
    return PPO("MlpPolicy", make_vec_env(lambda: TradingEnv(True), n_envs=4, seed=0), n_steps=256, batch_size=64,
               seed=0, policy_kwargs=dict(net_arch=[64, 64]))


def main():
    H.report("case_nan_obs_indicators", expected, stage, [
        H.preflight("faulty env (indicator NaN in warm-up rows)", TradingEnv, n_steps=3000),
        H.preflight("healthy env", lambda: TradingEnv(True), n_steps=3000),
        H.live("faulty PPO", faulty, STEPS),
        H.live("healthy PPO", healthy, STEPS),
    ])


if __name__ == "__main__":
    main()
