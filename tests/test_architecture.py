"""
The layout's rules, enforced: sources measure, rules judge, one engine emits.

- The judging half (rules, catalog, thresholds, metrics, engine, triage, report) imports without
  torch, SB3, sb3-contrib or gymnasium, so ``sb3-diagnostics report`` starts fast.
- Only the SB3 layer and the sources (callbacks, pre-flight, policy checks, probes, faults, the demo)
  import SB3 or sb3-contrib; nothing under ``rules/`` imports torch, SB3 or gymnasium.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "sb3_diagnostics"
HEAVY = ("torch", "stable_baselines3", "sb3_contrib", "gymnasium")
#: where SB3 / sb3-contrib may be imported (paths relative to the package)
MAY_IMPORT_SB3 = ("sb3/", "callbacks/", "preflight/", "policy/", "probes/", "faults/", "demo.py")


def _imports(path: Path) -> set[str]:
    """Top-level package names imported anywhere in a module (module level or inside functions)."""
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("module", [
    "sb3_diagnostics", "sb3_diagnostics.rules", "sb3_diagnostics.rules.registry", "sb3_diagnostics.catalog",
    "sb3_diagnostics.thresholds", "sb3_diagnostics.metrics", "sb3_diagnostics.engine", "sb3_diagnostics.triage",
    "sb3_diagnostics.findings", "sb3_diagnostics.errors", "sb3_diagnostics.warnings", "sb3_diagnostics.report",
    "sb3_diagnostics.report.judge", "sb3_diagnostics.report.render", "sb3_diagnostics.cli", "sb3_diagnostics.explain",
    "sb3_diagnostics.trials", "sb3_diagnostics.report.study",
])
def test_the_judging_half_imports_without_torch_sb3_or_gymnasium(module):
    code = (
        f"import sys, {module}\n"
        f"loaded = [m for m in {HEAVY!r} if m in sys.modules]\n"
        "print(','.join(loaded))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "", f"importing {module} loads {out}"


def test_only_the_sb3_layer_and_the_sources_import_sb3():
    offenders = []
    for path in _modules():
        rel = path.relative_to(PACKAGE).as_posix()
        if rel.startswith(MAY_IMPORT_SB3):
            continue
        found = _imports(path) & {"stable_baselines3", "sb3_contrib"}
        if found:
            offenders.append(f"{rel}: {sorted(found)}")
    assert offenders == []


def test_rules_import_nothing_heavy():
    offenders = [
        f"{p.relative_to(PACKAGE)}: {sorted(_imports(p) & set(HEAVY))}"
        for p in (PACKAGE / "rules").glob("*.py") if _imports(p) & set(HEAVY)
    ]
    assert offenders == []


def test_one_answer_per_question_about_sb3():
    """A second ``is_recurrent`` (or optimizer discovery, or Q-value reader) outside ``sb3/`` is a bug."""
    defined: dict[str, list[str]] = {}
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef) and node.col_offset == 0:
                defined.setdefault(node.name.lstrip("_"), []).append(path.relative_to(PACKAGE).as_posix())
    for name in ("is_recurrent", "policy_optimizers", "optimizers", "q_values", "critic_q", "discrete_q",
                 "value_kind", "predict_values", "sample_batch", "flatten", "replay_sample", "index_sample"):
        places = defined.get(name, [])
        assert len(places) <= 1 and all(p.startswith("sb3/") for p in places), (name, places)


def test_rule_modules_callback_modules_and_thresholds_share_the_check_key():
    from sb3_diagnostics.callbacks.composite import CHECKS as CALLBACKS
    from sb3_diagnostics.catalog import CATALOG
    from sb3_diagnostics.rules.registry import CHECKS

    assert list(CALLBACKS) == list(CHECKS)
    for key, callback in CALLBACKS.items():
        assert callback.__module__ == f"sb3_diagnostics.callbacks.{key}", key
        for rule in CHECKS[key].rules:
            assert rule.__module__ == f"sb3_diagnostics.rules.{key}", (key, rule)
            for code in rule.codes:
                assert CATALOG[code].check == key, (code, CATALOG[code].check, key)


def test_modules_stay_small():
    sizes = {p.relative_to(PACKAGE).as_posix(): len(p.read_text().splitlines()) for p in _modules()}
    assert {k: v for k, v in sizes.items() if v > 500} == {}


def test_every_exported_name_resolves():
    import sb3_diagnostics

    for name in sb3_diagnostics.__all__:
        assert getattr(sb3_diagnostics, name) is not None, name
    assert set(sb3_diagnostics.__all__) <= set(dir(sb3_diagnostics))
    with pytest.raises(AttributeError, match="no attribute 'DiagnosticCallbakc'"):
        _ = sb3_diagnostics.DiagnosticCallbakc  # type: ignore[attr-defined]


def test_public_constructors_list_their_parameters():
    """No ``*args, **kwargs``: IDEs, ``help()`` and rl-zoo3 YAML users see every parameter."""
    import inspect

    import sb3_diagnostics

    for name in sb3_diagnostics.__all__:
        obj = getattr(sb3_diagnostics, name)
        if inspect.isclass(obj) and name.endswith("Callback"):
            kinds = {p.kind for p in inspect.signature(obj).parameters.values()}
            assert not kinds & {inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD}, name
