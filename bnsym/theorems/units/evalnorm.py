"""Eval-mode BN (running statistics ``μ_run``, ``v_run`` constants): affine in ``z``, not scale invariant, with
the affine gradient ``∂y_i/∂z_k = γ δ_ik/√(v_run + ε)``.

>>> from bnsym.theorems.batch import Options
>>> scale(Options()).holds, gradient(Options(eps="any")).holds
(False, True)
"""
from __future__ import annotations

import numpy as np
import sympy
from sympy import KroneckerDelta

from ..batch import Options, beta, gamma, i, k, z
from ..family import eval_context, murun, varrun, y, yt
from ..family_checks import eval_norm, features, jacobian as num_jac, rel
from ..proof import Theorem
from ..record import Recorder
from ..registry import register
from .common import A_POS, EPS_ANY, M2
from .famcommon import BN_EVAL, VRUN, refute, witness

D = sympy.Derivative


def _offset(opts: Options):
    return (1 - opts.a) * (beta - gamma * murun / sympy.sqrt(varrun + opts.eps_symbol))


def scale_claims(opts: Options):
    """``BN_eval(a z)_i = BN_eval(z)_i`` (claimed; refuted)."""
    return [sympy.Eq(yt[i], y[i], evaluate=False)]


def scale(opts: Options):
    """``BN_eval(a z) = a·BN_eval(z) + (1 − a)(β − γ μ_run/√(v_run + ε))``: affine, not invariant; refuted at
    ``z = (1, 2, 3)``, ``a = 2``, ``μ_run = 0``, ``v_run = 1``, ``γ = 1``, ``β = 0``."""
    rec = Recorder(eval_context(opts, free=(i,), scaled=True))
    f = rec.eq(yt[i], opts.a * y[i] + _offset(opts), "the running statistics do not scale with z")
    wopts, zs = witness(opts, base=(1, 2, 3))
    a_val = sympy.Integer(2 if opts.sign == "positive" else -2)
    vals = {opts.a: a_val, murun: sympy.Integer(0), varrun: sympy.Integer(1), gamma: sympy.Integer(1),
            beta: sympy.Integer(0), **{z[q + 1]: x for q, x in enumerate(zs)}}
    return refute(rec, eval_context(wopts, scaled=True), yt[1], y[1], vals,
                  f"z = {tuple(map(int, zs))}, a = {a_val}, μ_run = 0, v_run = 1, γ = 1, β = 0",
                  reason="the running statistics are constants: nothing divides the scale out",
                  replacement="BN_eval(a z) = a·BN_eval(z) + (1 − a)(β − γ μ_run/√(v_run + ε))",
                  replacement_latex=sympy.latex(f.relation),
                  numbers={"m": wopts.batch, "z": [float(x) for x in zs], "a": float(a_val), "mu_run": 0.0,
                           "v_run": 1.0, "gamma": 1.0, "beta": 0.0, "eps": float(wopts.eps)})


def gradient_claims(opts: Options):
    """``∂y_i/∂z_k = γ δ_ik/√(v_run + ε)``."""
    return [sympy.Eq(D(y[i], z[k]), gamma * KroneckerDelta(i, k) / sympy.sqrt(varrun + opts.eps_symbol),
                     evaluate=False)]


def gradient(opts: Options):
    """Differentiate the affine map (any ``ε ≥ 0``): no ``1/m`` and no ``x̂ x̂ᵀ`` terms (compare bn_jacobian)."""
    rec = Recorder(eval_context(opts, free=(i, k)))
    lhs, rhs = gradient_claims(opts)[0].args
    rec.eq(lhs, rhs, "y_i = γ (z_i − μ_run)/√(v_run + ε) + β with μ_run, v_run constant")
    return rec.proved(gradient_claims(opts))


# -- numeric checks: z = u W of a draw; running statistics μ_run = mean z + 0.3, v_run = var z + 0.5 --------------
def _run(zz):
    return float(zz.mean()) + 0.3, float(zz.var()) + 0.5


def scale_numeric(dr) -> float:
    """What holds instead: the affine identity."""
    zz, a, e = features(dr), dr["a"], float(dr.get("eps", 0.0))
    mr, vr = _run(zz)
    gam, bet = dr.get("gamma", 1.0), dr.get("beta", 0.0)
    off = (1 - a) * (bet - gam * mr / np.sqrt(vr + e))
    return rel(eval_norm(a * zz, mr, vr, e, gam, bet), a * eval_norm(zz, mr, vr, e, gam, bet) + off)


def gradient_numeric(dr) -> float:
    """The complex-step Jacobian against ``γ I/√(v_run + ε)``."""
    zz, e = features(dr), float(dr.get("eps", 0.0))
    mr, vr = _run(zz)
    gam = dr.get("gamma", 1.0)
    J = num_jac(lambda x: eval_norm(x, mr, vr, e, gam, dr.get("beta", 0.0)), zz)
    return rel(J, gam * np.eye(len(zz)) / np.sqrt(vr + e))


register(Theorem("eval_norm_scale_counterexample", "Eval-mode BN is not scale invariant",
                 "BN_eval(a z) = BN_eval(z) (refuted: BN_eval is affine in z)",
                 r"\mathrm{BN}_{\mathrm{eval}}(a z) \neq \mathrm{BN}_{\mathrm{eval}}(z)", BN_EVAL,
                 (A_POS, EPS_ANY, VRUN), 12, scale, claims=scale_claims, scale=True, numeric=scale_numeric,
                 refuted=True))
register(Theorem("eval_norm_gradient", "The eval-mode BN gradient is the affine one",
                 "∂y_i/∂z_k = γ δ_ik/√(v_run + ε)",
                 r"\frac{\partial y_{i}}{\partial z_{k}} = \frac{\gamma\,\delta_{ik}}{\sqrt{v_{\mathrm{run}} + "
                 r"\epsilon}}", BN_EVAL, (EPS_ANY, M2, VRUN), 12, gradient, claims=gradient_claims,
                 numeric=gradient_numeric))
