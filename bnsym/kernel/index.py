"""Index calculus for sums over a batch of symbolic size ``m``: sound rewriting of ``Σ_{j=1}^{m}``.

Batch sums are SymPy ``Sum(f, (j, lo, hi))`` objects over ``Indexed`` samples (``z[j]``) and
``KroneckerDelta``. :func:`normalize` brings an expression to a canonical form in which every remaining sum is
an irreducible atom, by rules that hold for every ``m``:

* linearity: ``Σ (a + b) = Σ a + Σ b``, and factors free of the bound index move out;
* ``Σ_{j=lo}^{hi} c = (hi − lo + 1)·c`` for ``c`` free of ``j``;
* δ-sifting for any affine index ``a·j + b`` (``a`` a nonzero integer): ``Σ_j δ(a j + b, t) f(j) = f(j*)``
  with ``j* = (t − b)/a`` when ``j*`` is provably an integer in ``[lo, hi]``, else a ``Piecewise`` that says so;
* ``δ^n = δ``; sums of sums are reduced innermost first;
* substitution and renaming never capture a bound index (:func:`substitute`, :func:`rename_bound`);
* the bound indices of the remaining sums get canonical names (``_j1``, ``_j2``, … by nesting depth), so two
  sums that differ only in the names of their bound indices become the same atom.

Free indices (the ``i``, ``k`` of a statement) range over ``1..m``; :func:`normalize` takes them as ``free``.
Each rule is property-tested against the explicit sum for random concrete ``m ≤ 7``.

>>> import sympy
>>> m = sympy.Symbol("m", integer=True, positive=True)
>>> j, k, l = sympy.symbols("j k l", integer=True, positive=True)
>>> z = sympy.IndexedBase("z", real=True)
>>> normalize(sympy.Sum(sympy.KroneckerDelta(j, k) * z[j], (j, 1, m)), free=(k,), m=m)
z[k]
>>> normalize(sympy.Sum(sympy.KroneckerDelta(l + 1, k) * z[l], (l, 1, m)), free=(k,), m=m)
Piecewise((z[k - 1], k >= 2), (0, True))
>>> normalize(sympy.Sum(z[j] + 3, (j, 1, m)))
3*m + Sum(z[_j1], (_j1, 1, m))
"""
from __future__ import annotations

import itertools
from collections.abc import Iterable

import sympy

from sympy import Add, Expr, KroneckerDelta, Mul, Pow, S, Sum, Symbol

from .errors import KernelError

__all__ = ["index_symbol", "fresh_index", "rename_bound", "rename_apart", "expand_concrete", "substitute", "normalize",
           "sift", "bound_names", "batch_sum"]

_CANON = "_j"


def index_symbol(name: str) -> Symbol:
    """An index: a positive integer symbol.

    >>> index_symbol("i").is_integer, index_symbol("i").is_positive
    (True, True)
    """
    return Symbol(name, integer=True, positive=True)


def batch_sum(f: Expr, index: Symbol, m: Expr) -> Sum:
    """``Σ_{index=1}^{m} f`` as an unevaluated SymPy ``Sum``.

    >>> m = sympy.Symbol("m", integer=True, positive=True)
    >>> batch_sum(index_symbol("j") ** 2, index_symbol("j"), m)
    Sum(j**2, (j, 1, m))
    """
    return Sum(f, (index, 1, m))


def bound_names(expr: Expr) -> set:
    """Every symbol bound by a ``Sum``/``Product`` anywhere inside ``expr``.

    >>> j = index_symbol("j")
    >>> bound_names(sympy.Sum(j, (j, 1, 3)) + j)
    {j}
    """
    out: set[Symbol] = set()
    for node in sympy.preorder_traversal(expr):
        if isinstance(node, (Sum, sympy.Product)):
            out.update(lim[0] for lim in node.limits)
    return out


def fresh_index(avoid: Iterable, base: str = "q") -> Symbol:
    """An index symbol whose name clashes with nothing in ``avoid`` (symbols or expressions).

    >>> fresh_index([index_symbol("q1"), index_symbol("q2")])
    q3
    """
    names = set()
    for item in avoid:
        if isinstance(item, Symbol):
            names.add(item.name)
        elif isinstance(item, sympy.Basic):
            names.update(s.name for s in item.atoms(Symbol))
            names.update(s.name for s in bound_names(item))
    n = 1
    while f"{base}{n}" in names:
        n += 1
    return index_symbol(f"{base}{n}")


