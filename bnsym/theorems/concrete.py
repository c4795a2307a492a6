"""Concrete ``m``: exact checks of every entry against the per-sample expressions of a concrete batch.

One BN feature over ``m`` samples, ``z_l = Σ_r W_r u_{lr} (+ b)``, is built with
:func:`bnsym.functions.batch_mean`, :func:`~bnsym.functions.batch_variance` and
:func:`~bnsym.functions.batch_normalize`. Its expression graph is ``x̂_l = c_l/√(σ² + ε)`` with the shared
subexpressions ``c_l = z_l − μ`` and ``σ² = (1/m) Σ_l c_l²`` (checked structurally against the library's
expressions). Every derivative is taken by the chain rule through that graph, the derivatives of the leaves
``c_l`` by :func:`sympy.diff` (brute force, each one an exact polynomial), so no expression is ever expanded in
all ``m`` samples at once. ``c_l`` become atoms ``C_l`` and ``√σ²`` a positive symbol ``S`` tied to the
variance: a difference is declared zero only when its numerator, after eliminating ``C_m`` with the verified
relation ``Σ_l c_l = 0``, reduces to 0 modulo ``S² − (1/m) Σ_l C_l²`` (the sound direction).

>>> f = Feature.of_values(3)
>>> f.xhat[0] == f.c[0] / sympy.sqrt(f.var)
True
>>> f.entry(0, f.z[1])
-C_1*(-2*C_1/9 + 4*C_2/9 - 2*C_3/9)/(2*S**3) - 1/(3*S)
>>> f.is_zero(f.entry(0, f.z[1]) - (0 - sympy.Rational(1, 3) - f.C[0] * f.C[1] / (3 * f.S**2)) / f.S)
True
"""
from __future__ import annotations

from typing import Sequence

import sympy
from sympy import Add, Expr, S as _S, Symbol

from ..errors import ConditionError, TheoremError
from ..functions import batch_mean, batch_normalize, batch_variance

__all__ = ["Feature", "tied_zero"]

TIE_MAX_M = 16  # batch_normalize is built at the same m up to here (its own is_zero test is slow beyond)

S_SYMBOL = Symbol("S", positive=True)  # stands for √σ² (ε = 0), a positive symbol tied to the variance


def tied_zero(expr: Expr, s: Symbol, var: Expr) -> bool:
    """True iff ``expr``'s numerator reduces to 0 modulo ``s² − var`` (so ``expr = 0`` wherever ``s = √var``).

    >>> x, y = sympy.symbols("x y", positive=True)
    >>> s = Symbol("s", positive=True)
    >>> tied_zero(s**2 / x - (x + y) / x, s, x + y), tied_zero(s - x, s, x**2 + y)
    (True, False)
    """
    if sympy.expand(expr) == 0:
        return True
    num, _ = sympy.fraction(sympy.together(expr))
    num = sympy.expand(num)
    if num == 0:
        return True
    rem = sympy.rem(num, s**2 - var, s) if num.has(s) else num
    return sympy.expand(rem) == 0


