"""Weights feeding BN: Euler orthogonality, norm growth, and the Hessian block of those weights (docs/math.md §6).

All statements are about the weights ``W`` of one unit feeding BN with the other parameters fixed: the
Hessian results are for that **block** ``H_WW``, not the full Hessian.

>>> from bnsym.theorems.batch import Options
>>> euler(Options()).holds
True
"""
from __future__ import annotations

import numpy as np
import sympy
from sympy import Sum, Symbol

from ...kernel import core as K
from ..batch import (Options, V, W, context, g, gamma, i, l, m, n, r, sigma, t, u, xhat, xt, z)
from ..proof import Step, Theorem
from ..record import Recorder
from ..registry import lemma, register
from ..checks import basics, bn_numeric, rel
from .common import ALL, C_POS, EPS0, M2, NONCONST
from .jacobian import _jac_instance
from .scale import _numbers, _witness

D = sympy.Derivative
s_ = Symbol("s", integer=True, positive=True)  # a second weight index
G = sympy.IndexedBase("G", real=True)  # an arbitrary vector (then: the gradient)
eta = Symbol("eta", positive=True)


def gradient(index=r):
    """``∂ℓ/∂W_r = Σ_i γ g_i ∂x̂_i/∂W_r`` (``g_i = ∂ℓ/∂y_i``)."""
    return Sum(gamma * g[i] * D(xhat[i], W[index]), (i, 1, m))


def euler_claims(opts: Options):
    """``⟨W, ∂ℓ/∂W⟩ = 0``."""
    return [sympy.Eq(Sum(W[r] * gradient(), (r, 1, n)), 0, evaluate=False)]


def euler(opts: Options):
    """``Σ_r W_r ∂x̂_i/∂W_r = Σ_l J_il z_l = √(σ²+ε)·(J x̂)_i``, which is 0 exactly when ``ε = 0``."""
    rec = Recorder(context(opts, free=(i,), linear=True))
    jf = rec.cite(_jac_instance(opts, i, l), "bn_jacobian", "the BN Jacobian (theorem bn_jacobian) at (i, l)")
    per_output = Sum(W[r] * D(xhat[i], W[r]), (r, 1, n))
    through = Sum(jf.rhs * z[l], (l, 1, m))
    f1 = rec.eq(per_output, Sum(W[r] * Sum(D(xhat[i], z[l]) * u[l, r], (l, 1, m)), (r, 1, n)),
                "chain rule: ∂x̂_i/∂W_r = Σ_l ∂x̂_i/∂z_l u_lr", cites=[jf])
    f2 = rec.eq(f1.rhs, through, "exchange the finite sums; Σ_r W_r u_lr = z_l", cites=[jf])
    value = 0 if opts.eps_is_zero else xhat[i] * opts.eps_symbol / (sigma**2 + opts.eps_symbol)
    f3 = rec.eq(through, value, "Σ_l J_il = 0, Σ_l J_il x̂_l = x̂_i ε/(√(σ²+ε)(σ²+ε)) (z_l = μ + √(σ²+ε) x̂_l)")
    rec.chain(f1, f2, f3)
    if not opts.eps_is_zero:
        wopts, values = _witness(opts)
        rec.ne(context(wopts, free=(), linear=True), Sum(W[r] * D(xhat[1], W[r]), (r, 1, n)), 0, values,
               "at the batch of two inputs u = ((0, 1), (1, 0), (3, 0), …), W = (1, 1)")
        return rec.outcome(False, reason="⟨W, ∇ℓ⟩ = 0 needs ε = 0", counterexample=_numbers(wopts, values),
                           replacement="Σ_r W_r ∂x̂_i/∂W_r = x̂_i·ε/(σ² + ε)",
                           replacement_latex=sympy.latex(sympy.Eq(per_output, value, evaluate=False)))
    rec.eq(Sum(W[r] * gradient(), (r, 1, n)), Sum(gamma * g[i] * per_output, (i, 1, m)), "exchange the finite sums")
    rec.eq(Sum(W[r] * gradient(), (r, 1, n)), 0, "each ⟨W, ∂x̂_i/∂W⟩ is 0")
    rec.remark("the same by Euler's theorem: ℓ(cW) = ℓ(W) for c > 0 (theorem scale_invariance_forward); "
               "differentiate at c = 1")
    return rec.proved(euler_claims(opts))


