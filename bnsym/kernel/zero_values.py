"""Rigorous values at exact points: exact complex rationals while possible, :mod:`mpmath.iv` enclosures after.

A value is ``("q", re, im)`` with two :class:`fractions.Fraction`, or ``("i", re, im)`` with two intervals
(outward rounding: the true value lies inside). Discontinuous functions (``sign``, ``Heaviside``, ``ReLU'``,
``Mod``…) are evaluated only where their argument is exact or bounded away from the jump; roots and ``arg``
only away from the branch cut. Objects without a value at a point (a ``Sum`` over a symbolic ``m``, a
derivative, an undefined function) raise :class:`NotEvaluable`.

>>> import sympy
>>> x = sympy.Symbol("x", real=True)
>>> evaluate(sympy.Abs(sympy.sqrt(x)) ** 2 - x, {x: sympy.Integer(-4)})
('q', Fraction(8, 1), Fraction(0, 1))
>>> nonzero(evaluate(sympy.sign(sympy.sqrt(2) - sympy.Rational(141, 100)), {}))
True
"""
from __future__ import annotations

import math
from fractions import Fraction
from collections.abc import Callable, Iterator

import mpmath
import sympy
from sympy import Expr

from ..functions import ReLU, ReLUPrime, Sigmoid

__all__ = ["NotEvaluable", "postorder", "evaluate", "nonzero", "certified", "evaluable", "value_children"]

iv = mpmath.iv
EXACT_BITS = 4096  # exact rationals larger than this are enclosed in intervals instead


class NotEvaluable(Exception):
    """The expression has an object without a value at a point (no witness can be given)."""


class _Skip(Exception):
    """This point does not serve: the expression is undefined there, or the enclosure is too wide."""


def postorder(expr: Expr, children: Callable[[Expr], tuple]) -> Iterator[Expr]:
    """Each distinct subexpression once, children before parents (iterative: no recursion limit).

    >>> x = sympy.Symbol("x")
    >>> list(postorder(x + 1, lambda e: e.args))
    [1, x, x + 1]
    """
    seen: set = set()
    stack = [(expr, False)]
    while stack:
        node, expanded = stack.pop()
        if node in seen:
            continue
        if expanded:
            seen.add(node)
            yield node
            continue
        stack.append((node, True))
        stack.extend((child, False) for child in reversed(children(node)) if child not in seen)


# -- values: ("q", re, im) exact Fractions, or ("i", re, im) mpmath intervals ------------------------------

_ZERO_Q = ("q", Fraction(0), Fraction(0))


def _iv(x: Fraction):
    return iv.mpf(x.numerator) / iv.mpf(x.denominator)


def _enclose(v):
    return v if v[0] == "i" else ("i", _iv(v[1]), _iv(v[2]))


def _exact(re, im=Fraction(0)):
    if max(abs(re.numerator), re.denominator, abs(im.numerator), im.denominator).bit_length() > EXACT_BITS:
        return _enclose(("q", re, im))
    return ("q", re, im)


def _is_real(v) -> bool:
    return v[2] == 0 if v[0] == "q" else (v[2].a == 0 and v[2].b == 0)


def _add(a, b):
    if a[0] == b[0] == "q":
        return _exact(a[1] + b[1], a[2] + b[2])
    a, b = _enclose(a), _enclose(b)
    return ("i", a[1] + b[1], a[2] + b[2])


def _mul(a, b):
    if a[0] == b[0] == "q":
        return _exact(a[1] * b[1] - a[2] * b[2], a[1] * b[2] + a[2] * b[1])
    a, b = _enclose(a), _enclose(b)
    return ("i", a[1] * b[1] - a[2] * b[2], a[1] * b[2] + a[2] * b[1])


def _inv(a):
    if a[0] == "q":
        d = a[1] ** 2 + a[2] ** 2
        if d == 0:
            raise _Skip("division by zero")
        return _exact(a[1] / d, -a[2] / d)
    d = a[1] ** 2 + a[2] ** 2
    if not d.a > 0:
        raise _Skip("divisor not bounded away from 0")
    return ("i", a[1] / d, -a[2] / d)


