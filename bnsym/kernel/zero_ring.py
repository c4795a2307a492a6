"""Exact fractions of sparse polynomials over ℚ, and their reduction modulo root relations ``g^q = V``.

A :class:`Frac` is ``num / Π f^e``: a numerator in SymPy's sparse polynomial ring and a denominator kept as
factors ``{f: e}`` (generators, or primitive polynomials with a positive leading coefficient), so that a
common denominator is an lcm of factor multisets, never a gcd. Every term product is counted against a
work limit (:class:`TooLarge` instead of a hang).

>>> r = FracRing(8, 10**6)
>>> x = Frac(r.g(0))
>>> r.add(r.inverse(x), r.inverse(x)).den == {r.g(0): 1}
True
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import sympy
from sympy import QQ
from sympy.polys.rings import ring

__all__ = ["TooLarge", "Undefined", "Regrow", "Gen", "Frac", "FracRing", "generator_index", "gens_of"]


class TooLarge(Exception):
    pass


class Undefined(Exception):
    pass


class Regrow(Exception):
    pass


@functools.lru_cache(maxsize=32)
def _ring(size: int):
    return ring(sympy.symbols(f"_zk0:{size}"), QQ)[0]


@dataclass
class Gen:
    kind: str  # "var", "root", "abs", "atom"
    node: object  # the SymPy object it stands for (roots: the radicand's display)
    real: bool = False
    nonneg: bool = False
    nonpos: bool = False
    relation: tuple | None = None  # (q, numerator, denominator factors): gen^q = numerator/denominator


class Frac:
    """``num / Π f^e`` over the denominator factors ``den = {f: e}`` (generators and primitive polynomials)."""

    __slots__ = ("num", "den")

    def __init__(self, num, den=None):
        self.num, self.den = num, den or {}

    def key(self):
        return (self.num, frozenset(self.den.items()))


class FracRing:
    """Polynomials and :class:`Frac` fractions in ``size`` generators, with the relations of :attr:`gens`."""

    def __init__(self, size: int, work_limit: int):
        self.ring = _ring(size)
        self.work_limit, self.work = work_limit, 0
        self.gens: list[Gen] = []
        self.keys: dict = {}
        self.inverted: list = []
        self.used: set = set()


    def mul(self, a, b):
        self.work += len(a) * len(b)
        if self.work > self.work_limit:
            raise TooLarge(f"more than {self.work_limit} polynomial term products")
        return a * b

    def power(self, a, n: int):
        if n == 0:
            return self.ring.one
        if len(a) <= 1:
            return a**n
        if math.comb(n + len(a) - 1, n) > self.work_limit - self.work:  # terms of a^n, at most
            raise TooLarge(f"more than {self.work_limit} polynomial term products")
        result, base = None, a
        while n:
            if n & 1:
                result = base if result is None else self.mul(result, base)
            n >>= 1
            if n:
                self.work += len(base) * (len(base) + 1) // 2
                if self.work > self.work_limit:
                    raise TooLarge(f"more than {self.work_limit} polynomial term products")
                base = base.square()
        return result

    def gen(self, info: Gen, key) -> int:
        if key in self.keys:
            return self.keys[key]
        if len(self.gens) >= self.ring.ngens:
            raise Regrow()
        self.gens.append(info)
        self.keys[key] = len(self.gens) - 1
        return len(self.gens) - 1

    def g(self, index: int):
        return self.ring.gens[index]

    def split(self, poly):
        """``poly = c · x^mono · prim`` with ``prim`` primitive (integer coefficients, positive leading one)."""
        monoms = list(poly.keys())
        mono = tuple(map(min, zip(*monoms, strict=True)))
        coeffs = list(poly.values())
        num = functools.reduce(math.gcd, (int(c.numerator) for c in coeffs))
        den = functools.reduce(math.lcm, (int(c.denominator) for c in coeffs))
        c = QQ(num, den) * (1 if poly.LC > 0 else -1)
        if any(mono):
            poly = self.ring.from_dict({tuple(a - b for a, b in zip(m, mono, strict=True)): v for m, v in poly.items()})
        return c, mono, poly.quo_ground(c)

    def den_poly(self, den: dict):
        result = self.ring.one
        for f, e in den.items():
            result = self.mul(result, self.power(f, e))
        return result

    # -- fractions -----------------------------------------------------------------------------------------
    def const(self, value) -> Frac:
        return Frac(self.ring(value))

    def add(self, f: Frac, h: Frac) -> Frac:
        if not f.num:
            return h
        if not h.num:
            return f
        if f.den == h.den:
            return Frac(f.num + h.num, f.den)
        den = dict(f.den)
        for k, e in h.den.items():
            den[k] = max(den.get(k, 0), e)
        a = self.mul(f.num, self.den_poly({k: e - f.den.get(k, 0) for k, e in den.items() if e > f.den.get(k, 0)}))
        b = self.mul(h.num, self.den_poly({k: e - h.den.get(k, 0) for k, e in den.items() if e > h.den.get(k, 0)}))
        return self.cancel(Frac(a + b, den))

    def times(self, f: Frac, h: Frac) -> Frac:
        den = dict(f.den)
        for k, e in h.den.items():
            den[k] = den.get(k, 0) + e
        return self.cancel(Frac(self.mul(f.num, h.num), den))

    def cancel(self, f: Frac) -> Frac:
        """Cancel generator powers and exact copies of denominator factors (no gcd computation)."""
        if not f.den or not f.num:
            return Frac(f.num, f.den) if f.num else Frac(f.num)
        c, mono, prim = self.split(f.num)
        den, changed = dict(f.den), False
        for k, e in enumerate(mono):
            if e and self.ring.gens[k] in den:
                drop = min(e, den[self.ring.gens[k]])
                den[self.ring.gens[k]] -= drop
                mono = mono[:k] + (e - drop,) + mono[k + 1:]
                changed = True
        if prim in den and prim != 1:
            den[prim] -= 1
            prim, changed = self.ring.one, True
        if not changed:
            return f
        num = self.ring.from_dict({mono: c}) * prim
        return Frac(num, {k: e for k, e in den.items() if e})

    def inverse(self, f: Frac) -> Frac:
        if not f.num:
            raise Undefined("division by zero")
        c, mono, prim = self.split(f.num)
        den = {self.ring.gens[k]: e for k, e in enumerate(mono) if e}
        if prim != 1:
            den[prim] = 1
            self.inverted.append(prim)
        return Frac(self.den_poly(f.den).quo_ground(c), den)

    def to_power(self, f: Frac, n: int) -> Frac:
        if n < 0:
            f, n = self.inverse(f), -n
        return Frac(self.power(f.num, n), {k: e * n for k, e in f.den.items()})

    # -- reduction modulo gen^q = V ----------------------------------------------------------------------------
    def reduce(self, poly):
        """``(poly', extra)``: ``poly`` with every ``gen^q`` replaced by its radicand, times ``Π extra``."""
        extra: dict = {}
        for k in range(len(self.gens) - 1, -1, -1):
            relation = self.gens[k].relation
            if relation is None or not poly:
                continue
            q, rnum, rden = relation
            if all(m[k] < q for m in poly.keys()):
                continue
            self.used.add(k)
            groups: dict = {}
            for m, v in poly.items():
                j = m[k]
                groups.setdefault(j, {})[m[:k] + (0,) + m[k + 1:]] = v
            top = max(groups) // q
            rd = self.den_poly(rden)
            total = self.ring.zero
            for j, terms in groups.items():
                a, b = divmod(j, q)
                term = self.mul(self.ring.from_dict(terms), self.power(rnum, a))
                term = self.mul(term, self.power(rd, top - a)) if top > a else term
                total += term * self.ring.gens[k] ** b
            poly = total
            for f, e in rden.items():
                extra[f] = extra.get(f, 0) + e * top
        return poly, extra

    def reduced(self, f: Frac) -> Frac:
        num, extra = self.reduce(f.num)
        if not extra:
            return Frac(num, f.den)
        den = dict(f.den)
        for k, e in extra.items():
            den[k] = den.get(k, 0) + e
        return self.cancel(Frac(num, den))

    def equal(self, f: Frac, h: Frac) -> bool:
        difference = self.add(f, Frac(-h.num, h.den))
        return not self.reduce(difference.num)[0]


def generator_index(poly) -> int | None:
    if len(poly) != 1:
        return None
    (mono, c), = poly.items()
    if c != 1 or sum(mono) != 1:
        return None
    return mono.index(1)


def gens_of(poly) -> set:
    return {k for m in poly.keys() for k, e in enumerate(m) if e}