def growth_claims(opts: Options):
    """``‖W − η∇ℓ‖² = ‖W‖² + η²‖∇ℓ‖²``."""
    return [sympy.Eq(Sum((W[r] - eta * gradient()) ** 2, (r, 1, n)),
                     Sum(W[r] ** 2, (r, 1, n)) + eta**2 * Sum(gradient() ** 2, (r, 1, n)), evaluate=False)]


def norm_growth(opts: Options):
    """Bilinearity for an arbitrary vector ``G``, instantiated at ``G = ∇ℓ``, with ``⟨W, ∇ℓ⟩ = 0``."""
    ctx = context(opts, free=(), linear=True)
    rec = Recorder(ctx)
    if not opts.eps_is_zero:
        return rec.outcome(None, reason="needs ⟨W, ∇ℓ⟩ = 0, which needs ε = 0 (theorem weight_orthogonality); "
                           "in general ‖W − η∇ℓ‖² = ‖W‖² − 2η⟨W,∇ℓ⟩ + η²‖∇ℓ‖²")
    expand = rec.eq(Sum((W[r] - eta * G[r]) ** 2, (r, 1, n)),
                    Sum(W[r] ** 2, (r, 1, n)) - 2 * eta * Sum(W[r] * G[r], (r, 1, n))
                    + eta**2 * Sum(G[r] ** 2, (r, 1, n)),
                    "expand the square (any vector G)")
    inst = K.instance(expand, G, t, gradient(t))
    orth = rec.cite(lemma("weight_orthogonality", opts), "weight_orthogonality", "⟨W, ∇ℓ⟩ = 0 (theorem "
                    "weight_orthogonality)")
    fact = K.rewrite(inst, orth)
    rec.steps.append(Step(fact.relation, "with G = ∇ℓ", checked=True, rule=fact.rule, fact=fact))
    rec.facts.append(fact)
    rec.remark("so the norm never decreases under gradient descent; it grows by η²‖∇ℓ‖²")
    return rec.proved([sympy.Eq(fact.lhs, fact.rhs, evaluate=False)])


def _second(expr, a_, b_):
    return D(expr, a_, b_)


def hessian_claims(opts: Options):
    """``∂²x̃_i/∂V_r∂V_s |_{V=cW} = (1/c²)·∂²x̂_i/∂W_r∂W_s``."""
    c = opts.a
    return [sympy.Eq(_second(xt[i], V[r], V[s_]), _second(xhat[i], W[r], W[s_]) / c**2, evaluate=False)]


def hessian_block_scaling(opts: Options):
    """The second derivatives of BN's output in the weights scale as ``1/c²`` under ``W → cW`` (``c > 0``,
    ``ε = 0``); with the downstream loss's derivatives unchanged (the forward is invariant), so does the
    Hessian block ``H_WW``."""
    if opts.sign != "positive" or not opts.eps_is_zero:
        return Recorder(context(opts, free=())).outcome(None, reason="stated for c > 0 and ε = 0")
    rec = Recorder(context(opts, free=(i, (r, n), (s_, n)), linear=True, scaled="weights"))
    rec.eq(_second(xt[i], V[r], V[s_]), _second(xhat[i], W[r], W[s_]) / opts.a**2,
           "differentiate twice; the batch Vu at V = cW is c z, whose statistics are c μ and c σ")
    rec.remark("for J(W) = L(x̂(W)): H_rs = Σ_{i,p} L_ip ∂_r x̂_i ∂_s x̂_p + Σ_i L_i ∂_rs x̂_i, where L's derivatives "
               "are the same at cW (x̂(cW) = x̂(W)); with ∂x̃/∂V = ∂x̂/∂W / c (theorem scale_invariance_weight_grad) "
               "every term scales by 1/c²: H_WW(cW) = H_WW(W)/c² (the block of W; other parameters' blocks do not "
               "scale)")
    return rec.proved(hessian_claims(opts))


