"""The proof kernel: the only place where a proof step becomes a :class:`Fact`.

A step is a relation (``lhs = rhs``, ``lhs ≤ rhs`` or ``lhs ≠ rhs`` with a witness) plus the rule that
justifies it; the kernel checks it when it is made, in a :class:`Context` that says what the symbols mean:

* the batch size ``m`` (a symbol, or an integer for a concrete batch) and the free indices ``i, k, …`` (each
  ranging over ``1..m``);
* the definitions (``μ := (1/m) Σ_j z_j``, ``x̂_t := (z_t − μ)/√(σ² + ε)``, …), unfolded before checking, so a
  step about ``x̂`` is checked against the same expressions every proof uses;
* the hypotheses: fixed values (``ε = 0``) and positivity facts (the batch is not constant: ``σ² > 0``),
  themselves checked when they are derived from others.

Checking an equality: cited facts are applied as rewrites, definitions unfolded, derivatives taken
(:func:`sympy.diff` of the unfolded expressions), batch sums brought to the canonical form of
:mod:`bnsym.kernel.index`, and the difference handed to the one exact zero decision
(:func:`bnsym.kernel.zero.decide_zero`). Only a ``True`` there makes a :class:`Fact`; anything else raises
:class:`StepError`. A :class:`Fact` cannot be built outside this module, so a proof's ``holds=True`` (which
needs the fact of its claim, :func:`conclude`) is reachable only through checked steps.

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
from sympy import Expr, S

from .errors import KernelError, StepError
from . import index as ix
from .zero import decide_zero

__all__ = ["KernelError", "StepError", "Definition", "Context", "Fact", "Remark", "equal", "less_equal",
           "unequal", "chain", "symmetric", "specialize", "rewrite", "instance", "assume", "limit", "instantiate",
           "conclude", "canonical", "unfold", "positive_fact"]

_TOKEN = object()


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
    """Cached :func:`_canonical` (a chain of steps meets each side twice)."""
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
    """Check ``lhs = rhs`` in ``ctx`` (``cites``: proved facts used as rewrites) and return the :class:`Fact`."""
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
    which keeps a sum of squares visible."""
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

    Only for a concrete batch (the witness gives every sample)."""
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

    The links must be facts of the same context and each right side must be the next left side."""
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
    """``b = a`` from the fact ``a = b``."""
    if not isinstance(fact, Fact) or fact.kind != "eq":
        raise KernelError("symmetric takes a kernel fact of kind eq")
    return _fact("eq", fact.rhs, fact.lhs, "symmetry", fact.context, (fact,))


def specialize(fact: Fact, size: int, minimum: int = 2) -> Fact:
    """The general-``m`` fact at the concrete batch size ``size`` (universal instantiation of ``m``).

    Sound because ``m`` is a free positive-integer symbol of the fact's context: the fact holds for every
    ``m ≥ minimum`` the hypotheses allow, so for ``m = size``.
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
    ``using.rhs`` (structurally)."""
    if not (isinstance(fact, Fact) and isinstance(using, Fact)) or using.kind != "eq" or fact.kind not in ("eq", "le"):
        raise KernelError("rewrite takes an eq/le fact and an eq fact")
    rhs = fact.rhs.xreplace({using.lhs: using.rhs})
    if rhs == fact.rhs:
        raise StepError(f"rewrite: {using.lhs} does not occur in {fact.rhs}")
    return _fact(fact.kind, fact.lhs, rhs, "substitution of equals", fact.context, (fact, using))


def instance(fact: Fact, base: sympy.IndexedBase, index: sympy.Symbol, value: Expr) -> Fact:
    """Universal instantiation: a fact about an arbitrary sequence ``base`` (not defined in its context)
    holds with ``base[t] := value`` for any ``value``."""
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

    Hypotheses are facts only inside the proof that states them; :func:`conclude` records them."""
    return _fact("eq", sympy.sympify(lhs), sympy.sympify(rhs), f"hypothesis: {text}", ctx)


_CONTINUOUS = (sympy.Add, sympy.Mul, sympy.Pow, sympy.Symbol, sympy.Number, sympy.Indexed, sympy.IndexedBase,
               sympy.Sum, sympy.KroneckerDelta, sympy.Tuple)


def limit(ctx: Context, expr, symbol: sympy.Symbol, point, value, rule: str) -> Fact:
    """``lim_{symbol → point} expr = value`` by continuity: ``expr`` is built from sums, products, powers and
    batch sums, every base of a negative or fractional power is positive at the point (by ``ctx``'s facts), and
    ``expr`` at the point equals ``value`` (checked as an equality)."""
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
    """The fact whose relation is ``claim`` (structurally, or with both sides canonically equal)."""
    for f in facts:
        if not isinstance(f, Fact):
            raise KernelError("conclude takes kernel facts")
        if f.relation == claim or (isinstance(claim, sympy.Eq) and f.kind == "eq" and f.lhs == claim.lhs
                                   and f.rhs == claim.rhs):
            return f
    raise StepError(f"no fact establishes the claim {claim}")
