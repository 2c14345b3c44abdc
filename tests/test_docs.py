"""
The documentation (``make docs``): one page per finding code, written from the same source as
``sb3-diagnostics explain CODE``, and a minimal example per code that really raises it.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import io
import runpy
import warnings
from pathlib import Path

import pytest

import sb3_diagnostics
from sb3_diagnostics.catalog import CATALOG
from sb3_diagnostics.explain import explain, explanation, triage_order

DOCS = Path(__file__).resolve().parents[1] / "docs"
EXAMPLES = sorted(p.stem for p in (DOCS / "examples").glob("*.py"))


@functools.cache
def _codepages():
    spec = importlib.util.spec_from_file_location("codepages", DOCS / "_ext" / "codepages.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_code_gets_a_page_with_the_text_of_explain(tmp_path):
    written = {p.name for p in _codepages().write_pages(tmp_path)}
    assert written == {"index.rst", *(f"{code}.rst" for code in CATALOG)}
    for code in CATALOG:
        page, ex = (tmp_path / f"{code}.rst").read_text(), explanation(code)
        assert page.startswith(f".. _code-{code}:") and ex.title in page, code
        # the same hint and reference as `sb3-diagnostics explain CODE`
        assert ex.hint in page and ex.reference in page and ex.hint in explain(code), code
        assert all(f"``{f.name}``" in page and f"``{f.default!r}``" in page for f in ex.thresholds), code
        assert all(setting in page for setting in ex.settings), code
        assert all(f"<code-{other}>" in page for other in ex.explains + ex.explained_by), code


def test_a_page_shows_the_example_and_the_tests_of_its_code(tmp_path):
    pages = _codepages()
    kl = pages.render_page("kl_too_high")
    assert ".. literalinclude:: ../examples/kl_too_high.py" in kl
    assert "tests/callbacks/test_kl.py::test_learning_rate_too_high_blows_up_kl" in kl and "``ppo_lr_too_high``" in kl
    # the check's own tests come before the generic ones (catalog, CLI)
    import re

    listed = [t for t in re.findall(r"tests/[\w/]+\.py", kl) if t != "tests/test_docs.py"]  # (runs the example)
    assert listed[0] == "tests/callbacks/test_kl.py" and len(set(listed)) > 1, listed
    without = next(code for code in CATALOG if code not in EXAMPLES)
    assert "No standalone example" in pages.render_page(without)


def test_the_index_lists_every_code_in_triage_order():
    index = _codepages().render_index()
    positions = [index.index(f"<code-{code}>") for code in triage_order()]
    assert positions == sorted(positions) and len(positions) == len(CATALOG)


def test_stale_pages_are_removed(tmp_path):
    (tmp_path / "a_code_that_was_removed.rst").write_text("old")
    _codepages().write_pages(tmp_path)
    assert not (tmp_path / "a_code_that_was_removed.rst").exists()


def test_the_api_page_documents_every_public_name():
    api = (DOCS / "api.rst").read_text()
    missing = [name for name in sb3_diagnostics.__all__ if name != "__version__" and f"sb3_diagnostics.{name}" not in api]
    assert not missing


def test_every_example_is_named_after_a_code():
    assert EXAMPLES and set(EXAMPLES) <= set(CATALOG)


@pytest.mark.slow
@pytest.mark.parametrize("code", EXAMPLES)
def test_each_example_raises_its_code(code):
    import torch

    torch.set_num_threads(1)
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()) as out:
        warnings.simplefilter("ignore")
        namespace = runpy.run_path(str(DOCS / "examples" / f"{code}.py"), run_name="__main__")
    found = namespace["cb"].findings if "cb" in namespace else list(namespace["report"])
    assert code in {f.code for f in found}, out.getvalue()