def hessian_w_claims(opts: Options):
    """``Σ_s W_s ∂²x̂_i/∂W_r∂W_s = −∂x̂_i/∂W_r``."""
    return [sympy.Eq(Sum(W[s_] * _second(xhat[i], W[r], W[s_]), (s_, 1, n)), -D(xhat[i], W[r]), evaluate=False)]


def hessian_times_weight(opts: Options):
    """Differentiating Euler's identity ``Σ_s W_s ∂x̂_i/∂W_s = 0`` in ``W_r`` (``ε = 0``)."""
    if not opts.eps_is_zero:
        return Recorder(context(opts, free=())).outcome(None, reason="needs Euler's identity, which needs ε = 0")
    rec = Recorder(context(opts, free=(i, (r, n)), linear=True))
    rec.cite(lemma("weight_orthogonality", opts), "weight_orthogonality")
    lhs, rhs = hessian_w_claims(opts)[0].args
    rec.eq(lhs, rhs, "∂/∂W_r of Σ_s W_s ∂x̂_i/∂W_s = 0: δ_rs terms give ∂x̂_i/∂W_r")
    rec.remark("for J = L(x̂(W)): (H_WW W)_r = Σ_{i,p} L_ip ∂_r x̂_i ⟨W, ∂x̂_p/∂W⟩ + Σ_i L_i Σ_s W_s ∂_rs x̂_i "
               "= 0 − ∂J/∂W_r, so H_WW(W)·W = −∇_W J(W)")
    return rec.proved(hessian_w_claims(opts))


H = sympy.IndexedBase("H", real=True)  # the block H_WW(W)
vec = sympy.IndexedBase("v", real=True)
lam = Symbol("lambda", real=True)


def rate_claims(opts: Options):
    """``H_WW(cW) v = (H_WW(W)/c²) v = (λ/c²) v`` for every eigenpair ``H_WW(W) v = λ v``."""
    c = opts.a
    return [sympy.Eq(Sum(H[r, s_] / c**2 * vec[s_], (s_, 1, n)), lam / c**2 * vec[r], evaluate=False)]


def block_critical_rate(opts: Options):
    """Eigenvalues of the block scale as ``1/c²``: ``λ_max(H_WW(cW)) = λ_max(H_WW(W))/c²``, so the block's
    critical rate ``2/λ_max`` grows as ``c²`` (the block only; the full Hessian does not scale this way)."""
    if opts.sign != "positive" or not opts.eps_is_zero:
        return Recorder(context(opts, free=())).outcome(None, reason="stated for c > 0 and ε = 0")
    ctx = context(opts, free=((r, n),))
    rec = Recorder(ctx)
    rec.cite(lemma("hessian_block_scaling", opts), "hessian_block_scaling",
             "H_WW(cW) = H_WW(W)/c² (theorem hessian_block_scaling)")
    hyp = K.assume(ctx, Sum(H[r, s_] * vec[s_], (s_, 1, n)), lam * vec[r], "H_WW(W) v = λ v")
    rec.steps.append(Step(hyp.relation, "hypothesis: (λ, v) an eigenpair of H_WW(W)", checked=True, rule=hyp.rule,
                          fact=hyp))
    lhs, rhs = rate_claims(opts)[0].args
    rec.eq(lhs, rhs, "H_WW(cW) v = (1/c²) H_WW(W) v", cites=[hyp])
    rec.remark("so every eigenvalue of the block at cW is λ/c²: λ_max(cW) = λ_max(W)/c², and the block's critical "
               "rate 2/λ_max scales as c² (= ‖cW‖²/‖W‖²)")
    return rec.proved(rate_claims(opts))


_H0 = (EPS0, M2, NONCONST)

# -- numeric checks (a draw: bnsym.theorems.checks) --------------------------------------------------------
def euler_numeric(d) -> float:
    """``⟨W, ∂ℓ/∂W⟩`` relative to ``‖W‖‖∂ℓ/∂W‖`` on a draw."""
    b = basics(d)
    return abs(b.W @ b.dW) / max(1.0, float(np.linalg.norm(b.W) * np.linalg.norm(b.dW)))


