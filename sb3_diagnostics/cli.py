"""
The ``sb3-diagnostics`` command (also ``python -m sb3_diagnostics``).

Exit codes: 0 healthy; 1 a run (or an environment, or a probe) has an error-level finding, or the demo
missed a fault; 2 bad input or unreadable data (the message says what to do).

Start-up stays light: torch and SB3 are imported only by the subcommands that train or step an
environment (``demo``, ``check-env``, ``probes``); ``report``, ``explain``, ``codes`` and ``--version``
never load them.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import Any

from sb3_diagnostics import __version__
from sb3_diagnostics.errors import DiagnosticsError
from sb3_diagnostics.findings import Severity

EXIT_CODES = ("exit codes: 0 healthy; 1 an error-level finding (or a failed probe, or the demo missed a fault); "
              "2 bad input or unreadable data")


class UsageError(DiagnosticsError):
    """Bad command-line input; the message says what to do."""


def _threshold_overrides(items: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Parse ``check.field=value`` options, e.g. ``kl.kl_high=0.3``, and validate them against the checks."""
    from sb3_diagnostics.rules.registry import coerce_all

    out: dict[str, dict[str, Any]] = {}
    for item in items:
        try:
            key, raw = item.split("=", 1)
            check, field = key.split(".", 1)
            value: Any = int(raw) if raw.lstrip("-").isdigit() else float(raw)
        except ValueError:
            raise UsageError(f"--threshold {item!r}: expected CHECK.FIELD=NUMBER, e.g. kl.kl_high=0.3") from None
        out.setdefault(check, {})[field] = value
    coerce_all(out)  # an unknown check or field, or a value that cannot work, says so here
    return out


def _print_table(text: str) -> None:
    try:
        from rich.console import Console
    except ImportError:
        print(text)
        return
    styles = {"ERROR": "bold red", "WARNING": "yellow", "INFO": "dim", "OK": "green"}
    console = Console(highlight=False)
    for line in text.splitlines():
        word = line.split(" ", 1)[0]
        console.print(line, style=styles.get(word), markup=False, soft_wrap=True)


def _writable(path: str, what: str) -> None:
    """Fail before the work when an output file cannot be written."""
    import os

    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise UsageError(f"{what} {path!r}: the folder {folder} does not exist; create it or choose another path.")


def _cmd_report_study(args: argparse.Namespace) -> int:
    """``report`` on an Optuna study: per trial its state, value and diagnosis, then what failed where."""
    from sb3_diagnostics.report.study import format_study, load_study, study_json, worst_is_error

    for flag, given in (("--plot", args.plot), ("--threshold", args.threshold), ("--workers", args.workers)):
        if given:
            raise UsageError(f"{flag} applies to TensorBoard runs, not to an Optuna study ({args.path}); leave it out.")
    if args.json and args.json != "-":
        _writable(args.json, "--json")
    name, rows = load_study(args.path, args.study)
    if not rows:
        raise UsageError(f"study {name!r} in {args.path} has no trials yet.")
    if args.json:
        _write_json(args.json, study_json(name, rows))
    if args.json != "-":
        print(format_study(name, rows))
    return 1 if worst_is_error(rows) else 0


def _write_json(where: str, text: str) -> None:
    """``--json -`` prints, ``--json FILE`` writes."""
    if where == "-":
        print(text)
    else:
        with open(where, "w") as fh:
            fh.write(text)


