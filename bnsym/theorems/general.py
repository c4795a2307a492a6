"""General-``m`` proofs of the catalogue, from the algebra in :mod:`bnsym.theorems.algebra`.

Each prover takes the options of :func:`bnsym.prove` and returns an :class:`Outcome`; every claimed equality is
checked with :func:`~bnsym.theorems.algebra.equal` (exact rational-function identity) before it is recorded.

>>> out = jacobian(Options())
>>> out.holds, len(out.steps) > 5
(True, True)
"""
from __future__ import annotations

from dataclasses import dataclass, field

import sympy
from sympy import Abs, Eq, KroneckerDelta, S, Sum, Symbol

from .algebra import (Chain, batch_sum, beta, d_dz, epsilon, equal, g, gamma, i, j, k, l, m, mu, r, sigma, std,
                      statistics_partials, u, xhat, z)

__all__ = ["Options", "Outcome"]

ell = Symbol("ell", real=True)  # the loss ℓ
vv = sympy.IndexedBase("v", real=True)  # v = ∂ℓ/∂z
xt = sympy.IndexedBase("xtilde", real=True)  # x̂ of the scaled batch
n_ = Symbol("n", integer=True, positive=True)  # width (inputs per unit)
BN = sympy.Function("BN")


def dl(wrt):
    """``∂ℓ/∂wrt`` as an unevaluated derivative (for display)."""
    return sympy.Derivative(ell, wrt)


@dataclass(frozen=True)
class Options:
    """What :func:`bnsym.prove` was asked: batch size, sign of ``a``, ``ε``, width, printed coefficient.

    >>> Options().sign, Options().eps
    ('positive', 0)
    """

    batch: int | str = "m"
    sign: str = "positive"
    eps: sympy.Expr = S.Zero
    width: int = 1
    coefficient: str = "1/m"
    constant: bool = False

    @property
    def a(self) -> Symbol:
        """The scale ``a`` with its sign as a SymPy assumption."""
        return Symbol("a", positive=True) if self.sign == "positive" else Symbol("a", negative=True)


@dataclass
class Outcome:
    """What a prover established (the parts of a :class:`~bnsym.theorems.proof.Proof` it decides)."""

    holds: bool | None
    steps: list = field(default_factory=list)
    method: str = "general m (symbolic)"
    reason: str | None = None
    replacement: str | None = None
    replacement_latex: str | None = None
    counterexample: dict | None = None


def _d(index):
    return z[index] - mu


def jac(di, dk, s, row=i, col=k):
    """Closed-form BN Jacobian entry in centred values ``d = z − μ`` and ``s = √(σ² + ε)``."""
    return (KroneckerDelta(row, col) - 1 / m - di * dk / (m * s**2)) / s


def _failed(chain, what):
    return Outcome(None, chain.steps, reason=f"could not establish {what} exactly")


# -- §2 the Jacobian --------------------------------------------------------------------------------------------
def jacobian(opts: Options) -> Outcome:
    """``∂x̂_i/∂z_k = (δ_ik − 1/m − x̂_i x̂_k/m)/s`` for every ``ε ≥ 0``."""
    eps = opts.eps
    c = Chain()
    statistics_partials(k, c)
    s = std(eps)
    xi = (z[i] - mu) / s
    raw = d_dz(xi, k, eps)
    c.eq(sympy.Derivative(xhat[i], z[k]), raw,
         "x̂_i = (z_i − μ)/√(σ² + ε); chain rule with ∂z_i/∂z_k = δ_ik and the partials above")
    in_x = sympy.expand(raw.subs({z[i]: mu + s * xhat[i], z[k]: mu + s * xhat[k]}))
    target = (KroneckerDelta(i, k) - 1 / m - xhat[i] * xhat[k] / m) / s
    if not equal(in_x, target):
        return _failed(c, "the closed form")
    c.eq(raw, target, "z_i − μ = s x̂_i; collect")
    c.eq(target, target.xreplace({i: k, k: i}), "symmetric in i and k")
    return Outcome(True, c.steps)


