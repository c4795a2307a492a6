"""From a SymPy expression to a :class:`~bnsym.kernel.zero_ring.Frac`: generators for variables, roots,
absolute values and applied functions, each introduced only through an identity (see :mod:`bnsym.kernel.zero`).

>>> import sympy
>>> from bnsym.kernel.zero_signs import Signs
>>> x = sympy.Symbol("x", positive=True)
>>> alg = Algebra(16, Signs(), 10**6)
>>> form = alg.convert(sympy.sqrt(4 * x**3))
>>> form.num.as_expr(), alg.reduce(form.num)[0].as_expr()   # x^(3/2) = s³ with s² = x
(2*_zk1**3, 2*_zk0*_zk1)
>>> [(g.kind, g.node) for g in alg.gens][0]
('var', x)
"""
from __future__ import annotations

import itertools
import math

import sympy
from sympy import Expr, QQ

from ..functions import ReLU, ReLUPrime
from .zero_ring import Frac, FracRing, Gen, Undefined, generator_index, gens_of
from .zero_signs import Sign, Signs
from .zero_values import postorder

__all__ = ["Algebra", "applied", "children", "PAIR_CHECKS"]

PAIR_CHECKS = 400  # pairwise argument comparisons of function applications per decision
_SMALL_PRIMES = [p for p in range(2, 1000) if all(p % d for d in range(2, int(p**0.5) + 1))]


