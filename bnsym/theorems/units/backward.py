"""The backward pass of BN (Ioffe & Szegedy 2015, §3.1) and its compact form, from the proved Jacobian.

>>> from bnsym.theorems.batch import Options
>>> backward_compact(Options(eps="any")).holds
True
"""
from __future__ import annotations

import numpy as np
import sympy
from sympy import S, Sum, Symbol

from ..batch import Options, context, g, gamma, i, j, k, m, mu, sigma, std, xhat, z
from ..proof import Theorem
from ..record import Recorder
from ..registry import register
from ..checks import basics, rel
from .common import EPS_ANY, IS, M2, NONCONST
from .jacobian import _jac_instance

D = sympy.Derivative
ell = Symbol("ell", real=True)  # the loss ℓ
var = Symbol("sigma^2", positive=True)  # σ² as a node of the computation graph (for ∂ℓ/∂σ²)


def true_gradient(k_=k):
    """``∂ℓ/∂z_k = Σ_i γ g_i ∂x̂_i/∂z_k`` (``g_i = ∂ℓ/∂y_i``, ``y_i = γ x̂_i + β``)."""
    return Sum(gamma * g[i] * D(xhat[i], z[k_]), (i, 1, m))


def compact_gradient(opts: Options, k_=k):
    """``(γ/(m s))(m g_k − Σ_j g_j − x̂_k Σ_j g_j x̂_j)``."""
    return gamma / (m * std(opts)) * (m * g[k_] - Sum(g[j], (j, 1, m)) - xhat[k_] * Sum(g[j] * xhat[j], (j, 1, m)))


def paper_formulas(opts: Options):
    """The named quantities of §3.1 (``∂ℓ/∂x̂_i = γ g_i``) and the composed ``∂ℓ/∂z_k``."""
    s2 = sigma**2 + opts.eps_symbol
    dvar = Sum(gamma * g[i] * (z[i] - mu), (i, 1, m)) * (-S.Half) * s2 ** sympy.Rational(-3, 2)
    dmu = Sum(gamma * g[i] * (-1 / sympy.sqrt(s2)), (i, 1, m)) + D(ell, var) * Sum(-2 * (z[i] - mu), (i, 1, m)) / m
    dz = gamma * g[k] / sympy.sqrt(s2) + D(ell, var) * 2 * (z[k] - mu) / m + D(ell, mu) / m
    return dvar, dmu, dz


def formulas_claims(opts: Options):
    """The composed §3.1 formula is the true derivative."""
    return [sympy.Eq(paper_formulas(opts)[2], true_gradient(), evaluate=False)]


def backward_formulas(opts: Options):
    """Each §3.1 formula, composed, equals ``Σ_i γ g_i ∂x̂_i/∂z_k`` (any ``ε ≥ 0``)."""
    dvar, dmu, dz = paper_formulas(opts)
    ctx = context(opts, free=(k,))
    ctx = ctx.define(D(ell, var), dvar, text="∂ℓ/∂σ² of §3.1").define(D(ell, mu), dmu, text="∂ℓ/∂μ of §3.1")
    rec = Recorder(ctx)
    rec.remark("§3.1 with y_i = γ x̂_i + β and g_i = ∂ℓ/∂y_i: ∂ℓ/∂x̂_i = γ g_i; ∂ℓ/∂σ², ∂ℓ/∂μ as defined in the "
               "paper (the named quantities below)")
    rec.eq(D(ell, mu), Sum(gamma * g[i] * (-1 / std(opts)), (i, 1, m)),
           "the second term of ∂ℓ/∂μ is 0: Σ_i (z_i − μ) = 0 (both published forms are right)")
    jf = rec.cite(_jac_instance(opts, i, k), "bn_jacobian", "the BN Jacobian (theorem bn_jacobian)")
    rec.eq(dz, true_gradient(), "the composed formula equals the chain rule through the Jacobian", cites=[jf])
    rec.eq(Sum(g[i] * xhat[i], (i, 1, m)), Sum(g[i] * xhat[i], (i, 1, m)), "∂ℓ/∂γ = Σ_i g_i x̂_i (∂y_i/∂γ = x̂_i)")
    return rec.proved(formulas_claims(opts))