def null_space(opts: Options) -> Outcome:
    """``J·1 = 0`` always, ``J·x̂ = 0`` at ``ε = 0``; ``P`` is a projector of rank ``m − 2``."""
    eps = opts.eps
    c = Chain()
    J = jac(xhat[i] * std(eps), xhat[k] * std(eps), std(eps))
    c.eq(sympy.Derivative(xhat[i], z[k]), J, "closed form (theorem bn_jacobian), z − μ = s x̂")
    ones, why = batch_sum(J, k, eps)
    c.eq(Sum(J, (k, 1, m)), ones, "; ".join(why))
    if ones != 0:
        return _failed(c, "J·1 = 0")
    jx, why = batch_sum(J * xhat[k], k, eps)
    jx = sympy.factor(jx)
    c.eq(Sum(J * xhat[k], (k, 1, m)), jx, "; ".join(why))
    if jx != 0:
        repl = Eq(Sum(sympy.Derivative(xhat[i], z[k]) * xhat[k], (k, 1, m)), jx, evaluate=False)
        return Outcome(False, c.steps, reason="J·x̂ = 0 only when ε = 0",
                       replacement=f"J·x̂ = {sympy.sstr(jx)} (ε > 0)", replacement_latex=sympy.latex(repl),
                       counterexample=_numeric_null_space_counterexample())
    # P = s J is a symmetric projector with trace m − 2, so its null space is 2-dimensional: span{1, x̂}
    P = (KroneckerDelta(i, k) - 1 / m - xhat[i] * xhat[k] / m)
    P2, why = batch_sum(P.xreplace({k: l}) * P.xreplace({i: l}), l, eps)
    c.eq(Sum(P.xreplace({k: l}) * P.xreplace({i: l}), (l, 1, m)), P2, "; ".join(why))
    if not equal(P2, P):
        return _failed(c, "P² = P")
    c.eq(P2, P, "so P = σJ is an orthogonal projector (P² = P = Pᵀ)")
    tr, why = batch_sum(P.xreplace({k: i}), i, eps)
    c.eq(Sum(P.xreplace({k: i}), (i, 1, m)), tr, "; ".join(why) + " (trace)")
    if not equal(tr, m - 2):
        return _failed(c, "trace P = m − 2")
    c.note(sympy.Eq(sympy.Symbol("d", integer=True), 2), "d = dim null P: rank P = trace P = m − 2, so d = 2; 1 ⟂ x̂ "
           "(Σ x̂_j = 0), both nonzero, so null P = span{1, x̂}")
    # the gradient that reaches z: v_k = Σ_i g_i J_ik is orthogonal to 1 and x̂
    v, _ = batch_sum(g[i] * J, i, eps)
    c.eq(Sum(g[i] * J, (i, 1, m)), v, "gradient reaching z_k: v_k = Σ_i g_i ∂x̂_i/∂z_k")
    v1, why1 = batch_sum(v, k, eps)
    vx, why2 = batch_sum(v * xhat[k], k, eps)
    c.eq(Sum(v, (k, 1, m)), v1, "; ".join(why1))
    c.eq(Sum(v * xhat[k], (k, 1, m)), vx, "; ".join(why2))
    if v1 != 0 or sympy.simplify(vx) != 0:
        return _failed(c, "orthogonality of the gradient")
    return Outcome(True, c.steps)


def _numeric_null_space_counterexample() -> dict:
    import numpy as np

    zz = np.array([0.0, 1.0, 3.0])
    e = 0.5
    d = zz - zz.mean()
    s = np.sqrt(d.var() + e)
    xh = d / s
    J = (np.eye(3) - 1 / 3 - np.outer(xh, xh) / 3) / s
    return {"m": 3, "z": zz.tolist(), "eps": e, "J_xhat": (J @ xh).tolist()}


# -- §1 / §3 scale invariance --------------------------------------------------------------------------------------
def scaled_statistics(c: Chain, a, eps):
    """Record and check ``μ(az) = aμ``, ``σ²(az) = a²σ²``, ``√(a²σ² + ε) = |a| √(σ² + ε/a²)``."""
    mu_a, why = batch_sum(a * z[l], l)
    mu_a = mu_a / m
    c.eq(Symbol("mu'"), Sum(a * z[l], (l, 1, m)) / m, "batch mean of the scaled batch a z")
    c.eq(Sum(a * z[l], (l, 1, m)) / m, mu_a, "; ".join(why))
    var_a, why = batch_sum(sympy.expand((a * z[l] - mu_a) ** 2), l)
    var_a = sympy.factor(var_a / m)
    c.eq(Symbol("sigma'", positive=True) ** 2, Sum((a * z[l] - mu_a) ** 2, (l, 1, m)) / m, "biased batch variance of a z")
    c.eq(Sum((a * z[l] - mu_a) ** 2, (l, 1, m)) / m, var_a, "; ".join(why))
    if not equal(var_a, a**2 * sigma**2) or not equal(mu_a, a * mu):
        return None
    eps2 = eps / a**2
    s_a = Abs(a) * std(eps2)
    c.eq(sympy.Pow(a**2 * sigma**2 + eps, S.Half, evaluate=False), s_a, "√(a²σ² + ε) = |a| √(σ² + ε/a²)  (both sides positive; squares "
         "agree)")
    if not equal(s_a**2, a**2 * sigma**2 + eps):
        return None
    return mu_a, var_a, s_a, eps2


def _scale_failure(opts, c, claim_text, repl_text, repl_latex, limit_expr, cex, again=None):
    """Outcome when the identity fails (a < 0 or ε > 0): what holds instead, and its ε → 0 limit.

    ``limit_expr`` is the exact deviation in symbolic ``ε``; for a numeric ``ε`` the symbolic proof
    ``again`` supplies the limit step.
    """
    eps = opts.eps
    if eps != 0 and eps.is_number and again is not None:
        sym = again(Options(batch=opts.batch, sign=opts.sign, eps=epsilon, width=opts.width))
        c.note(sym.steps[-1].expr, f"for ε = {eps} the deviation is the formula above; symbolically in ε: "
               + sym.steps[-1].reason)
    elif eps != 0 and limit_expr is not None:
        lim = sympy.limit(limit_expr, epsilon, 0, "+")
        c.note(Eq(sympy.Limit(limit_expr, epsilon, 0), lim, evaluate=False),
               "the deviation vanishes as ε → 0" if lim == 0 else "limit of the deviation")
    return Outcome(False, c.steps, reason=claim_text, replacement=repl_text, replacement_latex=repl_latex,
                   counterexample=cex)


