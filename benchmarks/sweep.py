"""
What pruning on a diagnosis saves in an rl-zoo3 search: the same search (PPO on CartPole-v1, rl-zoo3's
``--optimize``, random sampler, same seed, so trial N samples the same hyper-parameters in both studies) run
twice through ``python -m rl_zoo3.train``, once with ``DiagnosticsCallback(prune_on="error")`` in the
hyper-parameter YAML and once with ``prune_on=[]`` (the diagnosis is recorded, nothing is pruned). It prints
the environment steps each study spent, the best value and the trial that found it, and for every trial
pruned by the diagnosis, what its twin did when it ran to the end: a pruned trial whose twin learned
(value >= --healthy-value) is a healthy trial pruned, and must not happen.

    python benchmarks/sweep.py                 # 32 trials of 20k steps each (about 40 CPU-minutes)
    python benchmarks/sweep.py --quick         # 6 trials of 4096 steps (CI; about 2 CPU-minutes)
    python benchmarks/sweep.py zoo -- --algo ppo --env CartPole-v1 -optimize ...   # rl-zoo3 with this search space

The search space is rl-zoo3's PPO sampler with the learning rate drawn from [1e-10, 2e-3] (log) instead of
[1e-5, 2e-3]: a range with a typo in it, as when 1e-10 is typed for 1e-4, so some trials cannot learn. Rollouts
(n_steps 2^5-2^9) and minibatches (2^5-2^8) are narrowed so that every trial updates often enough within a
small budget, on 2 cores. rl-zoo3 does not seed the model (seed=None), so twins differ by their initial
weights; the environments are seeded. rl-zoo3's defaults evaluate each trial once, at its end, on 5 episodes.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

#: the search space's changes to rl-zoo3's PPO sampler: name -> (low, high) of the same distribution
WIDENED: dict[str, tuple[float, float]] = {"learning_rate": (1e-10, 2e-3), "n_steps_pow": (5, 9), "batch_size_pow": (5, 8)}

YAML = """CartPole-v1:
  n_envs: 1
  policy: 'MlpPolicy'
  n_timesteps: !!float {steps}
  callback:
    - sb3_diagnostics.DiagnosticsCallback:
        prune_on: {prune_on}
"""


class _Space:
    """The trial rl-zoo3's sampler sees: suggestions named in ``WIDENED`` use the benchmark's range."""

    def __init__(self, trial: Any) -> None:
        self._trial = trial

    def __getattr__(self, name: str) -> Any:
        return getattr(self._trial, name)

    def suggest_float(self, name: str, low: float, high: float, **kwargs: Any) -> float:
        low, high = WIDENED.get(name, (low, high))
        return float(self._trial.suggest_float(name, low, high, **kwargs))

    def suggest_int(self, name: str, low: int, high: int, **kwargs: Any) -> int:
        low, high = (int(v) for v in WIDENED.get(name, (low, high)))
        return int(self._trial.suggest_int(name, low, high, **kwargs))


def zoo(argv: list[str]) -> None:
    """``python -m rl_zoo3.train`` with this benchmark's search space for PPO."""
    import rl_zoo3.hyperparams_opt as hyperparams_opt
    import torch
    from rl_zoo3.train import train

    torch.set_num_threads(1)
    sample_ppo = hyperparams_opt.HYPERPARAMS_SAMPLER["ppo"]
    hyperparams_opt.HYPERPARAMS_SAMPLER["ppo"] = lambda trial, *args: sample_ppo(_Space(trial), *args)
    sys.argv = ["rl_zoo3.train", *argv]
    train()


def run_study(folder: Path, name: str, prune_on: str, trials: int, steps: int, seed: int) -> tuple[str, float]:
    """Run one rl-zoo3 search; :return: its storage URL and the CPU-seconds it took."""
    conf = folder / f"{name}.yml"
    conf.write_text(YAML.format(steps=steps, prune_on=prune_on))
    storage = f"sqlite:///{folder / 'studies.db'}"
    cmd = [sys.executable, __file__, "zoo", "--", "--algo", "ppo", "--env", "CartPole-v1", "-conf", str(conf),
           "-optimize", "--storage", storage, "--study-name", name, "--n-trials", str(trials), "--n-jobs", "1",
           "--sampler", "random", "--pruner", "none", "--seed", str(seed), "--no-optim-plots", "-f", str(folder / "logs")]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    start = os.times()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    end = os.times()
    (folder / f"{name}.log").write_text(done.stdout + done.stderr)
    # rl-zoo3 writes its CSV summary with pandas after the last trial; without pandas only that step fails
    if done.returncode != 0 and "No module named 'pandas'" not in done.stderr:
        raise SystemExit(f"rl-zoo3 failed ({done.returncode}); see {folder / f'{name}.log'}:\n{done.stderr[-2000:]}")
    return storage, end.children_user + end.children_system - start.children_user - start.children_system


