"""Weight normalization ``w = g v/‖v‖`` through the kernel: invariance under ``v → a v``, ``⟨v, ∇_v J⟩ = 0``,
growth of ``‖v‖``, and ``∇_v J(a v) = ∇_v J(v)/a``.

The loss reaches ``v`` through ``w``: ``∂ℓ/∂v_r = Σ_s G_s ∂w_s/∂v_r`` with ``G = ∂ℓ/∂w`` any upstream gradient
(the same at ``a v`` and ``v``, since ``w`` is).

>>> from bnsym.theorems.batch import Options
>>> invariance(Options()).holds, invariance(Options(sign="negative")).holds
(True, False)
"""
from __future__ import annotations

import numpy as np
import sympy
from sympy import Abs, Sum

from ...kernel import core as K
from ..batch import V, Options, i, n, r
from ..family import gn, s, v, w, wn_context, wt
from ..family_checks import jacobian as num_jac, rel, weight_norm
from ..proof import Step, Theorem
from ..record import Recorder
from ..registry import lemma, register
from .common import A_POS
from .famcommon import V_NONZERO, WN, refute, witness

D = sympy.Derivative
G = sympy.IndexedBase("G", real=True)  # ∂ℓ/∂w
eta = sympy.Symbol("eta", positive=True)
_NO_EPS = "weight normalization has no ε (ask with eps = 0)"


def grad(base=v, out=w, row=r):
    """``∂ℓ/∂v_r = Σ_s G_s ∂w_s/∂v_r``."""
    return Sum(G[s] * D(out[s], base[row]), (s, 1, n))


def _values(opts: Options, zs) -> dict:
    return {opts.a: sympy.Integer(2 if opts.sign == "positive" else -2), gn: sympy.Integer(1),
            **{v[p + 1]: x for p, x in enumerate(zs)}}


def invariance_claims(opts: Options):
    """``w(a v)_i = w(v)_i``."""
    return [sympy.Eq(wt[i], w[i], evaluate=False)]


def invariance(opts: Options):
    """``w(a v) = (a/|a|)·w(v)``: the claim for ``a > 0``, refuted at ``v = (0, 1, 3)`` for ``a < 0``."""
    rec = Recorder(wn_context(opts, free=(i,), scaled="vector"))
    if not opts.eps_is_zero:
        return rec.outcome(None, reason=_NO_EPS)
    a = opts.a
    f = rec.eq(wt[i], a / Abs(a) * w[i], "‖a v‖ = |a|·‖v‖")
    if opts.sign == "positive":
        rec.chain(f, rec.eq(f.rhs, w[i], "a > 0"))
        return rec.proved(invariance_claims(opts))
    wopts, zs = witness(opts)
    vals = _values(opts, zs)
    return refute(rec, wn_context(wopts, scaled="vector"), wt[2], w[2], vals, "v = (0, 1, 3), a = −2, g = 1",
                  reason="needs a > 0", replacement="w(a v) = −w(v) for a < 0",
                  replacement_latex=sympy.latex(f.relation),
                  numbers={"n": wopts.batch, "v": [float(x) for x in zs], "a": -2.0, "g": 1.0})


def orth_claims(opts: Options):
    """``Σ_r v_r ∂w_s/∂v_r = 0`` and ``⟨v, ∂ℓ/∂v⟩ = 0``."""
    return [sympy.Eq(Sum(v[r] * D(w[i], v[r]), (r, 1, n)), 0, evaluate=False),
            sympy.Eq(Sum(v[r] * grad(), (r, 1, n)), 0, evaluate=False)]


def orthogonality(opts: Options):
    """Euler for the degree-0 map ``v ↦ v/‖v‖``: ``∂w/∂v = (g/‖v‖)(I − v vᵀ/‖v‖²)`` kills ``v``."""
    rec = Recorder(wn_context(opts, free=(i,)))
    if not opts.eps_is_zero:
        return rec.outcome(None, reason=_NO_EPS)
    f = rec.eq(Sum(v[r] * D(w[i], v[r]), (r, 1, n)), 0, "Σ_r v_r (g/‖v‖)(δ_ir − v_i v_r/‖v‖²) = 0")
    rec.eq(Sum(v[r] * grad(), (r, 1, n)), 0, "⟨v, ∂ℓ/∂v⟩ = Σ_s G_s Σ_r v_r ∂w_s/∂v_r", cites=[f])
    return rec.proved(orth_claims(opts))


def growth_claims(opts: Options):
    """``‖v − η∇_v ℓ‖² = ‖v‖² + η²‖∇_v ℓ‖²``."""
    return [sympy.Eq(Sum((v[r] - eta * grad()) ** 2, (r, 1, n)),
                     Sum(v[r] ** 2, (r, 1, n)) + eta**2 * Sum(grad() ** 2, (r, 1, n)), evaluate=False)]


def norm_growth(opts: Options):
    """Expand the square; ``⟨v, ∇_v ℓ⟩ = 0`` (theorem weight_norm_orthogonality)."""
    rec = Recorder(wn_context(opts))
    if not opts.eps_is_zero:
        return rec.outcome(None, reason=_NO_EPS)
    orth = rec.cite(lemma("weight_norm_orthogonality", opts, 1), "weight_norm_orthogonality")
    lhs, rhs = growth_claims(opts)[0].args
    expand = rec.eq(lhs, rhs - 2 * eta * orth.lhs, "expand the square (⟨v, ∇ℓ⟩ kept)")
    fact = K.rewrite(expand, orth)
    rec.steps.append(Step(fact.relation, "with ⟨v, ∇ℓ⟩ = 0", checked=True, rule=fact.rule, fact=fact))
    rec.facts.append(fact)
    return rec.proved(growth_claims(opts))