def scale_forward(opts: Options) -> Outcome:
    """``BN(aWu) = BN(Wu)`` for ``a > 0``, ``ε = 0``."""
    a, eps = opts.a, opts.eps
    c = Chain()
    st = scaled_statistics(c, a, eps)
    if st is None:
        return _failed(c, "the scaled statistics")
    mu_a, var_a, s_a, eps2 = st
    xa = (a * z[i] - mu_a) / s_a
    sgn = a / Abs(a)
    target = sgn * (z[i] - mu) / std(eps2)
    c.eq(sympy.Function("xhat'")(i), xa, "x̂'_i = (a z_i − μ')/√(σ'² + ε)")
    if not equal(xa, target):
        return _failed(c, "the scaled normalization")
    c.eq(xa, target, "cancel a/|a|")
    y_a = gamma * target + beta
    y = gamma * (z[i] - mu) / std(eps) + beta
    if equal(y_a, y):
        c.eq(gamma * xa + beta, y, "BN(aWu)_i = γ x̂_i + β = BN(Wu)_i")
        return Outcome(True, c.steps)
    dev = sympy.simplify(y_a - y) if eps == 0 else (z[i] - mu) * gamma * (1 / std(eps2) - 1 / std(eps))
    text = "BN_ε(aWu) = (a/|a|)·BN_{ε/a²}(Wu) in its normalized part: x̂_ε(az) = (a/|a|)·x̂_{ε/a²}(z)"
    if opts.sign == "negative" and eps == 0:
        text = "for a < 0: BN(aWu) = γ(−x̂) + β = 2β − BN(Wu); the normalized part flips sign"
    c.eq(BN(a * z[i]) - BN(z[i]), dev, "what holds instead (BN of the batch, entry i)")
    return _scale_failure(opts, c, "fails unless a > 0 and ε = 0", text,
                          sympy.latex(Eq(sympy.Function(r"\hat{x}_{\epsilon}")(a * z[i]),
                                         sgn * sympy.Function(r"\hat{x}_{\epsilon/a^{2}}")(z[i]))),
                          dev if eps != 0 else None, _numeric_scale_counterexample(opts, "forward"), scale_forward)


def scale_input_grad(opts: Options) -> Outcome:
    """``∂BN(aWu)/∂u = ∂BN(Wu)/∂u`` for ``a > 0``, ``ε = 0``."""
    a, eps = opts.a, opts.eps
    c = Chain()
    st = scaled_statistics(c, a, eps)
    if st is None:
        return _failed(c, "the scaled statistics")
    mu_a, var_a, s_a, eps2 = st
    t = sympy.Indexed(u, k, r)
    # z_l = Σ_r W_r u_lr, so ∂z_l/∂u_kr = δ_lk W_r
    Wr = sympy.Indexed(sympy.IndexedBase("W", real=True), r)
    rhs_sum = jac(_d(i), _d(l), std(eps), i, l) * KroneckerDelta(l, k) * Wr
    rhs, why = batch_sum(rhs_sum, l)
    c.eq(sympy.Derivative(xhat[i], t), Sum(rhs_sum, (l, 1, m)), "chain rule; ∂z_l/∂u_kr = δ_lk W_r; J closed form")
    c.eq(Sum(rhs_sum, (l, 1, m)), rhs, "; ".join(why))
    Ja = jac(a * _d(i), a * _d(l), s_a, i, l)
    lhs_sum = Ja * a * KroneckerDelta(l, k) * Wr
    lhs, why = batch_sum(lhs_sum, l)
    c.eq(sympy.Derivative(xt[i], t), Sum(lhs_sum, (l, 1, m)), "x̃ = x̂ of the scaled batch a z; J of that batch, ∂(aWu_l)/∂u_kr = "
         "a δ_lk W_r")
    c.eq(Sum(lhs_sum, (l, 1, m)), lhs, "; ".join(why))
    sgn = a / Abs(a)
    expected = sgn * jac(_d(i), _d(k), std(eps2), i, k) * Wr
    if not equal(lhs, expected):
        return _failed(c, "the scaled input gradient")
    c.eq(lhs, expected, "J(az) = J_{ε/a²}(z)/|a|")
    if equal(expected, rhs):
        c.eq(expected, rhs, "a > 0, ε = 0: a/|a| = 1 and ε/a² = ε")
        return Outcome(True, c.steps)
    text = ("for a < 0: ∂BN(aWu)/∂u = −∂BN(Wu)/∂u (sign flips)" if eps == 0 else
            "∂BN_ε(aWu)/∂u = (a/|a|)·∂BN_{ε/a²}(Wu)/∂u")
    return _scale_failure(opts, c, "fails unless a > 0 and ε = 0", text,
                          sympy.latex(Eq(Symbol(r"\frac{\partial BN_{\epsilon}(aWu)}{\partial u}"),
                                         sgn * Symbol(r"\frac{\partial BN_{\epsilon/a^{2}}(Wu)}{\partial u}"))),
                          (expected - rhs).subs(KroneckerDelta(i, k), Symbol("delta_ik")) if eps != 0 else None,
                          _numeric_scale_counterexample(opts, "input_grad"), scale_input_grad)


