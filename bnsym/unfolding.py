"""Unfolding index-form definitions: an expression with every entry of a defined quantity replaced by its
definition, capture-avoiding (bound indices are renamed apart by :func:`bnsym.kernel.index.substitute`).

>>> from sympy import IndexedBase
>>> from bnsym.layers.base import IndexDefinition, index_symbol
>>> i = index_symbol("i")
>>> h, x = IndexedBase("h", real=True), IndexedBase("x", real=True)
>>> unfold(h[i] ** 2, [IndexDefinition(h, (i,), x[i] + 1)])
(x[i] + 1)**2
"""
from __future__ import annotations

from functools import cached_property

import sympy
from sympy import Expr, Symbol

from .kernel import index as ix

__all__ = ["unfold", "Unfolder"]


def unfold(expr: Expr, definitions, *, keep=()) -> Expr:
    """``expr`` with every entry of a defined quantity replaced by its definition (capture-avoiding), repeatedly;
    the bases in ``keep`` stay.

    >>> from sympy import IndexedBase
    >>> from bnsym.layers.base import IndexDefinition, index_symbol
    >>> i, j = index_symbol("i"), index_symbol("j")
    >>> z, x = IndexedBase("z", real=True), IndexedBase("x", real=True)
    >>> unfold(sympy.Sum(z[j], (j, 1, 3)), [IndexDefinition(z, (i,), 2 * x[i])])
    Sum(2*x[j], (j, 1, 3))
    """
    return Unfolder(definitions, keep=keep)(expr)


class Unfolder:
    """:func:`unfold` for one list of definitions, applied to many expressions: each definition is resolved
    once, in order (a definition refers to earlier ones: the forward graph from the input, the adjoints from
    the loss), so unfolding costs one pass per expression instead of one per level of the graph.

    >>> from sympy import IndexedBase
    >>> from bnsym.layers.base import IndexDefinition, index_symbol
    >>> i = index_symbol("i")
    >>> z, h, x = (IndexedBase(n, real=True) for n in "zhx")
    >>> u = Unfolder([IndexDefinition(h, (i,), 2 * x[i]), IndexDefinition(z, (i,), h[i] + 1)])
    >>> u(z[i] * z[i])
    (2*x[i] + 1)**2
    """

    def __init__(self, definitions, *, keep=()) -> None:
        self._definitions = [d for d in definitions if d.target not in keep]
        self._table = {d.target: d for d in self._definitions}

    def _once(self, expr: Expr, resolved: dict) -> Expr:
        """``expr`` with the entries and plain symbols of the resolved definitions replaced, one pass."""
        def definition(e):
            indices, value = resolved[e.base]
            return ix.substitute(value, dict(zip(indices, e.indices, strict=True)))

        expr = expr.replace(lambda e: isinstance(e, sympy.Indexed) and e.base in resolved, definition)
        plain = {t: v for t, (indices, v) in resolved.items() if not indices and isinstance(t, Symbol)}
        if plain and expr.free_symbols & plain.keys():
            expr = ix.substitute(expr, plain)
        return expr

    def _mentions(self, expr: Expr) -> bool:
        """Whether ``expr`` still mentions a defined quantity."""
        return bool(expr.free_symbols & self._table.keys()) or any(
            e.base in self._table for e in expr.atoms(sympy.Indexed))

    @cached_property
    def resolved(self) -> dict | None:
        """``{target: (indices, value fully unfolded)}``, or ``None`` when a definition refers to a later one
        (then :meth:`__call__` unfolds level by level)."""
        resolved: dict = {}
        for d in self._definitions:
            value = self._once(d.value, resolved)
            if self._mentions(value):
                return None
            resolved[d.target] = (tuple(d.indices), value)
        return resolved

    def __call__(self, expr: Expr) -> Expr:
        resolved = self.resolved
        if resolved is not None:
            return self._once(expr, resolved)
        unresolved = {t: (tuple(d.indices), d.value) for t, d in self._table.items()}  # level by level
        for _ in range(len(unresolved) + 1):
            before = expr
            expr = self._once(expr, unresolved)
            if expr == before:
                break
        return expr