def _cmd_report(args: argparse.Namespace) -> int:
    from sb3_diagnostics.report import ReportInputError, format_run, format_table, rank, report_runs, to_json
    from sb3_diagnostics.report.study import is_study_source

    if is_study_source(args.path):
        return _cmd_report_study(args)
    if args.study is not None:
        raise UsageError(f"--study names an Optuna study: give its storage (e.g. sqlite:///study.db), not {args.path}.")
    if args.workers is not None and args.workers < 1:
        raise UsageError(f"--workers {args.workers}: use a whole number >= 1 (or leave it out: all cores).")
    if args.json and args.json != "-":
        _writable(args.json, "--json")
    if args.plot:
        if not args.plot.lower().endswith(".png"):
            raise UsageError(f"--plot {args.plot!r}: the dashboard is a PNG image; give a path ending in .png.")
        _writable(args.plot, "--plot")
    reports = report_runs(args.path, thresholds=_threshold_overrides(args.threshold), workers=args.workers)
    unreadable = [r for r in reports if not r.readable]
    if len(unreadable) == len(reports):
        problems = "; ".join(dict.fromkeys(p.rstrip(". ") for r in reports for p in r.problems)) or "no scalars"
        raise ReportInputError(
            f"nothing under {args.path} could be judged ({len(reports)} run(s)): {problems}. Pass the directory of a "
            "run SB3 wrote with tensorboard_log=... (and that reached its first log dump)."
        )
    if unreadable:
        print(f"note: {len(unreadable)} of {len(reports)} runs could not be read: "
              f"{', '.join(str(r.path) for r in unreadable[:5])}", file=sys.stderr)
    min_severity = Severity.parse(args.min_severity)
    if args.json:
        _write_json(args.json, to_json(reports))
    if args.json != "-":
        if len(reports) == 1:
            print(format_run(reports[0], min_severity=min_severity))
        else:
            _print_table(format_table(reports, min_severity=max(min_severity, Severity.WARNING)))
    if args.plot:
        from sb3_diagnostics.report.plot import plot_run

        worst = rank(reports)[0]
        plot_run(worst, args.plot)
        print(f"dashboard of {worst.path} written to {args.plot}", file=sys.stderr)
    return 1 if any(r.worst == Severity.ERROR for r in reports) else 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from sb3_diagnostics.demo import SCENARIOS, main

    if args.scenario not in (None, "all") and args.scenario not in SCENARIOS:
        raise UsageError(f"unknown scenario {args.scenario!r}; choose from {', '.join(sorted(SCENARIOS))}")
    return main(None if args.scenario in (None, "all") else [args.scenario], short=args.short)


#: algorithm names accepted by ``probes`` -> "module:Class"
ALGORITHMS = {
    "A2C": "stable_baselines3:A2C", "DDPG": "stable_baselines3:DDPG", "DQN": "stable_baselines3:DQN",
    "PPO": "stable_baselines3:PPO", "SAC": "stable_baselines3:SAC", "TD3": "stable_baselines3:TD3",
    "TRPO": "sb3_contrib:TRPO", "RecurrentPPO": "sb3_contrib:RecurrentPPO", "QRDQN": "sb3_contrib:QRDQN",
    "TQC": "sb3_contrib:TQC", "CrossQ": "sb3_contrib:CrossQ", "MaskablePPO": "sb3_contrib:MaskablePPO",
}

#: ``probes`` options that set a hyper-parameter of the algorithm: option dest -> the algorithm's keyword
HYPERPARAMETER_FLAGS = {
    "gamma": "gamma", "n_steps": "n_steps", "learning_rate": "learning_rate", "batch_size": "batch_size",
    "ent_coef": "ent_coef",
}


def _load(entry_point: str) -> Any:
    import importlib

    module, _, attr = entry_point.partition(":")
    return getattr(importlib.import_module(module), attr)


def _literal(text: str) -> Any:
    """A Python literal, or ``dict(key=literal, ...)`` as rl-zoo3 writes ``policy_kwargs``; ValueError otherwise."""
    import ast

    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        pass
    try:
        node = ast.parse(text.strip(), mode="eval").body
    except SyntaxError:
        raise ValueError(text) from None
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "dict" and not node.args:
        return {kw.arg: ast.literal_eval(kw.value) for kw in node.keywords if kw.arg is not None}
    raise ValueError(text)


def _env_kwargs(items: Sequence[str], option: str = "--env-kwargs",
                example: str = "max_steps:200 render_mode:'rgb_array'") -> dict[str, Any]:
    """rl-zoo3's ``--env-kwargs key:value ...`` (and ``--hyperparams``): each value read as a Python literal (``3``,
    ``0.5``, ``True``, ``"text"``, ``[1, 2]``, ``dict(net_arch=[32])``), or kept as a string when it is not one."""
    kwargs: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition(":")
        if not sep or not key.strip():
            raise UsageError(f"{option} {item!r}: expected KEY:VALUE, e.g. {option} {example} (rl-zoo3's format)")
        try:
            kwargs[key.strip()] = _literal(value)
        except (ValueError, SyntaxError):
            kwargs[key.strip()] = value
    return kwargs


def _make_env(env_id: str, kwargs: dict[str, Any] | None = None) -> Any:
    """
    A registered id (``CartPole-v1``, ``my_pkg:MyEnv-v0``) or an entry point ``my_pkg.envs:MyEnv``, made with
    ``kwargs``. The current directory is importable, as it is for ``python -m`` (the console script does not
    put it on ``sys.path``): ``sb3-diagnostics check-env my_env:MyEnv`` next to ``my_env.py`` works.
    """
    import os
    import sys

    import gymnasium as gym

    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    kwargs = kwargs or {}
    try:
        return gym.make(env_id, **kwargs)
    except gym.error.Error as registry_error:
        if ":" not in env_id:
            raise
        try:
            return _load(env_id)(**kwargs)
        except (ImportError, AttributeError, TypeError) as exc:
            raise registry_error from exc


