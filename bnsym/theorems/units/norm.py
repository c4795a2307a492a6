"""The gradient norm through BN (Santurkar et al. 2018, Theorem 4.1): the exact identity and the bound.

>>> from bnsym.theorems.batch import Options
>>> gradient_norm_identity(Options()).holds
True
"""
from __future__ import annotations

from dataclasses import replace

import sympy
from sympy import Abs, Sum

from ..batch import Options, context, g, gamma, j, k, m, sigma, std, xhat, z
from ..proof import Theorem
from ..record import Recorder
from ..registry import lemma, register
from ..checks import basics, rel
from .backward import compact_gradient, true_gradient
from .common import EPS0, M2, NONCONST, SANT, witness_batch

Q, G, X = (Sum(g[j] ** 2, (j, 1, m)), Sum(g[j], (j, 1, m)), Sum(g[j] * xhat[j], (j, 1, m)))


def _norm2():
    return Sum(true_gradient(k) ** 2, (k, 1, m))


def identity_form(opts: Options):
    """``(γ²/s²)(‖g‖² − ⟨1,g⟩²/m − (2 − ρ)⟨g,x̂⟩²/m)``, ``ρ = σ²/s²`` (``ρ = 1`` at ``ε = 0``)."""
    if opts.eps_is_zero:
        return gamma**2 / sigma**2 * (Q - G**2 / m - X**2 / m)
    s = std(opts)
    return gamma**2 / s**2 * (Q - G**2 / m - (2 - sigma**2 / s**2) * X**2 / m)


def identity_claims(opts: Options):
    """‖∂ℓ/∂z‖² = (γ²/σ²)(‖g‖² − ⟨1,g⟩²/m − ⟨g,x̂⟩²/m)."""
    return [sympy.Eq(_norm2(), gamma**2 / sigma**2 * (Q - G**2 / m - X**2 / m), evaluate=False)]


def _squared(rec: Recorder, opts: Options):
    cf = lemma("backward_compact", replace(opts, batch="m"))
    rec.cite(cf, "backward_compact", "∂ℓ/∂z_k in the compact form (theorem backward_compact)")
    squared = Sum(compact_gradient(opts) ** 2, (k, 1, m))
    f1 = rec.eq(_norm2(), squared, "square the compact form and sum over k", cites=[cf])
    f2 = rec.eq(squared, identity_form(opts), "Σ x̂ = 0 and Σ x̂² = m σ²/(σ² + ε)")
    return rec.chain(f1, f2)


def gradient_norm_identity(opts: Options):
    """Exact for ``ε = 0``; for ``ε > 0`` the last coefficient is ``(2 − ρ)/m`` (refuted at an explicit batch)."""
    rec = Recorder(context(opts, free=()))
    _squared(rec, opts)
    if opts.eps_is_zero:
        return rec.proved(identity_claims(opts))
    eps = sympy.Rational(1, 2) if isinstance(opts.eps, str) else opts.eps
    wm = opts.witness_m
    wopts = replace(opts, batch=wm, eps=eps)
    zs, gs = witness_batch(wm), witness_batch(wm, (1, -2, sympy.Rational(1, 2)))
    values = {gamma: 1, **{z[p + 1]: zs[p] for p in range(wm)}, **{g[p + 1]: gs[p] for p in range(wm)}}
    claim = identity_claims(wopts)[0]
    rec.ne(context(wopts, free=()), claim.lhs.xreplace({m: wm}), claim.rhs.xreplace({m: wm}), values,
           f"at z = {tuple(zs)}, g = {tuple(gs)}, γ = 1, ε = {eps}")
    form = identity_form(opts)
    return rec.outcome(False, reason="the identity needs ε = 0",
                       replacement="‖∂ℓ/∂z‖² = (γ²/s²)(‖g‖² − ⟨1,g⟩²/m − (2 − ρ)⟨g,x̂⟩²/m), s² = σ² + ε, ρ = σ²/s²",
                       replacement_latex=sympy.latex(sympy.Eq(_norm2(), form, evaluate=False)),
                       counterexample={"m": wm, "z": [float(v) for v in zs], "g": [float(v) for v in gs],
                                       "eps": float(eps)})


def bound_claims(opts: Options):
    """``‖∂ℓ/∂z‖² ≤ (γ²/σ²)‖g‖²``."""
    return [sympy.Le(_norm2(), gamma**2 / sigma**2 * Q, evaluate=False)]


