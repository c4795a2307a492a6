"""Exact zero tests for expressions with square roots of batch variances — no ``simplify``.

Every square root ``sqrt(V)`` (or ``V**(k/2)``) is replaced by a positive symbol ``s`` tied to ``V`` by
``s² = V``; the expression is brought over a common denominator and its numerator is reduced modulo
``s² − V`` for each root. A numerator that reduces to the zero polynomial proves the expression is 0
wherever it is defined (every denominator, e.g. ``σ``, nonzero). That direction is sound; when the reduction
does not reach 0, :func:`is_zero` looks for a numeric counterexample before answering ``False``, and answers
``None`` (undecided) when it finds none.

>>> import sympy
>>> z = sympy.symbols("z1:4", real=True)
>>> mu = sum(z) / 3
>>> s = sympy.sqrt(sum((zi - mu) ** 2 for zi in z) / 3)
>>> xhat = [(zi - mu) / s for zi in z]
>>> is_zero(sum(xhat)), is_zero(sum(x**2 for x in xhat) - 3), is_zero(xhat[0] - 1)
(True, True, False)
"""
from __future__ import annotations

import random
from dataclasses import dataclass

import sympy
from sympy import Expr

from .functions import as_expression

__all__ = ["RadicalForm", "radical_normal_form", "is_zero", "find_counterexample"]


@dataclass(frozen=True)
class RadicalForm:
    """``numerator/denominator`` with each root ``sqrt(V)`` named by a positive symbol (``s² = V``)."""

    numerator: Expr
    denominator: Expr
    roots: tuple[tuple[sympy.Symbol, Expr], ...]


def _half_power_bases(expr: Expr) -> list[Expr]:
    bases = []
    for power in expr.atoms(sympy.Pow):
        exponent = power.exp
        if exponent.is_Rational and exponent.q == 2 and power.base not in bases:
            bases.append(power.base)
    return bases


def radical_normal_form(expr: Expr) -> RadicalForm:
    """Name the square roots, take a common denominator, reduce the numerator modulo ``s² = V``.

    >>> x = sympy.Symbol("x", positive=True)
    >>> form = radical_normal_form(sympy.sqrt(x) ** 3 / x - sympy.sqrt(x))
    >>> form.numerator
    0
    """
    expr = as_expression(expr, "expr")
    # factor each radicand so that SymPy pulls out known-sign factors: sqrt(c²·W) = c·sqrt(W) for c > 0
    expr = expr.replace(
        lambda e: e.is_Pow and e.exp.is_Rational and e.exp.q == 2 and e.base.is_Add,
        lambda e: sympy.factor(e.base) ** e.exp,
    )
    roots: list[tuple[sympy.Symbol, Expr]] = []
    # |u| (which SymPy makes of sqrt(u²)) is a root too: a positive symbol s with s² = u²
    for absolute in sorted(expr.atoms(sympy.Abs), key=sympy.count_ops):
        if absolute in expr.atoms(sympy.Abs) and not absolute.args[0].atoms(sympy.Abs):
            symbol = sympy.Dummy(f"s{len(roots)}", positive=True)
            roots.append((symbol, absolute.args[0] ** 2))
            expr = expr.xreplace({absolute: symbol})
    # innermost roots first, so that outer radicands are rewritten in terms of inner root symbols
    while True:
        bases = _half_power_bases(expr)
        inner = [b for b in bases if not _half_power_bases(b)]
        if not inner:
            break
        for base in inner:
            symbol = sympy.Dummy(f"s{len(roots)}", positive=True)
            roots.append((symbol, base))
            expr = expr.replace(
                lambda e, b=base: e.is_Pow and e.base == b and e.exp.is_Rational and e.exp.q == 2,
                lambda e, s=symbol: s ** (e.exp * 2),
            )
    # applied functions (ReLU', sigmoid, ...) are opaque to the algebra: one symbol per distinct application,
    # after bringing their arguments to a canonical rational form
    expr = expr.replace(lambda e: isinstance(e, sympy.Function) and len(e.args) == 1,
                        lambda e: e.func(sympy.cancel(e.args[0])))
    calls = [f for f in expr.atoms(sympy.Function) if not any(f in g.args[0].atoms(sympy.Function)
                                                              for g in expr.atoms(sympy.Function) if g != f)]
    expr = expr.xreplace({call: sympy.Dummy(f"f{i}") for i, call in enumerate(calls)})
    numerator, denominator = sympy.fraction(sympy.together(expr))
    numerator = sympy.expand(numerator)
    for symbol, base in reversed(roots):
        if numerator.has(symbol):
            numerator = _reduce(numerator, symbol, sympy.expand(base))
    for symbol, base in roots:
        if numerator.has(symbol):
            numerator = _reduce(numerator, symbol, sympy.expand(base))
    return RadicalForm(sympy.expand(numerator), denominator, tuple(roots))


def _reduce(numerator: Expr, symbol: sympy.Symbol, base: Expr) -> Expr:
    """Replace even powers ``s^(2k)`` by ``V^k`` (and odd ones by ``s·V^k``): reduction modulo ``s² − V``."""
    collected = sympy.collect(numerator, symbol, evaluate=False)
    total = sympy.Integer(0)
    for power, coefficient in collected.items():
        degree = sympy.degree(power, symbol) if power != 1 else 0
        if degree < 0:  # pragma: no cover - together() clears negative powers
            return numerator
        total += coefficient * base ** (degree // 2) * symbol ** (degree % 2)
    return sympy.expand(total)


def find_counterexample(expr: Expr, *, tries: int = 20, seed: int = 0,
                        assumptions_ok=None) -> dict | None:
    """Random exact rational points where ``expr`` is defined and nonzero; ``None`` when none is found.

    >>> x = sympy.Symbol("x", real=True)
    >>> find_counterexample(x**2 - x) is not None, find_counterexample(x - x)
    (True, None)
    """
    rng = random.Random(seed)
    symbols = sorted(expr.free_symbols, key=str)
    for _ in range(tries):
        point = {}
        for s in symbols:
            value = sympy.Rational(rng.randint(-40, 40), rng.randint(1, 9))
            if s.is_positive and value <= 0:
                value = -value + sympy.Rational(1, 7)
            if s.is_nonnegative and value < 0:
                value = -value
            if s.is_negative and value >= 0:
                value = -value - sympy.Rational(1, 7)
            point[s] = value
        try:
            value = sympy.N(expr.xreplace(point), 30)
            if value.is_finite is False or value.has(sympy.nan, sympy.zoo) or not value.is_number:
                continue
            if abs(complex(value)) > 1e-20:
                return point
        except (ZeroDivisionError, ValueError, TypeError):
            continue
    return None


def is_zero(expr: Expr) -> bool | None:
    """``True`` when ``expr`` is proved 0 exactly, ``False`` with a numeric witness, ``None`` if undecided.

    >>> a = sympy.Symbol("a", positive=True)
    >>> is_zero(sympy.sqrt(a**2) - a), is_zero(sympy.sqrt(a) - 1)
    (True, False)
    """
    expr = as_expression(expr, "expr")
    if expr.is_zero:
        return True
    form = radical_normal_form(expr)
    if form.numerator == 0:
        return True
    return False if find_counterexample(expr) is not None else None
