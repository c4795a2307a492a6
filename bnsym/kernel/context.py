"""What the symbols of a proof mean, and the kernel's canonical form of an expression in that meaning.

Part of the trusted kernel (:mod:`bnsym.kernel.core` checks steps against what is here):

* :class:`Context` — the batch size ``m``, the free indices, the definitions (:class:`Definition`), fixed values
  and positivity facts of a proof; :class:`Remark` is narrative shown with a proof, never part of a verdict;
* :func:`unfold` and :func:`canonical` — definitions unfolded, derivatives taken (:func:`sympy.diff`), batch sums
  brought to the canonical form of :mod:`bnsym.kernel.index`, radicands with their content factored out: the
  expressions whose difference :mod:`bnsym.kernel.core` hands to the exact zero decision;
* :func:`positive_fact` — a positivity fact added to a context only after it is shown from the context's own.

No :class:`~bnsym.kernel.core.Fact` is made here: facts come from :mod:`bnsym.kernel.core` only.

>>> x, y = sympy.symbols("x y")
>>> ctx = Context(m=sympy.Integer(2)).define(x, y ** 2)
>>> canonical(sympy.Derivative(x, y), ctx)
2*y
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import sympy
from sympy import Expr, S

from .errors import KernelError, StepError
from . import index as ix

__all__ = ["Definition", "Context", "Remark", "unfold", "canonical", "positive_fact"]


@dataclass(frozen=True)
class Definition:
    """``symbol := value`` (``index`` given: ``symbol[index] := value`` for every index; a tuple of indices for an
    entry with several, ``z[i, r]``)."""

    symbol: sympy.Basic
    value: Expr
    index: sympy.Symbol | None = None
    text: str = ""
    at: bool = False  # an evaluation point (``V := aW``): substituted after derivatives are taken


@dataclass(frozen=True)
class Context:
    """What the symbols of a proof mean: batch size, free indices, definitions, hypotheses.

    >>> Context(m=sympy.Integer(4)).concrete
    True
    """

    m: Expr
    free: tuple = ()
    size: sympy.Symbol | None = None  # the symbol that stands for the batch size (replaced by m when concrete)
    definitions: tuple[Definition, ...] = ()
    values: tuple[tuple[sympy.Symbol, Expr], ...] = ()  # hypotheses fixing a symbol (ε = 0)
    positive: tuple[Expr, ...] = ()  # canonical radicands / expressions known > 0 (checked, or hypotheses)
    hypotheses: tuple[str, ...] = ()  # the positivity hypotheses as stated (for certificates)

    @property
    def concrete(self) -> bool:
        """Whether the batch size is an integer."""
        return bool(sympy.sympify(self.m).is_Integer)

    def define(self, symbol, value, index=None, text: str = "", *, at: bool = False) -> Context:
        """This context with one more definition (the symbol must be new).

        ``at=True`` makes it an evaluation point: ``∂f(V)/∂V`` is taken first, then ``V := value``."""
        if any(d.symbol == symbol for d in self.definitions):
            raise KernelError(f"{symbol} is already defined")
        return replace(self, definitions=self.definitions + (Definition(symbol, sympy.sympify(value), index, text,
                                                                               at),))

    def fix(self, symbol, value) -> Context:
        """This context with the hypothesis ``symbol = value`` (e.g. ``ε = 0``)."""
        return replace(self, values=self.values + ((symbol, sympy.sympify(value)),))

    def assume_positive(self, expr, text: str) -> Context:
        """This context with the hypothesis ``expr > 0`` (stated as ``text``)."""
        return replace(self, positive=self.positive + tuple(_radicands_of(canonical(expr, self))),
                       hypotheses=self.hypotheses + (text,))

    def with_free(self, *indices) -> Context:
        """This context with more free indices."""
        return replace(self, free=tuple(dict.fromkeys(self.free + tuple(indices))))


@dataclass(frozen=True)
class Remark:
    """Narrative (a citation, an explanation): shown with a proof, never part of a verdict."""

    text: str
    expr: sympy.Basic | None = None



# -- canonical forms ---------------------------------------------------------------------------------------------
def unfold(expr: Expr, ctx: Context, *, points: bool = True) -> Expr:
    """``expr`` with every definition of ``ctx`` unfolded (repeatedly) and the fixed values substituted.

    >>> x, y = sympy.symbols("x y")
    >>> unfold(x + 1, Context(m=sympy.Integer(2)).define(x, y ** 2))
    y**2 + 1
    """
    expr = sympy.sympify(expr)
    for _ in range(len(ctx.definitions) + 1):
        before = expr
        for d in reversed(ctx.definitions):
            if d.at and not points:
                continue
            if d.index is None:
                if expr.has(d.symbol):
                    expr = ix.substitute(expr, {d.symbol: d.value}) if isinstance(d.symbol, sympy.Symbol) \
                        else expr.xreplace({d.symbol: d.value})
            else:
                names = d.index if isinstance(d.index, tuple) else (d.index,)
                rank = len(names)
                expr = expr.replace(lambda e, b=d.symbol, n=rank: isinstance(e, sympy.Indexed) and e.base == b
                                    and len(e.indices) == n,
                                    lambda e, d=d, names=names: ix.substitute(
                                        d.value, dict(zip(names, e.indices, strict=True))))
        if expr == before:
            break
    if ctx.values:
        expr = ix.substitute(expr, dict(ctx.values))
    return expr


def _check_derivatives(expr: Expr, ctx: Context) -> None:
    """Refuse a derivative with respect to a defined quantity (``∂x̂/∂z`` where ``z := Wu``): it has no
    meaning once the definitions are unfolded (such partials enter a proof as cited lemmas)."""
    defined = {d.symbol for d in ctx.definitions if not d.at}
    for d in expr.atoms(sympy.Derivative):
        if d in defined:  # a named quantity such as ∂ℓ/∂σ² (Ioffe & Szegedy's backward formulas)
            continue
        for v, _ in d.variable_count:
            if v in defined or (isinstance(v, sympy.Indexed) and v.base in defined):
                raise KernelError(f"∂/∂{v}: {v} is defined in terms of other variables; cite a lemma instead")


def _derivatives(expr: Expr) -> Expr:
    """Evaluate every ``Derivative`` (innermost first) with :func:`sympy.diff`, bound indices kept apart."""
    def take(d):
        body = d.expr
        wrt = [v for v, _ in d.variable_count]
        avoid = set().union(*[v.free_symbols for v in wrt])
        if ix.bound_names(body) & avoid:  # rename bound indices that a variable of differentiation mentions
            body = ix.rename_apart(body, avoid)
        return sympy.diff(body, *[(v, n) for v, n in d.variable_count])
    return expr.replace(lambda e: isinstance(e, sympy.Derivative), take)


def _radicals(expr: Expr) -> Expr:
    """Each radicand brought to ``factor_terms`` form, so positive content leaves the root (``√(a²V) = a√V``)."""
    return expr.replace(lambda e: isinstance(e, sympy.Pow) and e.exp.is_Rational and e.exp.q == 2,
                        lambda e: _radicand(e.base) ** e.exp)


def _radicand(base: Expr) -> Expr:
    """A radicand over a common denominator with its content factored out (SymPy then moves positive
    factors out of the root)."""
    return sympy.factor_terms(sympy.together(sympy.expand(base)))


_CANONICAL: dict = {}
_CANONICAL_MAX = 4096


def canonical(expr: Expr, ctx: Context) -> Expr:
    """Cached :func:`_canonical` (a chain of steps meets each side twice).

    >>> x = sympy.Symbol("x", real=True)
    >>> canonical(sympy.Derivative(x**3, x), Context(m=sympy.Integer(2)))
    3*x**2
    """
    key = (sympy.sympify(expr), ctx)
    if key not in _CANONICAL:
        if len(_CANONICAL) >= _CANONICAL_MAX:
            _CANONICAL.clear()
        _CANONICAL[key] = _canonical(key[0], ctx)
    return _CANONICAL[key]


def _canonical(expr: Expr, ctx: Context) -> Expr:
    """The kernel's canonical form of ``expr`` in ``ctx``: unfolded, differentiated, sums normalized.

    >>> j = ix.index_symbol("j")
    >>> canonical(sympy.Sum(j ** 0, (j, 1, 5)), Context(m=sympy.Integer(5)))
    5
    """
    _check_derivatives(expr, ctx)
    out = unfold(expr, ctx, points=False)
    if ctx.size is not None and ctx.concrete:
        out = ix.substitute(out, {ctx.size: ctx.m})
    out = _derivatives(out)
    if any(d.at for d in ctx.definitions):
        out = unfold(out, ctx)
    if ctx.concrete and out.has(sympy.Sum):
        out = ix.expand_concrete(out)
    out = ix.normalize(out, free=ctx.free, m=ctx.m)
    return _radicals(out)


def _radicands_of(expr: Expr) -> list[Expr]:
    """The canonical radicands that make up ``√expr``, for a positive ``expr``."""
    root = sympy.sqrt(_radicand(expr))
    return [sympy.expand(p.base) for p in root.atoms(sympy.Pow) if p.exp == S.Half] or [sympy.expand(expr)]


def positive_fact(ctx: Context, expr: Expr, text: str) -> Context:
    """``ctx`` with ``expr > 0`` added, after checking it follows from ``ctx``'s positivity facts.

    ``expr = q·F + r`` (polynomial division by a known-positive ``F``) with ``q > 0`` and ``r ≥ 0`` by SymPy's
    assumptions (sound: it answers ``True`` only when it can show it) proves ``expr > 0``.

    >>> V, a = sympy.Symbol("V", real=True), sympy.Symbol("a", nonzero=True, real=True)
    >>> e = sympy.Symbol("e", nonnegative=True)
    >>> c = Context(m=sympy.Integer(2)).assume_positive(V, "V > 0")
    >>> positive_fact(c, a**2 * V + e, "a²V + e > 0").positive[-1]
    V*a**2 + e
    """
    target = sympy.expand(canonical(expr, ctx))
    if target.is_positive:
        return replace(ctx, positive=ctx.positive + tuple(_radicands_of(target)))
    for known in ctx.positive:
        try:
            gens = sorted(_top_atoms(known) or known.free_symbols, key=sympy.default_sort_key)
            q, r = sympy.div(target, known, *gens)
        except (sympy.PolynomialError, sympy.GeneratorsNeeded):
            continue
        if sympy.expand(q * known + r - target) == 0 and q.is_positive and (r == 0 or r.is_nonnegative):
            return replace(ctx, positive=ctx.positive + tuple(_radicands_of(target)))
    raise StepError(f"could not show {text} from the positivity facts")


def _top_atoms(expr: Expr) -> set:
    """The sums and indexed entries of ``expr`` that are not inside a sum."""
    if isinstance(expr, (sympy.Sum, sympy.Indexed)):
        return {expr}
    return set().union(*[_top_atoms(a) for a in expr.args]) if expr.args else set()
