"""The proof kernel: the only place where a proof step becomes a :class:`Fact`.

A step is a relation (``lhs = rhs``, ``lhs ≤ rhs`` or ``lhs ≠ rhs`` with a witness) plus the rule that
justifies it; the kernel checks it when it is made, in a :class:`Context` (:mod:`bnsym.kernel.context`) that
says what the symbols mean:

* the batch size ``m`` (a symbol, or an integer for a concrete batch) and the free indices ``i, k, …`` (each
  ranging over ``1..m``);
* the definitions (``μ := (1/m) Σ_j z_j``, ``x̂_t := (z_t − μ)/√(σ² + ε)``, …), unfolded before checking, so a
  step about ``x̂`` is checked against the same expressions every proof uses;
* the hypotheses: fixed values (``ε = 0``) and positivity facts (the batch is not constant: ``σ² > 0``),
  themselves checked when they are derived from others.

Checking an equality: cited facts are applied as rewrites, definitions unfolded, derivatives taken
(:func:`sympy.diff` of the unfolded expressions), batch sums brought to the canonical form of
:mod:`bnsym.kernel.index` (:func:`~bnsym.kernel.context.canonical`), and the difference handed to the one exact
zero decision (:func:`bnsym.kernel.zero.decide_zero`). Only a ``True`` there makes a :class:`Fact`; anything else raises
:class:`StepError`. A :class:`Fact` cannot be built outside this module, so a proof's ``holds=True`` (which
needs the fact of its claim, :func:`conclude`) is reachable only through checked steps.

What is trusted: the inference rules here, the contexts and canonical forms of :mod:`bnsym.kernel.context`
(re-exported here: ``Definition``, ``Context``, ``Remark``, ``unfold``, ``canonical``, ``positive_fact``), the
index calculus of :mod:`bnsym.kernel.index` and the zero decision of :mod:`bnsym.kernel.zero`.

>>> import sympy
>>> from bnsym.kernel.index import index_symbol
>>> m = sympy.Symbol("m", integer=True, positive=True)
>>> j, k = index_symbol("j"), index_symbol("k")
>>> z = sympy.IndexedBase("z", real=True)
>>> ctx = Context(m=m, free=(k,))
>>> f = equal(ctx, sympy.Sum(sympy.KroneckerDelta(j, k) * z[j], (j, 1, m)), z[k], "δ-sifting")
>>> f.kind, f.rule
('eq', 'δ-sifting')
>>> equal(ctx, sympy.Sum(z[j], (j, 1, m)), m * z[k], "wrong")
Traceback (most recent call last):
...
bnsym.kernel.errors.StepError: step not established (wrong): Sum(z[j], (j, 1, m)) = m*z[k] (undecided)
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace
from collections.abc import Iterable

import sympy
from sympy import Expr

from .errors import KernelError, StepError
from . import index as ix
from .context import Context, Definition, Remark, canonical, positive_fact, unfold
from .context import _radicals, _radicands_of
from .zero import decide_zero

__all__ = ["KernelError", "StepError", "Definition", "Context", "Fact", "Remark", "equal", "less_equal",
           "unequal", "chain", "symmetric", "specialize", "rewrite", "instance", "assume", "limit", "instantiate",
           "conclude", "canonical", "unfold", "positive_fact"]

_TOKEN = object()


@dataclass(frozen=True, eq=False)
class Fact:
    """A relation the kernel has checked. Only this module creates facts."""

    kind: str  # "eq", "le", "ne", "gt"
    lhs: Expr
    rhs: Expr
    rule: str
    context: Context = field(repr=False)
    cites: tuple[Fact, ...] = field(default=(), repr=False)
    witness: dict | None = None
    _token: object = field(default=None, repr=False, compare=False)

    def __post_init__(self):
        if self._token is not _TOKEN:
            raise KernelError("facts are made by the kernel's checks only (bnsym.kernel.equal, ...)")

    @property
    def relation(self) -> sympy.Basic:
        """The fact as a SymPy relation (unevaluated)."""
        op = {"eq": sympy.Eq, "le": sympy.Le, "ne": sympy.Ne, "gt": sympy.Gt}[self.kind]
        return op(self.lhs, self.rhs, evaluate=False)


def _fact(kind, lhs, rhs, rule, ctx, cites=(), witness=None) -> Fact:
    return Fact(kind, lhs, rhs, rule, ctx, tuple(cites), witness, _TOKEN)


# -- checked steps -----------------------------------------------------------------------------------------------
def _rewrite(expr: Expr, cites: Iterable[Fact]) -> Expr:
    for fact in cites:
        if fact.kind == "eq":
            expr = expr.xreplace({fact.lhs: fact.rhs})
    return expr


def _check_cites(cites, ctx) -> tuple:
    cites = tuple(cites)
    for c in cites:
        if not isinstance(c, Fact):
            raise KernelError(f"a citation must be a kernel Fact, got {type(c).__name__}")
        _compatible(c.context, ctx)
    return cites


def _compatible(source: Context, target: Context) -> None:
    """A fact of ``source`` may be used in ``target`` when its symbols mean the same there: every definition,
    fixed value and hypothesis of ``source`` is one of ``target``'s (``target`` may add more)."""
    defs = {(d.symbol, d.index, d.value) for d in target.definitions}
    missing = [d.symbol for d in source.definitions if (d.symbol, d.index, d.value) not in defs]
    values = dict(target.values)
    bad = [k for k, v in source.values if values.get(k) != v]
    hyps = [h for h in source.hypotheses if h not in target.hypotheses]
    if missing or bad or hyps or source.m != target.m:
        raise KernelError(f"a cited fact's context does not match this proof's (definitions {missing}, "
                          f"values {bad}, hypotheses {hyps})")