class Algebra(FracRing):
    """The conversion of expressions (memoized per distinct subexpression) under the sign facts ``signs``."""

    def __init__(self, size: int, signs: Signs, work_limit: int):
        super().__init__(size, work_limit)
        self.signs = signs
        self.by_head: dict = {}
        self.memo: dict = {}
        self.pair_checks = 0
        self.fact_keys: dict = {}
        self.notes: set = set()

    # -- conversion --------------------------------------------------------------------------------------------
    def convert(self, expr: Expr) -> Frac:
        for node in postorder(expr, children):
            if node not in self.memo:
                self.memo[node] = self.build(node)
        return self.memo[expr]

    def flags(self, node, kind: str, key) -> int:
        sign = self.signs.of(node)
        return self.gen(Gen(kind, node, sign.real, sign.nonnegative, sign.nonpositive), key)

    def build(self, node: Expr) -> Frac:
        if node.is_Rational:
            return self.const(QQ(int(node.p), int(node.q)))
        if node.is_Float:
            rational = sympy.Rational(node)
            return self.const(QQ(int(rational.p), int(rational.q)))
        if node is sympy.I:
            return self.root(2, self.const(-1), None)
        if node.is_Atom and (node is sympy.nan or node.is_infinite):
            raise Undefined("an infinite or undefined value")
        if node.is_Symbol or isinstance(node, sympy.Indexed):
            return Frac(self.g(self.flags(node, "var", ("var", node))))
        if node.is_Add:
            total = Frac(self.ring.zero)
            for a in node.args:
                total = self.add(total, self.memo[a])
            return total
        if node.is_Mul:
            total = self.const(1)
            for a in node.args:
                total = self.times(total, self.memo[a])
            return total
        if node.is_Pow and node.exp.is_Integer:
            return self.to_power(self.memo[node.base], int(node.exp))
        if node.is_Pow and node.exp.is_Rational:
            return self.to_power(self.root(int(node.exp.q), self.memo[node.base], node.base), int(node.exp.p))
        if isinstance(node, sympy.Abs):
            return self.absolute(node.args[0])
        if applied(node):
            return self.function(node, type(node), node.args)
        if node.is_Pow:
            return self.function(node, "pow", node.args)
        key = ("atom", node.as_dummy() if node.free_symbols else node)
        return Frac(self.g(self.flags(node, "atom", key)))

    def known_value(self, node) -> Frac | None:
        """Step functions and ReLU where the sign of the argument is proved (e.g. ``ReLU'(u) = 1`` for ``u > 0``)."""
        if isinstance(node, sympy.Mod):
            return self.integer_mod(node)
        if not isinstance(node, (ReLU, ReLUPrime, sympy.Heaviside, sympy.sign)):
            return None
        sign = self.signs.of(node.args[0])
        if not sign.real:
            return None
        if isinstance(node, ReLU):
            return self.memo[node.args[0]] if sign.sign > 0 else (self.const(0) if sign.sign < 0 else None)
        if sign.sign == 2:
            return self.const(1)
        if sign.sign == -2:
            return self.const(-1 if isinstance(node, sympy.sign) else 0)
        if isinstance(node, ReLUPrime) and sign.sign == -1:
            return self.const(0)
        return None

    def integer_mod(self, node) -> Frac | None:
        """``Mod(P, b)`` for a polynomial ``P`` with integer coefficients in integer variables and an integer ``b > 0``.

        ``P mod b`` depends only on the variables mod ``b``: when every residue class gives the same value
        ``r``, ``Mod(P, b) = r`` for all integers.
        """
        modulus = node.args[1]
        poly = self.reduced(self.memo[node.args[0]])
        if not modulus.is_Integer or modulus <= 0 or poly.den or any(c.denominator != 1 for c in poly.num.values()):
            return None
        b = int(modulus)
        used = sorted(gens_of(poly.num))
        if b ** len(used) > 4096 or not all(self.gens[k].kind == "var" and self.gens[k].node.is_integer for k in used):
            return None
        terms = [(int(c.numerator), [(k, m[k]) for k in used if m[k]]) for m, c in poly.num.items()]
        values = set()
        for residues in itertools.product(range(b), repeat=len(used)):
            point = dict(zip(used, residues, strict=True))
            values.add(sum(c * math.prod(pow(point[k], e, b) for k, e in mono) for c, mono in terms) % b)
            if len(values) > 1:
                return None
        self.notes.add(f"Mod(·, {b}) by its {b ** len(used)} residue classes")
        return self.const(values.pop())

    def function(self, node, head, args) -> Frac:
        known = self.known_value(node)
        if known is not None:
            return known
        fracs = [self.reduced(self.memo[a]) for a in args]
        key = ("fn", head, tuple(f.key() for f in fracs))
        if key not in self.keys:
            for index, others in self.by_head.get((head, len(args)), []):
                if self.pair_checks >= PAIR_CHECKS:
                    break
                self.pair_checks += 1
                if all(self.equal(f, o) for f, o in zip(fracs, others, strict=False)):
                    self.keys[key] = index
                    break
        if key not in self.keys:
            index = self.flags(node, "atom", key)
            self.by_head.setdefault((head, len(args)), []).append((index, fracs))
        return Frac(self.g(self.keys[key]))

    def absolute(self, arg: Expr) -> Frac:
        sign = self.signs.of(arg)
        value = self.memo[arg]
        if sign.nonnegative:
            return value
        if sign.nonpositive:
            return Frac(-value.num, value.den)
        return self.abs_of(self.reduced(value), sign.real, arg)

    def abs_of(self, f: Frac, real: bool, node=None) -> Frac:
        """``|f| = |c|·t`` with ``t = |f/c|`` (a nonnegative generator; ``t² = (f/c)²`` when ``f`` is real)."""
        if not f.num:
            return f
        c, mono, prim = self.split(f.num)
        inner = Frac(self.ring.from_dict({mono: QQ(1)}) * prim, f.den)
        index = self.gen(Gen("abs", node), ("abs", inner.key()))
        info = self.gens[index]
        info.real = info.nonneg = True
        if real and info.relation is None:
            info.relation = (2, self.mul(inner.num, inner.num), {k: 2 * e for k, e in inner.den.items()})
        return Frac(self.ring(abs(c)) * self.g(index))

    def root(self, q: int, base: Frac, node, sign: Sign | None = None) -> Frac:
        """``base^(1/q)`` (principal) as prefactor × generator, moving out what is an identity to move out.

        ``sign``: what is proved about ``base`` (by default, the sign facts of its expression ``node``).
        """
        base = self.reduced(base)
        if not base.num:
            return base
        if sign is None and node is not None:
            sign = self.signs.of(node)
        if q == 2 and sign is not None and sign.nonpositive:  # √V = i·√(−V) for V ≤ 0
            flipped = Sign(True, -sign.sign, sign.nonzero, sign.from_facts)
            return self.times(self.root(2, self.const(-1), None),
                              self.root(2, Frac(-base.num, base.den), None, flipped))
        pulled_variable = False
        prefactor, rest = self.const(1), base
        if q == 2:
            prefactor, rest, pulled_variable = self.pull_square(base)
        if not rest.den and rest.num == 1:
            return prefactor
        key = ("root", q, rest.key())
        index = self.gen(Gen("root", rest), key)
        info = self.gens[index]
        if info.relation is None:
            info.relation = (q, rest.num, rest.den)
        if not info.nonneg:
            info.nonneg = info.real = self.nonnegative_radicand(rest, sign, pulled_variable)
        return self.times(prefactor, Frac(self.g(index)))

    def nonnegative_radicand(self, rest: Frac, sign: Sign | None, pulled: bool) -> bool:
        """Proved ``rest ≥ 0`` on the admissible domain (the original radicand, of sign ``sign``, is ``rest`` times a
        square)."""
        if not rest.den and rest.num.is_ground and rest.num.LC > 0:
            return True
        if len(rest.num) == 1 and not rest.den:
            (mono, c), = rest.num.items()
            if c > 0 and all(self.gens[k].nonneg if e % 2 else self.gens[k].real for k, e in enumerate(mono) if e):
                return True
        if rest.key() in self.fact_keys:
            return True
        # a fact-free proof holds on the closure of the domain, so it survives dividing by a square;
        # one that uses a fact holds on the domain only, where the moved-out square may vanish
        return sign is not None and sign.nonnegative and (not sign.from_facts or not pulled)

    def pull_square(self, base: Frac):
        """``√base = prefactor · √rest``: rational content and even generator powers moved out (identities)."""
        c, mono, prim = self.split(base.num)
        prefactor, pulled = self.const(1), False
        rest_mono = list(mono)
        rest_den: dict = {}
        single = prim == 1 and not base.den and sum(mono) == 1  # √g itself: nothing to move out
        for k, e in enumerate(mono):
            if e > 1 or (e and self.gens[k].nonneg and not single):
                factor, rest_mono[k], moved = self.square_part(k, e)
                prefactor = self.times(prefactor, factor)
                pulled = pulled or moved
        for f, e in base.den.items():
            g = generator_index(f)
            if g is not None and (e > 1 or self.gens[g].nonneg):
                factor, left, moved = self.square_part(g, e)
                prefactor = self.times(prefactor, self.inverse(factor))
                pulled = pulled or moved
            elif g is None and e > 1 and all(self.gens[i].real for i in gens_of(f)):
                prefactor = self.times(prefactor, self.inverse(self.to_power(self.abs_of(Frac(f), True), e // 2)))
                left, pulled = e % 2, True
            else:
                left = e
            if left:
                rest_den[f] = left
        prefactor = self.times(prefactor, self.sqrt_rational(abs(c)))
        rest_num = self.ring.from_dict({tuple(rest_mono): QQ(1 if c > 0 else -1)}) * prim
        return prefactor, Frac(rest_num, rest_den), pulled

    def square_part(self, k: int, e: int):
        """``√(g^e) = factor · √(g^left)`` for generator ``g``; ``moved``: a non-constant factor was moved out."""
        info, half = self.gens[k], e // 2
        g = Frac(self.g(k))
        if info.nonneg:
            factor = self.to_power(g, half)
            if e % 2:
                factor = self.times(factor, self.root(2, g, info.node if info.kind in ("var", "atom") else None))
            return factor, 0, True
        if info.nonpos:
            return self.to_power(Frac(-self.g(k)), half), e % 2, True
        if info.real:
            return self.to_power(self.abs_of(g, True, None), half), e % 2, True
        return self.const(1), e, False

    def sqrt_rational(self, c) -> Frac:
        """``√c`` for a rational ``c > 0``: square factors out, one generator per remaining prime (or cofactor)."""
        n, d = int(c.numerator) * int(c.denominator), int(c.denominator)
        square, radicands = 1, []
        for p in _SMALL_PRIMES:
            if p * p > n:
                break
            e = 0
            while n % p == 0:
                n, e = n // p, e + 1
            square *= p ** (e // 2)
            if e % 2:
                radicands.append(p)
        root = math.isqrt(n)
        if root * root == n:
            square *= root
        elif n > 1:
            radicands.append(n)
        factor = self.const(QQ(square, d))
        for r in radicands:
            rest = Frac(self.ring(r))
            index = self.gen(Gen("root", rest, True, True, False, (2, rest.num, {})), ("root", 2, rest.key()))
            factor = self.times(factor, Frac(self.g(index)))
        return factor

    def register_fact(self, fact: Expr, strict: bool) -> None:
        """Remember the radicand key of a fact ``fact > 0`` (or ``≥ 0``) after moving squares out."""
        value = self.reduced(self.convert(fact))
        if not value.num:
            return
        _, rest, pulled = self.pull_square(value)
        if strict or not pulled:
            self.fact_keys[rest.key()] = strict


def applied(node) -> bool:
    """An applied function whose arguments are expressions (``ReLU(z)``, ``Mod(n, 3)``; not ``Piecewise``)."""
    return (isinstance(node, sympy.core.function.Application) and bool(node.args)
            and all(isinstance(a, Expr) for a in node.args))


def children(node) -> tuple:
    if node.is_Add or node.is_Mul:
        return node.args
    if node.is_Pow:
        return (node.base,) if node.exp.is_Rational else node.args
    if isinstance(node, sympy.Abs) or applied(node):
        return node.args
    return ()

