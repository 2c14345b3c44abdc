"""Sphinx configuration of the sb3-diagnostics documentation (``make docs``)."""

from __future__ import annotations

import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS / "_ext"))
sys.path.insert(0, str(DOCS.parent))  # the package of this checkout, even when not installed

import sb3_diagnostics  # noqa: E402

project = "sb3-diagnostics"
author = "sb3-diagnostics developers"
copyright = "sb3-diagnostics developers"
version = release = sb3_diagnostics.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.viewcode",
    "codepages",  # docs/codes/*.rst, written at build time from sb3_diagnostics.explain
]

templates_path: list[str] = []
exclude_patterns = ["_build", "examples"]
html_theme = "sphinx_rtd_theme"
html_title = f"sb3-diagnostics {release}"
pygments_style = "sphinx"

# SB3's docstring style: a summary, then :param x: / :return:
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "show-inheritance": True}
autoclass_content = "both"
