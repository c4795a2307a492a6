"""Goodfellow et al. (2016), §8.7.1: one gradient step on a deep linear chain, in powers of ``η``; and what BN
on the last hidden layer does to it.

>>> from bnsym.theorems.batch import Options
>>> expansion(Options()).holds is None, bn_removes_interactions(Options()).holds
(True, True)
"""
from __future__ import annotations

from dataclasses import replace
from itertools import combinations

import numpy as np
import sympy
from sympy import Symbol

from ..batch import Options, beta, context, gamma, i, xhat, xt
from ..proof import Condition, Theorem
from ..record import Recorder
from ..registry import register
from ..checks import basics, bn_numeric, rel
from .common import EPS0, M2, NONCONST, P_NONZERO

GF = "Goodfellow, Bengio & Courville 2016, Deep Learning, §8.7.1"
MAX_DEPTH = 6
x, eta = Symbol("x", real=True), Symbol("eta", positive=True)


def _chain(depth: int):
    w = sympy.symbols(f"w_1:{depth + 1}", real=True)
    grads = [x * sympy.Mul(*[w[t] for t in range(depth) if t != p]) for p in range(depth)]
    return w, grads


def _subset_sum(w, grads):
    depth = len(w)
    return sympy.Add(*[(-eta) ** len(S) * x * sympy.Mul(*[grads[t] for t in S])
                       * sympy.Mul(*[w[t] for t in range(depth) if t not in S])
                       for order in range(depth + 1) for S in combinations(range(depth), order)])


def expansion(opts: Options):
    """Every coefficient of ``ŷ' = x Π_p (w_p − η g_p)`` checked by the kernel for ``L = 1…6``; general ``L`` is
    not proved here (the kernel has no induction rule), so the verdict for general ``L`` is ``None``."""
    rec = Recorder(context(Options(), free=()))
    for depth in range(1, MAX_DEPTH + 1):
        w, grads = _chain(depth)
        new = x * sympy.Mul(*[w[t] - eta * grads[t] for t in range(depth)])
        rec.eq(new, _subset_sum(w, grads), f"L = {depth}: the distributive law over the {depth} factors")
        first = sympy.diff(new, eta).subs(eta, 0)
        rec.eq(first, -sympy.Add(*[gr**2 for gr in grads]), f"L = {depth}: first-order coefficient −gᵀg")
    rec.remark("for every L the same expansion is the distributive law for a finite product; the second-order "
               "terms η² x g_p g_q Π_{r≠p,q} w_r can be negligible or exponentially large with the other weights")
    return rec.outcome(None, reason=f"proved for L = 1…{MAX_DEPTH} (every coefficient, exact); general L needs an "
                       "induction the kernel does not have", method=f"kernel, L = 1…{MAX_DEPTH}")


def _output(opts: Options, sample):
    """``ŷ_i = w_L (γ x̃_i + β)``: BN of the batch ``h = P x`` (``P = w_1⋯w_{L−1}``, written ``a``)."""
    wL = Symbol("w_L", real=True)
    return wL * (gamma * sample + beta), wL


def bn_claims(opts: Options):
    """``ŷ_i`` does not depend on ``P = w_1⋯w_{L−1}`` (``∂ŷ_i/∂P = 0``), for ``P > 0`` and for ``P < 0``."""
    out = []
    for sign in ("positive", "negative"):
        o = replace(opts, sign=sign)
        y, _ = _output(o, xt[i])
        out.append(sympy.Eq(sympy.Derivative(y, o.a), 0, evaluate=False))
    return out


