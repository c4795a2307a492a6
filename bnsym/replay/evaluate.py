"""Evaluate an explicit expression at a point with mpmath: 60-digit floats, or rigorous real intervals.

The evaluator walks the SymPy tree itself (no ``lambdify``, no generated code). Leaves (symbols, entries
``z[3]``) take their values from a dict of exact SymPy numbers. Division by zero, ``log 0``, a non-real
value where a real one is needed, or an infinity make the point :class:`Undefined`; a node it does not
know makes the step :class:`Unevaluable`. In interval mode a sign that the interval cannot decide is
:class:`Undefined` too, so a rigorous answer is never a guess.

>>> import sympy
>>> x = sympy.Symbol("x", positive=True)
>>> float(evaluate(sympy.sqrt(x) + 1 / x, {x: sympy.Integer(4)}))
2.25
>>> interval = evaluate(sympy.sqrt(x), {x: sympy.Integer(2)}, rigorous=True)
>>> 2 in interval ** 2 and interval.delta.b < 1e-55
True
"""
from __future__ import annotations

from typing import Any

import mpmath
import sympy
from mpmath.libmp import ComplexResult

from ..functions import ReLU, ReLUPrime, Sigmoid

__all__ = ["Undefined", "Unevaluable", "evaluate", "holds", "DPS"]

DPS = 60  #: working decimal digits (the checks compare to 50 digits and better)


class Undefined(Exception):
    """The expression has no (finite, decidable) value at this point."""


class Unevaluable(Exception):
    """The expression contains something the evaluator cannot compute."""