def scale_weight_grad(opts: Options) -> Outcome:
    """``∂BN(Vu)/∂V |_{V=aW} = (1/a)·∂BN(Wu)/∂W`` for ``a > 0``, ``ε = 0``."""
    a, eps = opts.a, opts.eps
    c = Chain()
    st = scaled_statistics(c, a, eps)
    if st is None:
        return _failed(c, "the scaled statistics")
    mu_a, var_a, s_a, eps2 = st
    Wr = sympy.Indexed(sympy.IndexedBase("W", real=True), r)
    ulr = sympy.Indexed(u, l, r)
    rhs_sum = jac(_d(i), _d(l), std(eps), i, l) * ulr
    rhs, why = batch_sum(rhs_sum, l)
    c.eq(sympy.Derivative(xhat[i], Wr), Sum(rhs_sum, (l, 1, m)), "chain rule; ∂z_l/∂W_r = u_lr")
    c.eq(Sum(rhs_sum, (l, 1, m)), rhs, "; ".join(why))
    lhs_sum = jac(a * _d(i), a * _d(l), s_a, i, l) * ulr
    lhs, why = batch_sum(lhs_sum, l)
    c.eq(Symbol("LHS_ir", real=True), Sum(lhs_sum, (l, 1, m)), "LHS = ∂x̂_i(Vu)/∂V_r at V = aW: the batch is a z; "
         "∂(Vu_l)/∂V_r = u_lr")
    c.eq(Sum(lhs_sum, (l, 1, m)), lhs, "; ".join(why))
    expected = batch_sum(jac(_d(i), _d(l), std(eps2), i, l) * ulr, l)[0] / Abs(a)
    if not equal(lhs, expected):
        return _failed(c, "the scaled weight gradient")
    c.eq(lhs, expected, "J(az) = J_{ε/a²}(z)/|a|")
    if equal(expected, rhs / a):
        c.eq(expected, rhs / a, "a > 0, ε = 0: |a| = a")
        return Outcome(True, c.steps)
    text = ("for a < 0: ∂BN(Vu)/∂V at V = aW equals −(1/a)·∂BN(Wu)/∂W = (1/|a|)·∂BN(Wu)/∂W" if eps == 0 else
            "∂BN_ε(Vu)/∂V at V = aW equals (1/|a|)·∂BN_{ε/a²}(Wu)/∂W")
    return _scale_failure(opts, c, "fails unless a > 0 and ε = 0", text,
                          sympy.latex(Eq(Symbol(r"\left.\frac{\partial BN_{\epsilon}(Vu)}{\partial V}\right|_{V=aW}"),
                                         Symbol(r"\frac{1}{|a|}\frac{\partial BN_{\epsilon/a^{2}}(Wu)}{\partial W}"))),
                          (expected - rhs / a) if eps != 0 else None,
                          _numeric_scale_counterexample(opts, "weight_grad"), scale_weight_grad)


def _numeric_scale_counterexample(opts: Options, which: str) -> dict:
    from .checks import scale_counterexample

    return scale_counterexample(opts, which)


# -- §4 backward pass ---------------------------------------------------------------------------------------------
V = Symbol("sigma^2", positive=True)  # the variance as a node of the computation graph (I&S §3.1)


def _true_grad(eps):
    """``∂ℓ/∂z_k = Σ_i g_i γ ∂x̂_i/∂z_k`` reduced (theorem bn_jacobian)."""
    J = jac(xhat[i] * std(eps), xhat[k] * std(eps), std(eps))
    return batch_sum(g[i] * gamma * J, i, eps)


