"""Scale invariance of BN and of its two derivatives (Ioffe & Szegedy 2015, §3.3), exact conditions.

Each proof computes the statistics of the scaled batch from their definitions, proves what holds for every
sign of ``a`` and every ``ε`` (``x̃_ε(az) = (a/|a|)·x̂_{ε/a²}(z)``), then either concludes the paper's identity
(``a > 0``, ``ε = 0``) or refutes it at an explicit batch (``holds=False``) with what holds instead.

>>> from bnsym.theorems.batch import Options
>>> scale_forward(Options()).holds, scale_forward(Options(sign="negative")).holds
(True, False)
"""
from __future__ import annotations

from dataclasses import replace

import sympy
from sympy import Abs, KroneckerDelta, Sum

from ...kernel import core as K
from ..batch import (Options, V, W, beta, context, epsilon_pos, g, gamma, i, k, l, m, mu, mut, n, r, sigma,
                     sigmat, std, u, xhat, xt, z)
from ..proof import Theorem
from ..record import Recorder
from ..registry import lemma, register
from ..checks import basics, bn_numeric, rel
from .common import A_POS, ALL, C_POS, EPS0, IS, M2, NONCONST, witness_batch
from .jacobian import _jac_instance

D = sympy.Derivative


def _statistics(rec: Recorder, opts: Options) -> None:
    a = opts.a
    rec.eq(mut, a * mu, "the mean of the scaled batch: Σ_j a z_j/m = a μ")
    rec.eq(sigmat**2, a**2 * sigma**2, "its biased variance: (1/m) Σ_j (a z_j − a μ)² = a² σ²")
    rec.eq(sympy.sqrt(sigmat**2 + opts.eps_symbol), Abs(a) * sympy.sqrt(sigma**2 + opts.eps_symbol / a**2),
           "√(a²σ² + ε) = |a|·√(σ² + ε/a²)")


def _jac_eps(opts: Options, row, col):
    """The Jacobian of the original batch with ``ε/a²`` in place of ``ε`` (``x̂`` normalized with ``ε/a²``)."""
    if opts.eps_is_zero:
        return (KroneckerDelta(row, col) - 1 / m - xhat[row] * xhat[col] / m) / sigma
    s = sympy.sqrt(sigma**2 + opts.eps_symbol / opts.a**2)
    x_row, x_col = (z[row] - mu) / s, (z[col] - mu) / s
    return (KroneckerDelta(row, col) - 1 / m - x_row * x_col / m) / s


def _witness(opts: Options):
    """A batch z = (0, 1, 3, 0, …) (or two inputs u, W = (1, 1) where weights are needed), a = ±2, ε as asked
    (or 1/10 for a symbolic ε)."""
    eps = sympy.Rational(1, 10) if isinstance(opts.eps, str) else sympy.sympify(opts.eps)
    values = {opts.a: sympy.Integer(2 if opts.sign == "positive" else -2), gamma: sympy.Integer(1),
              beta: sympy.Integer(0), W[1]: sympy.Integer(1), W[2]: sympy.Integer(1), n: sympy.Integer(2)}
    for p, v in enumerate(witness_batch(opts.witness_m)):  # two inputs: u = ((0, 1), (1, 0), (3, 0), …), W = (1, 1)
        values[z[p + 1]] = v
        values[u[p + 1, 1]] = v
        values[u[p + 1, 2]] = sympy.Integer(1 if p == 0 else 0)
    return replace(opts, batch=opts.witness_m, eps=eps), values


def _shown(opts: Options, relation):
    """``relation`` as displayed: with a fixed ``ε = 0`` substituted (``ε/a²`` disappears)."""
    return relation.xreplace({opts.eps_symbol: 0}) if opts.eps_is_zero else relation


def _numbers(opts: Options, values: dict) -> dict:
    out = {"m": opts.witness_m, "z": [float(v) for v in witness_batch(opts.witness_m)], "a": float(values[opts.a])}
    out["eps"] = float(0 if opts.eps_is_zero else (sympy.Rational(1, 10) if isinstance(opts.eps, str) else opts.eps))
    return out