class _Evaluator:
    def __init__(self, values: dict, rigorous: bool):
        self.values = values
        self.rigorous = rigorous
        self.ctx = mpmath.iv if rigorous else mpmath.mp
        self.memo: dict = {}

    # --- numbers and comparisons ---------------------------------------------------------------
    def number(self, e: Any) -> Any:
        if e.is_Rational:
            return self.ctx.mpf(int(e.p)) / int(e.q)
        if e.is_Float:
            return self.ctx.mpf(mpmath.mpf(e._mpf_))
        if e is sympy.pi:
            return self.ctx.pi
        if e is sympy.E:
            return self.ctx.e
        if e is sympy.EulerGamma:
            return self.ctx.euler
        if e.is_number and e.is_finite:
            re, im = e.as_real_imag()
            if re.is_Rational and im.is_Rational:
                if self.rigorous:
                    raise Unevaluable("complex values in interval mode")
                return mpmath.mpc(self.number(re), self.number(im))
        raise Undefined(f"{e} is not a finite number")

    def real(self, v: Any) -> Any:
        if isinstance(v, mpmath.mpc):
            if abs(v.imag) > mpmath.mpf(10) ** (-DPS + 10) * max(1, abs(v)):
                raise Undefined("a non-real value where a real one is needed")
            return v.real
        return v

    def sign(self, v: Any) -> int:
        """-1, 0 or 1; in interval mode only when the interval decides it."""
        v = self.real(v)
        if self.rigorous:
            if v.a > 0:
                return 1
            if v.b < 0:
                return -1
            if v.a == 0 and v.b == 0:
                return 0
            raise Undefined("the interval does not decide a sign")
        return 1 if v > 0 else -1 if v < 0 else 0

    def finite(self, v: Any) -> Any:
        if self.rigorous:
            if not (mpmath.isfinite(v.a) and mpmath.isfinite(v.b)):
                raise Undefined("an unbounded interval")
        elif not mpmath.isfinite(v):
            raise Undefined("a non-finite value")
        return v

    # --- the walk ----------------------------------------------------------------------------------
    def __call__(self, e: Any) -> Any:
        if e in self.memo:
            return self.memo[e]
        try:
            value = self.finite(self.node(e))
        except (ZeroDivisionError, ComplexResult, ValueError, OverflowError) as error:
            raise Undefined(str(error) or type(error).__name__) from None
        self.memo[e] = value
        return value

    def node(self, e: Any) -> Any:
        ctx = self.ctx
        if e in self.values:
            return self.number(self.values[e])
        if e.is_Number or e.is_NumberSymbol or e is sympy.I:
            return self.number(e)
        if isinstance(e, (sympy.Symbol, sympy.Indexed)):
            raise Unevaluable(f"no value for {e}")
        if isinstance(e, sympy.Add):
            return sum((self(a) for a in e.args[1:]), self(e.args[0]))
        if isinstance(e, sympy.Mul):
            out = self(e.args[0])
            for a in e.args[1:]:
                out = out * self(a)
            return out
        if isinstance(e, sympy.Pow):
            return self.power(e.base, e.exp)
        if isinstance(e, sympy.exp):
            return ctx.exp(self(e.args[0]))
        if isinstance(e, sympy.log):
            x = self(e.args[0])
            if not self.rigorous and x == 0:
                raise Undefined("log 0")
            return ctx.log(x) if len(e.args) == 1 else ctx.log(x) / ctx.log(self(e.args[1]))
        if isinstance(e, sympy.Abs):
            return abs(self(e.args[0]))
        if isinstance(e, sympy.sign):
            x = self(e.args[0])
            if isinstance(x, mpmath.mpc) and x.imag != 0:
                return x / abs(x)
            return ctx.mpf(self.sign(x))
        if isinstance(e, sympy.Heaviside):
            s = self.sign(self(e.args[0]))
            if s == 0:
                return self(e.args[1]) if len(e.args) == 2 else ctx.mpf(1) / 2
            return ctx.mpf(1 if s > 0 else 0)
        if isinstance(e, ReLU):
            x = self.real(self(e.args[0]))
            return x if self.sign(x) > 0 else ctx.mpf(0)
        if isinstance(e, ReLUPrime):
            return ctx.mpf(1 if self.sign(self(e.args[0])) > 0 else 0)
        if isinstance(e, Sigmoid):
            return 1 / (1 + ctx.exp(-self(e.args[0])))
        if isinstance(e, (sympy.floor, sympy.ceiling)):
            return self.rounding(self.real(self(e.args[0])), isinstance(e, sympy.floor))
        if isinstance(e, sympy.Mod):  # SymPy's Mod: a - b*floor(a/b), the sign of the divisor
            a, b = self.real(self(e.args[0])), self.real(self(e.args[1]))
            if self.sign(b) == 0:
                raise Undefined("Mod by 0")
            return a - b * self.rounding(a / b, True)
        if isinstance(e, (sympy.Max, sympy.Min)):
            return self.extremum(e)
        if isinstance(e, sympy.DiracDelta):  # from differentiating sign or Heaviside: 0 away from the kink
            if self.sign(self(e.args[0])) == 0:
                raise Undefined("DiracDelta at 0")
            return ctx.mpf(0)
        if isinstance(e, (sympy.re, sympy.im)) and not self.rigorous:
            x = mpmath.mpc(self(e.args[0]))
            return x.real if isinstance(e, sympy.re) else x.imag
        if isinstance(e, sympy.KroneckerDelta):
            return ctx.mpf(1 if self.sign(self(e.args[0]) - self(e.args[1])) == 0 else 0)
        if isinstance(e, sympy.Piecewise):
            for expr, cond in e.args:
                if self.truth(cond):
                    return self(expr)
            raise Undefined("no Piecewise branch applies")
        if isinstance(e, sympy.Limit):
            return self.limit(e)
        raise Unevaluable(f"cannot evaluate {type(e).__name__}")

    def power(self, base: Any, exponent: Any) -> Any:
        b = self(base)
        if exponent.is_Integer:
            n = int(exponent)
            if n < 0 and not self.rigorous and b == 0:
                raise Undefined("division by zero")
            if self.rigorous and n < 0 and b.a <= 0 <= b.b:
                raise Undefined("the interval of a denominator contains 0")
            return b ** n
        if exponent == sympy.S.Half:
            return self.ctx.sqrt(b)
        x = self(exponent)
        if self.rigorous:
            if not b.a > 0:
                raise Undefined("a power of an interval that is not positive")
            return self.ctx.exp(x * self.ctx.log(b))
        if b == 0:
            if self.real(x) > 0:
                return mpmath.mpf(0)
            raise Undefined("0 to a nonpositive power")
        return mpmath.power(b, x)

    def rounding(self, x: Any, down: bool) -> Any:
        """``floor`` or ``ceiling``; in interval mode only when the whole interval rounds to one integer."""
        if not self.rigorous:
            return mpmath.floor(x) if down else mpmath.ceil(x)
        lo, hi = (mpmath.floor(x.a), mpmath.floor(x.b)) if down else (mpmath.ceil(x.a), mpmath.ceil(x.b))
        if lo != hi:
            raise Undefined("the interval straddles an integer")
        return self.ctx.mpf(lo)

    def extremum(self, e: Any) -> Any:
        values = [self.real(self(a)) for a in e.args]
        if self.rigorous:
            pick = max if isinstance(e, sympy.Max) else min
            return self.ctx.mpf([pick(v.a for v in values), pick(v.b for v in values)])
        return max(values) if isinstance(e, sympy.Max) else min(values)

    def truth(self, cond: Any) -> bool:
        """A relation at this point (the numeric tolerance of :data:`DPS` decides near-equalities)."""
        if cond is sympy.true:
            return True
        if cond is sympy.false:
            return False
        if isinstance(cond, sympy.And):
            return all(self.truth(c) for c in cond.args)
        if isinstance(cond, sympy.Or):
            return any(self.truth(c) for c in cond.args)
        if isinstance(cond, sympy.Not):
            return not self.truth(cond.args[0])
        if isinstance(cond, sympy.core.relational.Relational):
            lhs, rhs = self(cond.lhs), self(cond.rhs)
            tol = mpmath.mpf(10) ** (-DPS + 15) * max(1, abs(self.mid(lhs)), abs(self.mid(rhs)))
            if isinstance(cond, (sympy.Eq, sympy.Ne)):
                close = abs(self.mid(lhs) - self.mid(rhs)) <= tol
                return close if isinstance(cond, sympy.Eq) else not close
            d = self.real(self.mid(lhs)) - self.real(self.mid(rhs))
            return {sympy.Gt: d > tol, sympy.Ge: d > -tol, sympy.Lt: d < -tol, sympy.Le: d < tol}[type(cond)]
        raise Unevaluable(f"cannot decide {type(cond).__name__}")

    def mid(self, v: Any) -> Any:
        return v.mid if self.rigorous else v

    def limit(self, e: Any) -> Any:
        expr, var, point, direction = e.args
        numbers = {k: v for k, v in self.values.items() if k != var}
        try:
            value = sympy.limit(expr.xreplace(numbers), var, point, str(direction))
        except (NotImplementedError, ValueError, TypeError) as error:
            raise Unevaluable(f"SymPy cannot compute the limit: {error}") from None
        if isinstance(value, sympy.Limit) or value.free_symbols:
            raise Unevaluable("SymPy cannot compute the limit")
        return _Evaluator({}, self.rigorous)(value)


def evaluate(expr: Any, values: dict, rigorous: bool = False) -> Any:
    """The value of an explicit expression at ``values`` (leaf -> exact SymPy number), as an mpmath
    number at :data:`DPS` digits, or a real mpmath interval that encloses it when ``rigorous``.

    >>> evaluate(1 / sympy.Symbol("x"), {sympy.Symbol("x"): sympy.Integer(0)})
    Traceback (most recent call last):
    ...
    bnsym.replay.evaluate.Undefined: division by zero
    """
    with mpmath.workdps(DPS):
        mpmath.iv.dps = DPS
        return _Evaluator(values, rigorous)(expr)


def holds(condition: Any, values: dict) -> bool:
    """Whether a hypothesis (a relation, ``And``...) holds at ``values`` (to the numeric tolerance).

    >>> x = sympy.Symbol("x")
    >>> holds(x > 1, {x: sympy.Integer(2)}), holds(sympy.Eq(x, 0), {x: sympy.Integer(2)})
    (True, False)
    """
    with mpmath.workdps(DPS):
        return _Evaluator(values, False).truth(condition)
