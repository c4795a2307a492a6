r"""The LaTeX of a derivation in index form (:class:`bnsym.batchform.IndexDerivation`), in the paper's notation:
sums over the batch, BN's backward pass in its vector form, each row a true equation, and a size budget (a form
too large to typeset is summarized in words).

>>> from bnsym import two_layer
>>> from bnsym.latex import Notation
>>> rows = index_rows(two_layer(bn="pre", batch="m").gradients()["b1"], Notation())
>>> rows[0][0], rows[-1][1]
('\\frac{\\partial J}{\\partial b_{1}}', '0')
"""
from __future__ import annotations

import re

import sympy

from ..budget import summary
from ..derive import tree_size
from .escape import _text, escape_text
from .notation import Notation
from .printer import print_latex
from .rows import _Rows

__all__ = ["index_rows", "TYPESET_LIMIT"]

#: the largest expression tree typeset in full (larger ones are summarized)
TYPESET_LIMIT = 600


class _Entry(sympy.Symbol):
    """An entry ``z̄₁[j, r]`` for display: its base's LaTeX, then the indices in brackets (SymPy prints an
    ``Indexed`` as ``{\bar{z}_{1}}_{j}``, which TeX refuses as a double subscript)."""

    def __new__(cls, entry: sympy.Indexed):
        obj = super().__new__(cls, str(entry), real=True)
        obj._entry = entry
        return obj

    def _latex(self, printer, exp=None):
        entry = self._entry
        text = r"%s[%s]" % (_label(entry.base.label, printer),
                                        ",".join(printer._print(i) for i in entry.indices))
        return text if exp is None else r"\left(%s\right)^{%s}" % (text, printer._print(exp))


def _label(label, printer) -> str:
    """A base's LaTeX; an adjoint ``zhatbar1`` as a bar over its node's head (``\\bar{\\hat{z}}_{1}``: SymPy alone
    would print ``hbar1`` as Planck's ``\\hbar_{1}``)."""
    match = re.fullmatch(r"([A-Za-z]+?)bar(\d*)", str(label)) if type(label) is sympy.Symbol else None
    if match is None:
        return printer._print(label)
    head, digits = match.groups()
    return r"\bar{%s}" % printer._print(sympy.Symbol(head)) + (f"_{{{digits}}}" if digits else "")


def _entries(expr):
    return expr.replace(lambda e: isinstance(e, sympy.Indexed), _Entry)


def _shown(expr, notation: Notation) -> str | sympy.Basic:
    if tree_size(expr) > TYPESET_LIMIT:
        return r"\text{%s}" % escape_text(summary(tree_size(expr), limit=TYPESET_LIMIT))
    return _entries(expr)


def index_rows(d, notation: Notation) -> list[tuple[str, object]]:
    r"""``(lhs, rhs)`` rows: the gradient in its layer's output adjoint, the backward steps (each adjoint entry
    defined from the next), the forward definitions they use, the compact form, and ``0`` when proved.

    >>> from bnsym import chain
    >>> from bnsym.latex import Notation
    >>> print(index_rows(chain(2, batch="m").gradient("w2"), Notation())[0][0])
    \frac{\partial J}{\partial w_{2}}
    """
    target = r"\frac{\partial J}{\partial %s}" % print_latex(_entries(sympy.sympify(d.parameter)), notation)
    rows: list[tuple[str, object]] = [(target, _shown(d.raw, notation))]
    for step in reversed(d.steps):
        rows.append((print_latex(_entries(step.lhs), notation), _shown(step.value, notation)))
    used = set()
    forms = [d.raw] + [s.value for s in d.steps]
    bases = {b for f in forms for b in f.atoms(sympy.IndexedBase)} | {s for f in forms for s in f.free_symbols}
    for definition in d.graph.definitions:
        if definition.target in bases and definition.target not in used and definition.indices != ():
            used.add(definition.target)
        elif definition.target in bases and definition.target not in used:
            used.add(definition.target)
        else:
            continue
        lhs = print_latex(_entries(sympy.sympify(definition.lhs)), notation)
        rows.append((lhs, _shown(definition.value, notation)))
    if d.compact != d.raw:
        rows.append((target, _shown(d.compact, notation)))
    if d.proof is not None:
        rows.append((target, "0"))
    return rows


def _index_block(d, notation: Notation, numbered: bool) -> str:
    """The ``align*`` block of :func:`index_rows`, then the hypotheses of the kernel's proof when there is one."""
    rows = _Rows(notation, numbered)
    for lhs, rhs in index_rows(d, notation):
        rows.equation(lhs, rhs)
    if d.proof is not None:
        rows.text(_text("(proved by the kernel for every batch size m, if:", notation))
        for condition in d.proof.conditions:
            rows.text(_text(f"  {condition.text})", notation))
    return rows.render()