def scaling_claims(opts: Options):
    """``∂w̃_i/∂V_r |_{V=av} = (1/a)·∂w_i/∂v_r`` and ``∂ℓ/∂V |_{V=av} = (1/a)·∂ℓ/∂v``."""
    return [sympy.Eq(D(wt[i], V[r]), D(w[i], v[r]) / opts.a, evaluate=False),
            sympy.Eq(grad(V, wt), grad() / opts.a, evaluate=False)]


def gradient_scaling(opts: Options):
    """``∇_v J(a v) = ∇_v J(v)/a`` for ``a > 0`` (the upstream ``G`` is the same: ``w(a v) = w(v)``)."""
    rec = Recorder(wn_context(opts, free=(i, r), scaled="point"))
    if not opts.eps_is_zero:
        return rec.outcome(None, reason=_NO_EPS)
    a = opts.a
    f = rec.eq(D(wt[i], V[r]), D(w[i], v[r]) / Abs(a), "∂w/∂V at V = a v: (g/‖av‖)(I − v vᵀ/‖v‖²)")
    if opts.sign == "positive":
        f2 = rec.chain(f, rec.eq(f.rhs, D(w[i], v[r]) / a, "a > 0: |a| = a"))
        rec.eq(grad(V, wt), grad() / a, "sum over s with the same upstream G", cites=[f2])
        return rec.proved(scaling_claims(opts))
    wopts, zs = witness(opts)
    vals = _values(opts, zs)
    return refute(rec, wn_context(wopts, scaled="point"), D(wt[2], V[2]), D(w[2], v[2]) / a, vals,
                  "v = (0, 1, 3), a = −2, g = 1: the entries ∂/∂v_2 differ", reason="needs a > 0",
                  replacement="∂w/∂V at V = a v is (1/|a|)·∂w/∂v", replacement_latex=sympy.latex(f.relation),
                  numbers={"n": wopts.batch, "v": [float(x) for x in zs], "a": -2.0, "g": 1.0})


# -- numeric checks: v = W of a draw, the gain γ, the upstream G = the first row of u padded -----------------------
def _vg(dr):
    vec = np.asarray(dr["W"], dtype=float)
    up = np.resize(np.asarray(dr["u"], dtype=float)[0], vec.shape)
    return vec, dr.get("gamma", 1.0), up


def _grad(vec, gain, up):
    return up @ num_jac(lambda x: weight_norm(x, gain), vec)


def invariance_numeric(dr) -> float:
    """``w(a v)`` against ``w(v)``."""
    vec, gain, _ = _vg(dr)
    return rel(weight_norm(dr["a"] * vec, gain), weight_norm(vec, gain))


def orth_numeric(dr) -> float:
    """``⟨v, ∇_v ℓ⟩`` relative to ``‖v‖‖∇_v ℓ‖``."""
    vec, gain, up = _vg(dr)
    gr = _grad(vec, gain, up)
    return abs(float(vec @ gr)) / max(1.0, float(np.linalg.norm(vec) * np.linalg.norm(gr)))


def growth_numeric(dr) -> float:
    """``‖v − η∇‖²`` against ``‖v‖² + η²‖∇‖²``."""
    vec, gain, up = _vg(dr)
    gr, e = _grad(vec, gain, up), dr.get("eta", 0.1)
    return rel((vec - e * gr) @ (vec - e * gr), vec @ vec + e**2 * gr @ gr)


def scaling_numeric(dr) -> float:
    """``∇_v ℓ(c v)`` against ``∇_v ℓ(v)/c``."""
    vec, gain, up = _vg(dr)
    return rel(_grad(dr["c"] * vec, gain, up), _grad(vec, gain, up) / dr["c"])


_H = (V_NONZERO,)
register(Theorem("weight_norm_scale_invariance", "Weight normalization is invariant under v → a v",
                 "w(a v) = w(v) for a > 0, w = g v/‖v‖", r"w(a v) = w(v),\; w = g\,\frac{v}{\|v\|}", WN,
                 (A_POS,) + _H, 10, invariance, claims=invariance_claims, scale=True, numeric=invariance_numeric))
register(Theorem("weight_norm_orthogonality", "v is orthogonal to its gradient under weight normalization",
                 "⟨v, ∇_v J⟩ = 0", r"\left\langle v, \nabla_{v} J\right\rangle = 0", WN, _H, 10, orthogonality,
                 claims=orth_claims, numeric=orth_numeric))
register(Theorem("weight_norm_norm_growth", "Weight normalization: one gradient step grows ‖v‖",
                 "‖v − η∇_v J‖² = ‖v‖² + η²‖∇_v J‖²",
                 r"\|v - \eta\nabla_{v} J\|^{2} = \|v\|^{2} + \eta^{2}\|\nabla_{v} J\|^{2}", WN, _H, 10, norm_growth,
                 claims=growth_claims, numeric=growth_numeric))
register(Theorem("weight_norm_gradient_scaling", "Weight normalization: the gradient in v scales as 1/a",
                 "∇_v J(a v) = ∇_v J(v)/a for a > 0", r"\nabla_{v} J(a v) = \frac{1}{a}\nabla_{v} J(v)", WN,
                 (A_POS,) + _H, 10, gradient_scaling, claims=scaling_claims, scale=True, numeric=scaling_numeric))