def _eps_story(rec: Recorder, opts: Options) -> str:
    """For ε > 0: the exact deviation of x̂ under scaling, and its limit as ε → 0 (symbolic ε)."""
    sym = replace(opts, eps="positive")
    sctx = context(sym, free=(i,), scaled="batch")
    sgn = 1 if opts.sign == "positive" else -1
    dev = (z[i] - mu) * (sgn / sympy.sqrt(sigma**2 + epsilon_pos / opts.a**2) - 1 / std(sym))
    rec.eq(xt[i] - xhat[i], dev, "the deviation x̃_i − x̂_i for symbolic ε > 0", ctx=sctx)
    value = 0 if sgn == 1 else -2 * (z[i] - mu) / sigma
    rec.limit(dev, epsilon_pos, 0, value, "its limit as ε → 0 (continuous: σ² > 0)", ctx=sctx)
    return "0" if sgn == 1 else "−2x̂ (for BN: −2γx̂)"


def forward_claims(opts: Options):
    """``BN(aWu)_i = BN(Wu)_i``: ``γ x̃_i + β = γ x̂_i + β``."""
    return [sympy.Eq(gamma * xt[i] + beta, gamma * xhat[i] + beta, evaluate=False)]


def scale_forward(opts: Options):
    """``x̃_i = (a/|a|)·(z_i − μ)/√(σ² + ε/a²)``; the paper's identity exactly when ``a > 0``, ``ε = 0``."""
    rec = Recorder(context(opts, free=(i,), scaled="batch"))
    a = opts.a
    _statistics(rec, opts)
    general_form = (a / Abs(a)) * (z[i] - mu) / sympy.sqrt(sigma**2 + opts.eps_symbol / a**2)
    f1 = rec.eq(xt[i], general_form, "x̃_i = (a z_i − a μ)/√(σ̃² + ε): the normalized scaled batch")
    if opts.sign == "positive" and opts.eps_is_zero:
        rec.chain(f1, rec.eq(general_form, xhat[i], "a > 0 and ε = 0: a/|a| = 1, ε/a² = ε"))
        rec.eq(gamma * xt[i] + beta, gamma * xhat[i] + beta, "so BN(aWu)_i = γ x̃_i + β = γ x̂_i + β = BN(Wu)_i")
        return rec.proved(forward_claims(opts))
    wopts, values = _witness(opts)
    rec.ne(context(wopts, free=(), scaled="batch"), gamma * xt[1] + beta, gamma * xhat[1] + beta, values,
           f"at z = {tuple(int(v) for v in witness_batch(wopts.batch))}, γ = 1, β = 0 the first outputs differ")
    if opts.eps_is_zero:
        text = "for a < 0: BN(aWu) = γ(−x̂) + β = 2β − BN(Wu); the normalized part flips sign"
    else:
        text = f"x̂_ε(az) = (a/|a|)·x̂_{{ε/a²}}(z); x̂_ε(az) − x̂_ε(z) → {_eps_story(rec, opts)} as ε → 0"
    return rec.outcome(False, reason="fails unless a > 0 and ε = 0", replacement=text,
                       replacement_latex=sympy.latex(_shown(opts, sympy.Eq(xt[i], general_form, evaluate=False))),
                       counterexample=_numbers(opts, values))


def input_grad_claims(opts: Options):
    """``∂x̃_i/∂u_kr = ∂x̂_i/∂u_kr``."""
    return [sympy.Eq(D(xt[i], u[k, r]), D(xhat[i], u[k, r]), evaluate=False)]


def scale_input_grad(opts: Options):
    """Chain rule through the proved Jacobian; equal for ``a > 0``, ``ε = 0``, sign-flipped for ``a < 0``."""
    rec = Recorder(context(opts, free=(i, k, (r, n)), linear=True, scaled="batch"))
    a = opts.a
    jf = rec.cite(_jac_instance(opts, i, l), "bn_jacobian", "the BN Jacobian (theorem bn_jacobian) at (i, l)")
    through = Sum(D(xhat[i], z[l]) * D(z[l], u[k, r]), (l, 1, m))
    f1 = rec.eq(D(xhat[i], u[k, r]), through, "chain rule through z_l = Σ_q W_q u_lq", cites=[jf])
    plain = jf.rhs.xreplace({l: k}) * W[r]
    f2 = rec.eq(through, plain, "∂z_l/∂u_kr = δ_lk W_r; sift over l", cites=[jf])
    scaled = (a / Abs(a)) * _jac_eps(opts, i, k) * W[r]
    f3 = rec.eq(D(xt[i], u[k, r]), scaled, "the same for the batch a z: a·J(az) = (a/|a|)·J_{ε/a²}(z)")
    if opts.sign == "positive" and opts.eps_is_zero:
        f4 = rec.eq(scaled, plain, "a > 0, ε = 0: a/|a| = 1")
        rec.chain(f3, f4, K.symmetric(rec.chain(f1, f2)))
        return rec.proved(input_grad_claims(opts))
    wopts, values = _witness(opts)
    rec.ne(context(wopts, free=(), linear=True, scaled="batch"), D(xt[1], u[2, 1]), D(xhat[1], u[2, 1]), values,
           "at u = ((0, 1), (1, 0), (3, 0)), W = (1, 1): the entries ∂/∂u_21 differ")
    text = ("for a < 0: ∂BN(aWu)/∂u = −∂BN(Wu)/∂u (sign flips)" if opts.eps_is_zero else
            "∂BN_ε(aWu)/∂u = (a/|a|)·∂BN_{ε/a²}(Wu)/∂u")
    return rec.outcome(False, reason="fails unless a > 0 and ε = 0", replacement=text,
                       replacement_latex=sympy.latex(_shown(opts, sympy.Eq(D(xt[i], u[k, r]), scaled, evaluate=False))),
                       counterexample=_numbers(opts, values))


