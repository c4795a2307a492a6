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
lower ``r``'s exponent below ``q``, and ``(c P)**(1/q) = c**(1/q) P**(1/q)`` for a rational ``c > 0``.
The inverse of a polynomial ``P`` is an atom ``w`` (one per rational multiple of ``P``); the difference is
multiplied by the powers of each ``P`` it needs, ``w**k P**n = P**(n-k)``, which is exact wherever the
denominators do not vanish. A zero after expansion is then an identity wherever both sides are defined.
A nonzero rational function of independent, non-integer leaf variables is a counterexample on a dense set
("fail", assuming the hypotheses leave an open set of values); anything else nonzero is undecided here
("not expressible").

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

__all__ = ["exact_zero", "exact_number", "MAX_TERMS"]

MAX_TERMS = 20_000  #: an explicit difference whose expansion may have more terms is not sent to SymEngine
MAX_EXPANDED_TERMS = 100_000  #: an expanded sum with more terms is not reduced further
MAX_EXPANDED_POWER = 24  #: ``(a + b)**n`` with a larger ``n`` is not expanded


class _TooLarge(Exception):
    pass


def _canonical(expanded: Any, positive: bool = False) -> tuple[Any, Any]:
    """``(c, P)`` with ``expanded = c * P``, ``c`` a rational and ``P``'s first coefficient (in a fixed order)
    1, or ``±1`` with ``c > 0`` when ``positive``: one name for every rational multiple of a polynomial."""
    if not isinstance(expanded, se.Add):
        return se.Integer(1), expanded
    coefficients = {t: se.sympify(c) for t, c in expanded.as_coefficients_dict().items() if c != 0}
    first = coefficients[min(coefficients, key=str)]
    if not isinstance(first, _SeRational) or first == 0:
        return se.Integer(1), expanded
    if positive and first < 0:
        first = -first
    primitive = reduce(operator.add, (c / first * t for t, c in coefficients.items()))
    return first, primitive


class _Converter:
    """SymPy -> SymEngine with rational arithmetic only. Leaves become symbols ``v<n>``; the inverse of a
    polynomial ``P`` an atom ``w<n>`` (``w P = 1``, in :attr:`inverses`); a radical ``P**(1/q)`` an atom
    ``r<n>`` (``r**q = P``, in :attr:`rules`); every other non-rational part an opaque atom ``a<n>``.
    ``plain=True`` keeps negative powers as they are (for evaluation at a point)."""

    def __init__(self, plain: bool = False) -> None:
        self.plain = plain
        self.leaves: dict = {}  # sympy leaf -> se.Symbol
        self.atoms: dict = {}  # sympy non-rational subexpression -> se.Symbol
        self.radicals: dict = {}  # (P, q) -> se.Symbol
        self.rules: dict = {}  # radical se.Symbol -> (q, P)
        self.inverses: dict = {}  # inverse se.Symbol -> P
        self._inverse_of: dict = {}  # P -> inverse se.Symbol
        self._memo: dict = {}  # sympy node -> its conversion (explicit expressions share subtrees)
        self._canonical: dict = {}  # (se expression, positive) -> _canonical(expand(expression))

    def symbol(self, table: dict, key: Any, prefix: str) -> Any:
        if key not in table:
            table[key] = se.Symbol(f"{prefix}{len(table)}")
        return table[key]

    def __call__(self, e: Any) -> Any:
        if e not in self._memo:
            self._memo[e] = self.convert(e)
        return self._memo[e]

    def canonical(self, base: Any, positive: bool = False) -> tuple[Any, Any]:
        key = (base, positive)
        if key not in self._canonical:
            self._canonical[key] = _canonical(se.expand(base), positive)
        return self._canonical[key]

    def convert(self, e: Any) -> Any:
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
            p, q = int(e.exp.p), int(e.exp.q)
            if abs(p) > MAX_EXPANDED_POWER * q and isinstance(e.base, sympy.Add):
                raise _TooLarge
            base = self(e.base)
            return self.power(base, p) if q == 1 else self.radical(base, p, q)
        return self.symbol(self.atoms, e, "a")

    def power(self, base: Any, n: int) -> Any:
        """``base**n``; for ``n < 0`` and a sum, ``c**n * w**-n`` with the inverse atom ``w`` of ``P``."""
        if n >= 0 or self.plain:
            return base**n
        c, primitive = self.canonical(base)
        if not isinstance(primitive, se.Add):
            return base**n
        if primitive not in self._inverse_of:
            self._inverse_of[primitive] = se.Symbol(f"w{len(self.inverses)}")
            self.inverses[self._inverse_of[primitive]] = primitive
        return c**n * self._inverse_of[primitive] ** (-n)

    def radical(self, base: Any, p: int, q: int) -> Any:
        """``base**(p/q)`` as ``r**rest * base**whole`` for the atom ``r = base**(1/q)`` (``r**q = base``).
        A rational factor ``c > 0`` splits off (``(c P)**(1/q) = c**(1/q) P**(1/q)``), and a positive
        integer into its primes, so equal radicals get equal atoms."""
        if isinstance(base, _SeRational) and base > 0:
            n, d = sympy.Rational(str(base)).as_numer_denom()
            if d != 1:
                return self.radical(se.Integer(int(n)), p, q) * self.radical(se.Integer(int(d)), -p, q)
            if 1 < n < 10**12:
                factors = sympy.factorint(int(n))
                if len(factors) > 1 or max(factors.values()) > 1:
                    return reduce(operator.mul, (self.radical(se.Integer(f), p * k, q) for f, k in factors.items()))
            if n == 1:
                return se.Integer(1)
        elif not isinstance(base, se.Number):
            c, primitive = self.canonical(base, positive=True)
            if c != 1:
                return self.radical(c, p, q) * self.radical(primitive, p, q)
            base = primitive
        root = self.symbol(self.radicals, (base, q), "r")
        self.rules.setdefault(root, (q, base))
        whole, rest = divmod(p, q)  # b**(p/q) = r**rest * b**whole
        return root**rest * self.power(base, whole)


