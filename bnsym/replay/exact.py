"""The exact check with a second engine, SymEngine: is ``lhs - rhs`` zero as a rational function?

Why SymEngine rather than python-flint: SymEngine shares SymPy's expression model (``Add``, ``Mul``,
``Pow``, symbols, functions), so an explicit SymPy expression maps onto it node by node, with any
non-rational part (a radical, ``Abs``, ``exp``, an unevaluated derivative) kept as an opaque atom; its
``expand`` and ``as_numer_denom`` normalise multivariate rational functions in C++, independently of
SymPy's own simplifier. python-flint's exact multivariate polynomials would need every step translated into
a fixed polynomial ring by hand, and it has no way to express radicals or functions at all.

Soundness: SymEngine is given only rational arithmetic. It would rewrite radicals on its own (it turns
``(1/x)**(1/2)`` into ``x**(-1/2)``, false at ``x = -1``), so every power ``b**(p/q)`` is replaced by
``r**p`` for an atom ``r`` standing for ``b**(1/q)``, using only ``r**q = b`` (true for every ``b``) to
lower ``r``'s exponent below ``q``, and ``(c w)**(1/q) = c**(1/q) w**(1/q)`` for a rational ``c > 0``. A zero after expansion is then an identity wherever both sides are
defined. A nonzero rational function of independent, non-integer leaf variables is a counterexample on a
dense set ("fail"); anything else nonzero is undecided here ("not expressible").

>>> import sympy
>>> x, y = sympy.symbols("x y", real=True)
>>> exact_zero((x**2 - y**2) / (x - y), x + y)
('pass', '')
>>> exact_zero(sympy.sqrt(x) * sympy.sqrt(x), x)[0]
'pass'
>>> exact_zero(x * (x + 1), x**2)[0]
'fail'
>>> w = sympy.Symbol("w")  # complex: |w|**2 = w**2 is false for w = i
>>> exact_zero(sympy.Abs(w) ** 2, w**2)[0]
'not expressible'
"""
from __future__ import annotations

import operator
from functools import reduce
from typing import Any

import sympy

from ..errors import MissingDependencyError

try:
    import symengine as se
    from symengine.lib.symengine_wrapper import Complex as _SeComplex, Rational as _SeRational
except ImportError:  # pragma: no cover - the replay extra installs it
    raise MissingDependencyError("bnsym.replay needs SymEngine: pip install bnsym[replay]") from None

__all__ = ["exact_zero", "MAX_NODES"]

MAX_NODES = 200_000  #: larger explicit differences are not sent to SymEngine
MAX_TERMS = 200_000  #: nor those whose expansion may have more terms
MAX_COMMON_DENOMINATOR = 5_000  #: an expanded sum with more terms is not put over a common denominator
MAX_EXPANDED_POWER = 24  #: ``(a + b)**n`` with a larger ``n`` is not expanded


class _TooLarge(Exception):
    pass


class _Converter:
    """SymPy -> SymEngine, rational arithmetic only: leaves become symbols ``v<n>``, radicals ``r<n>``
    (with ``r**q = b`` recorded in :attr:`rules`), every other non-rational part an opaque atom ``a<n>``."""

    def __init__(self) -> None:
        self.leaves: dict = {}  # sympy leaf -> se.Symbol
        self.atoms: dict = {}  # sympy non-rational subexpression -> se.Symbol
        self.radicals: dict = {}  # (base, q) -> se.Symbol
        self.rules: dict = {}  # radical se.Symbol -> (q, se base)

    def symbol(self, table: dict, key: Any, prefix: str) -> Any:
        if key not in table:
            table[key] = se.Symbol(f"{prefix}{len(table)}")
        return table[key]

    def __call__(self, e: Any) -> Any:
        if e.is_Integer:
            return se.Integer(int(e))
        if e.is_Rational:
            return se.Rational(int(e.p), int(e.q))
        if e is sympy.I:
            return se.I
        if isinstance(e, (sympy.Symbol, sympy.Indexed)):
            return self.symbol(self.leaves, e, "v")
        if isinstance(e, sympy.Add):
            return reduce(operator.add, (self(a) for a in e.args))
        if isinstance(e, sympy.Mul):
            return reduce(operator.mul, (self(a) for a in e.args))
        if isinstance(e, sympy.Pow) and e.exp.is_Rational:
            if e.exp.q == 1:
                if abs(e.exp.p) > MAX_EXPANDED_POWER and isinstance(e.base, sympy.Add):
                    raise _TooLarge
                return self(e.base) ** int(e.exp.p)
            return self.radical(e.base, int(e.exp.p), int(e.exp.q))
        return self.symbol(self.atoms, e, "a")

    def radical(self, base: Any, p: int, q: int) -> Any:
        """``base**(p/q)`` as ``r**rest * base**whole`` for ``r = base**(1/q)``, ``r**q = base``.

        A positive rational content ``c`` of ``base`` is split off (``(c w)**(1/q) = c**(1/q) w**(1/q)``
        for ``c > 0``), and an integer base into its primes, so equal radicals get equal atoms."""
        if base.is_Integer and 1 < base < 10**12:
            factors = sympy.factorint(int(base))
            if len(factors) > 1 or max(factors.values()) > 1:
                return reduce(operator.mul, (self.radical(sympy.Integer(f), p * k, q) for f, k in factors.items()))
        elif not base.is_Number:
            content, primitive = base.as_content_primitive()
            if content.is_Rational and content > 0 and content != 1:
                return self(sympy.Pow(content, sympy.Rational(p, q))) * self.radical(primitive, p, q)
        root = self.symbol(self.radicals, (base, q), "r")
        self.rules.setdefault(root, (q, self(base)))
        whole, rest = divmod(p, q)  # b**(p/q) = r**rest * b**whole
        return root**rest * self(base) ** whole


