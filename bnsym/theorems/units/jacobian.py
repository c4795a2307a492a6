"""The BN Jacobian, its null space, and the bias before BN (math reference §1–§2), through the kernel.

>>> from bnsym.theorems.batch import Options
>>> jacobian(Options(eps="any")).holds
True
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import sympy
from sympy import KroneckerDelta, Sum, Symbol

from ...kernel import core as K
from ..batch import (Options, context, g, i, jacobian_closed_form, k, l, m, mu, sigma, std, xhat, z, gamma)
from ..proof import Theorem
from ..record import Recorder
from ..registry import lemma, register
from ..checks import basics, bn_numeric, rel
from .common import EPS0, EPS_ANY, IS, M2, NONCONST, witness_batch

D = sympy.Derivative


def jacobian_claims(opts: Options):
    """``∂x̂_i/∂z_k = (δ_ik − 1/m − x̂_i x̂_k/m)/√(σ² + ε)``."""
    return [sympy.Eq(D(xhat[i], z[k]), jacobian_closed_form(opts), evaluate=False)]


def jacobian(opts: Options):
    """Differentiate the definitions of ``μ``, ``σ²`` and ``x̂`` and collect (any ``ε ≥ 0``)."""
    ctx = context(opts)
    rec = Recorder(ctx)
    s = std(opts)
    rec.eq(D(mu, z[k]), 1 / m, "μ = (1/m) Σ_j z_j and ∂z_j/∂z_k = δ_jk; Σ_j δ_jk = 1")
    rec.eq(D(sigma**2, z[k]), 2 * (z[k] - mu) / m, "σ² = (1/m) Σ_j (z_j − μ)²; chain rule; Σ_j (z_j − μ) = 0")
    raw = (KroneckerDelta(i, k) - 1 / m) / s - (z[i] - mu) * (z[k] - mu) / (m * s**3)
    f1 = rec.eq(D(xhat[i], z[k]), raw, "x̂_i = (z_i − μ)/√(σ² + ε): quotient rule with the two partials above")
    f2 = rec.eq(raw, jacobian_closed_form(opts), "z − μ = √(σ² + ε)·x̂")
    rec.chain(f1, f2)
    rec.eq(jacobian_closed_form(opts), jacobian_closed_form(opts, k, i), "the Jacobian is symmetric in i and k")
    return rec.proved(jacobian_claims(opts))


def _jac_instance(opts: Options, row, col):
    """The proved Jacobian (theorem bn_jacobian) at entry ``(row, col)``."""
    fact = lemma("bn_jacobian", replace(opts, batch="m"))
    return K.instantiate(fact, fact.context.with_free(row, col), {i: row, k: col})


def null_space_claims(opts: Options):
    """``Σ_k J_ik = 0`` and ``Σ_k J_ik x̂_k = 0``."""
    J = jacobian_closed_form(opts, i, l)
    return [sympy.Eq(Sum(J, (l, 1, m)), 0, evaluate=False), sympy.Eq(Sum(J * xhat[l], (l, 1, m)), 0, evaluate=False)]


def null_space(opts: Options):
    """``J·1 = 0`` for every ``ε``; ``J·x̂ = 0`` exactly when ``ε = 0``; ``P = σJ`` a projector of trace ``m − 2``."""
    ctx = context(opts, free=(i, k))
    rec = Recorder(ctx)
    jf = rec.cite(_jac_instance(opts, i, l), "bn_jacobian")
    J = jf.rhs
    rec.eq(Sum(J, (l, 1, m)), 0, "Σ_l δ_il = 1, Σ_l 1 = m, Σ_l x̂_l = 0")
    jx = xhat[i] * opts.eps_symbol / (std(opts) * (sigma**2 + opts.eps_symbol)) if not opts.eps_is_zero else 0
    rec.eq(Sum(J * xhat[l], (l, 1, m)), jx, "Σ_l x̂_l = 0 and Σ_l x̂_l² = m σ²/(σ² + ε)")
    if not opts.eps_is_zero:
        eps_value = sympy.Rational(1, 2) if isinstance(opts.eps, str) else opts.eps
        wm = opts.witness_m
        wctx = context(replace(opts, batch=wm, eps=eps_value), free=())
        J1 = jacobian_closed_form(replace(opts, eps=eps_value), 1, l)
        batch = witness_batch(wm)
        rec.ne(wctx, Sum(J1 * xhat[l], (l, 1, wm)), 0, {z[p + 1]: v for p, v in enumerate(batch)},
               f"the batch z = {tuple(int(v) for v in batch)} with ε = {eps_value}: J·x̂ ≠ 0")
        repl = sympy.Eq(Sum(D(xhat[i], z[l]) * xhat[l], (l, 1, m)), jx, evaluate=False)
        return rec.outcome(False, reason="J·x̂ = 0 only when ε = 0",
                           replacement="J·x̂ = x̂·ε/(√(σ² + ε)(σ² + ε)) (ε > 0)",
                           replacement_latex=sympy.latex(repl),
                           counterexample={"m": wm, "z": [float(v) for v in batch], "eps": float(eps_value)})
    P = KroneckerDelta(i, k) - 1 / m - xhat[i] * xhat[k] / m
    P2 = Sum(P.xreplace({k: l}) * P.xreplace({i: l}), (l, 1, m))
    rec.eq(P2, P, "P = σJ satisfies P² = P (and P = Pᵀ): an orthogonal projector")
    rec.eq(Sum(P.xreplace({k: i}), (i, 1, m)), m - 2, "trace P = m − 2")
    rec.remark("rank P = trace P = m − 2, so the null space of J has dimension 2; 1 and x̂ are in it, nonzero and "
               "orthogonal (Σ x̂ = 0), so null J = span{1, x̂}")
    v = Sum(g[i] * jacobian_closed_form(opts, i, k), (i, 1, m))
    rec.eq(Sum(v.xreplace({k: l}), (l, 1, m)), 0, "the gradient reaching z, v_k = Σ_i g_i J_ik, is ⟂ 1")
    rec.eq(Sum(v.xreplace({k: l}) * xhat[l], (l, 1, m)), 0, "… and ⟂ x̂")
    return rec.proved(null_space_claims(opts))


def bias_claims(opts: Options):
    """``∂x̂_i/∂b = 0`` and ``∂ℓ/∂b = Σ_i γ g_i ∂x̂_i/∂b = 0``."""
    b = Symbol("b", real=True)
    return [sympy.Eq(D(xhat[i], b), 0, evaluate=False),
            sympy.Eq(Sum(gamma * g[i] * D(xhat[i], b), (i, 1, m)), 0, evaluate=False)]


def bias(opts: Options):
    """A bias added before BN cancels in ``z − μ`` and leaves ``σ²`` unchanged: its gradient is exactly 0."""
    b = Symbol("b", real=True)
    ctx = context(opts, free=(i,), linear=True, bias=b, constant_ok=opts.constant)
    rec = Recorder(ctx)
    rec.eq(D(z[i] - mu, b), 0, "z_i = Σ_q W_q u_iq + b and μ both move by b")
    rec.eq(D(sigma**2, b), 0, "so σ² = (1/m) Σ_j (z_j − μ)² does not depend on b")
    rec.eq(D(xhat[i], b), 0, "x̂_i = (z_i − μ)/√(σ² + ε)")
    rec.eq(Sum(gamma * g[i] * D(xhat[i], b), (i, 1, m)), 0, "∂ℓ/∂b = Σ_i γ g_i ∂x̂_i/∂b, g_i = ∂ℓ/∂y_i")
    return rec.proved(bias_claims(opts))



# -- numeric checks (a draw: bnsym.theorems.checks) --------------------------------------------------------
def jacobian_numeric(d) -> float:
    """``∂x̂/∂u`` (by ``sympy.diff``, lambdified) against ``J_ik W_r`` of the closed form on a draw."""
    b = basics(d)
    return rel(b.bn["du"], b.J[:, :, None] * b.W[None, None, :])


def null_space_numeric(d) -> float:
    """``J·1`` and ``J·x̂`` (scaled by ``s``) against 0 on a draw."""
    b = basics(d)
    return rel(np.concatenate([b.J @ np.ones(len(b.xh)), b.J @ b.xh]) * b.s, 0.0)


def bias_numeric(d) -> float:
    """``∂x̂/∂b`` against 0 on a draw (``b`` from the draw, default 0.7)."""
    b = basics(d)
    return rel(bn_numeric(b.u, b.W, b.eps, b=d.get("b", 0.7))["db"], 0.0)


register(Theorem("bn_jacobian", "The BN Jacobian in closed form",
                 "∂x̂_i/∂z_k = (δ_ik − 1/m − x̂_i x̂_k/m)/√(σ² + ε)",
                 r"\frac{\partial \hat{x}_{i}}{\partial z_{k}} = \frac{\delta_{ik} - \frac{1}{m} - "
                 r"\frac{\hat{x}_{i}\hat{x}_{k}}{m}}{\sqrt{\sigma^{2} + \epsilon}}",
                 f"{IS}, §3.1 (Alg. 1), in closed form", (EPS_ANY, M2, NONCONST), 2, jacobian,
                 claims=jacobian_claims, numeric=jacobian_numeric))
register(Theorem("bn_jacobian_null_space", "1 and x̂ span the null space of the BN Jacobian",
                 "J·1 = 0 and J·x̂ = 0; null J = span{1, x̂}; the gradient reaching z is orthogonal to 1 and x̂",
                 r"J\mathbf{1} = 0,\; J\hat{x} = 0,\; \ker J = \operatorname{span}\{\mathbf{1}, \hat{x}\}",
                 f"{IS}, §3.1", (EPS0, M2, NONCONST), 2, null_space, claims=null_space_claims,
                 numeric=null_space_numeric))
register(Theorem("bias_gradient_zero", "A bias before BN has gradient 0",
                 "BN(Wu + b) = BN(Wu), so ∂J/∂b = 0",
                 r"\frac{\partial J}{\partial b} = 0",
                 f"{IS}, §3.2 (the bias can be ignored)", (EPS_ANY, M2, NONCONST), 6, bias, claims=bias_claims,
                 numeric=bias_numeric, constant_batch=True))
