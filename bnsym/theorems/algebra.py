"""General-``m`` algebra: batch statistics as quantities with known partial derivatives, sums reduced by facts.

SymPy's ``Sum``/``KroneckerDelta`` simplification crashes on the BN Jacobian (``StopIteration`` in
``sum_simplify``, SymPy 1.14), so sums over the batch are reduced here by a short table of exact rules, for
symbolic ``m``:

* ``Σ_j δ_jk f_j = f_k`` (the sifting property);
* ``Σ_j c = m c`` for ``c`` free of ``j``; the sum is linear;
* ``Σ_j z_j = m μ`` and ``Σ_j z_j² = m (σ² + μ²)`` (the definitions of ``μ`` and of the biased ``σ²``);
* ``Σ_j x̂_j = 0`` and ``Σ_j x̂_j² = m σ²/(σ² + ε)`` (both follow from the two definitions; ``= m`` at ``ε = 0``).

Anything else stays an irreducible ``Sum`` over the canonical index ``j`` (e.g. ``Σ_j g_j``).
A generic sample is "entry ``i``" / "entry ``k``" (symbols), so every result holds for all ``m`` at once.

>>> e, facts = batch_sum(KroneckerDelta(j, k) * xhat[j] + xhat[j] ** 2, j)
>>> e
m + xhat[k]
>>> facts
['Σ_j x̂_j² = m σ²/(σ² + ε)', 'Σ_j δ_jk f_j = f_k']
"""
from __future__ import annotations

import sympy
from sympy import Add, Eq, Expr, IndexedBase, KroneckerDelta, Mul, Pow, S, Sum, Symbol

from .proof import Step

__all__ = [
    "m", "i", "k", "l", "r", "j", "z", "xhat", "g", "u", "W", "mu", "sigma", "epsilon", "gamma", "beta",
    "std", "batch_sum", "Chain", "d_dz", "jacobian_entry", "equal",
]

m = Symbol("m", integer=True, positive=True)
i, k, l, r = sympy.symbols("i k l r", integer=True, positive=True)
j = Symbol("j", integer=True, positive=True)  # canonical bound index of irreducible sums; never a free index
z = IndexedBase("z", real=True)
xhat = IndexedBase("xhat", real=True)
g = IndexedBase("g", real=True)
u = IndexedBase("u", real=True)
W = IndexedBase("W", real=True)
mu = Symbol("mu", real=True)
sigma = Symbol("sigma", positive=True)
epsilon = Symbol("epsilon", positive=True)
gamma = Symbol("gamma", real=True)
beta = Symbol("beta", real=True)


def std(eps: Expr = S.Zero) -> Expr:
    """``s = √(σ² + ε)``; exactly ``σ`` when ``ε = 0`` (``σ`` is a positive symbol: non-constant batch).

    >>> std(), std(epsilon)
    (sigma, sqrt(epsilon + sigma**2))
    """
    return sympy.sqrt(sigma**2 + eps)


def _facts(eps: Expr) -> dict:
    return {
        S.One: (m, "Σ_j 1 = m"),
        z[j]: (m * mu, "definition of μ: Σ_j z_j = m μ"),
        z[j] ** 2: (m * (sigma**2 + mu**2), "definition of σ²: Σ_j z_j² = m (σ² + μ²)"),
        xhat[j]: (S.Zero, "Σ_j x̂_j = 0"),
        xhat[j] ** 2: (m * sigma**2 / (sigma**2 + eps), "Σ_j x̂_j² = m σ²/(σ² + ε)"),
    }


def batch_sum(expr: Expr, index: Symbol, eps: Expr = S.Zero) -> tuple[Expr, list[str]]:
    """``Σ_{index=1..m} expr`` reduced by the exact rules above; returns the result and the rules used.

    >>> batch_sum(z[k] - mu, k)
    (0, ['definition of μ: Σ_j z_j = m μ', 'Σ_j 1 = m'])
    >>> batch_sum(g[k] * xhat[k], k)[0]
    Sum(g[j]*xhat[j], (j, 1, m))
    """
    facts = _facts(sympy.sympify(eps))
    used: list[str] = []
    out = []
    for term in Add.make_args(sympy.expand(expr)):
        const, dep = [], []
        for f in Mul.make_args(term):
            (dep if index in f.free_symbols else const).append(f)
        c = Mul(*const)
        delta = next((f for f in dep if isinstance(f, KroneckerDelta)
                      or (isinstance(f, Pow) and isinstance(f.base, KroneckerDelta))), None)
        if delta is not None:
            d = delta.base if isinstance(delta, Pow) else delta  # δ^n = δ
            other = d.args[0] if d.args[1] == index else d.args[1]
            rest = Mul(*[f for f in dep if f is not delta])
            out.append(c * rest.subs(index, other))
            _add(used, "Σ_j δ_jk f_j = f_k")
            continue
        key = Mul(*dep).xreplace({index: j})
        if key in facts:
            value, why = facts[key]
            out.append(c * value)
            _add(used, why)
        else:
            out.append(c * Sum(key, (j, 1, m)))
    return Add(*out), sorted(used)