def backward_formulas(opts: Options) -> Outcome:
    """Ioffe & Szegedy §3.1: each backward formula is the true partial; composed they give ``∂ℓ/∂z``."""
    eps = opts.eps
    c = Chain()
    sV = sympy.sqrt(V + eps)
    y = gamma * xhat[i] + beta
    dl_dx = g[i] * sympy.diff(y, xhat[i])
    c.eq(dl(xhat[i]), dl_dx, "ℓ depends on x̂_i through y_i = γ x̂_i + β; g_i = ∂ℓ/∂y_i")
    x_loc = (z[i] - mu) / sV  # x̂_i as a function of its graph parents z_i, μ, σ²
    dl_dV_sum = dl_dx * sympy.diff(x_loc, V)
    dl_dV, why = batch_sum(dl_dV_sum.subs(V, sigma**2), i, eps)
    c.eq(dl(V), Sum(dl_dV_sum, (i, 1, m)), "x̂_i = (z_i − μ)(σ² + ε)^(−1/2): ∂x̂_i/∂σ² = "
         "(z_i − μ)(−½)(σ² + ε)^(−3/2)")
    var_loc = Sum((z[l] - mu) ** 2, (l, 1, m)) / m
    dV_dmu_sum = sympy.diff((z[l] - mu) ** 2, mu) / m
    dV_dmu, why2 = batch_sum(dV_dmu_sum, l, eps)
    c.eq(sympy.Derivative(var_loc, mu), Sum(dV_dmu_sum, (l, 1, m)), "σ² = (1/m) Σ (z_l − μ)² with μ a graph node")
    c.eq(Sum(dV_dmu_sum, (l, 1, m)), dV_dmu, "; ".join(why2) + ": the second term of ∂ℓ/∂μ is 0")
    dl_dmu_sum = dl_dx * sympy.diff(x_loc, mu)
    first, why3 = batch_sum(dl_dmu_sum.subs(V, sigma**2), i, eps)
    dl_dmu = first + dl_dV * dV_dmu
    c.eq(dl(mu), Sum(dl_dmu_sum, (i, 1, m)) + dl(V) * dV_dmu,
         "∂x̂_i/∂μ = −1/s; ∂σ²/∂μ as above")
    c.eq(dl(mu), dl_dmu, "; ".join(why3))
    s = std(eps)
    dl_dz = (dl_dx / s + dl_dV * 2 * (z[i] - mu) / m + dl_dmu / m).xreplace({i: k})
    c.eq(dl(z[k]), dl_dz, "∂x̂_k/∂z_k = 1/s, ∂σ²/∂z_k = 2(z_k − μ)/m, ∂μ/∂z_k = 1/m")
    dl_dz_x = sympy.expand(dl_dz.subs(z[k], mu + s * xhat[k]))
    # inside the irreducible sums, z_j − μ = s x̂_j
    dl_dz_x = dl_dz_x.replace(lambda e: isinstance(e, Sum) and e.function.has(z[j]), lambda e: batch_sum(
        sympy.expand(e.function.xreplace({z[j]: mu + s * xhat[j]})), j, eps)[0])
    true, why4 = _true_grad(eps)
    c.eq(Sum(g[i] * gamma * sympy.Derivative(xhat[i], z[k]), (i, 1, m)), true, "true derivative from the closed-form Jacobian; " + "; ".join(why4))
    if not equal(dl_dz_x, true):
        return _failed(c, "∂ℓ/∂z_k = true derivative")
    c.eq(dl_dz, true, "z − μ = s x̂: the composed formulas equal the true derivative")
    dl_dgamma, why5 = batch_sum(g[i] * sympy.diff(y, gamma), i, eps)
    dl_dbeta, why6 = batch_sum(g[i] * sympy.diff(y, beta), i, eps)
    c.eq(dl(gamma), dl_dgamma, "∂y_i/∂γ = x̂_i")
    c.eq(dl(beta), dl_dbeta, "∂y_i/∂β = 1")
    return Outcome(True, c.steps)


def backward_compact(opts: Options) -> Outcome:
    """``∂ℓ/∂z = (γ/(m s))(m g − Σg − x̂ Σ g x̂)`` equals ``γ Jᵀ g``."""
    eps = opts.eps
    c = Chain()
    true, why = _true_grad(eps)
    J = jac(xhat[i] * std(eps), xhat[k] * std(eps), std(eps))
    c.eq(dl(z[k]), Sum(g[i] * gamma * J, (i, 1, m)), "chain rule; closed-form Jacobian (bn_jacobian)")
    c.eq(Sum(g[i] * gamma * J, (i, 1, m)), true, "; ".join(why))
    G, X = Sum(g[j], (j, 1, m)), Sum(g[j] * xhat[j], (j, 1, m))
    compact = gamma / (m * std(eps)) * (m * g[k] - G - xhat[k] * X)
    if not equal(true, compact):
        return _failed(c, "the compact form")
    c.eq(true, compact, "collect over m s")
    return Outcome(True, c.steps)


# -- §5 gradient norm -----------------------------------------------------------------------------------------------
def _norm_squared(c, eps):
    true, why = _true_grad(eps)
    c.eq(vv[k], true, "v = ∂ℓ/∂z (theorem backward_compact); " + "; ".join(why))
    n2, why2 = batch_sum(sympy.expand(true**2), k, eps)
    n2 = sympy.factor(sympy.expand(n2))
    c.eq(Sum(vv[k] ** 2, (k, 1, m)), n2, "; ".join(why2))
    return n2


def _gnorm_terms():
    Q, G, X = Sum(g[j] ** 2, (j, 1, m)), Sum(g[j], (j, 1, m)), Sum(g[j] * xhat[j], (j, 1, m))
    return Q, G, X


def gradient_norm_identity(opts: Options) -> Outcome:
    """Santurkar et al. 2018, Thm 4.1 as an exact equality (``ε = 0``)."""
    eps = opts.eps
    c = Chain()
    n2 = _norm_squared(c, eps)
    Q, G, X = _gnorm_terms()
    target = gamma**2 / sigma**2 * (Q - G**2 / m - X**2 / m)
    if equal(n2, target):
        c.eq(n2, target, "ε = 0: Σ x̂² = m")
        return Outcome(True, c.steps)
    exact = sympy.factor(n2)
    return Outcome(False, c.steps, reason="the identity needs ε = 0",
                   replacement=f"‖∂ℓ/∂z‖² = {sympy.sstr(exact)}",
                   replacement_latex=sympy.latex(Eq(Symbol(r"\left\|\frac{\partial \ell}{\partial z}\right\|^{2}"),
                                                    exact)),
                   counterexample=_counterexample("gradient_norm_identity", opts))


