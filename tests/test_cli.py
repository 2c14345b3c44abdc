"""The sb3-diagnostics command as a user runs it."""

from __future__ import annotations

import pytest

from sb3_diagnostics.cli import main as cli


def test_check_env_on_a_healthy_env(capsys):
    assert cli(["check-env", "CartPole-v1", "--steps", "500"]) == 0
    out = capsys.readouterr().out
    assert "random return" in out and "the baseline a trained agent must beat" in out


def test_check_env_on_an_entry_point_with_a_broken_reward(capsys):
    # a reward that ignores the action: reward_constant is an error, so the exit code says so
    assert cli(["check-env", "sb3_diagnostics.faults:BanditEnv", "--steps", "300"]) == 1
    assert "reward_constant" in capsys.readouterr().out


def test_check_env_and_probes_reject_unknown_names(capsys):
    assert cli(["check-env", "NoSuchEnv-v0"]) == 2
    assert "cannot make 'NoSuchEnv-v0'" in capsys.readouterr().err
    assert cli(["probes", "PPOO"]) == 2
    assert "unknown algorithm 'PPOO'" in capsys.readouterr().err


def _printed_once(out, probes=(1, 2, 3, 4, 5)):
    return all(out.count(f"probe {p} (") == 1 for p in probes)


def test_probes_pass_for_a2c_and_print_each_result_once(capsys):
    assert cli(["probes", "a2c", "--budget", "300"]) == 0  # names as users type them: a2c, A2C
    out = capsys.readouterr().out
    assert "every probe that ran passed (1, 2, 3, 4, 5)" in out
    assert _printed_once(out), out  # as it ends, then the diagnosis (which does not repeat it)


def test_dqn_with_its_defaults_is_inconclusive_not_broken_and_tuned_it_passes(capsys):
    # default DQN takes 50 gradient steps at learning_rate=1e-4 in 300 timesteps: too few to learn V(0) = 1,
    # so the failure must not blame the value loss or the optimizer, and must say what budget judges it
    assert cli(["probes", "DQN", "--probes", "1", "--budget", "300"]) == 1
    out = capsys.readouterr().out
    assert "INCONCLUSIVE for DQN" in out and "50 gradient steps at learning_rate=0.0001" in out
    assert "run it again with a budget of at least" in out and "Probe 1 could not be judged" in out
    assert "a failure here means" not in out and _printed_once(out, (1,)), out
    # the healthy twin: the same budget, with hyper-parameters that can learn in it
    assert cli(["probes", "dqn", "--probes", "1", "--budget", "300", "--learning-rate", "3e-3",
                "--hyperparams", "learning_starts:50", "policy_kwargs:dict(net_arch=[32])"]) == 0
    assert "probe 1 (one obs, one step, reward +1) passed for DQN" in capsys.readouterr().out


def test_probes_take_gamma_as_probe_3_asks(capsys):
    assert cli(["probes", "a2c", "--probes", "3", "--budget", "300"]) == 0
    out = capsys.readouterr().out
    assert "V(0) = " in out and "(expected +0.990)" in out and "sb3-diagnostics probes ALGO --gamma 0.9" in out
    for option in (["--gamma", "0.9"], ["--hyperparams", "gamma:0.9"]):
        assert cli(["probes", "a2c", "--probes", "3", "--budget", "300", *option]) == 0
        out = capsys.readouterr().out
        assert "(expected +0.900)" in out and "--gamma 0.9" not in out, out


def test_a_budget_shorter_than_n_steps_is_inconclusive_with_the_budget_it_needs(capsys):
    args = ["probes", "ppo", "--probes", "3", "--n-steps", "128", "--batch-size", "64", "--learning-rate", "3e-3",
            "--gamma", "0.9"]
    # one rollout of 128 timesteps, one update of 20 optimizer steps: too little to learn V(s1), then V(s0) from it
    assert cli([*args, "--budget", "100"]) == 1
    out = capsys.readouterr().out
    assert "INCONCLUSIVE for PPO" in out and "n_steps * n_envs = 128 > budget 100" in out
    assert "probe 3 needs at least 4 updates" in out and "--budget 512" in out
    assert "discounting / GAE / reward-to-go broken" not in out and "fix the settings" not in out
    assert cli([*args, "--budget", "512"]) == 0  # the budget it named judges it
    assert "probe 3 (two steps, reward 1 only at the end) passed for PPO" in capsys.readouterr().out


def test_maskable_ppo_is_offered_like_the_others(capsys):
    assert cli(["probes", "MASKABLEPPO", "--probes", "4", "--n-steps", "64", "--budget", "320",
                "--learning-rate", "3e-3"]) == 0
    assert "probe 4 (one step, reward +1 for one action, -1 for the other) passed for MaskablePPO" in \
        capsys.readouterr().out


