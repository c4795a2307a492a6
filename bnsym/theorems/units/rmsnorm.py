"""RMSNorm ``y = z/√(mean z² + ε)`` through the kernel: scale invariance, the ε deviation, a shift is not removed,
the Jacobian and its null space, and the weights feeding it (gradient 1/c, orthogonality, norm growth).

>>> from bnsym.theorems.batch import Options
>>> scale(Options()).holds, shift(Options()).holds
(True, False)
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import sympy
from sympy import Abs, KroneckerDelta, Sum

from ...kernel import core as K
from ...kernel.index import substitute
from ..batch import Options, i, j, k, l, n, z
from ..family import b, nu, nut, rms_context, rms_jacobian, y, yt
from ..family_checks import features, jacobian as num_jac, rel, rms_norm
from ..proof import Theorem
from ..record import Recorder
from ..registry import lemma, register
from .common import A_POS, EPS0, EPS_ANY
from .famcommon import N2, NONZERO, RMS, refute, witness
from .feeding import Feeding, numeric_weight_grad, register_weight_theorems

D = sympy.Derivative


def _at(expr, wopts: Options):
    """``expr`` at the witness's size (``n`` written out, as the certificate's replay needs)."""
    return substitute(expr, {n: sympy.Integer(wopts.batch)})


def _ms(over=1):
    return Sum(z[j] ** 2, (j, 1, n)) / n


def _scaled_form(opts: Options):
    a = opts.a
    return (a / Abs(a)) * z[i] / sympy.sqrt(_ms() + opts.eps_symbol / a**2)


def _scale_facts(rec: Recorder, opts: Options):
    a = opts.a
    rec.eq(nut, Abs(a) * sympy.sqrt(_ms() + opts.eps_symbol / a**2), "√(Σ_j a² z_j²/n + ε) = |a|·√(ν₀² + ε/a²)")
    return rec.eq(yt[i], _scaled_form(opts), "ỹ_i = a z_i/ν̃ = (a/|a|)·z_i/√(Σ_j z_j²/n + ε/a²)")


def _numbers(wopts: Options, vals: dict, zs, **extra) -> dict:
    return {"n": wopts.batch, "z": [float(x) for x in zs], "eps": float(wopts.eps), **extra}


def scale_claims(opts: Options):
    """``RMS(a z)_i = RMS(z)_i``."""
    return [sympy.Eq(yt[i], y[i], evaluate=False)]


def scale(opts: Options):
    """``RMS(a z) = RMS(z)`` for ``a > 0``, ``ε = 0``; refuted at ``z = (0, 1, 3)`` otherwise."""
    rec = Recorder(rms_context(opts, free=(i,), scaled="scale"))
    f1 = _scale_facts(rec, opts)
    if opts.sign == "positive" and opts.eps_is_zero:
        rec.chain(f1, rec.eq(f1.rhs, y[i], "a > 0 and ε = 0"))
        return rec.proved(scale_claims(opts))
    wopts, zs = witness(opts)
    a_val = sympy.Integer(2 if opts.sign == "positive" else -2)
    vals = {opts.a: a_val, **{z[p + 1]: x for p, x in enumerate(zs)}}
    text = "for a < 0: RMS(a z) = −RMS(z)" if opts.eps_is_zero else \
        "RMS_ε(a z) = (a/|a|)·RMS_{ε/a²}(z) (theorem rms_norm_eps_deviation)"
    return refute(rec, rms_context(wopts, scaled="scale"), yt[2], y[2], vals,
                  f"at z = {tuple(int(x) for x in zs)}, a = {a_val} the second outputs differ",
                  reason="fails unless a > 0 and ε = 0", replacement=text,
                  replacement_latex=sympy.latex(sympy.Eq(yt[i], f1.rhs, evaluate=False)),
                  numbers=_numbers(wopts, vals, zs, a=float(a_val)))


def eps_claims(opts: Options):
    """``RMS_ε(a z)_i = z_i/√(Σ_j z_j²/n + ε/a²) = RMS_{ε/a²}(z)_i``."""
    return [sympy.Eq(yt[i], z[i] / sympy.sqrt(_ms() + opts.eps_symbol / opts.a**2), evaluate=False)]


def eps_deviation(opts: Options):
    """``RMS_ε(a z) = RMS_{ε/a²}(z)`` for ``a > 0``, every ``ε ≥ 0``."""
    rec = Recorder(rms_context(opts, free=(i,), scaled="scale"))
    f1 = _scale_facts(rec, opts)
    if opts.sign == "positive":
        rec.chain(f1, rec.eq(f1.rhs, eps_claims(opts)[0].rhs, "a > 0: a/|a| = 1"))
        return rec.proved(eps_claims(opts))
    wopts, zs = witness(opts)
    vals = {opts.a: sympy.Integer(-2), **{z[p + 1]: x for p, x in enumerate(zs)}}
    rhs = _at(eps_claims(wopts)[0].rhs.xreplace({i: 2}), wopts)
    return refute(rec, rms_context(wopts, scaled="scale"), yt[2], rhs, vals,
                  "a = −2: the sign flips", reason="needs a > 0", replacement="RMS_ε(a z) = −RMS_{ε/a²}(z), a < 0",
                  replacement_latex=sympy.latex(sympy.Eq(yt[i], f1.rhs, evaluate=False)),
                  numbers=_numbers(wopts, vals, zs, a=-2.0))


def shift_claims(opts: Options):
    """``RMS(z + b·1)_i = RMS(z)_i`` (claimed; refuted)."""
    return [sympy.Eq(yt[i], y[i], evaluate=False)]


def shift(opts: Options):
    """RMSNorm does not remove a shift (it does not center): refuted at ``z = (0, 1, 3)``, ``b = 1``."""
    rec = Recorder(rms_context(opts, free=(i,), scaled="shift"))
    rec.eq(yt[i], (z[i] + b) / sympy.sqrt(Sum((z[j] + b) ** 2, (j, 1, n)) / n + opts.eps_symbol),
           "ỹ_i = (z_i + b)/√(Σ_j (z_j + b)²/n + ε)")
    wopts, zs = witness(opts)
    vals = {b: sympy.Integer(1), **{z[p + 1]: x for p, x in enumerate(zs)}}
    return refute(rec, rms_context(wopts, scaled="shift"), yt[1], y[1], vals,
                  f"at z = {tuple(int(x) for x in zs)}, b = 1 the first outputs differ (0 against 1/√(…))",
                  reason="RMSNorm divides by the root mean square without subtracting the mean",
                  replacement="RMS(z + b·1) = (z + b·1)/√(mean (z + b)² + ε); LayerNorm removes the shift",
                  replacement_latex=sympy.latex(rec.facts[0].relation), numbers=_numbers(wopts, vals, zs, b=1.0))


def jacobian_claims(opts: Options):
    """``∂y_i/∂z_k = (δ_ik − y_i y_k/n)/ν``."""
    return [sympy.Eq(D(y[i], z[k]), rms_jacobian(opts, i, k), evaluate=False)]


def jacobian(opts: Options):
    """Differentiate ``ν`` and ``y = z/ν`` (any ``ε ≥ 0``)."""
    rec = Recorder(rms_context(opts, free=(i, k)))
    rec.eq(D(nu, z[k]), z[k] / (n * nu), "ν = √(Σ_j z_j²/n + ε)")
    raw = KroneckerDelta(i, k) / nu - z[i] * z[k] / (n * nu**3)
    f1 = rec.eq(D(y[i], z[k]), raw, "quotient rule")
    rec.chain(f1, rec.eq(raw, rms_jacobian(opts, i, k), "z = ν y"))
    return rec.proved(jacobian_claims(opts))


def null_claims(opts: Options):
    """``Σ_l J_il y_l = 0``."""
    return [sympy.Eq(Sum(rms_jacobian(opts, i, l) * y[l], (l, 1, n)), 0, evaluate=False)]


def null_space(opts: Options):
    """``J·y = y ε/ν³·…``: 0 exactly when ``ε = 0`` (then ``Σ y_l² = n``); ``J·1 ≠ 0`` (no centering)."""
    rec = Recorder(rms_context(opts, free=(i, k)))
    fact = lemma("rms_norm_jacobian", replace(opts, batch="m"))
    J = rec.cite(K.instantiate(fact, fact.context.with_free(i, l), {k: l}), "rms_norm_jacobian").rhs
    value = 0 if opts.eps_is_zero else y[i] * opts.eps_symbol / nu**3
    rec.eq(Sum(J * y[l], (l, 1, n)), value, "Σ_l y_l² = n (Σ_j z_j²/n)/ν² = n − nε/ν²")
    if not opts.eps_is_zero:
        wopts, zs = witness(opts)
        jy = _at(Sum(rms_jacobian(wopts, 2, l) * y[l], (l, 1, wopts.batch)), wopts)
        return refute(rec, rms_context(wopts), jy, 0,
                      {z[p + 1]: x for p, x in enumerate(zs)}, f"z = {tuple(int(x) for x in zs)}, ε = {wopts.eps}",
                      reason="J·y = 0 only when ε = 0", replacement="J·y = y·ε/ν³",
                      replacement_latex=sympy.latex(sympy.Eq(Sum(J * y[l], (l, 1, n)), value, evaluate=False)),
                      numbers={"n": wopts.batch, "z": [float(x) for x in zs], "eps": float(wopts.eps)})
    return rec.proved(null_claims(opts))


def _feeding_context(opts: Options, *, free=(), scaled: bool = False, inputs: int | None = None):
    return rms_context(opts, free=free, linear=True, scaled="weights" if scaled else None, inputs=inputs)


def _euler(opts: Options):
    return 0 if opts.eps_is_zero else y[i] * opts.eps_symbol / nu**2


#: the weights W (``n × d``) feeding RMSNorm: theorems rms_norm_gradient_scaling, _weight_orthogonality and
#: _weight_norm_growth (:mod:`bnsym.theorems.units.feeding`)
WEIGHTS = Feeding("rms_norm", "RMS", y, yt, n, _feeding_context, _euler,
                  "∂y_i/∂W_rs = J_ir u_s; Σ_s W_rs u_s = z_r; Σ_r J_ir z_r = y_i (1 − Σ_j z_j²/(n ν²)) = y_i ε/ν²",
                  "y_i·ε/ν²", (N2, NONZERO), numeric_weight_grad(rms_norm))


# -- numeric checks: the features z = u W of a draw -------------------------------------------------------------
def _eps(dr) -> float:
    return float(dr.get("eps", 0.0))


def scale_numeric(dr) -> float:
    """``RMS(a z)`` against ``RMS(z)`` (``ε`` scaled by ``a²`` so the identity is exact)."""
    zz = features(dr)
    return rel(rms_norm(dr["a"] * zz, _eps(dr) * dr["a"] ** 2), rms_norm(zz, _eps(dr)))


def eps_numeric(dr) -> float:
    """``RMS_ε(a z)`` against ``RMS_{ε/a²}(z)``."""
    zz, e = features(dr), dr.get("eps", 0.01)
    return rel(rms_norm(dr["a"] * zz, e), rms_norm(zz, e / dr["a"] ** 2))


def shift_numeric(dr) -> float:
    """What holds instead: ``RMS(z + b)`` is ``(z + b)/√(mean (z + b)² + ε)``, and LayerNorm removes the shift."""
    zz, bb = features(dr), dr.get("b", 0.7)
    from ..family_checks import layer_norm

    return max(rel(rms_norm(zz + bb), (zz + bb) / np.sqrt(np.mean((zz + bb) ** 2))),
               rel(layer_norm(zz + bb), layer_norm(zz)))


def jacobian_numeric(dr) -> float:
    """The complex-step Jacobian against ``(I − y yᵀ/n)/ν``."""
    zz, e = features(dr), _eps(dr)
    yy, nn = rms_norm(zz, e), np.sqrt(np.mean(zz**2) + e)
    return rel(num_jac(lambda x: rms_norm(x, e), zz), (np.eye(len(zz)) - np.outer(yy, yy) / len(zz)) / nn)


def null_numeric(dr) -> float:
    """``J·y`` (ε = 0) against 0, scaled by ν."""
    zz = features(dr)
    J = num_jac(rms_norm, zz) * np.sqrt(np.mean(zz**2))
    return rel(J @ rms_norm(zz), 0.0)


register(Theorem("rms_norm_scale_invariance", "RMSNorm is invariant under a positive scale", "RMS(a z) = RMS(z)",
                 r"\mathrm{RMS}(a z) = \mathrm{RMS}(z)", RMS, (A_POS, EPS0, N2, NONZERO), 9, scale,
                 claims=scale_claims, scale=True, numeric=scale_numeric))
register(Theorem("rms_norm_eps_deviation", "RMSNorm with ε > 0: the scale moves into ε",
                 "RMS_ε(a z) = RMS_{ε/a²}(z)", r"\mathrm{RMS}_{\epsilon}(a z) = \mathrm{RMS}_{\epsilon/a^{2}}(z)", RMS,
                 (A_POS, EPS_ANY, N2, NONZERO), 9, eps_deviation, claims=eps_claims, scale=True,
                 numeric=eps_numeric))
register(Theorem("rms_norm_shift_counterexample", "RMSNorm does not remove a shift",
                 "RMS(z + b·1) = RMS(z) (refuted)", r"\mathrm{RMS}(z + b\mathbf{1}) \neq \mathrm{RMS}(z)", RMS,
                 (EPS_ANY, N2, NONZERO), 9, shift, claims=shift_claims, numeric=shift_numeric, refuted=True))
register(Theorem("rms_norm_jacobian", "The RMSNorm Jacobian in closed form", "∂y_i/∂z_k = (δ_ik − y_i y_k/n)/ν",
                 r"\frac{\partial y_{i}}{\partial z_{k}} = \frac{\delta_{ik} - \frac{y_{i} y_{k}}{n}}{\nu}", RMS,
                 (EPS_ANY, N2, NONZERO), 9, jacobian, claims=jacobian_claims, numeric=jacobian_numeric))
register(Theorem("rms_norm_jacobian_null_space", "y spans the null space of the RMSNorm Jacobian",
                 "J·y = 0 (and J·1 ≠ 0: no centering)", r"J y = 0", RMS, (EPS0, N2, NONZERO), 9, null_space,
                 claims=null_claims, numeric=null_numeric))
register_weight_theorems(WEIGHTS, "RMSNorm", RMS, 9)