def rename_bound(s: Sum, new: Symbol) -> Sum:
    """Rename the (single) bound index of ``s`` to ``new``, which must not occur free in the summand.

    >>> j, q = index_symbol("j"), index_symbol("q")
    >>> rename_bound(sympy.Sum(j ** 2, (j, 1, 4)), q)
    Sum(q**2, (q, 1, 4))
    """
    if len(s.limits) != 1:
        raise KernelError("rename_bound takes a sum with one bound index")
    (old, lo, hi), = s.limits
    if new == old:
        return s
    if new in s.function.free_symbols:
        raise KernelError(f"renaming {old} to {new} would capture a free {new}")
    return Sum(substitute(s.function, {old: new}), (new, lo, hi))


def substitute(expr: Expr, mapping: dict) -> Expr:
    """``expr`` with each free symbol in ``mapping`` replaced, never capturing a bound index.

    A sum whose bound index occurs free in a replacement is renamed first; its own bound index is never
    replaced.

    >>> j, k = index_symbol("j"), index_symbol("k")
    >>> g = sympy.IndexedBase("g")
    >>> substitute(sympy.Sum(g[j] * g[k], (j, 1, 3)), {k: j})
    Sum(g[j]*g[q1], (q1, 1, 3))
    """
    mapping = {k: sympy.sympify(v) for k, v in mapping.items()}
    if not mapping:
        return expr
    incoming = set().union(*[v.free_symbols for v in mapping.values()])
    return _subst(expr, mapping, incoming)


def rename_apart(expr: Expr, avoid: Iterable[Symbol]) -> Expr:
    """``expr`` with every bound index that is in ``avoid`` renamed to a fresh one.

    >>> j = index_symbol("j")
    >>> rename_apart(sympy.Sum(j, (j, 1, 3)), [j])
    Sum(q1, (q1, 1, 3))
    """
    return _subst(sympy.sympify(expr), {}, set(avoid))


def _subst(expr, mapping, incoming):
    if isinstance(expr, Symbol):
        return mapping.get(expr, expr)
    if not expr.args:
        return expr
    if isinstance(expr, (Sum, sympy.Product)):
        # SymPy stores Σ_outer Σ_inner f as one object with limits innermost first
        bound = [lim[0] for lim in expr.limits]
        body, limits = expr.function, [tuple(lim) for lim in expr.limits]
        clash = [v for v in bound if v in incoming]
        if clash:
            avoid = [body, *bound, *incoming, *mapping.keys(), *[x for lim in limits for x in lim[1:]]]
            renames = {}
            for v in clash:
                new = fresh_index(avoid + list(renames.values()))
                renames[v] = new
            body = _subst(body, renames, set(renames.values()))
            limits = [(renames.get(v, v), _subst(lo, renames, set(renames.values())),
                       _subst(hi, renames, set(renames.values()))) for v, lo, hi in limits]
            bound = [lim[0] for lim in limits]
        inner = {k: v for k, v in mapping.items() if k not in bound}
        if inner:
            body = _subst(body, inner, incoming)
            limits = [(v, _subst(lo, inner, incoming), _subst(hi, inner, incoming)) for v, lo, hi in limits]
        return type(expr)(body, *limits)
    if isinstance(expr, sympy.Derivative):
        return sympy.Derivative(_subst(expr.expr, mapping, incoming),
                                *[(_subst(v, mapping, incoming), n) for v, n in expr.variable_count])
    new_args = [_subst(a, mapping, incoming) for a in expr.args]
    return expr.func(*new_args) if any(x is not y for x, y in zip(new_args, expr.args, strict=False)) else expr


def _affine(expr: Expr, var: Symbol):
    """``(a, b)`` with ``expr = a·var + b``, ``a`` a nonzero integer and ``b`` free of ``var``; else ``None``."""
    if var not in expr.free_symbols or expr.has(Sum):
        return None
    poly = sympy.Poly(sympy.expand(expr), var)
    if poly is None or poly.degree() != 1:
        return None
    a, b = poly.all_coeffs()
    if not (a.is_Integer and a != 0) or b.has(var):
        return None
    return a, b


def _within(value: Expr, lo: Expr, hi: Expr, ranges: dict):
    """``True``/``False`` when ``lo ≤ value ≤ hi`` is decided for every admissible size and index (each index
    ``t`` in ``ranges`` lies in ``[lo_t, hi_t]``, sizes are integers ≥ 1), else the condition as a relational."""
    conds = []
    for diff, rel in ((value - lo, sympy.Ge(value, lo, evaluate=False)),
                      (hi - value, sympy.Le(value, hi, evaluate=False))):
        decided = _nonnegative(sympy.expand(diff), ranges)
        if decided is False:
            return False
        if decided is None:
            conds.append(rel)
    return True if not conds else sympy.And(*conds)