def _side(expr, cites, ctx):
    out = canonical(_rewrite(expr, cites), ctx)
    if cites:  # a cited fact also rewrites the canonical form (e.g. a hypothesis about a batch sum)
        canon = [(canonical(c.lhs, c.context), canonical(c.rhs, c.context)) for c in cites if c.kind == "eq"]
        out = out.xreplace(dict(canon))
    return out


def equal(ctx: Context, lhs, rhs, rule: str, *, cites: Iterable[Fact] = ()) -> Fact:
    """Check ``lhs = rhs`` in ``ctx`` (``cites``: proved facts used as rewrites) and return the :class:`Fact`.

    >>> x, ctx = sympy.Symbol("x", real=True), Context(m=sympy.Integer(2))
    >>> equal(ctx, x * (x + 1), x**2 + x, "expand").relation
    Eq(x*(x + 1), x**2 + x)
    """
    cites = _check_cites(cites, ctx)
    lhs, rhs = sympy.sympify(lhs), sympy.sympify(rhs)
    if sympy.expand(_rewrite(lhs, cites) - _rewrite(rhs, cites)) == 0:  # identical after the cited rewrites
        return _fact("eq", lhs, rhs, rule, ctx, cites)
    diff = _side(lhs, cites, ctx) - _side(rhs, cites, ctx)
    decision = decide_zero(diff, positive=ctx.positive)
    if decision.value is not True:
        why = "false" if decision.value is False else "undecided"
        raise StepError(f"step not established ({rule}): {lhs} = {rhs} ({why})")
    return _fact("eq", lhs, rhs, rule, ctx, cites)


def less_equal(ctx: Context, lhs, rhs, rule: str, *, cites: Iterable[Fact] = (), unfold_definitions: bool = True
               ) -> Fact:
    """Check ``lhs ≤ rhs``: ``rhs − lhs``, canonical, with each remaining batch sum of squares a nonnegative atom
    and every other sum a real atom, is nonnegative by SymPy's assumptions (which answer ``True`` only with a
    reason). ``unfold_definitions=False`` keeps defined quantities (``x̂``) as atoms of their declared type,
    which keeps a sum of squares visible.

    >>> x, ctx = sympy.Symbol("x", real=True), Context(m=sympy.Integer(2))
    >>> less_equal(ctx, 0, x**2, "a square").relation
    0 <= x**2
    """
    cites = _check_cites(cites, ctx)
    lhs, rhs = sympy.sympify(lhs), sympy.sympify(rhs)
    if unfold_definitions:
        gap = _side(rhs, cites, ctx) - _side(lhs, cites, ctx)
    else:
        gap = ix.normalize(_rewrite(rhs - lhs, cites), free=ctx.free, m=ctx.m)
    gap = _atomize(sympy.factor(gap))
    if gap.is_nonnegative is not True:
        raise StepError(f"step not established ({rule}): {lhs} ≤ {rhs}")
    return _fact("le", lhs, rhs, rule, ctx, cites)


