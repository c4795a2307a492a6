"""The other normalization kinds (LayerNorm, RMSNorm, weight normalization, GroupNorm, eval-mode BN): symbols,
definitions and kernel contexts, as :mod:`bnsym.theorems.batch` is for BN.

The per-sample kinds reduce over the ``n`` features of one sample, so their contexts have the kernel's size
``m`` set to the symbol ``n`` (or to ``opts.batch``, read as a number of features):

* LayerNorm: ``μ := (1/n) Σ_j z_j``, ``σ := √((1/n) Σ_j (z_j − μ)²)``, ``x̂_t := (z_t − μ)/√(σ² + ε)``
  (the same definitions as BN's with the sum over features); with ``linear``, ``z_t := Σ_q W_tq u_q``
  (``d`` inputs, one weight row per feature);
* RMSNorm: ``ν := √((1/n) Σ_j z_j² + ε)``, ``y_t := z_t/ν``;
* weight normalization: ``w_t := g v_t/‖v‖`` over the ``n`` entries of ``v``;
* GroupNorm: one group of ``p`` entries is a LayerNorm over the group (``group_context``);
* eval-mode BN: ``y_t := γ (z_t − μ_run)/√(v_run + ε) + β`` with the running statistics constants.

:func:`check_library_tie` ties the LayerNorm and RMSNorm definitions to :mod:`bnsym.functions` at a concrete
size (the tie to the layers' index forms is added where those layers exist).

>>> [str(d.symbol) for d in ln_context(Options()).definitions]
['mu', 'sigma', 'xhat']
>>> [str(d.symbol) for d in rms_context(Options()).definitions]
['nu', 'y']
"""
from __future__ import annotations

import sympy
from sympy import Sum, Symbol

from ..kernel import core as K
from ..kernel.index import index_symbol
from .batch import (Options, V, W, _stats, beta, gamma, i, j, mu, mut, n, q, sigma, sigmat, t, u, xhat, xt, z, zt)

__all__ = ["GROUPS", "Options", "ln_context", "rms_context", "wn_context", "group_context", "eval_context", "size_of",
           "d", "p", "s", "nu", "nut", "y", "yt", "v", "w", "wt", "gn", "h", "hhat", "muh", "sigmah", "murun",
           "varrun", "b", "C", "H", "f", "group_weights_context", "ln_euler", "ln_jacobian", "rms_jacobian",
           "check_library_tie"]

#: the catalogue groups of the family (docs/normalization.md) and the size each proof is general in
GROUPS = {8: ("number of features", "n"), 9: ("number of features", "n"), 10: ("length of v", "n"),
          11: ("group size", "p"), 12: ("batch size", "m")}
d = Symbol("d", integer=True, positive=True)  # inputs of the weights feeding LayerNorm
p = Symbol("p", integer=True, positive=True)  # entries of one group (GroupNorm)
s = index_symbol("s")  # a second weight index
nu = Symbol("nu", positive=True)
nut = Symbol("nutilde", positive=True)
y = sympy.IndexedBase("y", real=True)
yt = sympy.IndexedBase("ytilde", real=True)
v = sympy.IndexedBase("v", real=True)
w = sympy.IndexedBase("w", real=True)
wt = sympy.IndexedBase("wtilde", real=True)
gn = Symbol("g", positive=True)  # the gain of weight normalization
h = sympy.IndexedBase("h", real=True)  # a second group's entries
hhat = sympy.IndexedBase("hhat", real=True)
muh = Symbol("mu_h", real=True)
sigmah = Symbol("sigma_h", positive=True)
murun = Symbol("mu_run", real=True)
varrun = Symbol("v_run", positive=True)
b = Symbol("b", real=True)  # a shift
C = sympy.IndexedBase("C", positive=True)  # per-row scales
H = sympy.IndexedBase("H", real=True)  # the weights feeding a second group (GroupNorm)
f = sympy.IndexedBase("f", real=True)  # the upstream gradient of the second group's outputs


def size_of(opts: Options, symbol=n) -> sympy.Expr:
    """The reduction size: ``symbol`` for a general proof, else ``opts.batch`` read as that size.

    >>> size_of(Options()), size_of(Options(batch=4))
    (n, 4)
    """
    return symbol if opts.batch == "m" else sympy.Integer(opts.batch)


