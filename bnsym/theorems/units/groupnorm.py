"""GroupNorm: per sample and group, the LayerNorm statements over the group's ``p`` entries, what a scaling of
one group's channels does (nothing: that group is invariant and the others do not depend on it), and the weights
``W_g`` feeding one group beside a second group fed by ``H`` (gradient 1/c, orthogonality, norm growth).

>>> from bnsym.theorems.batch import Options
>>> invariance(Options()).holds, invariance(Options(sign="negative")).holds
(True, False)
"""
from __future__ import annotations

import numpy as np
import sympy
from sympy import Abs, KroneckerDelta

from ..batch import Options, i, k, mu, mut, sigma, sigmat, xhat, xt, z
from ..family import H, b, f, group_context, group_weights_context, h, hhat, ln_euler, p
from ..family_checks import features, group_norm, jacobian as num_jac, layer_norm, rel, weight_grad
from ..proof import Theorem
from ..record import Recorder
from ..registry import lemma, register
from .common import A_POS, EPS0, EPS_ANY
from .famcommon import FEATS, GN, P2, refute, witness
from .feeding import Feeding, register_weight_theorems

D = sympy.Derivative


def _jac(opts: Options):
    return (KroneckerDelta(i, k) - 1 / p - xhat[i] * xhat[k] / p) / sympy.sqrt(sigma**2 + opts.eps_symbol)


def invariance_claims(opts: Options):
    """``GN(a_g x_g + b_g·1)_i = GN(x)_i`` within group ``g`` (``x̃`` the group's output after the scaling)."""
    return [sympy.Eq(xt[i], xhat[i], evaluate=False)]


def invariance(opts: Options):
    """A scale ``a > 0`` and shift ``b`` of one sample's group cancel in that group's statistics (``ε = 0``)."""
    rec = Recorder(group_context(opts, free=(i,)))
    a = opts.a
    rec.eq(mut, a * mu + b, "the group mean of a z + b: a μ + b")
    rec.eq(sigmat**2, a**2 * sigma**2, "the group variance: a² σ²")
    form = a / Abs(a) * (z[i] - mu) / sympy.sqrt(sigma**2 + opts.eps_symbol / a**2)
    f = rec.eq(xt[i], form, "x̃_i = (a/|a|)·(z_i − μ)/√(σ² + ε/a²)")
    if opts.sign == "positive" and opts.eps_is_zero:
        rec.chain(f, rec.eq(form, xhat[i], "a > 0, ε = 0"))
        return rec.proved(invariance_claims(opts))
    wopts, zs = witness(opts)
    vals = {a: sympy.Integer(2 if opts.sign == "positive" else -2), b: sympy.Integer(1),
            **{z[q + 1]: x for q, x in enumerate(zs)}, **{h[q + 1]: sympy.Integer(q) for q in range(len(zs))}}
    return refute(rec, group_context(wopts), xt[1], xhat[1], vals, f"group entries z = {tuple(map(int, zs))}",
                  reason="fails unless a > 0 and ε = 0",
                  replacement="GN_ε(a x_g + b) = (a/|a|)·GN_{ε/a²}(x_g) within the group",
                  replacement_latex=sympy.latex(f.relation),
                  numbers={"p": wopts.batch, "z": [float(x) for x in zs], "a": float(vals[a]), "b": 1.0,
                           "eps": float(wopts.eps)})


def one_group_claims(opts: Options):
    """The scaled group's outputs are unchanged and the other group's do not depend on it: ``x̃_i = x̂_i`` and
    ``∂ĥ_i/∂z_k = 0``."""
    return [sympy.Eq(xt[i], xhat[i], evaluate=False), sympy.Eq(D(hhat[i], z[k]), 0, evaluate=False)]


def one_group(opts: Options):
    """Scaling the channels of one group by ``a > 0`` (per sample) leaves all of GroupNorm's output unchanged —
    unlike LayerNorm over all channels, whose statistics mix the groups (theorem
    layer_norm_row_scaling_counterexample)."""
    if opts.sign != "positive" or not opts.eps_is_zero:
        return invariance(opts)  # the scaled group's claim is refuted there, with its witness
    rec = Recorder(group_context(opts, free=(i, k)))
    inv = rec.cite(lemma("group_norm_scale_invariance", opts), "group_norm_scale_invariance",
                   "the scaled group: x̃ = x̂ (theorem group_norm_scale_invariance)")
    rec.eq(D(hhat[i], z[k]), 0, "the other group's statistics are sums over h only")
    rec.remark("so the layer output (x̂, ĥ) is the same for (a z, h) as for (z, h); LayerNorm over (z, h) "
               "together is not invariant under scaling z alone", inv.relation)
    return rec.proved(one_group_claims(opts))


def jacobian_claims(opts: Options):
    """``∂x̂_i/∂z_k = (δ_ik − 1/p − x̂_i x̂_k/p)/√(σ² + ε)`` within the group, ``∂x̂_i/∂h_k = 0`` across groups."""
    return [sympy.Eq(D(xhat[i], z[k]), _jac(opts), evaluate=False), sympy.Eq(D(xhat[i], h[k]), 0, evaluate=False)]


