"""One exact zero decision, sound by construction: :func:`decide_zero`.

``decide_zero(expr)`` answers ``True`` only when ``expr`` is 0 at every admissible point where it is
defined (every symbol's assumptions and the caller's ``positive`` / ``nonnegative`` facts hold, every
denominator is nonzero), ``False`` only with a witness: an admissible point where ``expr`` is defined and
certified nonzero (:mod:`bnsym.kernel.zero_witness`), and ``None`` otherwise.

How ``True`` is reached: ``expr`` is brought, bottom-up over its distinct subexpressions, to a fraction of
polynomials (SymPy's sparse rings over ℚ) in generators:

- free variables (symbols, indexed entries ``z[i]``) and opaque atoms (``Sum``, ``Derivative``, ``π``…);
- roots: ``V^(p/q)`` is ``s^p`` with ``s^q = V`` (the principal root satisfies this for every complex ``V``).
  For square roots, factors are moved out first, where that is an identity: the rational content
  (``√(c·X) = √c·√X`` for ``c > 0``), even powers of generators (``√(g²X) = |g|·√X`` for real ``g``, ``g·√X``
  when ``g ≥ 0`` is proved), so ``√(a²σ²) = a·√σ²`` for ``a > 0``. Radicands are never factored;
- ``|u|`` for real ``u``: a generator ``t ≥ 0`` with ``t² = u²`` (``u`` itself when ``u ≥ 0`` is proved);
  for other ``u`` an opaque atom;
- applied functions (``ReLU``, ``ReLU'``, ``sigmoid``, ``sign``, ``Heaviside``, ``exp``, ``Mod``…): one opaque
  atom per distinct application, two applications being the same when their arguments are decided equal.
  Nothing is re-evaluated with stand-in symbols, so no function can evaluate wrongly.

The numerator is reduced modulo the relations ``s^q = V`` and ``t² = u²`` (outer roots first); a zero
remainder proves the identity. The sign facts (:mod:`bnsym.kernel.zero_signs`) are used only to move factors
out of radicands and ``|·|``, never to evaluate anything.

>>> import sympy
>>> z = sympy.symbols("z1:4", real=True)
>>> mu = sum(z) / 3
>>> xhat = [(zi - mu) / sympy.sqrt(sum((zj - mu) ** 2 for zj in z) / 3) for zi in z]
>>> decide_zero(sum(xhat)).value, decide_zero(sum(x**2 for x in xhat) - 3).value
(True, True)
>>> d = decide_zero(xhat[0] - 1)
>>> d.value, sorted(d.witness.items(), key=str)[0][1].is_rational
(False, True)
"""
from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Iterable

import sympy
from sympy import Expr
from sympy.matrices.expressions import MatrixExpr

from ..errors import ValuesError
from ..functions import as_expression
from .zero_algebra import Algebra, children
from .zero_ring import Frac, Regrow, TooLarge, Undefined
from .zero_signs import Signs
from .zero_values import postorder
from .zero_witness import find_witness

__all__ = ["Decision", "decide_zero", "NormalForm", "normal_form"]

WORK_PER_OP = 10  # polynomial term products allowed per node of max_ops before "too large"


@dataclass(frozen=True)
class Decision:
    """The answer of :func:`decide_zero`: ``value`` True / False (with ``witness``) / None, and a one-line ``reason``.

    >>> Decision(None, None, "undecided").value is None
    True
    >>> bool(Decision(True, None, "0"))
    Traceback (most recent call last):
    ...
    TypeError: a Decision is not a truth value: use .value (True, False or None)
    """

    value: bool | None
    witness: dict | None
    reason: str

    def __bool__(self):
        raise TypeError("a Decision is not a truth value: use .value (True, False or None)")


