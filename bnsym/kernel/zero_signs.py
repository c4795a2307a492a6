"""Structural sign facts for the zero decision: is an expression real, nonnegative, positive?

The rules only combine what is certain: symbol assumptions, the caller's facts (``positive`` /
``nonnegative`` expressions), and the sign rules of sums, products, powers and a few functions
(``|u|``, ``ReLU``, ``ReLU'``, ``sigmoid``, ``exp``, sums over a batch of nonnegative terms). No
expansion, no factoring: a sum of squares of real terms times positive constants is nonnegative as
written. A :class:`Sign` also records whether a fact was used (then it holds on the admissible domain
only, which :mod:`bnsym.kernel.zero` needs to know before it moves factors out of a radicand).

>>> import sympy
>>> x, y = sympy.symbols("x y", real=True)
>>> signs = Signs()
>>> signs.of((x - y) ** 2 / 3 + sympy.Rational(1, 100))
Sign(real=True, sign=2, nonzero=True, from_facts=False)
>>> signs.of(sympy.sqrt(x)).real, Signs(nonnegative=[x]).of(sympy.sqrt(x))
(False, Sign(real=True, sign=1, nonzero=False, from_facts=True))
"""
from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Iterable

import sympy
from sympy import Expr

from ..functions import ReLU, ReLUPrime, Sigmoid

__all__ = ["Sign", "Signs", "UNKNOWN"]


@dataclass(frozen=True)
class Sign:
    """``sign``: 2 means > 0, 1 means ≥ 0, -1 means ≤ 0, -2 means < 0, 0 unknown (on the admissible domain)."""

    real: bool
    sign: int = 0
    nonzero: bool = False
    from_facts: bool = False

    @property
    def nonnegative(self) -> bool:
        return self.real and self.sign > 0

    @property
    def nonpositive(self) -> bool:
        return self.real and self.sign < 0


UNKNOWN = Sign(False)
_REAL = Sign(True)


def _number(value: Expr) -> Sign:
    if value.is_real is not True:
        return UNKNOWN
    if value.is_zero:
        return Sign(True, 1, False)
    positive = value.is_positive
    if positive is None:
        return _REAL
    return Sign(True, 2 if positive else -2, True)


def _atom(value: Expr) -> Sign:
    """A symbol, an indexed entry or an opaque object: SymPy's assumptions on it (no evaluation)."""
    if value.is_real is not True:
        return UNKNOWN
    nonzero = value.is_nonzero is True
    if value.is_positive:
        return Sign(True, 2, True)
    if value.is_negative:
        return Sign(True, -2, True)
    if value.is_nonnegative:
        return Sign(True, 1, nonzero)
    if value.is_nonpositive:
        return Sign(True, -1, nonzero)
    return Sign(True, 0, nonzero)


def _product(signs: list[Sign]) -> Sign:
    facts = any(s.from_facts for s in signs)
    if not all(s.real for s in signs):
        return Sign(False, from_facts=facts)
    nonzero = all(s.nonzero for s in signs)
    if any(s.sign == 0 for s in signs):
        return Sign(True, 0, nonzero, facts)
    negative = sum(1 for s in signs if s.sign < 0) % 2
    strict = all(abs(s.sign) == 2 for s in signs)
    return Sign(True, (2 if strict else 1) * (-1 if negative else 1), nonzero, facts)


def _sum(signs: list[Sign]) -> Sign:
    facts = any(s.from_facts for s in signs)
    if not all(s.real for s in signs):
        return Sign(False, from_facts=facts)
    for direction in (1, -1):
        if all(s.sign * direction > 0 for s in signs):
            strict = any(abs(s.sign) == 2 for s in signs)
            return Sign(True, direction * (2 if strict else 1), strict, facts)
    return Sign(True, 0, False, facts)