def _nonnegative(diff: Expr, ranges: dict):
    """Decide ``diff ≥ 0`` (``diff`` affine in the indices) over the box of index ranges, for all sizes ≥ 1."""
    if diff.is_number:
        return bool(diff >= 0)
    ts = [t for t in ranges if t in diff.free_symbols]
    try:
        poly = sympy.Poly(diff, *ts) if ts else None
    except sympy.PolynomialError:
        return None
    if poly is not None and poly.total_degree() > 1:
        return None
    # affine in the indices: the extremes are at the corners of the box
    corners = [sympy.expand(diff.xreplace(dict(zip(ts, corner, strict=True))))
               for corner in itertools.product(*[ranges[t] for t in ts])] if ts else [diff]
    if all(_nonneg_in_sizes(v) is True for v in corners):
        return True
    if all(_nonneg_in_sizes(-v - 1) is True for v in corners):  # integer-valued: ≤ −1 everywhere
        return False
    return None


def _nonneg_in_sizes(v: Expr):
    """``v ≥ 0`` for every value ≥ 1 of its (positive integer) size symbols, shown for ``v`` affine with
    nonnegative coefficients and ``v(1, …, 1) ≥ 0``; ``None`` otherwise."""
    v = sympy.expand(v)
    if v.is_number:
        return bool(v >= 0)
    syms = sorted(v.free_symbols, key=str)
    if not all(x.is_integer and x.is_positive for x in syms):
        return None
    poly = sympy.Poly(v, *syms)
    if poly.total_degree() > 1 or any(c < 0 for mon, c in poly.terms() if any(mon)):
        return None
    return True if v.xreplace({x: 1 for x in syms}) >= 0 else None


def sift(term: Expr, var: Symbol, lo: Expr, hi: Expr, ranges: dict) -> Expr | None:
    """``Σ_{var=lo}^{hi} term`` for a product ``term`` with a factor ``δ(a·var + b, t)``; ``None`` if no such factor.

    >>> j, k = index_symbol("j"), index_symbol("k")
    >>> m = sympy.Symbol("m", integer=True, positive=True)
    >>> z = sympy.IndexedBase("z")
    >>> sift(sympy.KroneckerDelta(2 * j, k) * z[j], j, 1, m, {k: (1, m)})
    Piecewise((z[k/2], (k >= 2) & Eq(Mod(k, 2), 0)), (0, True))
    """
    factors = Mul.make_args(term)
    for n, f in enumerate(factors):
        d = f.base if isinstance(f, Pow) and isinstance(f.base, KroneckerDelta) and f.exp.is_positive else f
        if not isinstance(d, KroneckerDelta):
            continue
        x, y = d.args
        xs, ys = var in x.free_symbols, var in y.free_symbols
        if xs == ys:
            continue
        inside, other = (x, y) if xs else (y, x)
        aff = _affine(inside, var)
        if aff is None:
            continue
        a, b = aff
        star = (other - b) / a
        rest = Mul(*(factors[:n] + factors[n + 1:]))
        value = substitute(rest, {var: star})
        cond = _within(star, lo, hi, ranges)
        if abs(a) != 1:
            cond = sympy.And(sympy.Eq(sympy.Mod(other - b, a), 0), cond) if cond is not False else False
        if cond is True:
            return value
        if cond is False:
            return S.Zero
        return sympy.Piecewise((value, cond), (S.Zero, True))
    return None


def normalize(expr: Expr, *, free: Iterable = (), m: Expr | None = None) -> Expr:
    """The canonical form of ``expr``: sums reduced by the rules above, bound indices canonically named.

    ``free`` are the statement's free indices: a symbol ranges over ``1..m``, a pair ``(t, n)`` over ``1..n``
    (e.g. an input index over the width); ``m`` defaults to the upper limit of the sums.

    >>> i, j, k = index_symbol("i"), index_symbol("j"), index_symbol("k")
    >>> m = sympy.Symbol("m", integer=True, positive=True)
    >>> g, u = sympy.IndexedBase("g"), sympy.IndexedBase("u")
    >>> inner = sympy.Sum(g[i] * u[i, k], (i, 1, m))
    >>> normalize(sympy.Sum(inner * g[k], (k, 1, m)))
    Sum(g[_j1]*g[_j2]*u[_j2, _j1], (_j2, 1, m), (_j1, 1, m))
    """
    ranges = {}
    for item in free:
        t, upper = (item if isinstance(item, tuple) else (item, m))
        if upper is None:
            raise KernelError(f"the range of the free index {t} needs m")
        ranges[t] = (S.One, sympy.sympify(upper))
    out = _reduce(sympy.sympify(expr), ranges)
    return _canonical(out, 1)


