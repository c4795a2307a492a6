"""Exact zero tests: a compatibility layer over the proof kernel's decision, :func:`bnsym.kernel.decide_zero`.

:func:`is_zero` is ``decide_zero(expr).value``: ``True`` only when ``expr`` is 0 wherever it is defined on
the domain its symbols' assumptions allow, ``False`` only with an admissible witness, ``None`` otherwise.
Square roots are eliminated through ``s² = V`` (``s`` real only where ``V ≥ 0`` is proved), ``|u|`` only for
real ``u``; applied functions are opaque (see :mod:`bnsym.kernel.zero`).

Changed from the earlier version (which replaced every ``√V`` and ``|u|`` by a positive symbol and could
answer ``True`` for nonzero expressions): :class:`RadicalForm` now lists ``roots`` as ``(symbol, q, V)``
triples (``symbol^q = V``, the symbol without assumptions), and :func:`find_counterexample` returns only
points that satisfy every assumption, at which the value is certified nonzero.

>>> import sympy
>>> z = sympy.symbols("z1:4", real=True)
>>> mu = sum(z) / 3
>>> s = sympy.sqrt(sum((zi - mu) ** 2 for zi in z) / 3)
>>> xhat = [(zi - mu) / s for zi in z]
>>> is_zero(sum(xhat)), is_zero(sum(x**2 for x in xhat) - 3), is_zero(xhat[0] - 1)
(True, True, False)
"""
from __future__ import annotations

from dataclasses import dataclass

import sympy
from sympy import Expr

from .functions import as_expression
from .kernel.zero import decide_zero, normal_form
from .kernel.zero_witness import find_witness

__all__ = ["RadicalForm", "radical_normal_form", "is_zero", "find_counterexample"]


@dataclass(frozen=True)
class RadicalForm:
    """``numerator/denominator`` with each root or absolute value named by a symbol: ``roots`` = ``(s, q, V)``,
    ``s^q = V``."""

    numerator: Expr
    denominator: Expr
    roots: tuple[tuple[sympy.Symbol, int, Expr], ...]


def radical_normal_form(expr: Expr) -> RadicalForm:
    """Name the roots, take a common denominator, reduce the numerator modulo ``s^q = V``.

    >>> x = sympy.Symbol("x", positive=True)
    >>> form = radical_normal_form((sympy.sqrt(x) + 1) ** 2 - 2 * sympy.sqrt(x) - x)
    >>> form.numerator
    1
    """
    form = normal_form(expr)
    return RadicalForm(form.numerator, form.denominator, form.relations)


def find_counterexample(expr: Expr, *, tries: int = 20, seed: int = 0, assumptions_ok=None) -> dict | None:
    """An admissible exact point where ``expr`` is defined and certified nonzero; ``None`` when none is found.

    ``assumptions_ok`` is accepted for compatibility and ignored: every point satisfies the symbols' assumptions.

    >>> x = sympy.Symbol("x", real=True)
    >>> find_counterexample(x**2 - x) is not None, find_counterexample(x - x)
    (True, None)
    """
    found = find_witness(as_expression(expr, "expr"), tries=tries, seed=seed)
    return None if found is None else found[0]


def is_zero(expr: Expr) -> bool | None:
    """``True`` when ``expr`` is proved 0 exactly, ``False`` with an admissible witness, ``None`` if undecided.

    >>> a = sympy.Symbol("a", positive=True)
    >>> is_zero(sympy.sqrt(a**2) - a), is_zero(sympy.sqrt(a) - 1)
    (True, False)
    """
    return decide_zero(expr).value
