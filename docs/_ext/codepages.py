"""
Sphinx extension: one page per finding code, written at build time from ``sb3_diagnostics.explain``
(the source of ``sb3-diagnostics explain CODE``), so the pages cannot drift from the library.

Each page adds the code's minimal example (``docs/examples/<code>.py``, run by ``tests/test_docs.py``)
and where the code is tested: the test functions that name it and the fault-zoo cases that must raise it
(``benchmarks/fault_zoo/cases.py``, scored by ``make zoo``). Nothing here trains or imports torch.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path
from typing import Any

from sb3_diagnostics.catalog import CATALOG, codes_of
from sb3_diagnostics.explain import explanation, triage_order
from sb3_diagnostics.warnings import CATEGORIES

DOCS = Path(__file__).resolve().parents[1]
ROOT = DOCS.parent
EXAMPLES = DOCS / "examples"
OUT = DOCS / "codes"
MAX_TESTS = 8


def _heading(text: str, char: str, over: bool = False) -> list[str]:
    line = char * len(text)
    return [line, text, line, ""] if over else [text, line, ""]


def _literal(text: str) -> str:
    """Inline literal that survives backquotes in the text."""
    return f":code:`{text}`" if "`" not in text else text


def _ref(code: str) -> str:
    return f":ref:`{code} <code-{code}>`"


#: test files that name every code (the catalog, the CLI, these pages): listed last
_GENERIC_TESTS = ("tests/test_catalog.py", "tests/test_cli.py", "tests/test_triage.py", "tests/test_docs.py")


@functools.cache
def _test_sources(root: Path) -> tuple[tuple[str, str], ...]:
    """:return: ``(path::test_name, source)`` of every test function under ``root / "tests"``, parsed once"""
    out = []
    for path in sorted((root / "tests").rglob("test_*.py")):
        source = path.read_text()
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test"):
                out.append((f"{path.relative_to(root).as_posix()}::{node.name}", ast.get_source_segment(source, node) or ""))
    return tuple(out)


def tests_naming(code: str, root: Path = ROOT) -> list[str]:
    """
    :param code: a finding code
    :return: ``path::test_name`` of every test function whose source names the code in quotes, those of the
        code's own check first, the generic ones (catalog, CLI, triage) last
    """
    quoted = (f'"{code}"', f"'{code}'")
    check = CATALOG[code].check
    found = [test for test, source in _test_sources(root) if any(q in source for q in quoted)]

    def rank(test: str) -> int:
        path = test.split("::")[0]
        if path.startswith(_GENERIC_TESTS):
            return 2
        own = {"environment": "tests/preflight/", "policy": "tests/policy/"}.get(check, f"/test_{check}")
        return 0 if own in path else 1

    return sorted(found, key=rank)


@functools.cache
def _zoo_musts(root: Path) -> tuple[tuple[str, frozenset[str]], ...]:
    """:return: ``(case name, codes it must raise)`` of every fault-zoo case, read from the source without importing it"""
    path = root / "benchmarks" / "fault_zoo" / "cases.py"
    if not path.exists():
        return ()
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Case" and len(node.args) >= 5:
            name, must = node.args[0], node.args[4]
            codes = {c.value for c in ast.walk(must) if isinstance(c, ast.Constant) and isinstance(c.value, str)}
            if isinstance(name, ast.Constant):
                out.append((str(name.value), frozenset(codes)))
    return tuple(out)


def zoo_cases(code: str, root: Path = ROOT) -> list[str]:
    """
    :param code: a finding code
    :return: names of the fault-zoo cases that must raise it
    """
    return [name for name, must in _zoo_musts(root) if code in must]


def example_path(code: str) -> Path:
    """:return: where the minimal example of a code lives (it may not exist)"""
    return EXAMPLES / f"{code}.py"


def render_page(code: str) -> str:
    """
    :param code: a finding code
    :return: its page (reStructuredText)
    """
    ex = explanation(code)
    row = CATALOG[code]
    category = CATEGORIES[row.family]
    out = [f".. _code-{code}:", "", *_heading(code, "=")]
    out += [f"**{ex.title}**", ""]
    out += [
        f":Severity: ``{ex.severity}`` by default",
        f":Triage stage: {ex.stage}",
        f":Judged: {ex.where}",
        f":Check key: ``{row.check}``",
        f":Warning category: :class:`~{category.__module__}.{category.__name__}`",
        "",
    ]
    out += [*_heading("What to try", "-"), ex.hint, ""]
    out += [*_heading("Reference", "-"), ex.reference, ""]
    out += _heading("Thresholds", "-")
    if ex.thresholds_class is None:
        out += ["This code has no thresholds.", ""]
    else:
        out += [f"The thresholds of its check, :class:`~sb3_diagnostics.{ex.thresholds_class}`, with their defaults.",
                "Set them with:", ""]
        out += [f"- ``{how}``" for how in ex.settings] + [""]
        out += [".. list-table::", "   :header-rows: 1", "   :widths: 20 12 68", "",
                "   * - field", "     - default", "     - meaning"]
        for field in ex.thresholds:
            out += [f"   * - ``{field.name}``", f"     - ``{field.default!r}``", f"     - {field.doc or '-'}"]
        out += [""]
    out += _heading("Causes and consequences", "-")
    out += ["In the triage a finding is folded under an earlier finding that can explain it: fix that one first.", ""]
    out += ["Can explain: " + (", ".join(_ref(c) for c in ex.explains) if ex.explains else "nothing."), ""]
    out += ["Can be explained by: " + (", ".join(_ref(c) for c in ex.explained_by) if ex.explained_by else "nothing."), ""]
    out += _heading("Example", "-")
    if example_path(code).exists():
        out += [f"A minimal run that raises ``{code}`` (``docs/examples/{code}.py``; ``tests/test_docs.py`` runs it):", "",
                f".. literalinclude:: ../examples/{code}.py", "   :language: python", ""]
    else:
        out += ["No standalone example: see the tests below for set-ups that raise it.", ""]
    out += _heading("Where it is tested", "-")
    tests, cases = tests_naming(code), zoo_cases(code)
    if tests:
        shown = [f"- ``{t}``" for t in tests[:MAX_TESTS]]
        more = len(tests) - MAX_TESTS
        out += [*shown, *([f"- and {more} more"] if more > 0 else []), ""]
    if cases:
        out += ["Fault-zoo cases that must raise it (``benchmarks/fault_zoo/cases.py``, scored by ``make zoo``): "
                + ", ".join(f"``{c}``" for c in cases) + ".", ""]
    if not tests and not cases:
        out += ["No test names this code.", ""]
    return "\n".join(out)


def render_index() -> str:
    """:return: the index of the codes, in triage order (most upstream first), like ``sb3-diagnostics codes``"""
    out = [*_heading("Finding codes", "=")]
    out += ["Every finding the library reports has a stable code. They are listed here in triage order, most",
            "upstream first: when several fire, fix the first one in this order and the others often go with it.",
            "``sb3-diagnostics codes`` prints the same list, ``sb3-diagnostics explain CODE`` the same text as each page.",
            ""]
    out += [".. list-table::", "   :header-rows: 1", "   :widths: 30 10 14 12 34", "",
            "   * - code", "     - severity", "     - stage", "     - check", "     - meaning"]
    for code in triage_order():
        ex, row = explanation(code), CATALOG[code]
        out += [f"   * - {_ref(code)}", f"     - {ex.severity}", f"     - {ex.stage}", f"     - ``{row.check}``",
                f"     - {row.title}"]
    out += ["", *_heading("By check", "-")]
    out += ["The check key names the rule module, the callback module, the ``thresholds=`` entry and",
            "``--threshold <key>.<field>=...``; ``environment`` is the pre-flight (``check_training_env``), ``policy``",
            "is ``check_policy``.", ""]
    out += [".. list-table::", "   :header-rows: 1", "   :widths: 15 85", "", "   * - check", "     - codes"]
    for check in dict.fromkeys(CATALOG[code].check for code in triage_order()):
        out += [f"   * - ``{check}``", "     - " + ", ".join(_ref(code) for code in codes_of(check))]
    out += ["", ".. toctree::", "   :hidden:", "", *[f"   {code}" for code in triage_order()], ""]
    return "\n".join(out)


def write_pages(out: Path = OUT) -> list[Path]:
    """
    Write ``index.rst`` and one ``<code>.rst`` per catalog code into ``out`` (pages of codes no longer in the
    catalog are removed). A file whose text did not change is left alone, so Sphinx rebuilds only what changed.

    :param out: the folder
    :return: the files written or kept
    """
    out.mkdir(parents=True, exist_ok=True)
    pages = {"index.rst": render_index(), **{f"{code}.rst": render_page(code) for code in CATALOG}}
    for stale in out.glob("*.rst"):
        if stale.name not in pages:
            stale.unlink()
    paths = []
    for name, text in pages.items():
        path = out / name
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
        paths.append(path)
    return paths


def _on_builder_inited(app: Any) -> None:
    write_pages()


def setup(app: Any) -> dict[str, Any]:
    app.connect("builder-inited", _on_builder_inited)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