def compare(storage: str, pruned_name: str, full_name: str, healthy_value: float) -> dict[str, Any]:
    """The numbers of the two studies, trial by trial."""
    import optuna

    pruned = {t.number: t for t in optuna.load_study(study_name=pruned_name, storage=storage).trials}
    full = {t.number: t for t in optuna.load_study(study_name=full_name, storage=storage).trials}
    out: dict[str, Any] = {"rows": []}
    for name, study in (("with pruning", pruned), ("without", full)):
        done = [t for t in study.values() if t.value is not None and t.state == optuna.trial.TrialState.COMPLETE]
        best = max(done, key=lambda t: t.value) if done else None
        out[name] = {
            "steps": sum(int(t.user_attrs.get("diagnosis_timesteps", 0)) for t in study.values()),
            "pruned": sum(bool(t.user_attrs.get("diagnosis_pruned")) for t in study.values()),
            "best": (best.value, best.number) if best else (None, None),
        }
    healthy_pruned = 0
    for number, trial in sorted(pruned.items()):
        twin = full.get(number)
        if not trial.user_attrs.get("diagnosis_pruned") or twin is None:
            continue
        twin_value = twin.value if twin.value is not None else float("nan")
        healthy = twin_value >= healthy_value
        healthy_pruned += healthy
        out["rows"].append((number, trial.params.get("learning_rate"), trial.user_attrs.get("diagnosis_code"),
                            trial.user_attrs.get("diagnosis_timesteps"), twin.user_attrs.get("diagnosis_timesteps"),
                            twin_value, healthy))
    out["healthy_pruned"] = healthy_pruned
    return out


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "zoo":
        zoo([a for a in sys.argv[2:] if a != "--"])
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="6 trials of 4096 steps (CI)")
    parser.add_argument("--trials", type=int, default=None, help="trials per study (default 32; quick: 6)")
    parser.add_argument("--steps", type=int, default=None, help="timesteps per trial (default 20000; quick: 4096)")
    parser.add_argument("--seed", type=int, default=0, help="the sampler's (and the environments') seed")
    parser.add_argument("--healthy-value", type=float, default=100.0,
                        help="a twin that reached this mean return learned: its pruning would be a false alarm")
    parser.add_argument("--folder", default=None, help="where the studies go (default: a temporary folder)")
    args = parser.parse_args()
    trials = args.trials or (6 if args.quick else 32)
    steps = args.steps or (4096 if args.quick else 20_000)
    folder = Path(args.folder or tempfile.mkdtemp(prefix="sweep-"))
    folder.mkdir(parents=True, exist_ok=True)
    wall = time.time()
    storage, cpu_pruned = run_study(folder, "pruned", "error", trials, steps, args.seed)
    _, cpu_full = run_study(folder, "full", "[]", trials, steps, args.seed)
    result = compare(storage, "pruned", "full", args.healthy_value)

    print(f"PPO CartPole-v1, {trials} trials of {steps} steps, random sampler seed {args.seed}, "
          f"storage {storage} ({time.time() - wall:.0f} s wall)")
    print(f"{'':14} {'env steps':>10} {'CPU s':>7} {'pruned':>7}  best value (trial)")
    for name, cpu in (("with pruning", cpu_pruned), ("without", cpu_full)):
        r = result[name]
        best = f"{r['best'][0]:.1f} (trial {r['best'][1]})" if r["best"][0] is not None else "none"
        print(f"{name:14} {r['steps']:>10} {cpu:>7.0f} {r['pruned']:>7}  {best}")
    print("\ntrials pruned by the diagnosis, and their twins run to the end:")
    print(f"{'trial':>5} {'learning_rate':>13}  {'pruned by':22} {'steps':>6}  {'twin steps':>10} {'twin value':>10}")
    for number, lr, code, steps_pruned, steps_twin, value, healthy in result["rows"]:
        flag = "  <- the twin learned: a healthy trial pruned" if healthy else ""
        print(f"{number:>5} {lr:>13.3g}  {code:22} {steps_pruned:>6}  {steps_twin:>10} {value:>10.1f}{flag}")
    print(f"\nhealthy trials pruned: {result['healthy_pruned']} (twin value >= {args.healthy_value:g})")
    if result["healthy_pruned"]:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