class Feature:
    """One BN feature over a concrete batch, with its expression graph and exact derivative entries.

    Build with :meth:`of_values` (``z_l`` free symbols) or :meth:`linear` (``z_l = Σ_r W_r u_{lr} + b``).

    >>> f = Feature.linear(2, 1)
    >>> f.z
    [W_1*u_1_1, W_1*u_2_1]
    """

    def __init__(self, z: Sequence[Expr], variables: dict, eps: Expr = _S.Zero):
        self.m = len(z)
        if self.m < 2:
            raise ConditionError(f"batch normalization needs a batch of m >= 2 samples, got m = {self.m}")
        self.z = list(z)
        self.variables = variables
        self.eps = sympy.sympify(eps)
        self.mu = batch_mean(self.z)
        self.var = batch_variance(self.z)
        self.c = [zl - self.mu for zl in self.z]
        # tie the graph to the library's per-sample expressions (structural identity, no simplification)
        if self.var != Add(*[cl**2 for cl in self.c]) / self.m:
            raise TheoremError("batch_variance is not (1/m) Σ (z_l − μ)²: the expression graph does not apply")
        _check_normalize_graph(self.m if self.m <= TIE_MAX_M else 3, self.eps)
        s_true = sympy.sqrt(self.var + self.eps)
        self.xhat = [cl / s_true for cl in self.c]
        self.C = list(sympy.symbols(f"C_1:{self.m + 1}", real=True))
        self.S = S_SYMBOL
        self.var_atoms = Add(*[cl**2 for cl in self.C]) / self.m
        self.s = sympy.sqrt(self.S**2 + self.eps)  # √(σ² + ε) in atoms
        gens = sorted(set().union(*[zl.free_symbols for zl in self.z]), key=str)
        self._ring, *_ = sympy.polys.rings.ring(gens, sympy.QQ)
        self._gens = dict(zip(gens, self._ring.gens))
        self._c_ring = [self._ring(cl) for cl in self.c]
        self._dc: dict = {}
        self._dvar: dict = {}
        self._centered: bool | None = None

    # -- builders -------------------------------------------------------------------------------------------
    @classmethod
    def of_values(cls, m: int, eps: Expr = _S.Zero) -> "Feature":
        """A batch of free real symbols ``z_1 … z_m``.

        >>> Feature.of_values(2).z
        [z_1, z_2]
        """
        z = list(sympy.symbols(f"z_1:{m + 1}", real=True))
        return cls(z, {"z": z}, eps)

    @classmethod
    def linear(cls, m: int, width: int, *, weights: Sequence[Expr] | None = None, bias: bool = False,
               eps: Expr = _S.Zero) -> "Feature":
        """``z_l = Σ_r w_r u_{lr} (+ b)``; ``weights`` defaults to symbols ``W_1 … W_n``.

        >>> a = Symbol("a", positive=True)
        >>> W = sympy.symbols("W_1:3", real=True)
        >>> Feature.linear(2, 2, weights=[a * w for w in W]).z[0]
        W_1*a*u_1_1 + W_2*a*u_1_2
        """
        if width < 1:
            raise TheoremError(f"width must be >= 1, got {width}")
        u = [[Symbol(f"u_{p}_{q}", real=True) for q in range(1, width + 1)] for p in range(1, m + 1)]
        W = list(sympy.symbols(f"W_1:{width + 1}", real=True))
        w = list(weights) if weights is not None else W
        b = Symbol("b", real=True)
        z = [Add(*[w[q] * u[p][q] for q in range(width)]) + (b if bias else 0) for p in range(m)]
        return cls(z, {"u": u, "W": W, "b": b}, eps)

    # -- leaves (brute force) and entries (chain rule through the graph) -----------------------------------
    def dc(self, index: int, t: Symbol) -> Expr:
        """``∂c_l/∂t``: the exact polynomial ``c_l`` differentiated (in SymPy's sparse polynomial ring)."""
        key = (index, t)
        if key not in self._dc:
            gen = self._gens.get(t)
            self._dc[key] = _S.Zero if gen is None else self._c_ring[index].diff(gen).as_expr()
        return self._dc[key]

    def dvar(self, t: Symbol) -> Expr:
        """``∂σ²/∂t = (2/m) Σ_l c_l ∂c_l/∂t`` in the atoms ``C_l`` (chain rule on ``σ² = (1/m) Σ c_l²``)."""
        if t not in self._dvar:
            self._dvar[t] = Add(*[2 * self.C[p] * self.dc(p, t) for p in range(self.m)]) / self.m
        return self._dvar[t]

    def entry(self, index: int, t: Symbol, dvar: Expr | None = None) -> Expr:
        """``∂x̂_i/∂t = (∂c_i/∂t)/s − c_i (∂σ²/∂t)/(2 s³)`` in atoms (``s = √(S² + ε)``).

        ``dvar`` replaces ``∂σ²/∂t`` (e.g. by an atom ``D``, or by a verified reduced form).
        """
        s = self.s
        dv = self.dvar(t) if dvar is None else dvar
        return self.dc(index, t) / s - self.C[index] * dv / (2 * s**3)

    # -- exact reduction --------------------------------------------------------------------------------------
    def eliminate(self, expr: Expr) -> Expr:
        """Substitute ``C_m = −Σ_{l<m} C_l`` (the relation ``Σ_l c_l = 0``, verified by :meth:`verify_centered`)."""
        return expr.xreplace({self.C[-1]: -Add(*self.C[:-1])})

    def verify_centered(self) -> bool:
        """``Σ_l c_l = 0`` exactly, as polynomials in the batch's variables."""
        return sympy.expand(Add(*self.c)) == 0

    def is_zero(self, expr: Expr) -> bool:
        """Exact zero test of an atom expression (sound: ``True`` only if it vanishes identically)."""
        if sympy.expand(expr) == 0:
            return True
        if tied_zero(expr, self.S, self.var_atoms):  # without the linear relation first (cheaper)
            return True
        if self._centered is None:
            self._centered = self.verify_centered()
        if not self._centered:
            return False
        reduced = self.eliminate(expr)
        # S² + ε appears through s; reduce modulo S² − σ² (ε is a separate symbol or number)
        return tied_zero(reduced, self.S, self.eliminate(self.var_atoms))

    def scaled_leaves(self, other: "Feature", factor: Expr, subs: dict | None = None) -> dict:
        """Verify ``c'_l = factor·c_l`` for this (primed) feature against ``other``; return atom map ``C' → factor·C``.

        ``subs`` is applied to this feature's leaves first (e.g. ``{V_r: a W_r}``). Raises if any leaf differs.
        """
        subs = subs or {}
        for cp, c0 in zip(self.c, other.c):
            if sympy.expand(cp.xreplace(subs) - factor * c0) != 0:
                raise TheoremError("leaf c'_l is not factor·c_l")
        return {cp: factor * c0 for cp, c0 in zip(self.C, other.C)}


_TIED: set = set()


def _check_normalize_graph(m: int, eps: Expr) -> None:
    """Check that :func:`bnsym.functions.batch_normalize` is ``c_l/√(σ² + ε)`` structurally, at batch size ``m``.

    The library's function is one formula for every ``m``; it is checked at the batch's own ``m`` up to
    ``TIE_MAX_M`` and at ``m = 3`` beyond (its internal constant-batch test is slow for large batches).
    """
    if (m, eps) in _TIED:
        return
    z = list(sympy.symbols(f"z_1:{m + 1}", real=True))
    mu, var = batch_mean(z), batch_variance(z)
    s_true = sympy.sqrt(var + eps)
    if any(x != (zl - mu) / s_true for x, zl in zip(batch_normalize(z, eps), z)):
        raise TheoremError("batch_normalize is not (z_l − μ)/√(σ² + ε): the expression graph does not apply")
    _TIED.add((m, eps))
