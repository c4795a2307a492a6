"""Sphinx configuration of the bnsym documentation (MyST Markdown, autodoc, MathJax 3 served offline).

Build with ``scripts/build-docs.sh``: it installs MathJax 3 from the npm registry into ``docs/.mathjax`` and
copies it to ``docs/_static/mathjax``; this file refuses to build without it rather than fall back to a CDN.
"""
from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))
sys.path.insert(0, str(HERE.parent))

project = "bnsym"
author = "the bnsym authors"
copyright = "the bnsym authors, BSD-3-Clause"

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.mathjax",
    "bnsym_docs",
]
source_suffix = {".md": "markdown"}
myst_enable_extensions = ["dollarmath", "amsmath"]
exclude_patterns = ["_build", ".mathjax", "_static/mathjax", "README.md"]
root_doc = "index"

html_theme = "alabaster"
html_static_path = ["_static"]
html_theme_options = {"page_width": "1100px", "body_max_width": "900px"}

# MathJax 3, served with the site: never a CDN.
_MATHJAX = HERE / "_static" / "mathjax" / "tex-chtml.js"
if not _MATHJAX.exists():
    raise RuntimeError(
        f"MathJax is not installed at {_MATHJAX}: build the docs with scripts/build-docs.sh "
        "(it installs MathJax 3 from the npm registry; the docs never load it from a CDN)"
    )
mathjax_path = "mathjax/tex-chtml.js"
mathjax3_config = {"tex": {"packages": {"[+]": ["ams"]}}, "options": {"enableMenu": False}}

autodoc_default_options = {"members": True, "show-inheritance": False}
autodoc_member_order = "bysource"
autodoc_typehints = "description"