def _size(exprs: list, max_ops: int) -> int | None:
    """Generators needed (an upper bound), or ``None`` when there are more than ``max_ops`` distinct nodes."""
    count, gens = 0, 4
    for node in postorder(sympy.Tuple(*exprs), lambda e: e.args if isinstance(e, sympy.Tuple) else children(e)):
        count += 1
        if count > max_ops:
            return None
        if not (node.is_Number or node.is_Add or node.is_Mul or (node.is_Pow and node.exp.is_Integer)):
            gens += 2 if node.is_Pow else 1
    return -(-gens // 8) * 8


def _show(alg: Algebra, poly, limit: int = 12) -> str:
    if len(poly) > limit:
        return f"(a polynomial of {len(poly)} terms)"
    names = {}
    for k, info in enumerate(alg.gens):
        names[alg.ring.symbols[k]] = info.node if info.kind in ("var", "atom") else sympy.Symbol(
            f"{'s' if info.kind == 'root' else 't'}{k}")
    text = sympy.sstr(poly.as_expr().xreplace(names))
    return text if len(text) <= 100 else text[:97] + "..."


def _relations(alg: Algebra) -> str:
    parts = []
    for k in sorted(alg.used):
        q, num, den = alg.gens[k].relation
        name = f"{'s' if alg.gens[k].kind == 'root' else 't'}{k}"
        value = _show(alg, num) if not den else f"({_show(alg, num)})/({_show(alg, alg.den_poly(den))})"
        parts.append(f"{name}^{q} = {value}")
    return ", ".join(parts)


def _value_text(value) -> str:
    import mpmath

    if value[0] == "q":
        re, im = value[1], value[2]
        return str(re) if im == 0 else (f"{im}*I" if re == 0 else f"{re} + ({im})*I")
    parts = [mpmath.nstr(mpmath.mpf(part.mid), 8) if not part.a <= 0 <= part.b else None for part in value[1:]]
    if parts[1] is None:
        return parts[0] or "0"
    return f"{parts[1]}*I" if parts[0] is None else f"{parts[0]} + ({parts[1]})*I"


def _facts(values, what: str, strict: bool) -> list:
    """The caller's facts as expressions; a numeric fact must be true (a false one would empty the domain)."""
    facts = [as_expression(v, what) for v in (values or ())]
    for fact in facts:
        if not isinstance(fact, Expr):
            raise ValuesError(f"{what} must be an expression, got {type(fact).__name__}")
        if fact.is_number and fact.is_comparable and not (fact > 0 if strict else fact >= 0):
            raise ValuesError(f"{what} {fact} is false")
    return facts


def _unsupported(expr: Expr) -> str | None:
    """Why ``expr`` is outside the commutative scalar algebra the decision works in, if it is."""
    if isinstance(expr, MatrixExpr) or expr.has(MatrixExpr):
        return "a matrix expression (decide its entries)"
    if any(s.is_commutative is False for s in expr.free_symbols):
        return "noncommutative symbols"
    return None


def decide_zero(expr, *, positive: Iterable = (), nonnegative: Iterable = (), max_ops: int = 20000) -> Decision:
    """Is ``expr`` zero on the admissible domain? ``True`` proved, ``False`` with a witness, ``None`` undecided.

    ``positive`` / ``nonnegative``: expressions established by the caller (> 0, ≥ 0); they restrict the domain
    (a witness satisfies them) and let radicals of them be treated as real. A matrix is zero when every entry is.

    >>> x = sympy.Symbol("x", real=True)
    >>> decide_zero(sympy.Abs(x) ** 2 - x**2).value, decide_zero(sympy.sign(sympy.sqrt(x)) - 1).value
    (True, False)
    >>> v = sympy.Symbol("v", real=True)
    >>> decide_zero((sympy.sqrt(v) + 1) ** 2 - v - 2 * sympy.sqrt(v) - 1).reason
    'numerator reduces to 0 modulo s1^2 = v'
    >>> decide_zero(sympy.Abs(sympy.sqrt(v)) - sympy.sqrt(v), nonnegative=[v]).value
    True
    """
    if isinstance(max_ops, bool) or not isinstance(max_ops, int) or max_ops < 1:
        raise ValuesError(f"max_ops must be a positive integer, got {max_ops!r}")
    positive = _facts(positive, "a positive fact", True)
    nonnegative = _facts(nonnegative, "a nonnegative fact", False)
    if isinstance(expr, sympy.MatrixBase):
        return _decide_matrix(expr, positive, nonnegative, max_ops)
    expr = as_expression(expr, "expr")
    if not isinstance(expr, Expr):
        raise ValuesError(f"decide_zero needs an expression, got {type(expr).__name__}")
    if expr == 0:
        return Decision(True, None, "the expression is 0 as written")
    unsupported = _unsupported(sympy.Tuple(expr, *positive, *nonnegative))
    if unsupported is not None:
        return Decision(None, None, f"not decided: {unsupported}")
    try:
        alg, frac, num = _reduce(expr, positive, nonnegative, max_ops)
    except TooLarge as error:
        return Decision(None, None, f"too large: {error} (max_ops = {max_ops})")
    except Undefined as error:
        return Decision(None, None, f"undefined: {error}")
    if not num:
        used = _relations(alg)
        atoms = " (roots, |·| and functions as atoms)" if any(g.kind != "var" for g in alg.gens) else \
            " (rational identity)"
        notes = "".join(f"; {note}" for note in sorted(alg.notes))
        return Decision(True, None, "numerator reduces to 0" + (f" modulo {used}" if used else atoms) + notes)
    found = find_witness(expr, positive, nonnegative)
    if found is not None:
        point, value = found
        return Decision(False, point, f"value {_value_text(value)} ≠ 0 at an admissible point")
    return Decision(None, None, "the numerator does not reduce to 0 and no admissible witness was found")


def _reduce(expr: Expr, positive: list, nonnegative: list, max_ops: int):
    """``(algebra, fraction, reduced numerator)``; raises ``TooLarge`` / ``Undefined``."""
    size = _size([expr, *positive, *nonnegative], max_ops)
    if size is None:
        raise TooLarge(f"more than {max_ops} distinct subexpressions")
    signs = Signs(positive, nonnegative)
    while True:
        alg = Algebra(size, signs, WORK_PER_OP * max_ops)
        try:
            for fact in positive:
                alg.register_fact(fact, True)
            for fact in nonnegative:
                alg.register_fact(fact, False)
            frac = alg.convert(expr)
            num, extra = alg.reduce(frac.num)
            frac = Frac(frac.num, dict(frac.den))
            for f, e in extra.items():
                frac.den[f] = frac.den.get(f, 0) + e
            if not num and any(not alg.reduce(f)[0] for f in [*alg.inverted, *frac.den]):
                raise Undefined("a denominator is 0 wherever the expression is defined")
            return alg, frac, num
        except Regrow:
            size += max(size // 2, 8)


@dataclass(frozen=True)
class NormalForm:
    """``expr = numerator/denominator`` where the generators satisfy ``relations``: ``(symbol, q, V)``:
    ``symbol^q = V``.

    ``symbol`` stands for ``V^(1/q)`` (principal root) or for ``|u|`` (``q = 2``, ``V = u²``); it carries no
    assumptions. Free variables and opaque atoms (``ReLU(z)``, ``Sum(…)``) appear as themselves.
    """

    numerator: Expr
    denominator: Expr
    relations: tuple


def normal_form(expr, *, positive: Iterable = (), nonnegative: Iterable = (), max_ops: int = 20000) -> NormalForm:
    """The reduced fraction behind :func:`decide_zero` (its numerator is 0 when that answers ``True``).

    >>> x = sympy.Symbol("x", positive=True)
    >>> form = normal_form(1 / (sympy.sqrt(x) + 1))
    >>> form.numerator, form.denominator, [(q, v) for _, q, v in form.relations]
    (1, _s1 + 1, [(2, x)])

    Raises :class:`~bnsym.errors.ValuesError` for an expression that is too large or undefined.
    """
    positive = _facts(positive, "a positive fact", True)
    nonnegative = _facts(nonnegative, "a nonnegative fact", False)
    expr = as_expression(expr, "expr")
    unsupported = _unsupported(sympy.Tuple(expr, *positive, *nonnegative))
    if unsupported is not None:
        raise ValuesError(f"no normal form: {unsupported}")
    try:
        alg, frac, num = _reduce(expr, positive, nonnegative, max_ops)
    except (TooLarge, Undefined) as error:
        raise ValuesError(f"no normal form: {error}") from None
    names = {}
    for k, info in enumerate(alg.gens):
        names[alg.ring.symbols[k]] = info.node if info.kind in ("var", "atom") else sympy.Dummy(
            f"{'s' if info.kind == 'root' else 't'}{k}")
    relations = tuple((names[alg.ring.symbols[k]], info.relation[0],
                       (info.relation[1].as_expr() / alg.den_poly(info.relation[2]).as_expr()).xreplace(names))
                      for k, info in enumerate(alg.gens) if info.relation is not None)
    return NormalForm(num.as_expr().xreplace(names), alg.den_poly(frac.den).as_expr().xreplace(names), relations)


def _decide_matrix(matrix, positive, nonnegative, max_ops) -> Decision:
    undecided = None
    for entry in matrix:
        d = decide_zero(entry, positive=positive, nonnegative=nonnegative, max_ops=max_ops)
        if d.value is False:
            return d
        if d.value is None and undecided is None:
            undecided = d
    return undecided if undecided is not None else Decision(True, None, "every entry is 0")

