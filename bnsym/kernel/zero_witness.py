"""The search for a witness ``expr ≠ 0``: an admissible exact point where the value is certified nonzero.

A point is a witness only when every symbol's SymPy assumptions hold for its value, every ``positive`` /
``nonnegative`` fact is certified there, the expression is defined there, and its value is certified
nonzero by :func:`bnsym.kernel.zero_values.evaluate` (exact, or an interval excluding 0).

>>> import sympy
>>> x = sympy.Symbol("x", real=True)
>>> find_witness(sympy.Abs(sympy.sqrt(x)) ** 2 - x)[0][x] < 0
True
>>> find_witness(sympy.Sum(sympy.IndexedBase("z")[x], (x, 1, sympy.Symbol("m"))) - 1) is None
True
"""
from __future__ import annotations

import random
from collections.abc import Iterable

import mpmath
import sympy
from sympy import Expr

from .zero_values import NotEvaluable, certified, evaluable, evaluate, nonzero, postorder, value_children

__all__ = ["find_witness", "admissible", "ASSUMPTION_KEYS"]

iv = mpmath.iv
ASSUMPTION_KEYS = ("real", "rational", "irrational", "integer", "even", "odd", "prime", "composite", "zero",
                   "nonzero", "positive", "negative", "nonnegative", "nonpositive", "imaginary", "algebraic",
                   "transcendental", "finite", "complex", "extended_real", "noninteger")


def _atoms(exprs: list) -> list:
    """Symbols and indexed entries (free variables); refuses indexed entries that could alias each other."""
    found: set = set()
    by_base: dict = {}
    tuple_of = sympy.Tuple(*exprs)
    for node in postorder(tuple_of, lambda e: e.args if e is tuple_of else value_children(e)):
        if node is tuple_of:
            continue
        if isinstance(node, sympy.Indexed):
            found.add(node)
            by_base.setdefault(node.base, set()).add(node.indices)
        elif node.is_Symbol:
            found.add(node)
        elif not (node.is_Number or node.is_NumberSymbol or node is sympy.I or evaluable(node)):
            raise NotEvaluable(f"no value at a point for {type(node).__name__}")
    for indices in by_base.values():
        if len(indices) > 1 and not all(i.is_Integer for idx in indices for i in idx):
            raise NotEvaluable("indexed entries with symbolic indices may coincide")
    return sorted(found, key=sympy.default_sort_key)


def admissible(atom: Expr, value: Expr) -> bool:
    """``value`` satisfies every assumption SymPy records for ``atom`` (real, integer, positive, ...)."""
    for key in ASSUMPTION_KEYS:
        wanted = getattr(atom, "is_" + key)
        if wanted is not None and getattr(value, "is_" + key) is not wanted:
            return False
    return True


def _draw(atom: Expr, rng: random.Random, attempt: int) -> Expr:
    if atom.is_integer:
        value = sympy.Integer((attempt % 3) if attempt < 3 else rng.randint(-4, 4))
    elif attempt < 2:
        value = sympy.Integer(attempt + 1)  # every variable equal: a constant batch, a degenerate case
    elif attempt < 6:
        value = sympy.Integer(rng.randint(-2, 2))
    else:
        value = sympy.Rational(rng.randint(-40, 40), rng.randint(1, 9))
    if atom.is_imaginary:
        return sympy.I * (value if value != 0 else 1)
    if atom.is_real is not True and attempt % 2 == 1:
        return value + sympy.I * sympy.Rational(rng.randint(-9, 9) or 1, rng.randint(1, 3))
    if atom.is_positive or atom.is_nonnegative:
        value = abs(value) + (1 if atom.is_positive and value == 0 else 0)
    elif atom.is_negative or atom.is_nonpositive:
        value = -abs(value) - (1 if atom.is_negative and value == 0 else 0)
    if atom.is_nonzero and value == 0:
        value = sympy.Integer(1) if atom.is_positive is not False else sympy.Integer(-1)
    return value


def find_witness(expr: Expr, positive: Iterable[Expr] = (), nonnegative: Iterable[Expr] = (), *,
                 tries: int = 16, seed: int = 0):
    """``(point, value)`` with ``point`` admissible and ``expr(point)`` certified nonzero, or ``None``.

    >>> n = sympy.Symbol("n", integer=True)
    >>> find_witness(sympy.Mod(n**3 - n, 3)) is None
    True
    """
    positive, nonnegative = list(positive), list(nonnegative)
    try:
        atoms = _atoms([expr, *positive, *nonnegative])
    except NotEvaluable:
        return None
    rng = random.Random(seed)
    old = iv.dps
    iv.dps = 50
    try:
        for attempt in range(tries):
            point = {a: _draw(a, rng, attempt) for a in atoms}
            if not all(admissible(a, v) for a, v in point.items()):
                continue
            try:
                if not all(certified(evaluate(f, point), True) for f in positive):
                    continue
                if not all(certified(evaluate(f, point), False) for f in nonnegative):
                    continue
                value = evaluate(expr, point)
            except ValueError:
                continue
            except NotEvaluable:
                return None
            if nonzero(value):
                return point, value
    finally:
        iv.dps = old
    return None