def _power(a, n: int):
    if n < 0:
        return _inv(_power(a, -n))
    if a[0] == "q" and n * max(abs(a[1].numerator), a[1].denominator, abs(a[2].numerator), a[2].denominator,
                               2).bit_length() > EXACT_BITS:
        a = _enclose(a)  # the exact power would be huge: bound it instead
    result, base = ("q", Fraction(1), Fraction(0)), a
    while n:
        if n & 1:
            result = _mul(result, base)
        n >>= 1
        if n:
            base = _mul(base, base)
    return result


def _real_part(v, what: str):
    if not _is_real(v):
        raise _Skip(f"{what} of a non-real value")
    return v[1]


def _sign_of(x) -> int:
    """-1, 0 or 1 for an exact Fraction or an interval bounded away from 0."""
    if isinstance(x, Fraction):
        return (x > 0) - (x < 0)
    if x.a > 0:
        return 1
    if x.b < 0:
        return -1
    raise _Skip("sign not certified")


def _iroot(x: Fraction, q: int) -> Fraction | None:
    """The exact ``q``-th root of ``x ≥ 0`` when it is rational."""
    num, num_exact = sympy.integer_nthroot(x.numerator, q)
    den, den_exact = sympy.integer_nthroot(x.denominator, q)
    return Fraction(int(num), int(den)) if num_exact and den_exact else None


def _arg(a):
    """Principal argument as an interval (branch cut on the negative real axis: refused nearby)."""
    a = _enclose(a)
    re, im = a[1], a[2]
    one = iv.mpf(1)
    if re.a > 0:
        return iv.atan2(im / re, one)
    if im.a > 0:
        return iv.pi / 2 - iv.atan2(re / im, one)
    if im.b < 0:
        return -iv.pi / 2 - iv.atan2(re / im, one)
    if im.a == 0 and im.b == 0 and re.b < 0:
        return iv.pi
    raise _Skip("argument near the branch cut")


def _root(a, p: int, q: int):
    """Principal ``a^(p/q)``."""
    if a[0] == "q" and a[2] == 0:
        if a[1] == 0:
            if p <= 0:
                raise _Skip("0 to a negative power")
            return a
        r = _iroot(abs(a[1]), q)
        if r is not None and (a[1] > 0 or q == 2):
            value = ("q", r, Fraction(0)) if a[1] > 0 else ("q", Fraction(0), r)
            return _power(value, p)
    e = _enclose(a)
    if _is_real(e) and e[1].a > 0:
        return ("i", e[1] ** (iv.mpf(p) / q), iv.mpf(0))
    modulus = iv.sqrt(e[1] ** 2 + e[2] ** 2)
    if not modulus.a > 0:
        raise _Skip("root of a value not bounded away from 0")
    angle = _arg(e) * p / q
    size = iv.exp(iv.log(modulus) * p / q)
    return ("i", size * iv.cos(angle), size * iv.sin(angle))


def _abs(a):
    if a[0] == "q":
        if a[2] == 0 or a[1] == 0:
            return ("q", abs(a[1] + a[2]), Fraction(0))
        return _root(("q", a[1] ** 2 + a[2] ** 2, Fraction(0)), 1, 2)
    return ("i", iv.sqrt(a[1] ** 2 + a[2] ** 2), iv.mpf(0))


def _real_function(fn, exact=None):
    """A continuous real function: exact where ``exact`` knows the value, else the interval function."""
    def apply(v):
        x = _real_part(v, "a real function")
        if exact is not None and isinstance(x, Fraction):
            known = exact(x)
            if known is not None:
                return ("q", known, Fraction(0))
        return ("i", fn(_iv(x) if isinstance(x, Fraction) else x), iv.mpf(0))
    return apply