def _eps(ctx: K.Context, opts: Options) -> K.Context:
    return ctx.fix(opts.eps_symbol, sympy.sympify(opts.eps)) if not isinstance(opts.eps, str) else ctx


def ln_context(opts: Options, *, free=(), scaled: str | None = None, linear: bool = False,
               size_symbol=n, inputs: int | None = None) -> K.Context:
    """LayerNorm of one sample's ``n`` features (``size_symbol``: ``p`` for one group of GroupNorm).

    ``scaled``: ``"affine"`` (``z̃ := a z + b``), ``"weights"`` (``z̃_t := Σ_q V_tq u_q`` at ``V = aW``), ``"rows"``
    (``z̃_t := C_t z_t``, a scale per row of ``W``); ``inputs``: a concrete ``d`` (for a witness). Hypothesis:
    the features are not all equal (``σ > 0``)."""
    size = size_of(opts, size_symbol)
    width = d if inputs is None else sympy.Integer(inputs)
    eps = opts.eps_symbol
    ctx = K.Context(m=size, free=tuple(free), size=size_symbol)
    if linear:
        ctx = ctx.define(z, Sum(W[t, q] * u[q], (q, 1, width)), index=t, text="features z_t = Σ_q W_tq u_q")
    ctx = _eps(_stats(ctx, z, mu, sigma, xhat, eps, size), opts)
    ctx = ctx.assume_positive(sigma**2, "features not all equal (σ > 0)")
    ctx = K.positive_fact(ctx, sigma**2 + eps, "σ² + ε > 0")
    if scaled == "affine":
        ctx = ctx.define(zt, opts.a * z[t] + b, index=t, text="the features scaled by a and shifted by b")
    elif scaled == "weights":
        ctx = ctx.define(zt, Sum(V[t, q] * u[q], (q, 1, width)), index=t, text="features with weights V")
    elif scaled == "rows":
        ctx = ctx.define(zt, C[t] * z[t], index=t, text="row t of W scaled by C_t")
    if scaled:
        ctx = _stats(ctx, zt, mut, sigmat, xt, eps, size)
        if scaled == "weights":
            ctx = ctx.define(V, opts.a * W[t, s], index=(t, s), text="evaluated at V = aW", at=True)
        ctx = K.positive_fact(ctx, sigmat**2 + eps, "σ̃² + ε > 0") if scaled != "rows" else \
            ctx.assume_positive(sigmat**2 + eps, "σ̃² + ε > 0")
    return ctx


def group_context(opts: Options, *, free=()) -> K.Context:
    """Two groups of ``p`` entries of one sample (``z`` and ``h``), each normalized over itself, the first
    scaled by ``a``: ``z̃ := a z`` (GroupNorm)."""
    return _second_group(ln_context(opts, free=free, scaled="affine", size_symbol=p), opts)


def group_weights_context(opts: Options, *, free=(), scaled: bool = False, inputs: int | None = None) -> K.Context:
    """Two groups of ``p`` channels of one sample fed by weights: ``z_t := Σ_q W_tq u_q`` and
    ``h_t := Σ_q H_tq u_q`` (``d`` inputs), each group normalized over itself (GroupNorm); ``scaled``: the first
    group's weights evaluated at ``V = aW`` (``z̃_t := Σ_q V_tq u_q``), the second's unchanged.

    >>> [str(d.symbol) for d in group_weights_context(Options()).definitions]
    ['z', 'mu', 'sigma', 'xhat', 'h', 'mu_h', 'sigma_h', 'hhat']
    """
    ctx = ln_context(opts, free=free, scaled="weights" if scaled else None, linear=True, size_symbol=p,
                     inputs=inputs)
    width = d if inputs is None else sympy.Integer(inputs)
    ctx = ctx.define(h, Sum(H[t, q] * u[q], (q, 1, width)), index=t, text="the second group h_t = Σ_q H_tq u_q")
    return _second_group(ctx, opts)


def _second_group(ctx: K.Context, opts: Options) -> K.Context:
    size = size_of(opts, p)
    ctx = _stats(ctx, h, muh, sigmah, hhat, opts.eps_symbol, size)
    ctx = ctx.assume_positive(sigmah**2, "the second group's entries not all equal (σ_h > 0)")
    return K.positive_fact(ctx, sigmah**2 + opts.eps_symbol, "σ_h² + ε > 0")