def _cmd_check_env(args: argparse.Namespace) -> int:
    import warnings

    from sb3_diagnostics.preflight import check_training_env

    kwargs = _env_kwargs(args.env_kwargs)
    try:
        env = _make_env(args.env, kwargs)
    except Exception as exc:  # an unknown id, a typo in an entry point: say so, no traceback
        raise UsageError(f"cannot make {args.env!r}: {type(exc).__name__}: {exc}") from exc
    if isinstance(env, str):
        raise UsageError(f"{args.env!r} returned the string {env!r}, not an environment: give the id or entry point "
                         "of the env itself (e.g. CartPole-v1 or my_pkg.envs:MyEnv).")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the table below says it all
        report = check_training_env(env, n_steps=args.steps, seed=args.seed)
    print(report.format(min_severity=args.min_severity))
    return 1 if any(f.severity == Severity.ERROR for f in report) else 0


def _probe_hyperparams(args: argparse.Namespace, algo: Any) -> dict[str, Any]:
    """The algorithm's keyword arguments from ``--gamma`` & co and ``--hyperparams``, each checked against it."""
    import inspect

    flags = {HYPERPARAMETER_FLAGS[dest]: getattr(args, dest) for dest in HYPERPARAMETER_FLAGS
             if getattr(args, dest) is not None}
    extra = _env_kwargs(args.hyperparams, "--hyperparams", "gamma:0.9 policy_kwargs:'dict(net_arch=[32])'")
    both = sorted(set(flags) & set(extra))
    if both:
        raise UsageError(f"{', '.join(both)} given both as an option and in --hyperparams: keep one.")
    if "seed" in extra:
        raise UsageError("--hyperparams seed:...: use --seed.")
    kwargs = {**flags, **extra}
    accepted = {k for k in inspect.signature(algo.__init__).parameters if not k.startswith("_")} - {"self", "policy", "env"}
    unknown = [key for key in kwargs if key not in accepted]
    if unknown:
        options = {v: "--" + k.replace("_", "-") for k, v in HYPERPARAMETER_FLAGS.items()}
        names = ", ".join(f"{options[k]} ({k})" if k in options else k for k in unknown)
        raise UsageError(f"{algo.__name__} has no {names}: leave it out. Its parameters: "
                         f"{', '.join(sorted(accepted))}.")
    return kwargs


def _cmd_probes(args: argparse.Namespace) -> int:
    import torch

    from sb3_diagnostics.probes import diagnose, run_probes

    names = {name.lower(): name for name in ALGORITHMS}  # ppo, Ppo and PPO are one algorithm
    if args.algo.lower() not in names:
        raise UsageError(f"unknown algorithm {args.algo!r}; choose from {', '.join(ALGORITHMS)}")
    args.algo = names[args.algo.lower()]
    torch.set_num_threads(1)
    algo = _load(ALGORITHMS[args.algo])
    kwargs = _probe_hyperparams(args, algo)
    policy = "MlpLstmPolicy" if args.algo == "RecurrentPPO" else "MlpPolicy"

    def make_model(env: Any) -> Any:
        if args.algo == "MaskablePPO":  # every action allowed: the probes test learning, not masking
            from sb3_diagnostics.probes.envs import AllActionsAllowed

            env = AllActionsAllowed(env)
        return algo(policy, env, seed=args.seed, **kwargs)

    # verbose=1 prints each result as its probe ends (a few seconds each); the diagnosis does not repeat it
    results = run_probes(make_model, probes=args.probes, budget=args.budget, verbose=1)
    print(diagnose(results, with_result=False))
    return 1 if any(r.passed is False for r in results) else 0


def _cmd_explain(args: argparse.Namespace) -> int:
    from sb3_diagnostics.explain import explain

    print(explain(args.code.strip().lower()))
    return 0


def _cmd_codes(args: argparse.Namespace) -> int:
    from sb3_diagnostics.explain import codes_table

    print(codes_table())
    return 0