def gradient_norm_bound(opts: Options) -> Outcome:
    """``‖∂ℓ/∂z‖² ≤ (γ²/σ²)‖g‖²``; with the last coefficient read as ``1/√m`` the bound is false for ``m > 1``."""
    eps = opts.eps
    c = Chain()
    n2 = _norm_squared(c, eps)
    Q, G, X = _gnorm_terms()
    coef = 1 / m if opts.coefficient == "1/m" else 1 / sympy.sqrt(m)
    bound = gamma**2 / sigma**2 * (Q - G**2 / m - coef * X**2)
    Gs, Xs, Qs = Symbol("G", real=True), Symbol("X", real=True), Symbol("Q", nonnegative=True)
    if eps != 0:
        if opts.coefficient != "1/m":
            return Outcome(None, c.steps, reason="the 1/√m variant is examined at ε = 0")
        loose = sympy.factor(gamma**2 / std(eps) ** 2 * Q - n2)
        if loose.xreplace({G: Gs, X: Xs}).is_nonnegative is not True:
            return _failed(c, "nonnegativity of the dropped terms")
        c.eq(gamma**2 / std(eps) ** 2 * Q - Sum(vv[k] ** 2, (k, 1, m)), loose, "squares over positive factors: ≥ 0")
        c.note(sympy.Le(sympy.sqrt(Sum(vv[k] ** 2, (k, 1, m))), Abs(gamma) / sigma * sympy.sqrt(Q)),
               "take square roots; 1/√(σ² + ε) ≤ 1/σ, so the bound holds for ε > 0 too")
        return Outcome(True, c.steps)
    gap = sympy.factor(bound - n2)
    c.eq(Symbol("B", real=True) - Sum(vv[k] ** 2, (k, 1, m)), gap, "B = the stated right-hand side, minus the exact "
         "‖∂ℓ/∂z‖²")
    gap_s = gap.xreplace({G: Gs, X: Xs, Q: Qs})
    if opts.coefficient != "1/m":
        return Outcome(False, c.steps, reason="with the coefficient 1/√m the right-hand side is smaller than the "
                       "exact value by (γ²/σ²)⟨g,x̂⟩²(1/√m − 1/m) > 0 for m > 1 and ⟨g,x̂⟩ ≠ 0",
                       replacement="‖∂ℓ/∂z‖² = (γ²/σ²)(‖g‖² − ⟨1,g⟩²/m − ⟨g,x̂⟩²/m) (exact)",
                       replacement_latex=sympy.latex(Eq(Symbol(r"\left\|\frac{\partial \ell}{\partial z}\right\|^{2}"),
                                                        gamma**2 / sigma**2 * (Q - G**2 / m - X**2 / m))),
                       counterexample=_counterexample("gradient_norm_bound", opts))
    if gap_s != 0:
        return _failed(c, "the equality part")
    loose = gamma**2 / sigma**2 * Q - n2  # noqa
    loose_s = sympy.factor(loose).xreplace({G: Gs, X: Xs})
    if loose_s.is_nonnegative is not True:
        return _failed(c, "nonnegativity of the dropped terms")
    c.eq(gamma**2 / sigma**2 * Q - Sum(vv[k] ** 2, (k, 1, m)), sympy.factor(loose),
         "a sum of squares over m > 0: ≥ 0")
    c.note(sympy.Le(sympy.sqrt(Sum(vv[k] ** 2, (k, 1, m))), Abs(gamma) / sigma * sympy.sqrt(Q)), "take square roots")
    return Outcome(True, c.steps)


def _counterexample(name, opts):
    from .checks import counterexample

    return counterexample(name, opts)


# -- §6 weights feeding BN ------------------------------------------------------------------------------------------
def euler(opts: Options) -> Outcome:
    """``⟨W, ∂ℓ/∂W⟩ = 0`` (``ε = 0``): ``ℓ(cW) = ℓ(W)`` for ``c > 0``, differentiated at ``c = 1``."""
    eps = opts.eps
    c = Chain()
    s = std(eps)
    Wr = sympy.Indexed(sympy.IndexedBase("W", real=True), r)
    J = jac(xhat[i] * s, (z[l] - mu), s, i, l)
    c.eq(Sum(Wr * dl(Wr), (r, 1, n_)), gamma * Sum(g[i] * Sum(J * z[l], (l, 1, m)), (i, 1, m)),
         "∂ℓ/∂W_r = γ Σ_i g_i Σ_l J_il u_lr; exchange the finite sums; Σ_r W_r u_lr = z_l")
    inner, why = batch_sum(sympy.expand(J * z[l]), l, eps)
    inner = sympy.expand(inner.subs(z[i], mu + s * xhat[i]))
    inner = sympy.factor(inner.replace(lambda e: isinstance(e, Sum), lambda e: batch_sum(
        sympy.expand(e.function.xreplace({z[j]: mu + s * xhat[j]})), j, eps)[0]))
    c.eq(Sum(J * z[l], (l, 1, m)), inner, "; ".join(why) + "; z_l = μ + s x̂_l")
    total, _ = batch_sum(gamma * g[i] * inner, i, eps)
    c.eq(Sum(Wr * dl(Wr), (r, 1, n_)), total, "sum over i")
    if total == 0:
        c.note(Eq(sympy.Derivative(sympy.Function("L")(Symbol("c")), Symbol("c")), 0), "the same result by Euler's theorem: L(c) = ℓ(cW) "
               "= ℓ(W) for c > 0 (theorem scale_invariance_forward), differentiate at c = 1")
        return Outcome(True, c.steps)
    return Outcome(False, c.steps, reason="⟨W, ∇ℓ⟩ = 0 needs ε = 0", replacement=f"⟨W, ∂ℓ/∂W⟩ = {sympy.sstr(total)}",
                   replacement_latex=sympy.latex(Eq(Symbol(r"\langle W, \partial \ell/\partial W\rangle"), total)),
                   counterexample=_counterexample("weight_orthogonality", opts))