def _terms(expr: Any) -> tuple:
    return expr.args if isinstance(expr, se.Add) else (expr,)


def _factors(term: Any) -> list:
    """``[(base, integer exponent)]`` of a monomial."""
    out = []
    for f in term.args if isinstance(term, se.Mul) else (term,):
        base, exponent = f.args if isinstance(f, se.Pow) else (f, se.Integer(1))
        out.append((base, int(exponent) if isinstance(exponent, se.Integer) else None, f))
    return out


def _lower(expr: Any, converter: _Converter) -> tuple[Any, bool]:
    """Every ``r**e`` with ``e >= q`` as ``r**(e mod q) * P**(e div q)``, in an expanded sum."""
    changed, terms = False, []
    for term in _terms(expr):
        product = se.Integer(1)
        for base, exponent, factor in _factors(term):
            if base in converter.rules and exponent is not None and exponent >= converter.rules[base][0]:
                q, radicand = converter.rules[base]
                whole, rest = divmod(exponent, q)
                product, changed = product * base**rest * converter.power(radicand, whole), True
            else:
                product = product * factor
        terms.append(product)
    return reduce(operator.add, terms), changed


def _clear(expr: Any, inverses: dict) -> tuple[Any, bool]:
    """``expr`` times ``Π P**n`` (``n`` the highest power of ``P``'s inverse atom ``w``): ``w**k`` becomes
    ``P**(n-k)``, exact wherever every ``P != 0``."""
    highest: dict = {}
    split = []
    for term in _terms(expr):
        factors = _factors(term)
        for base, exponent, _ in factors:
            if base in inverses and exponent is not None:
                highest[base] = max(highest.get(base, 0), exponent)
        split.append(factors)
    if not highest:
        return expr, False
    terms = []
    for factors in split:
        product = se.Integer(1)
        powers = dict.fromkeys(highest, 0)
        for base, exponent, factor in factors:
            if base in highest:
                powers[base] = exponent
            else:
                product = product * factor
        for w, n in highest.items():
            product = product * inverses[w] ** (n - powers[w])
        terms.append(product)
    return reduce(operator.add, terms), True


def _is_zero(d: Any, converter: _Converter) -> bool:
    """Whether rational arithmetic reduces ``d`` to 0: expand; lower radical powers; clear the inverses."""
    expanded = se.expand(d)
    for _ in range(8):
        if expanded == 0:
            return True
        if isinstance(expanded, se.Add) and len(expanded.args) > MAX_EXPANDED_TERMS:
            return False
        lowered, changed = _lower(expanded, converter)
        if not changed:
            lowered, changed = _clear(expanded, converter.inverses)
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


EXACT_SECONDS = 20  # wall-clock budget of one exact check (main thread only); beyond it: "not expressible"


class _OutOfTime(Exception):
    pass


def exact_zero(lhs: Any, rhs: Any, independent: bool = True) -> tuple[str, str]:
    """``("pass" | "fail" | "not expressible", note)`` for ``lhs - rhs == 0`` (explicit SymPy expressions).

    ``independent=False`` (e.g. an equality hypothesis ties the variables) never reports "fail". One check
    gets :data:`EXACT_SECONDS` of wall-clock time (when it runs on the main thread).
    """
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        return _exact_zero(lhs, rhs, independent)

    def stop(signum, frame):
        raise _OutOfTime

    previous = signal.signal(signal.SIGALRM, stop)
    signal.setitimer(signal.ITIMER_REAL, EXACT_SECONDS)
    try:
        return _exact_zero(lhs, rhs, independent)
    except _OutOfTime:
        return "not expressible", f"SymEngine did not finish within {EXACT_SECONDS} s"
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _exact_zero(lhs: Any, rhs: Any, independent: bool = True) -> tuple[str, str]:
    difference = lhs - rhs
    if _size(difference, {}) > MAX_TERMS:
        return "not expressible", f"its expansion may have more than {MAX_TERMS} terms"
    converter = _Converter()
    try:
        d = converter(difference)
    except _TooLarge:
        return "not expressible", f"a power above {MAX_EXPANDED_POWER} of a sum"
    if _is_zero(d, converter):
        return "pass", ""
    leaves_free = not converter.atoms and not converter.radicals
    integer_leaves = [str(v) for v in converter.leaves if v.is_integer]
    if leaves_free and independent and not integer_leaves:
        return "fail", "a nonzero rational function of the variables"
    kinds = [str(a) for a in list(converter.atoms)[:3]] + [f"({b})**(1/{q})" for b, q in list(converter.radicals)[:3]]
    kinds = [k if len(k) < 80 else k[:77] + "..." for k in kinds]
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
    converter = _Converter(plain=True)
    try:
        d = converter(lhs - rhs)
        substitution = {}
        for leaf, symbol in converter.leaves.items():
            value = _Converter(plain=True)(sympy.sympify(values[leaf])) if leaf in values else None
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