def build_parser() -> argparse.ArgumentParser:
    """:return: the argument parser of ``sb3-diagnostics``"""
    parser = argparse.ArgumentParser(
        prog="sb3-diagnostics", description="Why is my Stable-Baselines3 agent not learning?", epilog=EXIT_CODES,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="train broken runs and their fixed twins and show what the library reports",
                          epilog=EXIT_CODES)
    demo.add_argument("--scenario", default="all", help="which scenario (default: all)")
    demo.add_argument("--short", action="store_true", help="short budgets (a smoke test)")
    demo.set_defaults(func=_cmd_demo)

    report = sub.add_parser("report", help="triage finished TensorBoard runs (one run or a sweep), or the trials of "
                            "an Optuna study", epilog=EXIT_CODES)
    report.add_argument("path", help="a run directory (e.g. tb/PPO_1) or a tree of runs; or an Optuna storage "
                        "(sqlite:///study.db, study.db, rl-zoo3's study.log or logs/ppo/report_*.csv)")
    report.add_argument("--study", "--study-name", dest="study", metavar="NAME",
                        help="the Optuna study to explain (may be left out when the storage holds one)")
    report.add_argument("--json", metavar="FILE", help="write the reports as JSON ('-' for stdout only)")
    report.add_argument("--plot", metavar="PNG", help="write a dashboard of the run (the most broken one of a sweep)")
    report.add_argument("--min-severity", default="info", choices=["info", "warning", "error"])
    report.add_argument("--threshold", action="append", default=[], metavar="CHECK.FIELD=VALUE",
                        help="override a threshold, e.g. kl.kl_high=0.3 (repeatable)")
    report.add_argument("--workers", type=int, default=None, help="processes for large sweeps (default: all cores)")
    report.set_defaults(func=_cmd_report)

    check = sub.add_parser("check-env", help="pre-flight checks of an environment under random actions",
                           epilog=EXIT_CODES)
    check.add_argument("env", help="a registered id (CartPole-v1) or an entry point (my_pkg.envs:MyEnv)")
    check.add_argument("--steps", type=int, default=1000, help="random steps to take (default 1000)")
    check.add_argument("--seed", type=int, default=0)
    check.add_argument("--min-severity", default="info", choices=["info", "warning", "error"])
    check.add_argument("--env-kwargs", nargs="+", default=[], metavar="KEY:VALUE",
                       help="keyword arguments of the env, as rl-zoo3 takes them (e.g. max_steps:200 scale:1e3)")
    check.set_defaults(func=_cmd_check_env)

    probes = sub.add_parser("probes", help="run the five probe environments against an algorithm (defaults)",
                            epilog=EXIT_CODES)
    probes.add_argument("algo", help=f"one of: {', '.join(ALGORITHMS)}")
    probes.add_argument("--budget", type=int, default=None, help="timesteps per probe (default: per-probe budgets)")
    probes.add_argument("--probes", type=int, nargs="+", default=[1, 2, 3, 4, 5], metavar="N",
                        help="which probes to run (default: 1 2 3 4 5)")
    probes.add_argument("--seed", type=int, default=0)
    tuned = probes.add_argument_group("hyper-parameters (default: the algorithm's own)")
    tuned.add_argument("--gamma", type=float, help="discount factor (gamma <= 0.9 makes probe 3 a sharp test)")
    tuned.add_argument("--n-steps", type=int, help="n_steps: the rollout length of on-policy algorithms (n-step "
                       "returns for off-policy ones)")
    tuned.add_argument("--learning-rate", type=float, help="learning_rate")
    tuned.add_argument("--batch-size", type=int, help="batch_size")
    tuned.add_argument("--ent-coef", type=float, help="entropy coefficient (ent_coef)")
    tuned.add_argument("--hyperparams", nargs="+", default=[], metavar="KEY:VALUE",
                       help="any other keyword of the algorithm, as rl-zoo3 takes them "
                            "(e.g. n_epochs:4 policy_kwargs:'dict(net_arch=[32])')")
    probes.set_defaults(func=_cmd_probes)

    explain = sub.add_parser("explain", help="what a finding code means, how it is judged and what to try",
                             epilog=EXIT_CODES)
    explain.add_argument("code", help="a finding code, e.g. kl_too_high (sb3-diagnostics codes lists them)")
    explain.set_defaults(func=_cmd_explain)
    codes = sub.add_parser("codes", help="list every finding code", epilog=EXIT_CODES)
    codes.set_defaults(func=_cmd_codes)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """
    Entry point of the console script. Library errors (bad input, unreadable data, an environment that
    crashes) become a message on stderr and exit code 2, never a traceback.

    :param argv: arguments (default: ``sys.argv[1:]``)
    :return: the exit code
    """
    args = build_parser().parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return int(func(args))
    except DiagnosticsError as exc:
        print(f"sb3-diagnostics {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # output piped into head or less, which closed early: not an error
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as exc:  # never a traceback; SB3_DIAGNOSTICS_DEBUG=1 shows it
        import os

        if os.environ.get("SB3_DIAGNOSTICS_DEBUG"):
            raise
        print(f"sb3-diagnostics {args.command}: unexpected {type(exc).__name__}: {exc}. If the cause is not in your "
              "environment or files, please report it with the output of SB3_DIAGNOSTICS_DEBUG=1 "
              f"sb3-diagnostics {args.command} ...", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