def norm_growth(opts: Options) -> Outcome:
    """``‖W − η∇ℓ‖² = ‖W‖² + η²‖∇ℓ‖²`` (``ε = 0``)."""
    sub = euler(opts)
    c = Chain()
    c.steps.extend(sub.steps)
    eta = Symbol("eta", positive=True)
    Wr, Gr = sympy.Indexed(sympy.IndexedBase("W", real=True), r), sympy.Indexed(sympy.IndexedBase("G", real=True), r)
    NW, NG, P = Sum(Wr**2, (r, 1, n_)), Sum(Gr**2, (r, 1, n_)), Sum(Wr * Gr, (r, 1, n_))
    expanded = NW - 2 * eta * P + eta**2 * NG
    c.eq(Sum((Wr - eta * Gr) ** 2, (r, 1, n_)), expanded, "G_r = ∂ℓ/∂W_r; expand the square (bilinearity)")
    if sub.holds is not True:
        return Outcome(sub.holds, c.steps, reason="needs ⟨W, ∇ℓ⟩ = 0, which needs ε = 0",
                       replacement="‖W − η∇ℓ‖² = ‖W‖² − 2η⟨W,∇ℓ⟩ + η²‖∇ℓ‖²",
                       replacement_latex=sympy.latex(Eq(Symbol(r"\|W'\|^{2}"), expanded)),
                       counterexample=sub.counterexample)
    c.eq(expanded, expanded.subs(P, 0), "⟨W, ∇ℓ⟩ = 0 (theorem weight_orthogonality)")
    c.note(sympy.Ge(expanded.subs(P, 0), NW, evaluate=False), "the norm never decreases; it grows by η²‖∇ℓ‖²")
    return Outcome(True, c.steps)


def gradient_scaling(opts: Options) -> Outcome:
    """``∇ℓ(cW) = ∇ℓ(W)/c`` for ``c > 0`` (``ε = 0``); effective learning rate ``η/‖W‖²``."""
    sub = scale_weight_grad(Options(batch=opts.batch, sign=opts.sign, eps=opts.eps))
    c = Chain()
    c.steps.extend(sub.steps)
    if sub.holds is not True:
        return Outcome(sub.holds, c.steps, reason="needs c > 0 and ε = 0 (theorem scale_invariance_weight_grad)",
                       replacement=sub.replacement, replacement_latex=sub.replacement_latex,
                       counterexample=sub.counterexample)
    Gf, cc, Wr = sympy.Function("G"), Symbol("c", positive=True), sympy.Indexed(sympy.IndexedBase("W", real=True), r)
    c.note(Eq(Gf(cc * Wr), Gf(Wr) / cc),
           "∂ℓ/∂W_r = γ Σ_i g_i ∂x̂_i/∂W_r; g is unchanged since BN(cWu) = BN(Wu); each ∂x̂_i/∂W_r scales by 1/c")
    Hf = sympy.Function("H")
    c.note(Eq(Hf(cc * Wr), Hf(Wr) / cc**2), "differentiate G(cW) = G(W)/c in W: c·H(cW) = H(W)/c, H the Hessian; so "
           "λ_max ∝ 1/‖W‖² and the critical rate 2/λ_max ∝ ‖W‖²")
    c.note(Eq(Symbol("eta_eff", positive=True), Symbol("eta", positive=True) / Sum(Wr**2, (r, 1, n_))),
           "G(cW) = G(W)/c, G_r = ∂ℓ/∂W_r; so a step of size η on W moves the direction W/‖W‖ by η/‖W‖² (to first order): the effective rate")
    return Outcome(True, c.steps)


# -- §1 bias ----------------------------------------------------------------------------------------------------------
def bias(opts: Options) -> Outcome:
    """A bias added before BN has gradient exactly 0, for every ``ε``."""
    eps = opts.eps
    c = Chain()
    b = Symbol("b", real=True)
    mu_b, why = batch_sum(z[l] + b, l, eps)
    c.eq(Symbol("mu_b", real=True), mu_b / m, "; ".join(why) + " (μ_b: mean of z + b)")
    var_b, why = batch_sum(sympy.expand((z[l] + b - mu_b / m) ** 2), l, eps)
    c.eq(Symbol("sigma_b", positive=True) ** 2, sympy.factor(var_b / m), "; ".join(why) + " (σ_b²: variance of z + b)")
    if not equal(var_b / m, sigma**2):
        return _failed(c, "σ²(z + b) = σ²")
    J = jac(xhat[i] * std(eps), xhat[l] * std(eps), std(eps), i, l)
    db, why = batch_sum(J, l, eps)
    c.eq(sympy.Derivative(xhat[i], b), Sum(J, (l, 1, m)), "chain rule; ∂z_l/∂b = 1")
    c.eq(Sum(J, (l, 1, m)), db, "; ".join(why) + " (J·1 = 0 for every ε)")
    if db != 0:
        return _failed(c, "∂x̂/∂b = 0")
    c.eq(dl(b), S.Zero, "∂ℓ/∂b = γ Σ_i g_i ∂x̂_i/∂b = 0")
    return Outcome(True, c.steps)