def _atomize(expr: Expr) -> Expr:
    atoms = {}
    for n, s in enumerate(sorted(expr.atoms(sympy.Sum), key=sympy.default_sort_key)):
        summand = s.function
        nonneg = bool(summand.is_Pow and summand.exp.is_even and summand.base.is_real)
        atoms[s] = sympy.Dummy(f"A{n}", nonnegative=True) if nonneg else sympy.Dummy(f"A{n}", real=True)
    for n, t in enumerate(sorted(expr.atoms(sympy.Indexed), key=sympy.default_sort_key)):
        atoms[t] = sympy.Dummy(f"I{n}", real=bool(t.is_real))
    return expr.xreplace(atoms)


def unequal(ctx: Context, lhs, rhs, witness: dict, rule: str, *, greater: bool = False) -> Fact:
    """Check ``lhs ≠ rhs`` (``greater``: ``lhs > rhs``) at an explicit ``witness``: every symbol exact,
    admissible, and the sides differ.

    Only for a concrete batch (the witness gives every sample).

    >>> x, ctx = sympy.Symbol("x", real=True), Context(m=sympy.Integer(2))
    >>> unequal(ctx, x, 0, {x: 1}, "x = 1").witness
    {x: 1}
    """
    if not ctx.concrete:
        raise KernelError("a witness needs a concrete batch size")
    lhs, rhs = sympy.sympify(lhs), sympy.sympify(rhs)
    values = {k: sympy.nsimplify(v) if not isinstance(v, sympy.Basic) else v for k, v in witness.items()}
    for sym, val in values.items():
        if not val.is_Rational:
            raise StepError(f"witness value {sym} = {val} is not an exact rational")
        if isinstance(sym, sympy.Symbol):
            for prop in ("positive", "negative", "nonnegative", "nonzero", "integer"):
                if getattr(sym, f"is_{prop}") and getattr(val, f"is_{prop}") is not True:
                    raise StepError(f"witness {sym} = {val} violates its assumption ({prop})")
    diff = canonical(lhs - rhs, ctx).xreplace(values)
    if diff.has(sympy.Sum):
        diff = diff.doit().xreplace(values)
    for p in ctx.positive:
        pv = sympy.sympify(p).xreplace(values)
        pv = pv.doit().xreplace(values) if pv.has(sympy.Sum) else pv
        if not (pv.is_number and pv > 0):
            raise StepError("the witness violates a positivity hypothesis")
    if not diff.is_number or diff.is_zero is not False or (greater and not diff > 0):
        raise StepError(f"step not established ({rule}): the witness does not separate {lhs} and {rhs}")
    return _fact("gt" if greater else "ne", lhs, rhs, rule, ctx, (), values)


def chain(*facts: Fact) -> Fact:
    """Transitivity: ``a = b, b = c, …`` (and ``≤`` links) give ``a = c`` (``a ≤ c`` if any link is ``≤``).

    The links must be facts of the same context and each right side must be the next left side.

    >>> x, ctx = sympy.Symbol("x", real=True), Context(m=sympy.Integer(2))
    >>> a = equal(ctx, x * (x + 1), x**2 + x, "expand")
    >>> chain(a, equal(ctx, x**2 + x, x * (x + 1), "factor")).relation
    Eq(x*(x + 1), x*(x + 1))
    """
    if not facts or any(not isinstance(f, Fact) or f.kind not in ("eq", "le") for f in facts):
        raise KernelError("chain takes kernel facts of kind eq or le")
    for a, b in itertools.pairwise(facts):
        if a.rhs != b.lhs:
            raise StepError(f"chain broken: {a.rhs} is not {b.lhs}")
        if a.context != b.context:
            raise StepError("chain links from different contexts")
    kind = "le" if any(f.kind == "le" for f in facts) else "eq"
    return _fact(kind, facts[0].lhs, facts[-1].rhs, "transitivity", facts[0].context, facts)


def symmetric(fact: Fact) -> Fact:
    """``b = a`` from the fact ``a = b``.

    >>> x, ctx = sympy.Symbol("x", real=True), Context(m=sympy.Integer(2))
    >>> symmetric(equal(ctx, x * (x + 1), x**2 + x, "expand")).relation
    Eq(x**2 + x, x*(x + 1))
    """
    if not isinstance(fact, Fact) or fact.kind != "eq":
        raise KernelError("symmetric takes a kernel fact of kind eq")
    return _fact("eq", fact.rhs, fact.lhs, "symmetry", fact.context, (fact,))