def weight_grad_claims(opts: Options):
    """``∂x̃_i/∂V_r |_{V=aW} = (1/a)·∂x̂_i/∂W_r``."""
    return [sympy.Eq(D(xt[i], V[r]), D(xhat[i], W[r]) / opts.a, evaluate=False)]


def scale_weight_grad(opts: Options):
    """``∂BN(Vu)/∂V`` at ``V = aW`` is ``(1/|a|)·∂BN_{ε/a²}(Wu)/∂W``: the paper's ``1/a`` for ``a > 0``, ``ε = 0``."""
    rec = Recorder(context(opts, free=(i, (r, n)), linear=True, scaled="weights"))
    a = opts.a
    jf = rec.cite(_jac_instance(opts, i, l), "bn_jacobian", "the BN Jacobian (theorem bn_jacobian) at (i, l)")
    through = Sum(D(xhat[i], z[l]) * D(z[l], W[r]), (l, 1, m))
    f1 = rec.eq(D(xhat[i], W[r]), through, "chain rule through z_l = Σ_q W_q u_lq", cites=[jf])
    plain = Sum(jf.rhs * u[l, r], (l, 1, m))
    f2 = rec.eq(through, plain, "∂z_l/∂W_r = u_lr", cites=[jf])
    scaled = Sum(_jac_eps(opts, i, l) * u[l, r], (l, 1, m)) / Abs(a)
    f3 = rec.eq(D(xt[i], V[r]), scaled, "the batch Vu at V = aW is a z: J(az) = J_{ε/a²}(z)/|a|")
    if opts.sign == "positive" and opts.eps_is_zero:
        f4 = rec.eq(scaled, plain / a, "a > 0, ε = 0: |a| = a")
        back = K.symmetric(rec.chain(f1, f2))
        rec.eq(plain / a, D(xhat[i], W[r]) / a, "divide the chain above by a", cites=[back])
        rec.chain(f3, f4, rec.facts[-1])
        return rec.proved(weight_grad_claims(opts))
    wopts, values = _witness(opts)
    rec.ne(context(wopts, free=(), linear=True, scaled="weights"), D(xt[1], V[1]), D(xhat[1], W[1]) / a, values,
           "at u = ((0, 1), (1, 0), (3, 0)), W = (1, 1): the entries ∂/∂W_1 differ")
    text = ("for a < 0: ∂BN(Vu)/∂V at V = aW equals −(1/a)·∂BN(Wu)/∂W = (1/|a|)·∂BN(Wu)/∂W" if opts.eps_is_zero
            else "∂BN_ε(Vu)/∂V at V = aW equals (1/|a|)·∂BN_{ε/a²}(Wu)/∂W")
    return rec.outcome(False, reason="fails unless a > 0 and ε = 0", replacement=text,
                       replacement_latex=sympy.latex(_shown(opts, sympy.Eq(D(xt[i], V[r]), scaled, evaluate=False))),
                       counterexample=_numbers(opts, values))


def gradient_scaling_claims(opts: Options):
    """``∂ℓ/∂V_r |_{V=cW} = (1/c)·∂ℓ/∂W_r`` with ``∂ℓ/∂W_r = Σ_i γ g_i ∂x̂_i/∂W_r``."""
    return [sympy.Eq(Sum(gamma * g[i] * D(xt[i], V[r]), (i, 1, m)),
                     Sum(gamma * g[i] * D(xhat[i], W[r]), (i, 1, m)) / opts.a, evaluate=False)]