def _relu(v):
    x = _real_part(v, "ReLU")
    if isinstance(x, Fraction):
        return ("q", max(x, Fraction(0)), Fraction(0))
    return ("i", x if x.a >= 0 else (iv.mpf(0) if x.b <= 0 else iv.mpf([0, x.b])), iv.mpf(0))


def _relu_prime(v):
    """``ReLU'(x)``: 1 for ``x > 0``, 0 for ``x ≤ 0`` (PyTorch's convention at the kink)."""
    x = _real_part(v, "ReLU'")
    if isinstance(x, Fraction):
        return ("q", Fraction(1 if x > 0 else 0), Fraction(0))
    if x.b <= 0:
        return _ZERO_Q
    return ("q", Fraction(1 if _sign_of(x) > 0 else 0), Fraction(0))


def _heaviside(v, at_zero):
    x = _real_part(v, "Heaviside")
    if isinstance(x, Fraction) and x == 0:
        return at_zero
    return ("q", Fraction(1 if _sign_of(x) > 0 else 0), Fraction(0))


def _log(v):
    x = _real_part(v, "log")
    if _sign_of(x) <= 0:
        raise _Skip("log of a value <= 0")
    if isinstance(x, Fraction) and x == 1:
        return _ZERO_Q
    return ("i", iv.log(_iv(x) if isinstance(x, Fraction) else x), iv.mpf(0))


def _exp(v):
    if v[0] == "q" and v[1] == 0 and v[2] == 0:
        return ("q", Fraction(1), Fraction(0))
    e = _enclose(v)
    size = iv.exp(e[1])
    if _is_real(e):
        return ("i", size, iv.mpf(0))
    return ("i", size * iv.cos(e[2]), size * iv.sin(e[2]))


def _sign(v):
    if _is_real(v):
        return ("q", Fraction(_sign_of(v[1])), Fraction(0))
    return _mul(v, _inv(_abs(v)))


_UNARY = {
    ReLU: _relu,
    ReLUPrime: _relu_prime,
    Sigmoid: _real_function(lambda x: 1 / (1 + iv.exp(-x)), lambda x: Fraction(1, 2) if x == 0 else None),
    sympy.exp: _exp,
    sympy.Abs: _abs,
    sympy.sign: _sign,
    sympy.sin: _real_function(iv.sin, lambda x: Fraction(0) if x == 0 else None),
    sympy.cos: _real_function(iv.cos, lambda x: Fraction(1) if x == 0 else None),
    sympy.tanh: _real_function(lambda x: 1 - 2 / (iv.exp(2 * x) + 1), lambda x: Fraction(0) if x == 0 else None),
    sympy.log: _log,
    sympy.arg: lambda v: ("q", Fraction(0), Fraction(0)) if v[0] == "q" and v[2] == 0 and v[1] > 0
    else ("i", _arg(v), iv.mpf(0)),
    sympy.re: lambda v: (v[0], v[1], Fraction(0) if v[0] == "q" else iv.mpf(0)),
    sympy.im: lambda v: (v[0], v[2], Fraction(0) if v[0] == "q" else iv.mpf(0)),
    sympy.conjugate: lambda v: (v[0], v[1], -v[2]),
}


def _exact_real(v, what) -> Fraction:
    x = _real_part(v, what)
    if not isinstance(x, Fraction):
        raise _Skip(f"{what} of an inexact value")
    return x