MY_ENV = '''
import numpy as np, gymnasium as gym

class Payout(gym.Env):
    """Pays ``scale`` for action 1: the user's env, in the folder they run the command from."""
    def __init__(self, scale=1.0):
        self.scale = scale
        self.observation_space = gym.spaces.Box(-1, 1, (2,), np.float32)
        self.action_space = gym.spaces.Discrete(2)
    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return self.np_random.uniform(-1, 1, 2).astype(np.float32), {}
    def step(self, action):
        self.t += 1
        obs = self.np_random.uniform(-1, 1, 2).astype(np.float32)
        return obs, self.scale * float(action == 1) * float(obs[0] > 0), False, self.t >= 20, {}
'''


def test_check_env_imports_from_the_current_folder_and_takes_env_kwargs(tmp_path, monkeypatch, capsys):
    # the console script does not put the current folder on sys.path (python -m does): my_env.py next to the user
    import sys

    (tmp_path / "my_env.py").write_text(MY_ENV)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path))])
    assert cli(["check-env", "my_env:Payout", "--steps", "400"]) == 0
    assert "reward_scale_huge" not in capsys.readouterr().out
    # rl-zoo3's --env-kwargs KEY:VALUE, values read as Python literals
    assert cli(["check-env", "my_env:Payout", "--steps", "400", "--env-kwargs", "scale:1e5"]) == 0
    assert "reward_scale_huge" in capsys.readouterr().out


# -- bad input: a message that says what to do, exit code 2, never a traceback -----------------------
BAD_ENVS = '''
import numpy as np, gymnasium as gym
from gymnasium import spaces

class _Base(gym.Env):
    observation_space = spaces.Box(-1, 1, (3,), np.float32)
    action_space = spaces.Discrete(2)
    def reset(self, seed=None, options=None):
        super().reset(seed=seed); return np.zeros(3, np.float32), {}
    def step(self, a):
        return np.zeros(3, np.float32), 1.0, False, False, {}

class ResetRaises(_Base):
    def reset(self, seed=None, options=None):
        raise RuntimeError("database not connected")

class StepRaises(_Base):
    def step(self, a):
        raise RuntimeError("simulator died")

class TextObs(_Base):
    observation_space = spaces.Text(8)
    def reset(self, seed=None, options=None):
        return "abc", {}
    def step(self, a):
        return "abc", 1.0, False, False, {}

class GraphObs(_Base):
    observation_space = spaces.Graph(node_space=spaces.Box(-1, 1, (2,)), edge_space=None)

class SequenceObs(_Base):
    observation_space = spaces.Sequence(spaces.Box(-1, 1, (2,)))

class NoSpaces(gym.Env):
    def reset(self, seed=None, options=None):
        return np.zeros(3), {}
    def step(self, a):
        return np.zeros(3), 1.0, False, False, {}

def returns_a_string():
    return "CartPole-v1"
'''


@pytest.fixture
def folders(tmp_path, monkeypatch):
    """Event files a user may point ``report`` at by mistake, and a module of broken envs for ``check-env``."""
    (tmp_path / "cli_bad_envs.py").write_text(BAD_ENVS)
    monkeypatch.syspath_prepend(str(tmp_path))
    for name, content in {"empty": b"", "random": bytes(range(256)) * 2,
                          "garbage": b"\x50\x00\x00\x00\x00\x00\x00\x00garbage"}.items():
        (tmp_path / name).mkdir()
        (tmp_path / name / "events.out.tfevents.1.host").write_bytes(content)
    return tmp_path