def jacobian(opts: Options):
    """The GroupNorm Jacobian is block diagonal, each block the LayerNorm Jacobian of its group (any ``ε ≥ 0``)."""
    rec = Recorder(group_context(opts, free=(i, k)))
    rec.eq(D(xhat[i], z[k]), _jac(opts), "differentiate the group's μ, σ², x̂ (as for LayerNorm, n = p)")
    rec.eq(D(xhat[i], h[k]), 0, "the group's statistics do not involve the other group")
    return rec.proved(jacobian_claims(opts))


def _second_weights(size: int) -> dict:
    """The witness's second group: ``H = ((0, 1), (1, 1), (2, 1), …)`` (entries ``0, 1, 2, …``)."""
    return {**{H[q + 1, 1]: sympy.Integer(q) for q in range(size)}, **{H[q + 1, 2]: sympy.Integer(1)
                                                                       for q in range(size)}}


def weights_grad(M: np.ndarray, x: np.ndarray, up: np.ndarray) -> np.ndarray:
    """``∂ℓ/∂M`` for ``ℓ = g·GN(M x, H x)``, two groups: ``M`` feeds the first, ``H = M[::-1] + 1`` the second,
    whose upstream is ``g`` reversed (so ``ℓ`` depends on both groups).

    >>> G = weights_grad(np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]), np.array([1.0, 2.0]), np.ones(3))
    >>> G.shape
    (3, 2)
    """
    other = M[::-1] + 1.0
    upstream = np.concatenate([up, up[::-1]])
    return weight_grad(lambda zz: group_norm(np.concatenate([zz, other @ x]), 2), M, x, upstream)


#: the weights W_g (``p × d``) feeding one group of GroupNorm, beside a second group fed by H: theorems
#: group_norm_gradient_scaling, _weight_orthogonality and _weight_norm_growth (:mod:`bnsym.theorems.units.feeding`)
WEIGHTS = Feeding("group_norm", "GN", xhat, xt, p, group_weights_context, ln_euler,
                  "within the group as for LayerNorm (n = p): Σ_r J_ir z_r = x̂_i ε/(σ² + ε)", "x̂_i·ε/(σ² + ε)",
                  (P2, FEATS), weights_grad, weights="W_g", others=((hhat, f),), witness_extra=_second_weights)


# -- numeric checks: group 1 = the features z = u W of a draw, group 2 = (0, 1, …) ------------------------------
def _groups(dr):
    zz = features(dr)
    return zz, np.arange(len(zz), dtype=float)


def _gn(x1, x2, e=0.0):
    return np.concatenate([layer_norm(x1, e), layer_norm(x2, e)])


def invariance_numeric(dr) -> float:
    """``GN`` of (a z + b, h) against (z, h)."""
    z1, z2 = _groups(dr)
    return rel(_gn(dr["a"] * z1 + dr.get("b", 0.7), z2), _gn(z1, z2))


def one_group_numeric(dr) -> float:
    """``GN`` of (c z, h) against (z, h) (``c`` of the draw)."""
    z1, z2 = _groups(dr)
    return rel(_gn(dr["c"] * z1, z2), _gn(z1, z2))


def jacobian_numeric(dr) -> float:
    """The complex-step Jacobian of GN against the block-diagonal closed form."""
    z1, z2 = _groups(dr)
    e, nn = float(dr.get("eps", 0.0)), len(z1)

    def block(x):
        xh = layer_norm(x, e)
        return (np.eye(nn) - 1.0 / nn - np.outer(xh, xh) / nn) / np.sqrt(x.var() + e)
    J = num_jac(lambda x: _gn(x[:nn], x[nn:], e), np.concatenate([z1, z2]))
    closed = np.block([[block(z1), np.zeros((nn, nn))], [np.zeros((nn, nn)), block(z2)]])
    return rel(J, closed)


_H = (A_POS, EPS0, P2, FEATS)
register(Theorem("group_norm_scale_invariance", "GroupNorm is invariant under a scale and shift of a group",
                 "GN(a_g x_g + b_g·1) = GN(x) per sample and group, a_g > 0",
                 r"\mathrm{GN}(a_{g} x_{g} + b_{g}\mathbf{1}) = \mathrm{GN}(x)", GN, _H, 11, invariance,
                 claims=invariance_claims, scale=True, numeric=invariance_numeric))
register(Theorem("group_norm_one_group_scaling", "Scaling one group's channels leaves GroupNorm unchanged",
                 "GN(x with group g scaled by a > 0) = GN(x): the group is invariant, the others do not depend on it",
                 r"\mathrm{GN}(x_{1}, \dots, a x_{g}, \dots) = \mathrm{GN}(x)", GN, _H, 11, one_group,
                 claims=one_group_claims, scale=True, numeric=one_group_numeric))
register(Theorem("group_norm_jacobian", "The GroupNorm Jacobian is block diagonal",
                 "∂x̂_i/∂z_k = (δ_ik − 1/p − x̂_i x̂_k/p)/√(σ² + ε) in a group, 0 across groups",
                 r"\frac{\partial \hat{x}_{i}}{\partial z_{k}} = \frac{\delta_{ik} - \frac{1}{p} - "
                 r"\frac{\hat{x}_{i}\hat{x}_{k}}{p}}{\sqrt{\sigma^{2} + \epsilon}},\; "
                 r"\frac{\partial \hat{x}_{i}}{\partial h_{k}} = 0", GN, (EPS_ANY, P2, FEATS), 11, jacobian,
                 claims=jacobian_claims, numeric=jacobian_numeric))
register_weight_theorems(WEIGHTS, "one group of GroupNorm", GN, 11)
