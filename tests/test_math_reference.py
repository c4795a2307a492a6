"""The math reference (docs/math.md) shows every catalogue theorem, printed by the library, and nothing in the
project points users to a file they do not have.

The ``bnsym-theorem`` directive's rendering function is called directly (no Sphinx build: tests/test_docs.py
builds the whole site with warnings as errors, which also fails when a theorem has no block on the page).
"""
from __future__ import annotations

import logging
import re
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from docutils import nodes
from sphinx import addnodes

import bnsym
from bnsym.latex import print_latex
from bnsym.theorems import registry

ROOT = Path(__file__).resolve().parent.parent
MATH = ROOT / "docs" / "math.md"
sys.path.insert(0, str(ROOT / "docs" / "_ext"))
import bnsym_docs  # noqa: E402  (the docs extension, from docs/_ext)

NAMES = [t.name for t in bnsym.theorems()]
DIRECTIVE = re.compile(r"^```\{bnsym-theorem\}[ \t]+(\S+)[ \t]*$", re.M)
SKIP_DIRS = {"_build", ".mathjax", "mathjax", "__pycache__", ".hypothesis", ".pytest_cache"}


def test_every_catalogue_theorem_has_one_block_on_its_page():
    """The BN theorems on the math reference, the normalization family's on docs/normalization.md."""
    assert len(NAMES) >= 18
    for page in ("math", "normalization"):
        shown = DIRECTIVE.findall((ROOT / "docs" / f"{page}.md").read_text(encoding="utf-8"))
        mine = [n for n in NAMES if bnsym_docs.theorem_page(n) == page]
        assert sorted(shown) == sorted(mine), (page, set(mine) - set(shown), set(shown) - set(mine))
        assert len(shown) == len(set(shown))


def test_the_math_reference_is_in_the_toctree():
    index = (ROOT / "docs" / "index.md").read_text(encoding="utf-8")
    toctree = index.split("```{toctree}", 1)[1].split("```", 1)[0]
    assert "math" in toctree.split() and "normalization" in toctree.split()


def _project_files():
    yield ROOT / "README.md"
    for top in ("bnsym", "docs"):
        for path in (ROOT / top).rglob("*"):
            if path.is_file() and not SKIP_DIRS.intersection(path.relative_to(ROOT).parts):
                yield path


def test_nothing_mentions_the_private_math_notes():
    files = list(_project_files())
    assert ROOT / "bnsym" / "testing" / "properties.py" in files and MATH in files
    offenders = [str(p.relative_to(ROOT)) for p in files if b"bn-math" in p.read_bytes()]
    assert offenders == []


def _math(box, kind):
    return [node.astext() for node in box.findall(kind)]


@pytest.mark.parametrize("name", NAMES)
def test_the_directive_prints_the_theorem_from_its_unit(name):
    unit = registry.get(name)
    opts = bnsym_docs.theorem_options(name)
    assert (opts.eps == "any") == any(c.text == "ε ≥ 0" for c in unit.hypotheses)
    box = bnsym_docs.render_theorem(name, "math")
    assert box["ids"] == [name]
    blocks = _math(box, nodes.math_block)
    assert all(b.startswith(r"\[") and b.endswith(r"\]") for b in blocks)
    assert unit.statement_latex in blocks[0]
    claims = unit.claims(opts) if unit.claims else []
    assert len(blocks) == 1 + len(claims)
    for claim, block in zip(claims, blocks[1:], strict=False):
        tex = print_latex(claim)  # SymPy's LaTeX printer with bnsym's notation (∂ for partial derivatives)
        assert tex and tex in block
    inline = _math(box, nodes.math)
    for cond in unit.hypotheses:
        assert cond.latex in inline
    text = box.astext()
    assert unit.title in text and unit.source in text and f"bnsym prove {name}" in text
    targets = {x["reftarget"] for x in box.findall(addnodes.pending_xref)}
    assert targets == {bnsym_docs.PROVE_LABEL, "bnsym.theorems.prove"}


def test_the_eps_of_a_theorem_for_every_eps_is_symbolic():
    box = bnsym_docs.render_theorem("bn_jacobian")
    assert r"\sqrt{\epsilon + \sigma^{2}}" in _math(box, nodes.math_block)[1]
    assert r"\epsilon \geq 0" in _math(box, nodes.math)


def test_claims_that_print_alike_say_which_sign_they_are_for():
    blocks = _math(bnsym_docs.render_theorem("goodfellow_bn"), nodes.math_block)[1:]
    assert len(blocks) == 2 and blocks[0] != blocks[1]
    assert r"(a > 0)" in blocks[0] and r"(a < 0)" in blocks[1]


def test_a_theorem_missing_from_the_page_is_a_build_warning(caplog):
    def env(shown):
        return SimpleNamespace(found_docs={"math", "index"}, bnsym_theorems={"math": set(shown)})

    with caplog.at_level(logging.WARNING):
        bnsym_docs._check_catalogue(None, env(NAMES))
    assert not [r for r in caplog.records if "bnsym-theorem" in r.getMessage()]
    with caplog.at_level(logging.WARNING):
        bnsym_docs._check_catalogue(None, env([n for n in NAMES if n != "bn_jacobian"]))
    messages = [r.getMessage() for r in caplog.records if "bnsym-theorem" in r.getMessage()]
    assert len(messages) == 1 and "bn_jacobian" in messages[0] and "bias_gradient_zero" not in messages[0]


def test_sympy_relations_print_one_per_row():
    import sympy

    x = sympy.Symbol("x")
    tex = bnsym_docs._relations_latex([sympy.Eq(sympy.Derivative(x, x, evaluate=False), 1, evaluate=False), x])
    assert tex.startswith(r"\begin{aligned}") and tex.count(r"\\") == 1
    assert r"\frac{\partial}{\partial x} x &= 1" in tex