def gradient_scaling(opts: Options):
    """``∇J(cW) = ∇J(W)/c``: the upstream gradient ``g`` is the same at ``cW`` (the forward is invariant), and
    each ``∂x̂_i/∂W_r`` scales by ``1/c`` (theorem scale_invariance_weight_grad)."""
    if opts.sign != "positive" or not opts.eps_is_zero:
        return Recorder(context(opts, free=((r, n),))).outcome(
            None, reason="stated for c > 0 and ε = 0 (for c < 0 or ε > 0 see scale_invariance_weight_grad)")
    rec = Recorder(context(opts, free=((r, n),), linear=True, scaled="weights"))
    rec.cite(lemma("scale_invariance_forward", opts), "scale_invariance_forward",
             "BN(cWu) = BN(Wu) (theorem scale_invariance_forward), so g_i = ∂ℓ/∂y_i is the same at cW and W")
    wg = lemma("scale_invariance_weight_grad", opts)
    rec.cite(wg, "scale_invariance_weight_grad", "∂x̃_i/∂V_r at V = cW = (1/c)·∂x̂_i/∂W_r")
    lhs, rhs = gradient_scaling_claims(opts)[0].args
    rec.eq(lhs, rhs, "∂ℓ/∂W_r = Σ_i γ g_i ∂x̂_i/∂W_r; sum the cited identity over i", cites=[wg])
    rec.remark("here c plays the role of a: every statement above holds with a = c > 0")
    return rec.proved(gradient_scaling_claims(opts))


_H = (A_POS, EPS0, M2, NONCONST)

# -- numeric checks (a draw: bnsym.theorems.checks) --------------------------------------------------------
def forward_numeric(d) -> float:
    """``BN(aWu)`` against ``BN(Wu)`` on a draw."""
    b = basics(d)
    return rel(bn_numeric(b.u, d["a"] * b.W, b.eps)["xhat"], b.xh)


def input_grad_numeric(d) -> float:
    """``∂BN(aWu)/∂u`` against ``∂BN(Wu)/∂u`` on a draw."""
    b = basics(d)
    return rel(bn_numeric(b.u, d["a"] * b.W, b.eps)["du"], b.bn["du"])


def weight_grad_numeric(d) -> float:
    """``∂BN((aW)u)/∂(aW)`` against ``(1/a) ∂BN(Wu)/∂W`` on a draw."""
    b = basics(d)
    return rel(bn_numeric(b.u, d["a"] * b.W, b.eps)["dW"], b.bn["dW"] / d["a"])


def gradient_scaling_numeric(d) -> float:
    """``∇J(cW)`` against ``∇J(W)/c`` (same upstream ``g``: the forward pass is unchanged) on a draw."""
    b = basics(d)
    return rel(b.gamma * b.g @ bn_numeric(b.u, d["c"] * b.W, b.eps)["dW"], b.dW / d["c"])


register(Theorem("scale_invariance_forward", "Scale invariance of the forward pass", "BN(aWu) = BN(Wu)",
                 r"\mathrm{BN}(aWu) = \mathrm{BN}(Wu)", f"{IS}, §3.3", _H, 1, scale_forward,
                 claims=forward_claims, scale=True, numeric=forward_numeric))
register(Theorem("scale_invariance_input_grad", "Scale invariance of the input gradient",
                 "∂BN(aWu)/∂u = ∂BN(Wu)/∂u",
                 r"\frac{\partial \mathrm{BN}(aWu)}{\partial u} = \frac{\partial \mathrm{BN}(Wu)}{\partial u}",
                 f"{IS}, §3.3", _H, 1, scale_input_grad, claims=input_grad_claims, scale=True,
                 numeric=input_grad_numeric))
register(Theorem("scale_invariance_weight_grad", "Larger weights get smaller gradients",
                 "∂BN((aW)u)/∂(aW) = (1/a)·∂BN(Wu)/∂W",
                 r"\frac{\partial \mathrm{BN}((aW)u)}{\partial (aW)} = \frac{1}{a} "
                 r"\frac{\partial \mathrm{BN}(Wu)}{\partial W}", f"{IS}, §3.3", _H, 1, scale_weight_grad,
                 claims=weight_grad_claims, scale=True, numeric=weight_grad_numeric))
register(Theorem("gradient_scaling", "The gradient of weights feeding BN scales as 1/c",
                 "∇J(cW) = ∇J(W)/c for c > 0", r"\nabla J(cW) = \frac{1}{c}\nabla J(W)",
                 ALL + "; Hoffer et al. 2018 (arXiv 1803.01814)", (C_POS, EPS0, M2, NONCONST), 5,
                 gradient_scaling, claims=gradient_scaling_claims, scale=True, numeric=gradient_scaling_numeric))
