"""Random admissible values: exact rationals (or Gaussian rationals) that satisfy a symbol's assumptions.

A symbol without a realness assumption is complex in SymPy, so it gets a complex value: an identity that
only holds for real numbers must not pass for an unassumed symbol. Three draws in ten come from the small
special values ``0, ±1, 1/2, -2``, where kinks (``sign``, ``Heaviside``, ``ReLU'``) and poles are; a
failure on a set of measure zero can still escape a few random points, which is what the exact checks
of the kernel are for.

>>> import random, sympy
>>> rng = random.Random(0)
>>> value = draw_value(sympy.Symbol("a", negative=True, integer=True).assumptions0, rng)
>>> value.is_integer and value < 0
True
>>> admissible(sympy.Integer(0), {"positive": True})
False
"""
from __future__ import annotations

import random
from typing import Any

import sympy

from .expand import NotExplicit

__all__ = ["admissible", "draw_value", "draw_index", "random_polynomial"]

_INTEGER = ("integer", "even", "odd", "prime", "composite")
_REAL = ("real", "rational", "extended_real", "positive", "negative", "nonnegative", "nonpositive",
         "extended_positive", "extended_negative", "extended_nonnegative", "extended_nonpositive", "zero")
_SPECIAL = [sympy.Integer(v) for v in (0, 0, 1, -1, -2)] + [sympy.Rational(1, 2)]
_UP = ("positive", "nonnegative", "extended_positive", "extended_nonnegative")
_DOWN = ("negative", "nonpositive", "extended_negative", "extended_nonpositive")


def admissible(value: Any, assumptions: dict) -> bool:
    """Whether a number satisfies every assumption (SymPy decides each ``is_<key>`` of a number)."""
    for key, want in assumptions.items():
        got = getattr(value, f"is_{key}", None)
        if got is None or bool(got) != want:
            return False
    return True


def _candidate(assumptions: dict, rng: random.Random) -> Any:
    def rational() -> Any:
        return sympy.Rational(rng.randint(-30, 30), rng.randint(1, 9))

    if assumptions.get("zero"):
        return sympy.Integer(0)
    if rng.random() < 0.3:  # kinks and poles live at small special values: 0 (x2), +-1, 1/2, -2
        value: Any = rng.choice(_SPECIAL)
    elif any(assumptions.get(k) for k in _INTEGER):
        value = sympy.Integer(rng.randint(-12, 12))
    elif any(assumptions.get(k) for k in _REAL):
        value = rational()
    else:
        value = rational() + sympy.I * rational()
    if value.is_real and any(assumptions.get(k) for k in _UP):
        value = abs(value)
    if value.is_real and any(assumptions.get(k) for k in _DOWN):
        value = -abs(value)
    return value


def draw_value(assumptions: dict, rng: random.Random, what: str = "a symbol") -> Any:
    """A random exact number that satisfies ``assumptions`` (a ``Symbol.assumptions0`` dict)."""
    for _ in range(200):
        value = _candidate(assumptions, rng)
        if admissible(value, assumptions):
            return value
    wanted = sorted(k for k, v in assumptions.items() if v)
    raise NotExplicit(f"no admissible random value for {what} with assumptions {wanted}")


def draw_index(symbol: Any, m: int, rng: random.Random, batch: dict | None = None) -> Any:
    """A random integer in ``1..m`` for a free index (within an ``Idx``'s own bounds when it has them;
    ``batch`` maps the batch-size symbols to ``m`` in those bounds).

    >>> int(draw_index(sympy.Symbol("k", integer=True), 1, random.Random(0)))
    1
    """
    lo, hi = 1, m
    if isinstance(symbol, sympy.Idx) and symbol.lower is not None:
        bounds = [sympy.sympify(b).xreplace(batch or {}) for b in (symbol.lower, symbol.upper)]
        if all(b.is_Integer for b in bounds):
            lo, hi = int(bounds[0]), int(bounds[1])
    if hi < lo:
        raise NotExplicit(f"the index {symbol} has an empty range {lo}..{hi}")
    value = sympy.Integer(rng.randint(lo, hi))
    if not admissible(value, getattr(symbol, "assumptions0", {})):
        raise NotExplicit(f"the index {symbol} cannot take the batch positions 1..{m}")
    return value


def random_polynomial(nargs: int, rng: random.Random) -> sympy.Lambda:
    """A random polynomial with rational coefficients (degree 3, or 2 in more than 3 variables), to stand
    for an undefined function in numeric checks.

    >>> random_polynomial(1, random.Random(1)).nargs
    {1}
    """
    xs = sympy.symbols(f"x0:{nargs}", cls=sympy.Dummy)
    degree = 3 if nargs <= 3 else 2
    monomials = sorted(sympy.itermonomials(list(xs), degree), key=sympy.default_sort_key)
    coefficients = [sympy.Rational(rng.randint(-9, 9), rng.randint(1, 5)) for _ in monomials]
    return sympy.Lambda(xs, sympy.Add(*[c * t for c, t in zip(coefficients, monomials, strict=False)]))