def _rms(ctx: K.Context, x, norm, out, eps, size) -> K.Context:
    ctx = ctx.define(norm, sympy.sqrt(Sum(x[j] ** 2, (j, 1, size)) / size + eps), text="root mean square")
    return ctx.define(out, x[t] / norm, index=t, text="RMS-normalized features")


def rms_context(opts: Options, *, free=(), scaled: str | None = None, linear: bool = False,
                inputs: int | None = None) -> K.Context:
    """RMSNorm of one sample's ``n`` features; ``scaled``: ``"scale"`` (``z̃ := a z``), ``"shift"``
    (``z̃ := z + b``) or ``"weights"`` (``z̃_t := Σ_q V_tq u_q`` at ``V = aW``); with ``linear``,
    ``z_t := Σ_q W_tq u_q`` (``d`` inputs, or ``inputs``). Hypothesis: ``z ≠ 0``.

    >>> [str(d.symbol) for d in rms_context(Options(), linear=True, scaled="weights").definitions]
    ['z', 'nu', 'y', 'ztilde', 'nutilde', 'ytilde', 'V']
    """
    size = size_of(opts)
    eps = opts.eps_symbol
    width = d if inputs is None else sympy.Integer(inputs)
    ctx = K.Context(m=size, free=tuple(free), size=n)
    if linear:
        ctx = ctx.define(z, Sum(W[t, q] * u[q], (q, 1, width)), index=t, text="features z_t = Σ_q W_tq u_q")
    ctx = _eps(_rms(ctx, z, nu, y, eps, size), opts)
    ctx = ctx.assume_positive(Sum(z[j] ** 2, (j, 1, size)), "features not all zero (Σ_j z_j² > 0)")
    ctx = K.positive_fact(ctx, Sum(z[j] ** 2, (j, 1, size)) / size + eps, "ν² > 0")
    if scaled:
        texts = {"scale": "the features scaled by a", "shift": "the features shifted by b",
                 "weights": "features with weights V"}
        ctx = ctx.define(zt, {"scale": opts.a * z[t], "shift": z[t] + b,
                              "weights": Sum(V[t, q] * u[q], (q, 1, width))}[scaled], index=t, text=texts[scaled])
        ctx = _rms(ctx, zt, nut, yt, eps, size)
        if scaled == "weights":
            ctx = ctx.define(V, opts.a * W[t, s], index=(t, s), text="evaluated at V = aW", at=True)
        if scaled != "shift":
            ctx = K.positive_fact(ctx, Sum(zt[j] ** 2, (j, 1, size)) / size + eps, "ν̃² > 0")
        else:
            ctx = ctx.assume_positive(Sum(zt[j] ** 2, (j, 1, size)) / size + eps, "ν̃² > 0")
    return ctx


def wn_context(opts: Options, *, free=(), scaled: str | None = None) -> K.Context:
    """Weight normalization ``w_t := g v_t/‖v‖`` of ``n`` entries; ``scaled``: ``"vector"`` (``w̃`` of ``a v``) or
    ``"point"`` (``w̃`` of ``V``, evaluated at ``V = a v``). Hypothesis: ``v ≠ 0``."""
    size = size_of(opts)
    ctx = K.Context(m=size, free=tuple(free), size=n)
    ctx = ctx.define(w, gn * v[t] / sympy.sqrt(Sum(v[j] ** 2, (j, 1, size))), index=t, text="w = g v/‖v‖")
    ctx = ctx.assume_positive(Sum(v[j] ** 2, (j, 1, size)), "v ≠ 0 (‖v‖ > 0)")
    if scaled == "vector":
        ctx = ctx.define(wt, gn * opts.a * v[t] / sympy.sqrt(Sum((opts.a * v[j]) ** 2, (j, 1, size))), index=t,
                         text="w of the scaled vector a v")
        ctx = K.positive_fact(ctx, Sum((opts.a * v[j]) ** 2, (j, 1, size)), "‖a v‖² > 0")
    elif scaled == "point":
        ctx = ctx.define(wt, gn * V[t] / sympy.sqrt(Sum(V[j] ** 2, (j, 1, size))), index=t, text="w of V")
        ctx = ctx.define(V, opts.a * v[t], index=t, text="evaluated at V = a v", at=True)
        ctx = K.positive_fact(ctx, Sum((opts.a * v[j]) ** 2, (j, 1, size)), "‖a v‖² > 0")
    return ctx