def specialize(fact: Fact, size: int, minimum: int = 2) -> Fact:
    """The general-``m`` fact at the concrete batch size ``size`` (universal instantiation of ``m``).

    Sound because ``m`` is a free positive-integer symbol of the fact's context: the fact holds for every
    ``m ≥ minimum`` the hypotheses allow, so for ``m = size``.

    >>> m, j = sympy.Symbol("m", integer=True, positive=True), ix.index_symbol("j")
    >>> specialize(equal(Context(m=m), sympy.Sum(1, (j, 1, m)), m, "count"), 3).relation
    Eq(Sum(1, (j, 1, 3)), 3)
    """
    if not isinstance(fact, Fact):
        raise KernelError("specialize takes a kernel Fact")
    m = fact.context.m
    if not isinstance(m, sympy.Symbol) or not (isinstance(size, int) and size >= minimum):
        raise KernelError(f"cannot specialize m to {size!r} (needs a general-m fact and an integer ≥ {minimum})")
    value = sympy.Integer(size)
    ctx = replace(fact.context, m=value,
                  definitions=tuple(replace(d, value=ix.substitute(d.value, {m: value}))
                                    for d in fact.context.definitions),
                  positive=tuple(sympy.expand(p.xreplace({m: value})) for p in fact.context.positive))
    return _fact(fact.kind, ix.substitute(fact.lhs, {m: value}), ix.substitute(fact.rhs, {m: value}),
                 f"m := {size}", ctx, (fact,), fact.witness)


def rewrite(fact: Fact, using: Fact) -> Fact:
    """Substitution of equals: ``fact`` with every occurrence of ``using.lhs`` in its right side replaced by
    ``using.rhs`` (structurally).

    >>> x, ctx = sympy.Symbol("x", real=True), Context(m=sympy.Integer(2))
    >>> y = sympy.Symbol("y")
    >>> rewrite(equal(ctx, x * (x + 1), x**2 + x, "expand"), assume(ctx, x**2, y, "x² = y")).relation
    Eq(x*(x + 1), x + y)
    """
    if not (isinstance(fact, Fact) and isinstance(using, Fact)) or using.kind != "eq" or fact.kind not in ("eq", "le"):
        raise KernelError("rewrite takes an eq/le fact and an eq fact")
    rhs = fact.rhs.xreplace({using.lhs: using.rhs})
    if rhs == fact.rhs:
        raise StepError(f"rewrite: {using.lhs} does not occur in {fact.rhs}")
    return _fact(fact.kind, fact.lhs, rhs, "substitution of equals", fact.context, (fact, using))


def instance(fact: Fact, base: sympy.IndexedBase, index: sympy.Symbol, value: Expr) -> Fact:
    """Universal instantiation: a fact about an arbitrary sequence ``base`` (not defined in its context)
    holds with ``base[t] := value`` for any ``value``.

    >>> m, z = sympy.Symbol("m", integer=True, positive=True), sympy.IndexedBase("z", real=True)
    >>> j, k = ix.index_symbol("j"), ix.index_symbol("k")
    >>> f = equal(Context(m=m, free=(k,)), sympy.Sum(sympy.KroneckerDelta(j, k) * z[j], (j, 1, m)), z[k], "δ")
    >>> instance(f, z, j, j**2).rhs
    k**2
    """
    if not isinstance(fact, Fact):
        raise KernelError("instance takes a kernel Fact")
    if any(d.symbol == base for d in fact.context.definitions):
        raise KernelError(f"{base} is defined in the fact's context: it is not arbitrary")
    def put(e):
        return e.replace(lambda x: isinstance(x, sympy.Indexed) and x.base == base,
                         lambda x: ix.substitute(value, {index: x.indices[0]}))
    return _fact(fact.kind, put(fact.lhs), put(fact.rhs), f"instance ({base} := …)", fact.context, (fact,))


def assume(ctx: Context, lhs, rhs, text: str) -> Fact:
    """A hypothesis ``lhs = rhs`` of the theorem being proved (e.g. ``H v = λ v``), stated as ``text``.

    Hypotheses are facts only inside the proof that states them; :func:`conclude` records them.

    >>> x, ctx = sympy.Symbol("x", real=True), Context(m=sympy.Integer(2))
    >>> assume(ctx, x, 1, "x = 1").rule
    'hypothesis: x = 1'
    """
    return _fact("eq", sympy.sympify(lhs), sympy.sympify(rhs), f"hypothesis: {text}", ctx)