BAD_INPUT = [
    # (arguments, words the message must contain)
    (["report", "{t}/empty", "--workers", "-3"], ["--workers -3", ">= 1"]),
    (["report", "{t}/empty"], ["nothing under", "could be judged"]),
    (["report", "{t}/random"], ["could be judged", "events.out.tfevents"]),
    (["report", "{t}/garbage"], ["could be judged", "truncated"]),
    (["report", "{t}/no_such_folder"], ["no_such_folder"]),
    (["report", "{t}/empty", "--json", "{t}/missing/x.json"], ["does not exist", "create it"]),
    (["report", "{t}/empty", "--plot", "{t}/missing/x.png"], ["does not exist", "create it"]),
    (["report", "{t}/empty", "--plot", "{t}/x.txt"], ["PNG", ".png"]),
    (["report", "{t}/empty", "--threshold", "klx.kl_high=0.3"], ["Unknown check 'klx'", "kl"]),
    (["report", "{t}/empty", "--threshold", "kl.kl_high=abc"], ["CHECK.FIELD=NUMBER"]),
    (["report", "{t}/empty", "--threshold", "kl.kl_hihg=0.3"], ["kl_hihg", "valid fields"]),
    (["report", "{t}/empty", "--threshold", "nonsense"], ["CHECK.FIELD=NUMBER"]),
    (["check-env", "cli_bad_envs:ResetRaises", "--steps", "50"], ["reset", "database not connected"]),
    (["check-env", "cli_bad_envs:StepRaises", "--steps", "50"], ["step()", "simulator died"]),
    (["check-env", "cli_bad_envs:TextObs", "--steps", "50"], ["SB3 trains on Box", "Text"]),
    (["check-env", "cli_bad_envs:GraphObs", "--steps", "50"], ["SB3 trains on Box", "Graph"]),
    (["check-env", "cli_bad_envs:SequenceObs", "--steps", "50"], ["SB3 trains on Box", "Sequence"]),
    (["check-env", "cli_bad_envs:NoSpaces", "--steps", "50"], ["no observation_space", "__init__"]),
    (["check-env", "cli_bad_envs:returns_a_string", "--steps", "50"], ["not an environment"]),
    (["check-env", "cli_bad_envs:Nope", "--steps", "50"], ["cannot make 'cli_bad_envs:Nope'"]),
    (["check-env", "no_module_xyz:Env", "--steps", "50"], ["cannot make", "No module named"]),
    (["check-env", "CartPole-v1", "--steps", "0"], ["n_steps=0", ">= 1"]),
    (["check-env", "CartPole-v1", "--steps", "-5"], ["n_steps=-5", ">= 1"]),
    (["check-env", "CartPole-v1", "--env-kwargs", "max_steps=200"], ["KEY:VALUE", "max_steps:200"]),
    (["check-env", "CartPole-v1", "--env-kwargs", "no_such_kwarg:1"], ["cannot make", "no_such_kwarg"]),
    (["probes", "PPO", "--budget", "0"], ["budget", ">= 1"]),
    (["probes", "PPO", "--budget", "-1"], ["budget", ">= 1"]),
    (["probes", "A2C", "--batch-size", "64"], ["A2C has no --batch-size (batch_size)", "leave it out", "n_steps"]),
    (["probes", "TRPO", "--ent-coef", "0.01"], ["TRPO has no --ent-coef (ent_coef)", "leave it out"]),
    (["probes", "PPO", "--hyperparams", "n_step:5"], ["PPO has no n_step", "n_steps"]),
    (["probes", "PPO", "--hyperparams", "gamma=0.9"], ["KEY:VALUE", "gamma:0.9"]),
    (["probes", "PPO", "--gamma", "0.9", "--hyperparams", "gamma:0.8"], ["gamma given both", "keep one"]),
    (["probes", "PPO", "--hyperparams", "seed:3"], ["use --seed"]),
    (["probes", "PPO", "--batch-size", "1", "--budget", "10"], ["make_model(env) raised", "batch_size` must be greater"]),
    (["demo", "--scenario", "nope"], ["unknown scenario 'nope'", "learning-rate"]),
]


@pytest.mark.parametrize("args, words", BAD_INPUT, ids=[" ".join(a[:2] + a[2:][-2:]) for a, _ in BAD_INPUT])
def test_bad_input_exits_2_with_a_message_that_says_what_to_do(folders, capsys, args, words):
    code = cli([a.format(t=folders) for a in args])
    captured = capsys.readouterr()
    assert code == 2, captured.out + captured.err
    assert "Traceback" not in captured.err + captured.out
    assert captured.err.startswith("sb3-diagnostics")
    for word in words:
        assert word in captured.err, captured.err


def test_a_bug_inside_the_cli_is_a_message_and_exit_2_unless_debugging(monkeypatch, capsys):
    import sb3_diagnostics.cli as cli_module

    def broken(*args, **kwargs):
        raise ZeroDivisionError("a bug of ours")

    monkeypatch.setattr(cli_module, "_cmd_check_env", broken)
    assert cli(["check-env", "CartPole-v1"]) == 2
    err = capsys.readouterr().err
    assert "ZeroDivisionError: a bug of ours" in err and "SB3_DIAGNOSTICS_DEBUG=1" in err and "Traceback" not in err
    monkeypatch.setenv("SB3_DIAGNOSTICS_DEBUG", "1")
    with pytest.raises(ZeroDivisionError):
        cli(["check-env", "CartPole-v1"])


def test_help_documents_the_exit_codes(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli(["--help"])
    assert exit_info.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "0 healthy" in out and "1 an error-level finding" in out and "2 bad input or unreadable data" in out


def test_explain_says_for_every_code_what_it_means_and_what_to_try(capsys):
    from sb3_diagnostics.catalog import CATALOG

    for code, row in CATALOG.items():
        assert cli(["explain", code]) == 0
        out = capsys.readouterr().out
        assert out.startswith(code) and row.hint in out and row.reference in out, code
    # a live check's thresholds, with their defaults and how to change them
    cli(["explain", "KL_too_high"])
    out = capsys.readouterr().out
    assert "kl_high = 0.2" in out and "--threshold kl.kl_high" in out and "entropy_collapse" in out


def test_explain_an_unknown_code_lists_the_codes_and_exits_2(capsys):
    assert cli(["explain", "kl_to_high"]) == 2
    err = capsys.readouterr().err
    assert "Unknown finding code 'kl_to_high'" in err and "kl_too_high" in err


def test_codes_lists_every_code_in_triage_order(capsys):
    from sb3_diagnostics.catalog import CATALOG

    assert cli(["codes"]) == 0
    out = capsys.readouterr().out
    assert all(f"\n{code} " in out for code in CATALOG)
    assert out.index("nan_detected") < out.index("kl_too_high") < out.index("reward_decreasing")