def gradient_norm_bound(opts: Options):
    """``‖∂ℓ/∂z‖ ≤ (|γ|/σ)‖g‖`` (every ``ε ≥ 0``); with the last coefficient read ``1/√m`` it is false."""
    rec = Recorder(context(opts, free=()))
    f = _squared(rec, opts)
    if opts.coefficient != "1/m":
        stated = gamma**2 / sigma**2 * (Q - G**2 / m - X**2 / sympy.sqrt(m))
        wm = max(opts.witness_m, 2)
        zs = witness_batch(wm, (0, 1, 2, 3))
        half = sympy.Rational(1, 2)
        gs = witness_batch(wm, (-3 * half, -half, half, 3 * half))
        values = {gamma: 1, **{z[p + 1]: zs[p] for p in range(wm)}, **{g[p + 1]: gs[p] for p in range(wm)}}
        rec.ne(context(replace(opts, batch=wm), free=()), _norm2().xreplace({m: wm}), stated.xreplace({m: wm}), values,
               f"at z = {tuple(zs)}, g = {tuple(gs)}, γ = 1: the exact norm exceeds the misprinted bound",
               greater=True)
        return rec.outcome(False, reason="with the coefficient 1/√m the right-hand side is smaller than the exact "
                           "value by (γ²/σ²)⟨g,x̂⟩²(1/√m − 1/m) > 0 for m > 1 and ⟨g,x̂⟩ ≠ 0",
                           replacement="‖∂ℓ/∂z‖² = (γ²/σ²)(‖g‖² − ⟨1,g⟩²/m − ⟨g,x̂⟩²/m) (exact)",
                           replacement_latex=sympy.latex(identity_claims(replace(opts, eps=0))[0]),
                           counterexample={"m": wm, "z": [float(v) for v in zs], "g": [float(v) for v in gs],
                                           "gamma": 1.0, **_norms_at_witness(zs, gs)})
    form = identity_form(opts)
    rec.le(form, gamma**2 / sigma**2 * Q, "drop the subtracted squares; 1/(σ² + ε) ≤ 1/σ² and 2 − ρ ≥ 1",
           unfold=False)
    rec.chain(f, rec.facts[-1])
    rec.remark("take square roots: ‖∂ℓ/∂z‖ ≤ (|γ|/σ)‖g‖", sympy.Le(sympy.sqrt(_norm2()), Abs(gamma) / sigma *
                                                                  sympy.sqrt(Q), evaluate=False))
    return rec.proved(bound_claims(opts))


def _norms_at_witness(zs, gs) -> dict:
    """Exact and misprinted values at the witness ``z = zs``, ``g = gs`` of the 1/√m variant (for display)."""
    import numpy as np

    zz, gg = np.array([float(v) for v in zs]), np.array([float(v) for v in gs])
    mm = len(zz)
    xh = (zz - zz.mean()) / zz.std()
    exact = (gg @ gg - gg.sum() ** 2 / mm - (gg @ xh) ** 2 / mm) / zz.var()
    claimed = (gg @ gg - gg.sum() ** 2 / mm - (gg @ xh) ** 2 / np.sqrt(mm)) / zz.var()
    return {"exact": float(exact), "claimed_bound": float(claimed)}



# -- numeric checks (a draw: bnsym.theorems.checks) --------------------------------------------------------
def _squared_norms(b):
    v = b.gamma * b.J.T @ b.g
    exact = b.gamma**2 / b.s**2 * (b.g @ b.g - b.g.sum() ** 2 / len(b.xh) - (b.g @ b.xh) ** 2 / len(b.xh))
    return v @ v, exact


def identity_numeric(d) -> float:
    """``‖∂ℓ/∂z‖²`` against the identity's right-hand side on a draw."""
    return rel(*_squared_norms(basics(d)))


def bound_numeric(d) -> float:
    """How far ``‖∂ℓ/∂z‖²`` exceeds ``(γ/σ)²‖g‖²`` on a draw (0 when the bound holds)."""
    b = basics(d)
    vv, _ = _squared_norms(b)
    return max(0.0, (vv - b.gamma**2 / b.s**2 * (b.g @ b.g)) / max(1.0, vv))


register(Theorem("gradient_norm_identity", "Gradient norm through BN (exact equality)",
                 "‖∂ℓ/∂z‖² = (γ²/σ²)(‖g‖² − ⟨1,g⟩²/m − ⟨g,x̂⟩²/m)",
                 r"\left\|\frac{\partial \ell}{\partial z}\right\|^{2} = \frac{\gamma^{2}}{\sigma^{2}}\left(\|g\|^{2}"
                 r" - \frac{\langle \mathbf{1}, g\rangle^{2}}{m} - \frac{\langle g, \hat{x}\rangle^{2}}{m}\right)",
                 SANT, (EPS0, M2, NONCONST), 4, gradient_norm_identity, claims=identity_claims,
                 numeric=identity_numeric))
register(Theorem("gradient_norm_bound", "Gradient norm through BN (the inequality)", "‖∂ℓ/∂z‖ ≤ (γ/σ)‖g‖",
                 r"\left\|\frac{\partial \ell}{\partial z}\right\| \leq \frac{|\gamma|}{\sigma}\|g\|",
                 SANT, (EPS0, M2, NONCONST), 4, gradient_norm_bound, claims=bound_claims, numeric=bound_numeric,
                 options=("coefficient",)))
