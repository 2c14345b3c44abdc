"""
Fault reproductions: environments, wrappers, policies and algorithm changes that make the mistakes
users make, the way they make them. The test suite, the fault zoo (``benchmarks/fault_zoo``), the
demo and the examples all train on these, so each mistake is written once.

Not part of the stable API: names and behaviour may change between releases.
"""

from sb3_diagnostics.faults.algorithms import DoubleUpdateDQN, DoubleUpdateSAC, EveryStepUpdateDQN, regularise_critic
from sb3_diagnostics.faults.api import DeclaredActionBox, OldStepApi, ShiftedDiscreteActions
from sb3_diagnostics.faults.envs import (
    BanditEnv,
    ChainEnv,
    ConstantObsEnv,
    EpisodeEndRewardEnv,
    ExpErrorReward,
    GlobalNoise,
    InPlaceObservation,
    NaNObservation,
    NoisyRewardEnv,
    ObservationScale,
    PovObservation,
    RewardComponents,
    RewardCurriculum,
    RewardScale,
    SetPointEnv,
    SpikeObsEnv,
    TimePenalty,
    WinBonusEnv,
)
from sb3_diagnostics.faults.episodes import OwnStepBudget, SwallowEpisodeEnd
from sb3_diagnostics.faults.images import GridImageEnv
from sb3_diagnostics.faults.policies import (
    DetachedExtractor,
    ForgetfulLstmPolicy,
    LateValueHeadPolicy,
    LazyExtractor,
    ListExtractor,
    UnsummedLogProbPolicy,
)
from sb3_diagnostics.faults.tasks import ShortestPathGrid
from sb3_diagnostics.faults.vec_envs import SharedBufferVecEnv

__all__ = [
    "BanditEnv",
    "DeclaredActionBox",
    "ChainEnv",
    "ConstantObsEnv",
    "DetachedExtractor",
    "DoubleUpdateDQN",
    "DoubleUpdateSAC",
    "EpisodeEndRewardEnv",
    "EveryStepUpdateDQN",
    "ExpErrorReward",
    "ForgetfulLstmPolicy",
    "GlobalNoise",
    "GridImageEnv",
    "InPlaceObservation",
    "LateValueHeadPolicy",
    "LazyExtractor",
    "ListExtractor",
    "NaNObservation",
    "NoisyRewardEnv",
    "ObservationScale",
    "OwnStepBudget",
    "OldStepApi",
    "PovObservation",
    "regularise_critic",
    "RewardComponents",
    "RewardCurriculum",
    "RewardScale",
    "SharedBufferVecEnv",
    "SetPointEnv",
    "ShortestPathGrid",
    "ShiftedDiscreteActions",
    "SpikeObsEnv",
    "SwallowEpisodeEnd",
    "TimePenalty",
    "UnsummedLogProbPolicy",
    "WinBonusEnv",
]