def _lower(expr: Any, rules: dict) -> tuple[Any, bool]:
    """Lower every ``r**e`` with ``e >= q`` to ``r**(e mod q) * b**(e div q)`` in an expanded sum."""
    changed = False

    def factor(f: Any) -> Any:
        nonlocal changed
        base, exponent = f.args if isinstance(f, se.Pow) else (f, se.Integer(1))
        if base in rules and isinstance(exponent, se.Integer) and int(exponent) >= rules[base][0]:
            q, b = rules[base]
            changed = True
            whole, rest = divmod(int(exponent), q)
            return base**rest * b**whole
        return f

    terms = expr.args if isinstance(expr, se.Add) else (expr,)
    lowered = [reduce(operator.mul, (factor(f) for f in (t.args if isinstance(t, se.Mul) else (t,)))) for t in terms]
    return reduce(operator.add, lowered), changed


def _is_zero(d: Any, rules: dict) -> bool:
    """Whether SymPy-free rational arithmetic, with the radical rules, reduces ``d`` to 0."""
    expanded = se.expand(d)
    for _ in range(6):
        if expanded == 0:
            return True
        if isinstance(expanded, se.Add) and len(expanded.args) > MAX_COMMON_DENOMINATOR:
            return False
        numerator, _ = expanded.as_numer_denom()
        numerator = se.expand(numerator)
        if numerator == 0:
            return True
        lowered, changed = _lower(numerator, rules)
        if not changed:
            return False
        expanded = se.expand(lowered)
    return False


def _size(e: Any, memo: dict) -> int:
    """An upper bound (capped) on the terms that expanding ``e`` produces, a negative power counting as one
    factor (``expand`` keeps it as such); SymEngine is not asked to expand more than :data:`MAX_TERMS`."""
    if e in memo:
        return memo[e]
    cap = 10 * MAX_TERMS
    size = 1
    if isinstance(e, sympy.Add):
        size = min(cap, sum(_size(a, memo) for a in e.args))
    elif isinstance(e, sympy.Mul):
        for a in e.args:
            size = min(cap, size * _size(a, memo))
    elif isinstance(e, sympy.Pow) and e.exp.is_Integer and e.exp > 0:
        base = _size(e.base, memo)
        size = min(cap, base ** int(e.exp)) if base > 1 else 1
    memo[e] = size
    return size


def exact_zero(lhs: Any, rhs: Any, independent: bool = True) -> tuple[str, str]:
    """``("pass" | "fail" | "not expressible", note)`` for ``lhs - rhs == 0`` (explicit SymPy expressions).

    ``independent=False`` (e.g. an equality hypothesis ties the variables) never reports "fail".
    """
    difference = lhs - rhs
    if sum(1 for _ in sympy.preorder_traversal(difference)) > MAX_NODES:
        return "not expressible", f"more than {MAX_NODES} nodes"
    if _size(difference, {}) > MAX_TERMS:
        return "not expressible", f"its expansion may have more than {MAX_TERMS} terms"
    converter = _Converter()
    try:
        d = converter(difference)
    except _TooLarge:
        return "not expressible", f"a power above {MAX_EXPANDED_POWER} of a sum"
    if _is_zero(d, converter.rules):
        return "pass", ""
    leaves_free = not converter.atoms and not converter.radicals
    integer_leaves = [str(v) for v in converter.leaves if v.is_integer]
    if leaves_free and independent and not integer_leaves:
        return "fail", "a nonzero rational function of the variables"
    kinds = [str(a) for a in list(converter.atoms)[:3]] + [f"({b})**(1/{q})" for b, q in list(converter.radicals)[:3]]
    return "not expressible", "SymEngine did not reduce the difference to 0" + (
        f"; it treats {', '.join(kinds)} as independent atoms" if kinds else "")


def exact_number(lhs: Any, rhs: Any, values: dict) -> tuple[str, str]:
    """At a witness: ``"pass"`` if ``lhs - rhs`` is a nonzero exact (Gaussian) rational at ``values`` (leaf ->
    number), ``"fail"`` if it is 0, computed by SymEngine on the rational function; otherwise not expressible.

    >>> x = sympy.Symbol("x")
    >>> exact_number(x**2, x, {x: sympy.Integer(2)}), exact_number(x**2, x, {x: sympy.Integer(1)})
    (('pass', ''), ('fail', 'lhs = rhs at the witness'))
    >>> exact_number(sympy.sqrt(x), x, {x: sympy.Integer(2)})[0]
    'not expressible'
    """
    converter = _Converter()
    try:
        d = converter(lhs - rhs)
        substitution = {}
        for leaf, symbol in converter.leaves.items():
            value = _Converter()(sympy.sympify(values[leaf])) if leaf in values else None
            if value is None or not isinstance(value, se.Number):
                return "not expressible", f"{leaf} has no rational value at the witness"
            substitution[symbol] = value
    except _TooLarge:
        return "not expressible", "too large"
    if converter.atoms or converter.radicals:
        return "not expressible", "the difference at the witness is not a rational number"
    d = se.expand(d.subs(substitution))
    if not isinstance(d, (_SeRational, _SeComplex)):
        return "not expressible", f"the difference at the witness is {d}"
    return ("fail", "lhs = rhs at the witness") if d == 0 else ("pass", "")