def _node_value(node: Expr, values: dict, point: dict):
    if node in point:
        return point[node]
    if node.is_Rational:
        return ("q", Fraction(int(node.p), int(node.q)), Fraction(0))
    if node.is_Float:
        return ("q", Fraction(*sympy.Rational(node).as_numer_denom()), Fraction(0))
    if node is sympy.I:
        return ("q", Fraction(0), Fraction(1))
    if node is sympy.pi:
        return ("i", iv.pi, iv.mpf(0))
    if node is sympy.E:
        return ("i", iv.e, iv.mpf(0))
    if not (node.args and evaluable(node)):  # every branch below is for an evaluable node with arguments
        raise NotEvaluable(f"no value at a point for {type(node).__name__}")
    args = [values[a] for a in node.args]
    if node.is_Add:
        total = args[0]
        for a in args[1:]:
            total = _add(total, a)
        return total
    if node.is_Mul:
        total = args[0]
        for a in args[1:]:
            total = _mul(total, a)
        return total
    if node.is_Pow and node.exp.is_Rational:
        if node.exp.is_Integer:
            return _power(values[node.base], int(node.exp))
        return _root(values[node.base], int(node.exp.p), int(node.exp.q))
    if node.is_Pow:
        base, exponent = values[node.base], values[node.exp]
        if _is_real(base) and _is_real(exponent) and _sign_of(base[1]) > 0:
            b, e = _enclose(base), _enclose(exponent)
            return ("i", iv.exp(iv.log(b[1]) * e[1]), iv.mpf(0))
        raise _Skip("power with a symbolic exponent")
    if type(node) in _UNARY and len(args) == 1:
        return _UNARY[type(node)](args[0])
    if isinstance(node, sympy.Heaviside):
        return _heaviside(args[0], args[1])
    if isinstance(node, sympy.Mod):
        a, b = _exact_real(args[0], "Mod"), _exact_real(args[1], "Mod")
        if b == 0:
            raise _Skip("Mod by 0")
        return ("q", a % b, Fraction(0))
    if isinstance(node, (sympy.floor, sympy.ceiling)):
        x = _exact_real(args[0], "floor")
        return ("q", Fraction(math.floor(x) if isinstance(node, sympy.floor) else math.ceil(x)), Fraction(0))
    if isinstance(node, (sympy.Max, sympy.Min)) and all(a[0] == "q" and a[2] == 0 for a in args):
        pick = max if isinstance(node, sympy.Max) else min
        return ("q", pick(a[1] for a in args), Fraction(0))
    raise NotEvaluable(f"no value at a point for {type(node).__name__}")


_EVALUABLE = (sympy.Add, sympy.Mul, sympy.Pow, sympy.Heaviside, sympy.Mod, sympy.floor, sympy.ceiling, sympy.Max,
              sympy.Min) + tuple(_UNARY)


def evaluable(node: Expr) -> bool:
    return isinstance(node, _EVALUABLE)


def value_children(node: Expr) -> tuple:
    return node.args if evaluable(node) else ()


def evaluate(expr: Expr, point: dict):
    """``expr`` at ``point`` (atoms to sympy numbers): an exact ``("q", re, im)`` or an enclosure ``("i", re, im)``.

    Raises :class:`NotEvaluable` for an object without a value; ``ValueError`` where the point does not serve.

    >>> x = sympy.Symbol("x")
    >>> evaluate(sympy.sqrt(x) * 3, {x: sympy.Integer(-4)})
    ('q', Fraction(0, 1), Fraction(6, 1))
    """
    values_at = {atom: _number(value) for atom, value in point.items()}
    values: dict = {}
    try:
        for node in postorder(expr, value_children):
            values[node] = _node_value(node, values, values_at)
    except (_Skip, ZeroDivisionError, OverflowError) as error:
        raise ValueError(str(error)) from None
    return values[expr]


def _number(value: Expr):
    re, im = value.as_real_imag()
    return ("q", Fraction(int(re.p), int(re.q)), Fraction(int(im.p), int(im.q)))


def nonzero(v) -> bool:
    """Certified ``v ≠ 0``."""
    if v[0] == "q":
        return v[1] != 0 or v[2] != 0
    return not (v[1].a <= 0 <= v[1].b) or not (v[2].a <= 0 <= v[2].b)


def certified(v, strict: bool) -> bool:
    """Certified real and ``> 0`` (``strict``) or ``≥ 0``."""
    if not _is_real(v):
        return False
    x = v[1]
    if isinstance(x, Fraction):
        return x > 0 if strict else x >= 0
    return x.a > 0 if strict else x.a >= 0

