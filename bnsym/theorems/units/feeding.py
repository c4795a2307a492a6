"""The weights feeding a per-sample normalization (LayerNorm, RMSNorm, one group of GroupNorm) through the kernel:
the gradient scales as ``1/c`` under ``W → cW``, ``⟨W, ∇_W J⟩ = 0`` and one gradient step grows ``‖W‖``, each
with its ``ε > 0`` (and ``c < 0``) deviation stated exactly and refuted at an explicit witness.

A :class:`Feeding` says what differs between the kinds (the context, the output, the size symbol, the value of
Euler's sum for ``ε > 0``, the groups the weights do not feed); :func:`register_weight_theorems` registers the
three theorems of a kind. The weights ``W`` (one row per feature, ``d`` inputs) give ``z_t = Σ_q W_tq u_q``;
``g_i = ∂ℓ/∂out_i`` is any upstream gradient, and for GroupNorm ``f_i = ∂ℓ/∂ĥ_i`` that of a second group fed by
other weights ``H``.

>>> from bnsym.theorems.batch import Options
>>> from bnsym.theorems import registry
>>> registry.get("rms_norm_weight_orthogonality").general(Options()).holds
True
>>> registry.get("rms_norm_weight_orthogonality").general(Options(eps="positive")).holds
False
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

import numpy as np
import sympy
from sympy import Abs, Sum

from ...kernel import core as K
from ..batch import Options, V, W, g, i, r, u
from ..family import d, s
from ..family_checks import rel, weight_grad
from ..proof import Condition, Step, Theorem
from ..record import Recorder
from ..registry import lemma, register
from .common import C_POS, EPS0
from .famcommon import refute, witness

D = sympy.Derivative
eta = sympy.Symbol("eta", positive=True)

__all__ = ["Feeding", "register_weight_theorems", "grad"]


@dataclass(frozen=True)
class Feeding:
    """One normalization kind as seen by the weights feeding it.

    ``context(opts, free=…, scaled=…, inputs=…)`` builds the kernel context (``scaled``: also the outputs at
    ``V = cW``); ``euler(opts)`` is ``Σ_rs W_rs ∂out_i/∂W_rs`` (``0`` when ``ε = 0``), ``euler_text`` why and
    ``euler_value`` that value in words; ``others`` the ``(output, upstream)`` pairs of groups ``W`` does not
    feed, ``witness_extra(size)`` their weights at the witness; ``numeric_grad(M, x, g)`` is ``∂ℓ/∂M`` in
    NumPy."""

    prefix: str
    op: str
    out: sympy.IndexedBase
    scaled_out: sympy.IndexedBase
    size: sympy.Symbol
    context: Callable[..., K.Context]
    euler: Callable[[Options], sympy.Expr]
    euler_text: str
    euler_value: str
    hypotheses: tuple[Condition, ...]
    numeric_grad: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]
    weights: str = "W"
    others: tuple = ()
    witness_extra: Callable[[int], dict] = field(default=lambda size: {})


def grad(spec: Feeding, base=W, scaled: bool = False, row=r, col=s):
    """``∂ℓ/∂W_rs = Σ_i g_i ∂out_i/∂W_rs`` (plus ``Σ_i f_i ∂ĥ_i/∂W_rs`` for the groups ``W`` does not feed)."""
    out = spec.scaled_out if scaled else spec.out
    total = Sum(g[i] * D(out[i], base[row, col]), (i, 1, spec.size))
    for other, upstream in spec.others:
        total += Sum(upstream[i] * D(other[i], base[row, col]), (i, 1, spec.size))
    return total


def _inner(spec: Feeding, body):
    return Sum(Sum(W[r, s] * body, (s, 1, d)), (r, 1, spec.size))


def _witness(spec: Feeding, opts: Options, c=None):
    """The witness of a refuted variant: ``W = ((0, 1), (1, 1), (3, 1), …)``, ``u = (1, 0)``."""
    wopts, zs = witness(opts)
    vals = {u[1]: sympy.Integer(1), u[2]: sympy.Integer(0)}
    vals.update({W[p + 1, 1]: x for p, x in enumerate(zs)})
    vals.update({W[p + 1, 2]: sympy.Integer(1) for p in range(len(zs))})
    vals.update(spec.witness_extra(len(zs)))
    if c is not None:
        vals[c] = sympy.Integer(2 if opts.sign == "positive" else -2)
    numbers = {str(spec.size): wopts.batch, "W": [[float(x), 1.0] for x in zs], "u": [1.0, 0.0],
               "eps": float(wopts.eps)}
    if c is not None:
        numbers["c"] = float(vals[c])
    return wopts, vals, numbers


def scaling_claims(spec: Feeding, opts: Options):
    """``∂out~_i/∂V_rs |_{V=cW} = (1/c)·∂out_i/∂W_rs`` and the same for ``∂ℓ/∂W``."""
    c, o, ot = opts.a, spec.out, spec.scaled_out
    return [sympy.Eq(D(ot[i], V[r, s]), D(o[i], W[r, s]) / c, evaluate=False),
            sympy.Eq(grad(spec, V, scaled=True), grad(spec) / c, evaluate=False)]


def gradient_scaling(spec: Feeding, opts: Options):
    """``∇J(cW) = ∇J(W)/c`` for ``c > 0``, ``ε = 0``; otherwise refuted at the witness."""
    rec = Recorder(spec.context(opts, free=(i, r, (s, d)), scaled=True))
    c, o, ot = opts.a, spec.out, spec.scaled_out
    if opts.sign == "positive" and opts.eps_is_zero:
        f = rec.eq(D(ot[i], V[r, s]), D(o[i], W[r, s]) / c,
                   f"V u at V = cW is c z and {spec.op}(c z) = {spec.op}(z): one factor 1/c")
        why = "sum over i with the same upstream g (the output is unchanged)"
        if spec.others:
            why += "; the other group does not depend on V"
        rec.eq(grad(spec, V, scaled=True), grad(spec) / c, why, cites=[f])
        return rec.proved(scaling_claims(spec, opts))
    wopts, vals, numbers = _witness(spec, opts, c)
    ctx = spec.context(wopts, free=(), scaled=True, inputs=2)
    latex = sympy.latex(sympy.Eq(D(ot[i], V[r, s]), D(o[i], W[r, s]) / Abs(c), evaluate=False))
    if not opts.eps_is_zero:
        latex += r"\quad(\epsilon \mapsto \epsilon/c^{2}\text{ on the right})"
    return refute(rec, ctx, D(ot[1], V[1, 1]), D(o[1], W[1, 1]) / c, vals,
                  "at W = ((0, 1), (1, 1), (3, 1), …), u = (1, 0)", reason="fails unless c > 0 and ε = 0",
                  replacement=f"∂{spec.op}_ε(Vu)/∂V at V = cW is (1/|c|)·∂{spec.op}_{{ε/c²}}(Wu)/∂W",
                  replacement_latex=latex, numbers=numbers)


def _per(spec: Feeding, out):
    return _inner(spec, D(out[i], W[r, s]))


def orth_claims(spec: Feeding, opts: Options):
    """``Σ_rs W_rs ∂out_i/∂W_rs = 0`` and ``⟨W, ∂ℓ/∂W⟩ = 0``."""
    return [sympy.Eq(_per(spec, spec.out), 0, evaluate=False), sympy.Eq(_inner(spec, grad(spec)), 0, evaluate=False)]


def orthogonality(spec: Feeding, opts: Options):
    """Euler: ``⟨W, ∂out_i/∂W⟩`` is ``spec.euler(opts)``, 0 exactly when ``ε = 0``."""
    rec = Recorder(spec.context(opts, free=(i,), scaled=False))
    per, value = _per(spec, spec.out), spec.euler(opts)
    f = rec.eq(per, value, spec.euler_text)
    if not opts.eps_is_zero:
        wopts, vals, numbers = _witness(spec, opts)
        size = sympy.Integer(wopts.batch)
        numbers["i"] = 2  # the output the witness looks at (z_2 = 1: its Euler value is not 0)
        return refute(rec, spec.context(wopts, free=(), scaled=False, inputs=2),
                      per.xreplace({i: 2, spec.size: size, d: 2}), 0, vals,
                      "output i = 2 at W = ((0, 1), (1, 1), (3, 1), …), u = (1, 0)", reason="⟨W, ∇ℓ⟩ = 0 needs ε = 0",
                      replacement=f"Σ_rs W_rs ∂{spec.op}(Wu)_i/∂W_rs = {spec.euler_value} (ε > 0)",
                      replacement_latex=sympy.latex(sympy.Eq(per, value, evaluate=False)), numbers=numbers)
    cites = [f] + [rec.eq(_per(spec, other), 0, "the other group's statistics do not involve W")
                   for other, _ in spec.others]
    rec.eq(_inner(spec, grad(spec)), 0, "⟨W, ∂ℓ/∂W⟩ = Σ_i g_i ⟨W, ∂out_i/∂W⟩", cites=cites)
    return rec.proved(orth_claims(spec, opts))


def growth_claims(spec: Feeding, opts: Options):
    """``‖W − η∇ℓ‖² = ‖W‖² + η²‖∇ℓ‖²``."""
    size = spec.size
    sq = Sum(Sum((W[r, s] - eta * grad(spec)) ** 2, (s, 1, d)), (r, 1, size))
    return [sympy.Eq(sq, Sum(Sum(W[r, s] ** 2, (s, 1, d)), (r, 1, size))
                     + eta**2 * Sum(Sum(grad(spec) ** 2, (s, 1, d)), (r, 1, size)), evaluate=False)]


def norm_growth(spec: Feeding, opts: Options):
    """Expand the square and use ``⟨W, ∇ℓ⟩ = 0`` (the orthogonality theorem of the kind)."""
    rec = Recorder(spec.context(opts, free=(), scaled=False))
    name = f"{spec.prefix}_weight_orthogonality"
    if not opts.eps_is_zero:
        return rec.outcome(None, reason=f"needs ⟨W, ∇ℓ⟩ = 0, which needs ε = 0 ({name})")
    orth = rec.cite(lemma(name, opts, 1), name, f"⟨W, ∇ℓ⟩ = 0 (theorem {name})")
    lhs, rhs = growth_claims(spec, opts)[0].args
    expand = rec.eq(lhs, rhs - 2 * eta * orth.lhs, "expand the square (⟨W, ∇ℓ⟩ kept)")
    fact = K.rewrite(expand, orth)
    rec.steps.append(Step(fact.relation, "with ⟨W, ∇ℓ⟩ = 0", checked=True, rule=fact.rule, fact=fact))
    rec.facts.append(fact)
    return rec.proved(growth_claims(spec, opts))


# -- numeric checks: the weights M = u (one row per feature) of a draw, applied to the input x = W --------------
def _draw(dr):
    M, x = np.asarray(dr["u"], dtype=float), np.asarray(dr["W"], dtype=float)
    up = np.asarray(dr.get("g", np.ones(len(M))), dtype=float)
    return M, x, up


def scaling_numeric(spec: Feeding, dr) -> float:
    """``∇(cM)`` against ``∇(M)/c``."""
    M, x, up = _draw(dr)
    return rel(spec.numeric_grad(dr["c"] * M, x, up), spec.numeric_grad(M, x, up) / dr["c"])


def orth_numeric(spec: Feeding, dr) -> float:
    """``⟨M, ∇ℓ⟩`` relative to ``‖M‖‖∇ℓ‖``."""
    M, x, up = _draw(dr)
    G = spec.numeric_grad(M, x, up)
    return abs(float((M * G).sum())) / max(1.0, float(np.linalg.norm(M) * np.linalg.norm(G)))


def growth_numeric(spec: Feeding, dr) -> float:
    """``‖M − η∇‖²`` against ``‖M‖² + η²‖∇‖²``."""
    M, x, up = _draw(dr)
    G, e = spec.numeric_grad(M, x, up), dr.get("eta", 0.1)
    return rel(((M - e * G) ** 2).sum(), (M**2).sum() + e**2 * (G**2).sum())


def numeric_weight_grad(norm: Callable) -> Callable:
    """``(M, x, g) ↦ ∂(g·norm(M x))/∂M`` (:func:`~bnsym.theorems.family_checks.weight_grad` at ``ε = 0``).

    >>> from bnsym.theorems.family_checks import layer_norm
    >>> numeric_weight_grad(layer_norm)(np.eye(2), np.array([1.0, 2.0]), np.array([1.0, 0.0])).shape
    (2, 2)
    """
    return partial(weight_grad, norm)


def register_weight_theorems(spec: Feeding, label: str, source: str, group: int) -> None:
    """Register ``<prefix>_gradient_scaling``, ``<prefix>_weight_orthogonality`` and
    ``<prefix>_weight_norm_growth`` for the kind ``spec`` (``label`` its name in titles)."""
    w = spec.weights
    wl = {"W": "W", "W_g": "W_{g}"}[w]
    nabla = r"\nabla_{" + wl + "}" if w != "W" else r"\nabla"
    base = spec.hypotheses
    register(Theorem(f"{spec.prefix}_gradient_scaling", f"Weights feeding {label}: the gradient scales as 1/c",
                     f"∇J(c{w}) = ∇J({w})/c for c > 0", nabla + r" J(c" + wl + r") = \frac{1}{c}" + nabla
                     + r" J(" + wl + ")", source, (C_POS, EPS0, *base), group, partial(gradient_scaling, spec),
                     claims=partial(scaling_claims, spec), scale=True, numeric=partial(scaling_numeric, spec)))
    register(Theorem(f"{spec.prefix}_weight_orthogonality", f"Weights feeding {label} are orthogonal to their "
                     "gradient", f"⟨{w}, ∂J/∂{w}⟩ = 0", r"\left\langle " + wl + r", \frac{\partial J}{\partial "
                     + wl + r"}\right\rangle = 0", source, (EPS0, *base), group, partial(orthogonality, spec),
                     claims=partial(orth_claims, spec), numeric=partial(orth_numeric, spec)))
    register(Theorem(f"{spec.prefix}_weight_norm_growth", f"Weights feeding {label}: one gradient step grows the "
                     "norm", f"‖{w} − η∇J‖² = ‖{w}‖² + η²‖∇J‖²", r"\|" + wl + r" - \eta" + nabla + r" J\|^{2} = \|"
                     + wl + r"\|^{2} + \eta^{2}\|" + nabla + r" J\|^{2}", source, (EPS0, *base), group,
                     partial(norm_growth, spec), claims=partial(growth_claims, spec),
                     numeric=partial(growth_numeric, spec)))
