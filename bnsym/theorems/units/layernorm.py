"""LayerNorm (statistics of one sample over its ``n`` features) through the kernel: affine invariance, the ε
deviation, the Jacobian and its null space, and the weights feeding it (gradient 1/c, orthogonality, norm
growth; a scale per row of W is not an invariance).

>>> from bnsym.theorems.batch import Options
>>> forward(Options()).holds, forward(Options(sign="negative")).holds
(True, False)
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import sympy
from sympy import Abs, KroneckerDelta, Sum

from ..batch import Options, i, k, l, mu, mut, n, sigma, sigmat, xhat, xt, z
from ..family import C, b, ln_context, ln_euler, ln_jacobian
from ..family_checks import features, jacobian as num_jac, layer_norm, rel
from ...kernel import core as K
from ...kernel.index import substitute
from ..proof import Theorem
from ..record import Recorder
from ..registry import lemma, register
from .common import A_POS, EPS0, EPS_ANY
from .famcommon import FEATS, LN, N2, refute, witness
from .feeding import Feeding, numeric_weight_grad, register_weight_theorems

D = sympy.Derivative


def _root(opts: Options, over=1):
    return sympy.sqrt(sigma**2 + opts.eps_symbol / over)


def _general_form(opts: Options, row=i):
    a = opts.a
    return (a / Abs(a)) * (z[row] - mu) / _root(opts, a**2)


def _affine_facts(rec: Recorder, opts: Options):
    a = opts.a
    rec.eq(mut, a * mu + b, "the mean of a z + b·1: Σ_j (a z_j + b)/n = a μ + b")
    rec.eq(sigmat**2, a**2 * sigma**2, "its variance: (1/n) Σ_j (a z_j − a μ)² = a² σ² (the shift cancels)")
    return rec.eq(xt[i], _general_form(opts), "x̃_i = (a z_i − a μ)/√(a²σ² + ε) = (a/|a|)·(z_i − μ)/√(σ² + ε/a²)")


def _values(opts: Options, zs) -> dict:
    vals = {opts.a: sympy.Integer(2 if opts.sign == "positive" else -2), b: sympy.Integer(1)}
    vals.update({z[p + 1]: x for p, x in enumerate(zs)})
    return vals


def _numbers(wopts: Options, vals: dict, zs) -> dict:
    return {"n": wopts.batch, "z": [float(x) for x in zs], "a": float(vals[wopts.a]), "b": float(vals[b]),
            "eps": float(wopts.eps)}


def forward_claims(opts: Options):
    """``LN(a z + b·1)_i = LN(z)_i``."""
    return [sympy.Eq(xt[i], xhat[i], evaluate=False)]


def forward(opts: Options):
    """Affine invariance ``LN(a z + b·1) = LN(z)`` for ``a > 0``, ``ε = 0``; otherwise refuted at ``z = (0, 1, 3)``."""
    rec = Recorder(ln_context(opts, free=(i,), scaled="affine"))
    f1 = _affine_facts(rec, opts)
    if opts.sign == "positive" and opts.eps_is_zero:
        rec.chain(f1, rec.eq(f1.rhs, xhat[i], "a > 0 and ε = 0: a/|a| = 1"))
        return rec.proved(forward_claims(opts))
    wopts, zs = witness(opts)
    vals = _values(opts, zs)
    text = ("for a < 0: LN(a z + b·1) = −LN(z)" if opts.eps_is_zero else
            "LN_ε(a z + b·1) = (a/|a|)·LN_{ε/a²}(z) (theorem layer_norm_eps_deviation)")
    return refute(rec, ln_context(wopts, scaled="affine"), xt[1], xhat[1], vals,
                  f"at z = {tuple(int(x) for x in zs)}, a = {vals[opts.a]}, b = 1 the first outputs differ",
                  reason="fails unless a > 0 and ε = 0", replacement=text,
                  replacement_latex=sympy.latex(sympy.Eq(xt[i], f1.rhs, evaluate=False)),
                  numbers=_numbers(wopts, vals, zs))


def eps_claims(opts: Options):
    """``LN_ε(a z + b·1)_i = (z_i − μ)/√(σ² + ε/a²) = LN_{ε/a²}(z)_i``."""
    return [sympy.Eq(xt[i], (z[i] - mu) / _root(opts, opts.a**2), evaluate=False)]


def eps_deviation(opts: Options):
    """``LN_ε(a z + b·1) = LN_{ε/a²}(z)`` for ``a > 0`` and every ``ε ≥ 0`` (for ``a < 0``: ``−LN_{ε/a²}(z)``)."""
    rec = Recorder(ln_context(opts, free=(i,), scaled="affine"))
    f1 = _affine_facts(rec, opts)
    if opts.sign == "positive":
        rec.chain(f1, rec.eq(f1.rhs, eps_claims(opts)[0].rhs, "a > 0: a/|a| = 1"))
        return rec.proved(eps_claims(opts))
    wopts, zs = witness(opts)
    vals = _values(opts, zs)
    return refute(rec, ln_context(wopts, scaled="affine"), xt[1], eps_claims(wopts)[0].rhs.xreplace({i: 1}), vals,
                  f"at z = {tuple(int(x) for x in zs)}, a = −2: the sign flips", reason="needs a > 0",
                  replacement="LN_ε(a z + b·1) = −LN_{ε/a²}(z) for a < 0",
                  replacement_latex=sympy.latex(sympy.Eq(xt[i], f1.rhs, evaluate=False)),
                  numbers=_numbers(wopts, vals, zs))


def jacobian_claims(opts: Options):
    """``∂x̂_i/∂z_k = (δ_ik − 1/n − x̂_i x̂_k/n)/√(σ² + ε)``."""
    return [sympy.Eq(D(xhat[i], z[k]), ln_jacobian(opts, i, k), evaluate=False)]


def jacobian(opts: Options):
    """Differentiate the definitions of ``μ``, ``σ²``, ``x̂`` over the features (any ``ε ≥ 0``)."""
    rec = Recorder(ln_context(opts, free=(i, k)))
    sd = _root(opts)
    rec.eq(D(mu, z[k]), 1 / n, "μ = (1/n) Σ_j z_j")
    rec.eq(D(sigma**2, z[k]), 2 * (z[k] - mu) / n, "σ² = (1/n) Σ_j (z_j − μ)²; Σ_j (z_j − μ) = 0")
    raw = (KroneckerDelta(i, k) - 1 / n) / sd - (z[i] - mu) * (z[k] - mu) / (n * sd**3)
    f1 = rec.eq(D(xhat[i], z[k]), raw, "quotient rule with the two partials above")
    rec.chain(f1, rec.eq(raw, ln_jacobian(opts, i, k), "z − μ = √(σ² + ε)·x̂"))
    return rec.proved(jacobian_claims(opts))


def _jac(opts: Options, row, col):
    fact = lemma("layer_norm_jacobian", replace(opts, batch="m"))
    return K.instantiate(fact, fact.context.with_free(row, col), {i: row, k: col})


def null_claims(opts: Options):
    """``Σ_l J_il = 0`` and ``Σ_l J_il x̂_l = 0``."""
    J = ln_jacobian(opts, i, l)
    return [sympy.Eq(Sum(J, (l, 1, n)), 0, evaluate=False), sympy.Eq(Sum(J * xhat[l], (l, 1, n)), 0, evaluate=False)]


def null_space(opts: Options):
    """``J·1 = 0`` for every ``ε``; ``J·x̂ = 0`` exactly when ``ε = 0``; ``σJ`` a projector of trace ``n − 2``."""
    rec = Recorder(ln_context(opts, free=(i, k)))
    J = rec.cite(_jac(opts, i, l), "layer_norm_jacobian").rhs
    rec.eq(Sum(J, (l, 1, n)), 0, "Σ_l δ_il = 1, Σ_l 1 = n, Σ_l x̂_l = 0")
    jx = 0 if opts.eps_is_zero else xhat[i] * opts.eps_symbol / (_root(opts) * (sigma**2 + opts.eps_symbol))
    rec.eq(Sum(J * xhat[l], (l, 1, n)), jx, "Σ_l x̂_l = 0 and Σ_l x̂_l² = n σ²/(σ² + ε)")
    if not opts.eps_is_zero:
        wopts, zs = witness(opts)
        J1 = substitute(ln_jacobian(wopts, 1, l), {n: sympy.Integer(wopts.batch)})
        return refute(rec, ln_context(wopts), Sum(J1 * xhat[l], (l, 1, wopts.batch)), 0,
                      {z[p + 1]: x for p, x in enumerate(zs)}, f"z = {tuple(int(x) for x in zs)}, ε = {wopts.eps}",
                      reason="J·x̂ = 0 only when ε = 0", replacement="J·x̂ = x̂·ε/(√(σ² + ε)(σ² + ε)) (ε > 0)",
                      replacement_latex=sympy.latex(sympy.Eq(Sum(J * xhat[l], (l, 1, n)), jx, evaluate=False)),
                      numbers={"n": wopts.batch, "z": [float(x) for x in zs], "eps": float(wopts.eps)})
    P = KroneckerDelta(i, k) - 1 / n - xhat[i] * xhat[k] / n
    rec.eq(Sum(P.xreplace({k: l}) * P.xreplace({i: l}), (l, 1, n)), P, "P = σJ satisfies P² = P: a projector")
    rec.eq(Sum(P.xreplace({k: i}), (i, 1, n)), n - 2, "trace P = n − 2, so null J = span{1, x̂}")
    return rec.proved(null_claims(opts))


def _feeding_context(opts: Options, *, free=(), scaled: bool = False, inputs: int | None = None):
    return ln_context(opts, free=free, linear=True, scaled="weights" if scaled else None, inputs=inputs)


#: the weights W (``n × d``) feeding LayerNorm: theorems layer_norm_gradient_scaling, _weight_orthogonality and
#: _weight_norm_growth (:mod:`bnsym.theorems.units.feeding`)
WEIGHTS = Feeding("layer_norm", "LN", xhat, xt, n, _feeding_context, ln_euler,
                  "∂x̂_i/∂W_rs = J_ir u_s; Σ_s W_rs u_s = z_r; Σ_r J_ir z_r = x̂_i ε/(σ² + ε)", "x̂_i·ε/(σ² + ε)",
                  (N2, FEATS), numeric_weight_grad(layer_norm))


def rows_claims(opts: Options):
    """``LN(diag(C) W u)_i = LN(Wu)_i`` (claimed; refuted)."""
    return [sympy.Eq(xt[i], xhat[i], evaluate=False)]


def row_scaling(opts: Options):
    """A scale ``C_t > 0`` per row of ``W`` (``z̃_t = C_t z_t``) is not an invariance of LayerNorm: refuted at
    ``z = (0, 1, 3)``, ``C = (1, 2, 1)``. (For BN each unit is normalized over the batch on its own, so a
    scale per unit is one: theorem scale_invariance_forward.)"""
    rec = Recorder(ln_context(opts, free=(i,), scaled="rows"))
    wopts, zs = witness(opts)
    vals = {z[p + 1]: x for p, x in enumerate(zs)}
    vals.update({C[p + 1]: sympy.Integer(2 if p == 1 else 1) for p in range(len(zs))})
    return refute(rec, ln_context(wopts, scaled="rows"), xt[2], xhat[2], vals,
                  f"z = {tuple(int(x) for x in zs)}, C = (1, 2, 1, …): the second outputs differ",
                  reason="LayerNorm's statistics mix the rows: only a common scale c > 0 cancels",
                  replacement="LN(c W u) = LN(W u) for a common c > 0; for BN a scale per unit is an invariance",
                  replacement_latex=sympy.latex(sympy.Eq(xt[i], xhat[i], evaluate=False)),
                  numbers={"n": wopts.batch, "z": [float(x) for x in zs], "C": [1.0, 2.0] + [1.0] * (len(zs) - 2)})


# -- numeric checks: features z = u W of a draw; the weights feeding LN are u, applied to the input W -----------
def _eps(d) -> float:
    return float(d.get("eps", 0.0))


def forward_numeric(dr) -> float:
    """``LN(a z + b)`` against ``LN(z)``."""
    zz = features(dr)
    return rel(layer_norm(dr["a"] * zz + dr.get("b", 0.7), _eps(dr) * dr["a"] ** 2), layer_norm(zz, _eps(dr)))


def eps_numeric(dr) -> float:
    """``LN_ε(a z + b)`` against ``LN_{ε/a²}(z)`` at ``ε = eps`` (or 0.01)."""
    zz, e = features(dr), dr.get("eps", 0.01)
    return rel(layer_norm(dr["a"] * zz + dr.get("b", 0.7), e), layer_norm(zz, e / dr["a"] ** 2))


def _closed(zz, e):
    xh = layer_norm(zz, e)
    return (np.eye(len(zz)) - 1.0 / len(zz) - np.outer(xh, xh) / len(zz)) / np.sqrt(zz.var() + e)


def jacobian_numeric(dr) -> float:
    """The complex-step Jacobian of LN against the closed form."""
    zz = features(dr)
    return rel(num_jac(lambda x: layer_norm(x, _eps(dr)), zz), _closed(zz, _eps(dr)))


def null_numeric(dr) -> float:
    """``J·1`` and ``J·x̂`` (ε = 0) against 0, scaled by σ."""
    zz = features(dr)
    J = _closed(zz, 0.0) * zz.std()
    return rel(np.concatenate([J @ np.ones(len(zz)), J @ layer_norm(zz)]), 0.0)


def rows_numeric(dr) -> float:
    """What holds instead: a common scale ``c`` of all rows leaves LN unchanged (``c = 1 + |a|``)."""
    zz, c = features(dr), 1.0 + abs(dr.get("a", 2.0))
    return rel(layer_norm(c * zz), layer_norm(zz))


_H = (A_POS, EPS0, N2, FEATS)
register(Theorem("layer_norm_scale_invariance", "LayerNorm is invariant under a x + b·1", "LN(a z + b·1) = LN(z)",
                 r"\mathrm{LN}(a z + b\mathbf{1}) = \mathrm{LN}(z)", LN, _H, 8, forward, claims=forward_claims,
                 scale=True, numeric=forward_numeric))
register(Theorem("layer_norm_eps_deviation", "LayerNorm with ε > 0: the scale moves into ε",
                 "LN_ε(a z + b·1) = LN_{ε/a²}(z)", r"\mathrm{LN}_{\epsilon}(a z + b\mathbf{1}) = "
                 r"\mathrm{LN}_{\epsilon/a^{2}}(z)", LN, (A_POS, EPS_ANY, N2, FEATS), 8, eps_deviation,
                 claims=eps_claims, scale=True, numeric=eps_numeric))
register(Theorem("layer_norm_jacobian", "The LayerNorm Jacobian in closed form",
                 "∂x̂_i/∂z_k = (δ_ik − 1/n − x̂_i x̂_k/n)/√(σ² + ε)",
                 r"\frac{\partial \hat{x}_{i}}{\partial z_{k}} = \frac{\delta_{ik} - \frac{1}{n} - "
                 r"\frac{\hat{x}_{i}\hat{x}_{k}}{n}}{\sqrt{\sigma^{2} + \epsilon}}", LN, (EPS_ANY, N2, FEATS), 8,
                 jacobian, claims=jacobian_claims, numeric=jacobian_numeric))
register(Theorem("layer_norm_jacobian_null_space", "1 and x̂ span the null space of the LayerNorm Jacobian",
                 "J·1 = 0 and J·x̂ = 0; null J = span{1, x̂}", r"J\mathbf{1} = 0,\; J\hat{x} = 0", LN,
                 (EPS0, N2, FEATS), 8, null_space, claims=null_claims, numeric=null_numeric))
register_weight_theorems(WEIGHTS, "LayerNorm", LN, 8)
register(Theorem("layer_norm_row_scaling_counterexample", "A scale per row of W is not a LayerNorm invariance",
                 "LN(diag(C) W u) = LN(W u) (refuted: false for C ≠ c·1)",
                 r"\mathrm{LN}(\operatorname{diag}(C)\,W u) \neq \mathrm{LN}(W u)", LN, (N2, FEATS), 8, row_scaling,
                 claims=rows_claims, numeric=rows_numeric, refuted=True))