# -- §7 Goodfellow ----------------------------------------------------------------------------------------------------
def goodfellow(opts: Options) -> Outcome:
    """One GD step on ``ŷ = x w_1⋯w_L`` in powers of ``η``; BN on ``h_{L−1}`` leaves only the first order."""
    c = Chain()
    L = Symbol("L", integer=True, positive=True)
    x, eta = Symbol("x", real=True), Symbol("eta", positive=True)
    w, gg = sympy.IndexedBase("w", real=True), sympy.IndexedBase("g", real=True)
    p, q = sympy.symbols("p q", integer=True, positive=True)
    c.eq(Symbol("yhat'"), x * sympy.Product(w[p] - eta * gg[p], (p, 1, L)),
         "simultaneous step w_p ← w_p − η g_p, g_p = ∂ŷ/∂w_p = x Π_{q≠p} w_q")
    c.eq(x * sympy.Product(w[p] - eta * gg[p], (p, 1, L)),
         Symbol("Sigma_S", real=True), "distributive law (finite product): Σ_S = Σ_{S ⊆ {1..L}} (−η)^|S| x "
         "Π_{p∈S} g_p Π_{q∉S} w_q")
    c.eq(Symbol("c_1", real=True), -Sum(gg[p] * x * sympy.Product(w[q], (q, 1, L)) / w[p], (p, 1, L)),
         "c_n = coefficient of η^n in ŷ': the |S| = 1 terms")
    c.eq(-Sum(gg[p] * x * sympy.Product(w[q], (q, 1, L)) / w[p], (p, 1, L)), -Sum(gg[p] ** 2, (p, 1, L)),
         "x Π_{q≠p} w_q = g_p: first-order change −η gᵀg")
    # check the expansion exactly for L = 1..6
    for depth in range(1, 7):
        ws = sympy.symbols(f"w_1:{depth + 1}", real=True)
        grads = [x * sympy.Mul(*[ws[t] for t in range(depth) if t != s_]) for s_ in range(depth)]
        new = sympy.expand(x * sympy.Mul(*[ws[t] - eta * grads[t] for t in range(depth)]))
        poly = sympy.Poly(new, eta)
        if sympy.expand(poly.coeff_monomial(eta) + sum(gr**2 for gr in grads)) != 0:
            return _failed(c, f"the first-order term at L = {depth}")
        from itertools import combinations
        for order in range(depth + 1):
            expect = sum(sympy.Mul(*[grads[t] for t in S_]) * sympy.Mul(*[ws[t] for t in range(depth) if t not in S_])
                         for S_ in combinations(range(depth), order)) * x * (-1) ** order
            if sympy.expand(poly.coeff_monomial(eta**order) - expect) != 0:
                return _failed(c, f"the order-{order} term at L = {depth}")
    c.note(sympy.Contains(L, sympy.FiniteSet(*range(1, 7))), "for these depths every coefficient c_n was also checked "
           "by expanding the product")
    c.eq(Symbol("c_2", real=True), x * Sum(Sum(gg[p] * gg[q] * sympy.Product(w[l], (l, 1, L)) / (w[p] * w[q]),
                                              (q, p + 1, L)), (p, 1, L - 1)),
         "second order, e.g. η² x g_1 g_2 Π_{p≥3} w_p: small or exponentially large with the other weights")
    # with BN on h = x w_1⋯w_{L−1} over a batch: ŷ_i = w_L · x̂_i · sign(P)
    P = Symbol("P", nonzero=True, real=True)
    c.eq(BN(P * Symbol("x_i", real=True)), sympy.sign(P) * xhat[i], "theorem scale_invariance_forward with a = P = w_1⋯w_{L−1} "
         "(ε = 0, γ = 1, β = 0)")
    c.eq(Symbol("yhat_i"), w[L] * sympy.sign(P) * xhat[i], "output layer")
    c.eq(sympy.Derivative(Symbol("yhat_i"), w[p]), 0, "for p < L: ŷ does not depend on the lower weights (P ≠ 0)")
    c.eq(Symbol("yhat'_i", real=True) - Symbol("yhat_i", real=True), -eta * Symbol("g_L") * sympy.sign(P) * xhat[i],
         "only w_L moves: the change is exactly linear in η, no η², η³, … terms")
    if opts.eps != 0:
        return Outcome(None, c.steps, reason="the expansion holds for every ε, but the BN part needs ε = 0: with "
                       "ε > 0, BN(P x) = sign(P)·x̂_{ε/P²}(x) still depends on the lower weights through ε/P²")
    return Outcome(True, c.steps)
