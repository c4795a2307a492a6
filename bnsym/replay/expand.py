"""Make a step explicit at a concrete batch: expand batch sums, definitions and derivatives, in that order.

A certificate's expressions use a symbolic batch size ``m``, sums ``Sum(f, (j, 1, m))`` and defined symbols
(``mu``, ``xhat[q]``). For a concrete ``m`` and concrete free indices, :class:`Expander` rewrites an
expression bottom-up: every sum and product becomes its terms (SymPy's Karr convention for reversed bounds),
every defined symbol its (recursively explicit) value, every ``KroneckerDelta`` of integers a number, and
only then is every ``Derivative`` taken with :func:`sympy.diff` - on an expression in which everything
it depends on is explicit. What is left is a function of leaf symbols and leaf entries like ``z[3]``.

>>> import sympy
>>> m, j = sympy.symbols("m j", integer=True, positive=True)
>>> z = sympy.IndexedBase("z", real=True)
>>> Expander({}, {m: 3})(sympy.Derivative(sympy.Sum(z[j] ** 2, (j, 1, m)), z[2]))
2*z[2]
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from collections.abc import Iterable

import sympy
from sympy.core.function import AppliedUndef

__all__ = ["NotExplicit", "Scan", "scan", "Store", "Expander", "MAX_TERMS"]

MAX_TERMS = 200_000  #: sum and product terms one expansion may create


class NotExplicit(Exception):
    """The expression cannot be made explicit (a symbolic sum bound, a derivative by a defined symbol...)."""


@dataclass
class Scan:
    """What an expression uses: its free symbols, those in index positions, its undefined functions."""

    free: set
    index_position: set
    functions: set


def scan(exprs: Iterable[Any], out: Scan | None = None) -> Scan:
    """Free symbols (binding-aware: summation and limit variables are bound), index-position symbols
    (in ``Indexed`` indices, ``KroneckerDelta`` arguments and sum bounds) and undefined functions.

    >>> j, k = sympy.symbols("j k", integer=True)
    >>> s = scan([sympy.Sum(sympy.KroneckerDelta(j, k), (j, 1, 3))])
    >>> s.free, s.index_position
    ({k}, {k})
    """
    out = out or Scan(set(), set(), set())
    for expr in exprs:
        _scan(expr, frozenset(), out, False)
    return out


def _scan(e: Any, bound: frozenset, out: Scan, index: bool) -> None:
    if isinstance(e, (sympy.Symbol, sympy.Idx)):
        if e not in bound:
            out.free.add(e)
            if index:
                out.index_position.add(e)
        return
    if isinstance(e, sympy.IndexedBase):
        return
    if isinstance(e, sympy.Indexed):
        for i in e.indices:
            _scan(i, bound, out, True)
        return
    if isinstance(e, (sympy.Sum, sympy.Product)):
        inner = bound
        for limit in reversed(e.limits):
            for b in limit[1:]:
                _scan(b, inner, out, True)
            inner = inner | {limit[0]}
        _scan(e.function, inner, out, index)
        return
    if isinstance(e, sympy.Limit):
        _scan(e.args[0], bound | {e.args[1]}, out, index)
        _scan(e.args[2], bound, out, index)
        return
    if isinstance(e, AppliedUndef):
        out.functions.add((e.func, len(e.args)))
    position = index or isinstance(e, sympy.KroneckerDelta)
    for arg in e.args:
        if isinstance(arg, sympy.Basic):
            _scan(arg, bound, out, position)


def _integer(value: Any, what: str) -> int:
    if not (isinstance(value, sympy.Integer)):
        raise NotExplicit(f"{what} is not a concrete integer: {value}")
    return int(value)


class Store:
    """The definitions made explicit at one batch size, shared by every step: each defined symbol (or entry
    ``xhat[3]``) is a placeholder, with its value in terms of earlier placeholders (:attr:`body`), its fully
    explicit value (:attr:`inlined`) and its derivatives (:attr:`derivatives`), each computed once."""

    def __init__(self) -> None:
        self.placeholder: dict = {}  # definition key -> placeholder Dummy (None while being built)
        self.body: dict = {}
        self.inlined: dict = {}
        self.derivatives: dict = {}


class Expander:
    """Explicit forms at one batch: ``Expander(definitions, env, functions)(expr)``.

    ``definitions`` maps a defined ``Symbol`` to its value, or an ``IndexedBase`` to ``(index, value)``;
    ``env`` gives the batch size and the free indices their integers; ``functions`` optionally replaces
    undefined functions (e.g. by random polynomials, for numeric checks) before differentiation.
    Definitions are expanded with the batch size only, so a step's indices never leak into them.

    A derivative is taken on explicit expressions: with ``lazy=True`` (the default) defined symbols stay
    placeholders ``p`` while it is taken, by the chain rule ``df/dv = ∂f/∂v + Σ ∂f/∂p · dp/dv`` with each
    ``dp/dv`` (itself explicit) computed once, and are then replaced by their explicit values - the same
    result as :func:`sympy.diff` of the fully expanded expression, without differentiating shared
    subexpressions (a batch mean, a variance) again for every use.
    """

    def __init__(self, definitions: dict, env: dict, functions: dict | None = None, batch: dict | None = None,
                 store: Store | None = None, lazy: bool = True):
        self.definitions = definitions
        self.env = {k: sympy.sympify(v) for k, v in env.items()}
        self.batch = dict(self.env) if batch is None else {k: sympy.sympify(v) for k, v in batch.items()}
        self.functions = functions or {}
        self.store = store or Store()
        self.lazy = lazy
        self.terms = 0

    def __call__(self, expr: Any) -> Any:
        return self.inline(self.walk(expr, self.env))

    # --- definitions as placeholders ---------------------------------------------------------------
    def _defined(self, key: Any, value: Any, env: dict) -> Any:
        store = self.store
        if key not in store.placeholder:
            store.placeholder[key] = None  # a guard against cycles; certificates are checked acyclic
            try:
                body = self.walk(value, env)
            except BaseException:
                del store.placeholder[key]
                raise
            name = str(key[0]) + str(list(key[1])) if isinstance(key, tuple) else str(key)
            placeholder = sympy.Dummy(name, real=True) if body.is_real else sympy.Dummy(name)
            store.placeholder[key], store.body[placeholder] = placeholder, body
        placeholder = store.placeholder[key]
        if placeholder is None:
            raise NotExplicit(f"{key} is defined in terms of itself")
        return placeholder if self.lazy else self.inline(placeholder)

    def _placeholders(self, e: Any) -> list:
        return sorted((s for s in e.free_symbols if s in self.store.body), key=lambda s: s.dummy_index)

    def inline(self, e: Any) -> Any:
        """``e`` with every placeholder replaced by its explicit value."""
        found = self._placeholders(e)
        if not found:
            return e
        inlined = self.store.inlined
        for p in found:
            if p not in inlined:
                inlined[p] = self.inline(self.store.body[p])
        return e.xreplace({p: inlined[p] for p in found})

    def _total(self, f: Any, v: Any) -> Any:
        """The derivative of ``f`` (with placeholders) with respect to the leaf ``v``, by the chain rule."""
        d = sympy.diff(f, v)
        for p in self._placeholders(f):
            dp = self._dplaceholder(p, v)
            if dp != 0:
                d = d + sympy.diff(f, p) * dp
        return d

    def _dplaceholder(self, p: Any, v: Any) -> Any:
        key = (p, v)
        if key not in self.store.derivatives:
            self.store.derivatives[key] = self._total(self.store.body[p], v)
        return self.store.derivatives[key]

    def _count(self, n: int) -> None:
        self.terms += n
        if self.terms > MAX_TERMS:
            raise NotExplicit(f"expansion needs more than {MAX_TERMS} terms")

    def _sum(self, e: Any, limits: tuple, env: dict) -> Any:
        if not limits:
            return self.walk(e.function, env)
        limit = limits[-1]
        if len(limit) != 3:
            raise NotExplicit(f"an indefinite sum or product: {e}")
        var = limit[0]
        lo = _integer(self.walk(limit[1], env), f"the lower bound of {var}")
        hi = _integer(self.walk(limit[2], env), f"the upper bound of {var}")
        values, invert = (range(lo, hi + 1), False) if hi >= lo else (range(hi + 1, lo), True)
        self._count(len(values))
        terms = [self._sum(e, limits[:-1], {**env, var: sympy.Integer(v)}) for v in values]
        if isinstance(e, sympy.Sum):
            total = sympy.Add(*terms)
            return -total if invert else total
        total = sympy.Mul(*terms)
        return 1 / total if invert else total

    def walk(self, e: Any, env: dict) -> Any:
        """The explicit form of ``e`` with bound and free indices set by ``env``."""
        if e in env and isinstance(e, (sympy.Symbol, sympy.Idx)):
            return env[e]
        if isinstance(e, sympy.Symbol):
            if e in self.definitions:
                return self._defined(e, self.definitions[e], self.batch)
            return e
        if isinstance(e, sympy.Indexed):
            indices = tuple(self.walk(i, env) for i in e.indices)
            for i in indices:
                _integer(i, f"index {i} of {e.base}")
            if e.base in self.definitions:
                params, value = self.definitions[e.base]
                if len(params) != len(indices):
                    raise NotExplicit(f"{e.base} is defined with {len(params)} indices, used with {len(indices)}")
                return self._defined((e.base, indices), value,
                                     {**self.batch, **dict(zip(params, indices, strict=False))})
            return sympy.Indexed(e.base, *indices)
        if isinstance(e, (sympy.Sum, sympy.Product)):
            return self._sum(e, e.limits, env)
        if isinstance(e, sympy.Derivative):
            return self._derivative(e, env)
        if isinstance(e, sympy.Limit):
            var = e.args[1]
            inner = {k: v for k, v in env.items() if k != var}
            expr = self.inline(self.walk(e.args[0], inner))
            return sympy.Limit(expr, var, self.inline(self.walk(e.args[2], env)), str(e.args[3]))
        if not e.args:
            return e
        args = [self.walk(a, env) for a in e.args]
        if isinstance(e, AppliedUndef) and (e.func, len(args)) in self.functions:
            return self.functions[(e.func, len(args))](*args)
        return e.func(*args)

    def _derivative(self, e: sympy.Derivative, env: dict) -> Any:
        variables = []
        for v, n in e.variable_count:
            if v in self.definitions or (isinstance(v, sympy.Indexed) and v.base in self.definitions):
                raise NotExplicit(f"a derivative with respect to the defined {v}")
            explicit = self.walk(v, env)
            if not (isinstance(explicit, (sympy.Symbol, sympy.Indexed))):
                raise NotExplicit(f"a derivative with respect to {explicit}, not a variable")
            variables.append((explicit, int(n)))
        f = self.walk(e.expr, env)
        if not self.lazy:
            return sympy.diff(f, *variables)
        for v, n in variables:
            for _ in range(n):
                f = self._total(f, v)
        return f