def norm_growth_numeric(d) -> float:
    """``‖W − η∇‖²`` against ``‖W‖² + η²‖∇‖²`` on a draw."""
    b, eta = basics(d), d["eta"]
    return rel((b.W - eta * b.dW) @ (b.W - eta * b.dW), b.W @ b.W + eta**2 * b.dW @ b.dW)


def hessian_numeric(d) -> float:
    """``∂²x̂/∂W²`` at ``cW`` against ``1/c²`` of it at ``W`` on a draw."""
    b = basics(d)
    return rel(bn_numeric(b.u, d["c"] * b.W, b.eps)["dWW"], b.bn["dWW"] / d["c"] ** 2)


def hessian_w_numeric(d) -> float:
    """``(∂²x̂/∂W²)·W`` against ``−∂x̂/∂W`` on a draw."""
    b = basics(d)
    return rel(np.einsum("irs,s->ir", b.bn["dWW"], b.W), -b.bn["dW"])


def rate_numeric(d) -> float:
    """The eigenvalues of the W block of ``ℓ = Σ_i γ g_i x̂_i`` (a downstream linear loss) at ``cW`` against
    ``1/c²`` of those at ``W``, on a draw."""
    b = basics(d)
    H = b.gamma * np.einsum("i,irs->rs", b.g, b.bn["dWW"])
    Hc = b.gamma * np.einsum("i,irs->rs", b.g, bn_numeric(b.u, d["c"] * b.W, b.eps)["dWW"])
    lam, lam_c = np.linalg.eigvalsh((H + H.T) / 2), np.linalg.eigvalsh((Hc + Hc.T) / 2)
    return rel(lam_c, lam / d["c"] ** 2)


register(Theorem("weight_orthogonality", "Weights feeding BN are orthogonal to their gradient", "⟨W, ∂J/∂W⟩ = 0",
                 r"\left\langle W, \frac{\partial J}{\partial W}\right\rangle = 0",
                 f"{ALL}; Euler's theorem for degree-0 homogeneous functions", _H0, 5, euler, claims=euler_claims,
                 numeric=euler_numeric))
register(Theorem("weight_norm_growth", "One gradient step grows the weight norm",
                 "‖W − η∇J‖² = ‖W‖² + η²‖∇J‖²", r"\|W - \eta\nabla J\|^{2} = \|W\|^{2} + \eta^{2}\|\nabla J\|^{2}",
                 ALL, _H0, 5, norm_growth, numeric=norm_growth_numeric))
register(Theorem("hessian_block_scaling", "The Hessian block of weights feeding BN scales as 1/c²",
                 "H_WW(cW) = H_WW(W)/c² for c > 0 (the block of W, other parameters fixed)",
                 r"H_{WW}(cW) = \frac{1}{c^{2}} H_{WW}(W)", ALL, (C_POS,) + _H0, 5, hessian_block_scaling,
                 claims=hessian_claims, scale=True, numeric=hessian_numeric))
register(Theorem("hessian_times_weight", "The Hessian block maps W to minus the gradient",
                 "H_WW(W)·W = −∇_W J(W)", r"H_{WW}(W)\,W = -\nabla_{W} J(W)", ALL, _H0, 5, hessian_times_weight,
                 claims=hessian_w_claims, numeric=hessian_w_numeric))
register(Theorem("block_critical_rate", "The critical rate of the W block grows as c²",
                 "λ_max(H_WW(cW)) = λ_max(H_WW(W))/c², so 2/λ_max of the block scales as c² (not the full Hessian)",
                 r"\lambda_{\max}\bigl(H_{WW}(cW)\bigr) = \frac{\lambda_{\max}\bigl(H_{WW}(W)\bigr)}{c^{2}}",
                 ALL + "; Hoffer et al. 2018 (arXiv 1803.01814)", (C_POS,) + _H0, 5, block_critical_rate,
                 claims=rate_claims, scale=True, numeric=rate_numeric))