_CONTINUOUS = (sympy.Add, sympy.Mul, sympy.Pow, sympy.Symbol, sympy.Number, sympy.Indexed, sympy.IndexedBase,
               sympy.Sum, sympy.KroneckerDelta, sympy.Tuple)


def limit(ctx: Context, expr, symbol: sympy.Symbol, point, value, rule: str) -> Fact:
    """``lim_{symbol → point} expr = value`` by continuity: ``expr`` is built from sums, products, powers and
    batch sums, every base of a negative or fractional power is positive at the point (by ``ctx``'s facts), and
    ``expr`` at the point equals ``value`` (checked as an equality).

    >>> x, ctx = sympy.Symbol("x", real=True), Context(m=sympy.Integer(2))
    >>> y = sympy.Symbol("y", real=True)
    >>> limit(ctx, x**2 + y, y, 0, x**2, "continuity").relation
    Eq(Limit(x**2 + y, y, 0, dir='+'), x**2)
    """
    expr, point, value = sympy.sympify(expr), sympy.sympify(point), sympy.sympify(value)
    form = canonical(expr, ctx)
    for node in sympy.preorder_traversal(form):
        if node.has(symbol) and not isinstance(node, _CONTINUOUS):
            raise StepError(f"limit: {type(node).__name__} is not shown continuous")
        if isinstance(node, sympy.Pow) and node.has(symbol) and not (node.exp.is_Integer and node.exp >= 0):
            base = sympy.expand(node.base.xreplace({symbol: point}))
            if not (base.is_positive or set(_radicands_of(base)) <= set(ctx.positive)):
                raise StepError(f"limit: cannot show {node.base} > 0 at {symbol} = {point}")
    at_point = _radicals(ix.substitute(form, {symbol: point}))
    decision = decide_zero(at_point - canonical(value, ctx), positive=ctx.positive)
    if decision.value is not True:
        raise StepError(f"step not established ({rule}): the value at {symbol} = {point} is not {value}")
    return _fact("eq", sympy.Limit(expr, symbol, point, "+"), value, rule, ctx)


def instantiate(fact: Fact, ctx: Context, mapping: dict | None = None) -> Fact:
    """The fact ``fact`` with its free indices renamed by ``mapping`` and re-checked in ``ctx``.

    The instance is checked anew (cheap for the lemmas it is used for), so a lemma can be used in another
    proof's context only where it holds there.

    >>> m, z = sympy.Symbol("m", integer=True, positive=True), sympy.IndexedBase("z", real=True)
    >>> i, j, k = ix.index_symbol("i"), ix.index_symbol("j"), ix.index_symbol("k")
    >>> f = equal(Context(m=m, free=(k,)), sympy.Sum(sympy.KroneckerDelta(j, k) * z[j], (j, 1, m)), z[k], "δ")
    >>> instantiate(f, Context(m=m, free=(i,)), {k: i}).rhs
    z[i]
    """
    if not isinstance(fact, Fact):
        raise KernelError("instantiate takes a kernel Fact")
    mapping = mapping or {}
    lhs, rhs = ix.substitute(fact.lhs, mapping), ix.substitute(fact.rhs, mapping)
    if fact.kind == "eq":
        out = equal(ctx, lhs, rhs, f"instance of {fact.rule}")
    elif fact.kind == "le":
        out = less_equal(ctx, lhs, rhs, f"instance of {fact.rule}")
    else:
        raise KernelError("only eq and le facts are instantiated")
    return _fact(out.kind, lhs, rhs, out.rule, ctx, (fact,))


def conclude(claim: sympy.Basic, facts: Iterable[Fact]) -> Fact:
    """The fact whose relation is ``claim`` (structurally, or with both sides canonically equal).

    >>> x, ctx = sympy.Symbol("x", real=True), Context(m=sympy.Integer(2))
    >>> a = equal(ctx, x * (x + 1), x**2 + x, "expand")
    >>> conclude(sympy.Eq(x * (x + 1), x**2 + x), [a]) is a
    True
    """
    for f in facts:
        if not isinstance(f, Fact):
            raise KernelError("conclude takes kernel facts")
        if f.relation == claim or (isinstance(claim, sympy.Eq) and f.kind == "eq" and f.lhs == claim.lhs
                                   and f.rhs == claim.rhs):
            return f
    raise StepError(f"no fact establishes the claim {claim}")