def bn_removes_interactions(opts: Options):
    """With BN on ``h_{L−1} = x w_1⋯w_{L−1}`` (``ε = 0``): ``ŷ_i = w_L(γ·sign(P)·x̂_i + β)``, so ``∂ŷ/∂w_p = 0``
    for ``p < L`` and a step changes ``ŷ`` only through ``w_L, γ, β``."""
    if not opts.eps_is_zero:
        return Recorder(context(opts, free=())).outcome(
            None, reason="needs ε = 0: with ε > 0, BN(P x) = sign(P)·x̂_{ε/P²}(x) still depends on the lower weights")
    rec = Recorder(context(opts, free=(i,)))
    for sign in ("positive", "negative"):
        o = replace(opts, sign=sign)
        ctx = context(o, free=(i,), scaled="batch")
        y, wL = _output(o, xt[i])
        rec.eq(sympy.Derivative(y, o.a), 0, f"P {'>' if sign == 'positive' else '<'} 0: x̃ = BN of P x does not "
               "depend on P", ctx=ctx)
        s = 1 if sign == "positive" else -1
        rec.eq(y, wL * (gamma * s * xhat[i] + beta), f"ŷ_i = w_L(γ·({s:+d})·x̂_i + β)", ctx=ctx)
    gL, gg, gb = (Symbol(f"g_{n}", real=True) for n in ("L", "gamma", "beta"))
    wL, sgn = Symbol("w_L", real=True), Symbol("s", real=True)
    before = wL * (gamma * sgn * xhat[i] + beta)
    after = (wL - eta * gL) * ((gamma - eta * gg) * sgn * xhat[i] + beta - eta * gb)
    change = -eta * (gL * (gamma * sgn * xhat[i] + beta) + wL * (gg * sgn * xhat[i] + gb)) \
        + eta**2 * gL * (gg * sgn * xhat[i] + gb)
    rec.eq(after - before, change, "one GD step on w_L, γ, β (s = sign P, unchanged while P keeps its sign): "
           "no term in the lower layers' gradients; the η² term is within the last layer, and 0 without γ, β")
    return rec.proved(bn_claims(opts))



# -- numeric checks (a draw: bnsym.theorems.checks) --------------------------------------------------------
def expansion_numeric(d) -> float:
    """One GD step of ``ŷ = x·w_1⋯w_L`` against the expansion in powers of ``η``; and, with BN on
    ``h = x w_1⋯w_{L−1}`` over the batch, ``ŷ`` changing exactly linearly in ``η``; on a draw."""
    ws = np.asarray(d.get("w", np.array([1.1, -0.8, 1.3, 0.9])), dtype=float)
    x, eta = float(d.get("x", 0.6)), d["eta"]
    L = len(ws)
    grads = np.array([x * np.prod(np.delete(ws, p)) for p in range(L)])
    new = x * np.prod(ws - eta * grads)
    series = sum((-eta) ** len(S_) * x * np.prod(grads[list(S_)]) * np.prod(np.delete(ws, list(S_)))
                 for o in range(L + 1) for S_ in combinations(range(L), o))
    h = bn_numeric(d["u"], np.asarray(d["W"], dtype=float) * np.prod(ws[:-1]), 0.0)["xhat"]
    y_new = (ws[-1] - eta * h[0]) * h[0]  # ∂ŷ_i/∂w_L = h_i
    return max(rel(new, series), rel(y_new - ws[-1] * h[0], -eta * h[0] * h[0]))


def bn_numeric_check(d) -> float:
    """``x̂(P z)`` against ``sign(P) x̂(z)`` for ``P = ±c`` (default 2) on a draw."""
    b = basics(d)
    P = float(d.get("c", 2.0))
    return max(rel(bn_numeric(b.u, P * b.W, 0.0)["xhat"], b.xh), rel(bn_numeric(b.u, -P * b.W, 0.0)["xhat"], -b.xh))


register(Theorem("goodfellow_expansion", "One gradient step on a deep linear chain, in powers of η",
                 "for ŷ = x·w_1⋯w_L, one simultaneous GD step gives ŷ' = Σ_S (−η)^|S| x Π_{i∈S} g_i Π_{j∉S} w_j "
                 "(first order −η gᵀg)",
                 r"\hat{y}' = \sum_{S \subseteq \{1..L\}} (-\eta)^{|S|} x \prod_{i\in S} g_{i}\prod_{j \notin S} w_{j}",
                 GF, (Condition("L ≥ 1", r"L \geq 1"),), 7, expansion, numeric=expansion_numeric))
register(Theorem("goodfellow_bn", "BN on the last hidden layer removes the cross-layer interactions",
                 "with BN on h_{L−1} = x w_1⋯w_{L−1}: ŷ_i = w_L(γ·sign(w_1⋯w_{L−1})·x̂_i + β), so ∂ŷ/∂w_p = 0 "
                 "for p < L",
                 r"\frac{\partial \hat{y}_{i}}{\partial w_{p}} = 0 \quad (p < L)", GF,
                 (EPS0, P_NONZERO, M2, NONCONST), 7, bn_removes_interactions, claims=bn_claims,
                 numeric=bn_numeric_check))