def compact_claims(opts: Options):
    """``∂ℓ/∂z_k`` in the compact form."""
    return [sympy.Eq(true_gradient(), compact_gradient(opts), evaluate=False)]


def backward_compact(opts: Options):
    """``Σ_i γ g_i J_ik = (γ/(m s))(m g_k − Σ g − x̂_k Σ g x̂)`` (any ``ε ≥ 0``)."""
    rec = Recorder(context(opts, free=(k,)))
    jf = rec.cite(_jac_instance(opts, i, k), "bn_jacobian", "the BN Jacobian (theorem bn_jacobian)")
    expanded = Sum(gamma * g[i] * jf.rhs, (i, 1, m))
    f1 = rec.eq(true_gradient(), expanded, "chain rule through the Jacobian", cites=[jf])
    f2 = rec.eq(expanded, compact_gradient(opts), "Σ_i g_i δ_ik = g_k; collect over m s")
    rec.chain(f1, f2)
    return rec.proved(compact_claims(opts))



# -- numeric checks (a draw: bnsym.theorems.checks) --------------------------------------------------------
def _true_gradient_numeric(b):
    """``∂ℓ/∂z_k`` from ``∂ℓ/∂u_kr = ∂ℓ/∂z_k W_r`` (the lambdified ``sympy.diff``)."""
    return b.gamma * np.einsum("i,ikr->kr", b.g, b.bn["du"]) / b.W[None, :]


def formulas_numeric(d) -> float:
    """The composed §3.1 formulas against the true ``∂ℓ/∂z`` on a draw."""
    b = basics(d)
    mm, zc = len(b.xh), b.z - b.z.mean()
    dxh = b.g * b.gamma
    dvar = np.sum(dxh * zc) * -0.5 * (b.z.var() + b.eps) ** -1.5
    dmu = np.sum(dxh * -1 / b.s) + dvar * np.mean(-2 * zc)
    mine = dxh / b.s + dvar * 2 * zc / mm + dmu / mm
    true = _true_gradient_numeric(b)
    return rel(np.broadcast_to(mine[:, None], true.shape), true)


def compact_numeric(d) -> float:
    """The compact formula against the true ``∂ℓ/∂z`` on a draw."""
    b = basics(d)
    mm = len(b.xh)
    mine = b.gamma / (mm * b.s) * (mm * b.g - b.g.sum() - b.xh * (b.g @ b.xh))
    true = _true_gradient_numeric(b)
    return rel(np.broadcast_to(mine[:, None], true.shape), true)


register(Theorem("backward_formulas", "The backward formulas of Ioffe & Szegedy",
                 "∂ℓ/∂x̂_i, ∂ℓ/∂σ², ∂ℓ/∂μ, ∂ℓ/∂z_i, ∂ℓ/∂γ, ∂ℓ/∂β of §3.1 are the true derivatives",
                 r"\frac{\partial \ell}{\partial z_{i}} = \frac{\partial \ell}{\partial \hat{x}_{i}}\frac{1}{s} + "
                 r"\frac{\partial \ell}{\partial \sigma^{2}}\frac{2(z_{i}-\mu)}{m} + \frac{\partial \ell}{\partial \mu}"
                 r"\frac{1}{m} = \sum_{k} g_{k}\gamma\frac{\partial \hat{x}_{k}}{\partial z_{i}}",
                 f"{IS}, §3.1", (EPS_ANY, M2, NONCONST), 3, backward_formulas,
                 claims=formulas_claims, numeric=formulas_numeric))
register(Theorem("backward_compact", "The compact backward formula",
                 "∂ℓ/∂z = (γ/(m s))(m·g − Σg − x̂·Σ(g x̂))",
                 r"\frac{\partial \ell}{\partial z} = \frac{\gamma}{m s}\left(m g - \mathbf{1}\sum_{k} g_{k} - "
                 r"\hat{x}\sum_{k} g_{k}\hat{x}_{k}\right)",
                 f"{IS}, §3.1, rearranged", (EPS_ANY, M2, NONCONST), 3, backward_compact,
                 claims=compact_claims, numeric=compact_numeric))