def eval_context(opts: Options, *, free=(), scaled: bool = False) -> K.Context:
    """Eval-mode BN of a batch (``m`` samples): ``y_t := γ (z_t − μ_run)/√(v_run + ε) + β``, the running statistics
    constants (``v_run > 0``); ``scaled``: ``ỹ`` of ``a z``."""
    from .batch import m

    size = m if opts.batch == "m" else sympy.Integer(opts.batch)
    root = sympy.sqrt(varrun + opts.eps_symbol)
    ctx = K.Context(m=size, free=tuple(free), size=m)
    ctx = _eps(ctx.define(y, gamma * (z[t] - murun) / root + beta, index=t, text="eval-mode BN"), opts)
    if scaled:
        ctx = ctx.define(yt, gamma * (opts.a * z[t] - murun) / root + beta, index=t, text="eval-mode BN of a z")
    return ctx


def ln_euler(opts: Options) -> sympy.Expr:
    """Euler's sum of LayerNorm (or of one group of GroupNorm), ``Σ_r z_r ∂x̂_i/∂z_r = x̂_i ε/(σ² + ε)``: 0 at ε = 0.

    >>> ln_euler(Options()), ln_euler(Options(eps="positive"))
    (0, epsilon*xhat[i]/(epsilon + sigma**2))
    """
    return sympy.Integer(0) if opts.eps_is_zero else xhat[i] * opts.eps_symbol / (sigma**2 + opts.eps_symbol)


def ln_jacobian(opts: Options, row, col) -> sympy.Expr:
    """``(δ_rc − 1/n − x̂_r x̂_c/n)/√(σ² + ε)``: LayerNorm's Jacobian over the features.

    >>> from bnsym.theorems.batch import i, k
    >>> ln_jacobian(Options(), i, k)
    (KroneckerDelta(i, k) - xhat[i]*xhat[k]/n - 1/n)/sqrt(epsilon + sigma**2)
    """
    return (sympy.KroneckerDelta(row, col) - 1 / n - xhat[row] * xhat[col] / n) / sympy.sqrt(sigma**2 + opts.eps_symbol)


def rms_jacobian(opts: Options, row, col) -> sympy.Expr:
    """``(δ_rc − y_r y_c/n)/ν``: RMSNorm's Jacobian.

    >>> from bnsym.theorems.batch import i, k
    >>> rms_jacobian(Options(), i, k)
    (KroneckerDelta(i, k) - y[i]*y[k]/n)/nu
    """
    return (sympy.KroneckerDelta(row, col) - y[row] * y[col] / n) / nu


def check_library_tie(size: int = 3) -> bool:
    """LayerNorm's definitions at ``size`` features are :func:`bnsym.functions.batch_normalize` of them (the
    same statistics over features), and RMSNorm's are ``z/√(mean z² + ε)``.

    The same loop ties ``x̂`` and ``y`` to the engine's own layers: the forward pass of
    :class:`bnsym.layers.layernorm.LayerNorm` and :class:`bnsym.layers.rmsnorm.RMSNorm` on one sample of ``size``
    features, so the theorems prove facts about the rules the engine differentiates.

    >>> check_library_tie()
    True
    """
    from ..functions import batch_normalize
    from ..kernel.zero import decide_zero

    opts = Options(batch=size, eps="any")
    ctx, rctx = ln_context(opts), rms_context(opts)
    values = [z[k + 1] for k in range(size)]
    library = batch_normalize(values, opts.eps_symbol)
    rms = [x / sympy.sqrt(sum(e**2 for e in values) / size + opts.eps_symbol) for x in values]
    from ..layers import LayerNorm, RMSNorm

    row = sympy.Matrix([values])
    layer_ln = list(LayerNorm("lnout", features=size, eps=opts.eps_symbol).forward(row))
    layer_rms = list(RMSNorm("rmsout", features=size, eps=opts.eps_symbol).forward(row))

    def same(a, b, c) -> bool:
        return decide_zero(K.canonical(a, c) - K.canonical(b, c), positive=c.positive).value is True

    return all(same(xhat[k + 1], library[k], ctx) and same(xhat[k + 1], layer_ln[k], ctx)
               and same(y[k + 1], rms[k], rctx) and same(y[k + 1], layer_rms[k], rctx) for k in range(size))