def expand_concrete(expr: Expr) -> Expr:
    """Write out every sum whose limits are integers (``Σ_{j=1}^{3} z_j = z_1 + z_2 + z_3``), also inside
    sums with symbolic limits.

    >>> j, q = index_symbol("j"), index_symbol("q")
    >>> n = sympy.Symbol("n", integer=True, positive=True)
    >>> u = sympy.IndexedBase("u")
    >>> expand_concrete(sympy.Sum(sympy.Sum(u[j, q], (q, 1, n)), (j, 1, 2)))
    Sum(u[1, q], (q, 1, n)) + Sum(u[2, q], (q, 1, n))
    """
    if not expr.args:
        return expr
    if isinstance(expr, Sum):
        *inner, (var, lo, hi) = expr.limits  # the outermost limit is last
        body = Sum(expr.function, *inner) if inner else expr.function
        if lo.is_Integer and hi.is_Integer:
            if hi - lo > 10_000:
                raise KernelError(f"a sum of {hi - lo + 1} terms is too large to write out")
            return Add(*[expand_concrete(substitute(body, {var: v})) for v in range(int(lo), int(hi) + 1)])
        return Sum(expand_concrete(body), (var, lo, hi))
    return expr.func(*[expand_concrete(a) for a in expr.args])


def _delta_powers(expr):
    return expr.replace(lambda e: isinstance(e, Pow) and isinstance(e.base, KroneckerDelta) and e.exp.is_Integer
                        and e.exp > 0, lambda e: e.base)


def _reduce(expr, ranges):
    if not expr.args or expr.is_Atom:
        return expr
    if isinstance(expr, Sum):
        inner = dict(ranges)
        inner.update({v: (lo, hi) for v, lo, hi in expr.limits})
        body = _reduce(expr.function, inner)
        for n, (var, lo, hi) in enumerate(expr.limits):  # innermost first
            outer = dict(ranges)
            outer.update({v: (lo2, hi2) for v, lo2, hi2 in expr.limits[n + 1:]})
            body = _reduce_sum(body, var, lo, hi, outer)
        return body
    args = [_reduce(a, ranges) for a in expr.args]
    return _delta_powers(expr.func(*args))


def _reduce_sum(body, var, lo, hi, ranges):
    total = []
    for term in Add.make_args(sympy.expand(_delta_powers(body))):
        if var not in term.free_symbols:
            total.append(term * (hi - lo + 1))
            continue
        const = Mul(*[f for f in Mul.make_args(term) if var not in f.free_symbols])
        dep = Mul(*[f for f in Mul.make_args(term) if var in f.free_symbols])
        sifted = sift(dep, var, lo, hi, ranges)
        if sifted is not None:
            total.append(const * _reduce(sifted, ranges))
            continue
        total.append(const * _merge(dep, var, lo, hi))
    return Add(*total)


def _merge(dep: Expr, var: Symbol, lo: Expr, hi: Expr) -> Expr:
    """``Σ_var dep`` with the sums inside ``dep`` brought out: ``Σ_var f·(Σ_q h)^2 = Σ_var Σ_q Σ_q' f·h·h'``,
    one sum over a box of independent ranges with its limits in a canonical order (by their bounds); ``Σ_var dep``
    as is when a range depends on another bound index."""
    factors = []
    for f in Mul.make_args(dep):
        if isinstance(f, Pow) and isinstance(f.base, Sum) and f.exp.is_Integer and 1 < f.exp <= 4:
            factors.extend([f.base] * int(f.exp))
        else:
            factors.append(f)
    inner = [f for f in factors if isinstance(f, Sum)]
    if not inner:
        return Sum(dep, (var, lo, hi))
    others = Mul(*[f for f in factors if not isinstance(f, Sum)])
    avoid = set(others.free_symbols) | {var} | lo.free_symbols | hi.free_symbols
    body = others
    limits: list[tuple] = []
    for piece in inner:
        piece = rename_apart(piece, avoid | {lim[0] for lim in limits})
        avoid |= {lim[0] for lim in piece.limits} | piece.free_symbols
        body = body * piece.function
        limits.extend(piece.limits)
    limits.append((var, lo, hi))
    bound = {lim[0] for lim in limits}
    if len(bound) != len(limits) or any((lim[1].free_symbols | lim[2].free_symbols) & bound for lim in limits):
        return Sum(dep, (var, lo, hi))
    limits.sort(key=lambda lim: (sympy.default_sort_key(lim[2]), sympy.default_sort_key(lim[1])))
    return Sum(sympy.expand(body), *limits)


def _canonical(expr, depth):
    if not expr.args:
        return expr
    if isinstance(expr, Sum):
        limits = list(expr.limits)
        k = len(limits)
        names = {lim[0]: index_symbol(f"{_CANON}{depth + k - 1 - n}") for n, lim in enumerate(limits)}
        body = substitute(expr.function, names)
        new_limits = [(names[v], substitute(lo, names), substitute(hi, names)) for v, lo, hi in limits]
        return Sum(_canonical(body, depth + k), *new_limits)
    return expr.func(*[_canonical(a, depth) for a in expr.args])