class Signs:
    """Sign facts of expressions, memoized, under the caller's ``positive`` and ``nonnegative`` facts.

    >>> z = sympy.Symbol("z", real=True)
    >>> Signs().of(ReLU(z) + sympy.Abs(z)).sign, Signs().of(z * sympy.exp(z)).sign
    (1, 0)
    """

    def __init__(self, positive: Iterable[Expr] = (), nonnegative: Iterable[Expr] = ()):
        self.facts: dict[Expr, Sign] = {}
        for fact in nonnegative:
            self.facts[fact] = Sign(True, 1, False, True)
        for fact in positive:
            self.facts[fact] = Sign(True, 2, True, True)
        self._memo: dict[Expr, Sign] = {}

    def of(self, expr: Expr) -> Sign:
        """The :class:`Sign` of ``expr`` (``UNKNOWN`` when nothing is certain)."""
        found = self._memo.get(expr)
        if found is None:
            try:
                found = self._compute(expr)
            except RecursionError:  # pragma: no cover - pathologically deep input
                found = UNKNOWN
            self._memo[expr] = found
        return found

    def _compute(self, e: Expr) -> Sign:
        structural = self._structural(e)
        fact = self.facts.get(e)
        if fact is None or (structural.real and abs(structural.sign) >= abs(fact.sign) and structural.sign > 0):
            return structural
        return fact

    def _structural(self, e: Expr) -> Sign:
        if e.is_Number or e.is_NumberSymbol or e is sympy.I:
            return _number(e)
        if e.is_Symbol or isinstance(e, sympy.Indexed):
            return _atom(e)
        if e.is_Add:
            return _sum([self.of(a) for a in e.args])
        if e.is_Mul:
            return _product([self.of(a) for a in e.args])
        if e.is_Pow:
            return self._power(e.base, e.exp)
        if isinstance(e, sympy.Abs):
            inner = self.of(e.args[0])
            return Sign(True, 2 if inner.nonzero else 1, inner.nonzero, inner.from_facts)
        if isinstance(e, (ReLU, ReLUPrime, sympy.Heaviside)):
            inner = self.of(e.args[0])
            return Sign(True, 1, False, inner.from_facts) if inner.real else UNKNOWN
        if isinstance(e, (Sigmoid, sympy.exp)):
            inner = self.of(e.args[0])
            return Sign(True, 2, True, inner.from_facts) if inner.real else UNKNOWN
        if isinstance(e, sympy.sign):
            inner = self.of(e.args[0])
            return Sign(True, inner.sign, inner.nonzero, inner.from_facts) if inner.real else UNKNOWN
        if isinstance(e, sympy.Sum):
            return self._batch_sum(e)
        if isinstance(e, (sympy.Product, sympy.Derivative)):  # real when its parts are
            parts = [e.expr] + [v for v, _ in e.variable_count] if isinstance(e, sympy.Derivative) \
                else [e.function] + [b for limit in e.limits for b in limit[1:]]
            return _REAL if all(self.of(p).real for p in parts) else UNKNOWN
        return _atom(e) if not e.free_symbols or isinstance(e, sympy.Function) else UNKNOWN

    def _power(self, base: Expr, exponent: Expr) -> Sign:
        b = self.of(base)
        if exponent.is_Integer:
            if not b.real:
                return Sign(False, from_facts=b.from_facts)
            if exponent % 2 == 0:
                return Sign(True, 2 if b.nonzero or exponent < 0 else 1, b.nonzero or exponent < 0, b.from_facts)
            if b.sign == 0:
                return Sign(True, 0, b.nonzero or exponent < 0, b.from_facts)
            strict = abs(b.sign) == 2 or exponent < 0
            return Sign(True, (2 if strict else 1) * (1 if b.sign > 0 else -1), strict, b.from_facts)
        if b.nonnegative and (exponent.is_Rational or self.of(exponent).real):
            strict = b.sign == 2
            return Sign(True, 2 if strict else 1, strict, b.from_facts)
        return Sign(False, from_facts=b.from_facts)

    def _batch_sum(self, e: sympy.Sum) -> Sign:
        """``Σ_{i=a..b} f``: real when ``f`` is; ``≥ 0`` when ``f ≥ 0`` and ``b − a + 1 ≥ 0`` (no Karr reversal)."""
        term = self.of(e.function)
        limits_real = all(self.of(lo).real and self.of(hi).real for _, lo, hi in e.limits)
        if not (term.real and limits_real and len(e.limits) == 1):
            return Sign(bool(term.real and limits_real), from_facts=term.from_facts)
        _, lo, hi = e.limits[0]
        count = self.of(hi - lo + 1)
        if term.sign > 0 and count.sign > 0:
            return Sign(True, 1, False, term.from_facts or count.from_facts)
        return Sign(True, 0, False, term.from_facts or count.from_facts)