def _add(used: list[str], why: str) -> None:
    if why not in used:
        used.append(why)


class Chain:
    """Records a proof's chain of equalities as :class:`~bnsym.theorems.proof.Step` objects.

    >>> c = Chain()
    >>> c.eq(sympy.Symbol("x") * 2, 2 * sympy.Symbol("x"), "collect")
    2*x
    >>> len(c.steps)
    1
    """

    def __init__(self) -> None:
        self.steps: list[Step] = []

    def eq(self, lhs, rhs, reason: str):
        """Append ``lhs = rhs`` with its reason; return ``rhs``."""
        self.steps.append(Step(Eq(lhs, rhs, evaluate=False), reason or "linearity of the finite sum"))
        return rhs

    def note(self, expr, reason: str) -> None:
        """Append a relation or statement that is not an equality (an inequality, a limit...)."""
        self.steps.append(Step(expr, reason))


def d_dz(expr: Expr, index: Symbol, eps: Expr = S.Zero) -> Expr:
    """Total derivative ``d expr/d z_index`` of an expression in ``z_·``, ``μ``, ``σ`` (general ``m``).

    Uses ``∂z_i/∂z_k = δ_ik`` (SymPy's own rule for indexed symbols), ``∂μ/∂z_k = 1/m`` and
    ``∂σ/∂z_k = (z_k − μ)/(m σ)`` (from :func:`statistics_partials`).

    >>> d_dz(z[i] - mu, k)
    KroneckerDelta(i, k) - 1/m
    """
    dmu, dsigma = statistics_partials(index)
    return sympy.diff(expr, z[index]) + sympy.diff(expr, mu) * dmu + sympy.diff(expr, sigma) * dsigma


def statistics_partials(index: Symbol, chain: Chain | None = None) -> tuple[Expr, Expr]:
    """``(∂μ/∂z_k, ∂σ/∂z_k)`` derived from the definitions by :func:`batch_sum`, steps into ``chain``.

    >>> statistics_partials(k)
    (1/m, -(mu - z[k])/(m*sigma))
    """
    dmu, why1 = batch_sum(KroneckerDelta(j_ := Symbol("l", integer=True, positive=True), index), j_)
    dmu = dmu / m
    # σ² = (1/m) Σ_l (z_l − μ)²  ⇒  ∂σ²/∂z_k = (1/m) Σ_l 2 (z_l − μ)(δ_lk − ∂μ/∂z_k)
    summand = 2 * (z[j_] - mu) * (KroneckerDelta(j_, index) - dmu)
    dvar, why2 = batch_sum(summand, j_)
    dvar = sympy.factor(dvar / m)
    dsigma = dvar / (2 * sigma)
    if chain is not None:
        chain.eq(sympy.Derivative(mu, z[index]), Sum(KroneckerDelta(j_, index), (j_, 1, m)) / m,
                 "definition μ = (1/m) Σ_l z_l; ∂z_l/∂z_k = δ_lk")
        chain.eq(Sum(KroneckerDelta(j_, index), (j_, 1, m)) / m, dmu, "; ".join(why1))
        chain.eq(sympy.Derivative(sigma**2, z[index]), Sum(summand, (j_, 1, m)) / m,
                 "definition σ² = (1/m) Σ_l (z_l − μ)²; chain rule")
        chain.eq(Sum(summand, (j_, 1, m)) / m, dvar, "; ".join(why2))
        chain.eq(sympy.Derivative(sigma, z[index]), dsigma, "∂σ/∂z_k = (∂σ²/∂z_k)/(2σ)")
    return dmu, dsigma


def jacobian_entry(row: Symbol, col: Symbol, eps: Expr = S.Zero) -> Expr:
    """The closed form ``∂x̂_i/∂z_k = (δ_ik − 1/m − x̂_i x̂_k/m)/s`` (proved by ``bn_jacobian``).

    >>> jacobian_entry(i, k)
    (KroneckerDelta(i, k) - xhat[i]*xhat[k]/m - 1/m)/sigma
    """
    return (KroneckerDelta(row, col) - 1 / m - xhat[row] * xhat[col] / m) / std(eps)


def equal(lhs: Expr, rhs: Expr) -> bool:
    """Exact equality of two rational expressions (numerators of the difference expand to 0).

    Sound: ``True`` only if ``lhs − rhs`` is identically 0 as a rational function of its symbols.

    >>> equal((z[i] - mu) / sigma, z[i] / sigma - mu / sigma), equal(sigma, mu)
    (True, False)
    """
    diff = sympy.together(sympy.expand(lhs - rhs))
    num, _ = sympy.fraction(diff)
    return sympy.expand(num) == 0
