"""Concrete-``m`` proofs: every entry, exact, from the per-sample expressions (:mod:`bnsym.theorems.concrete`).

>>> from bnsym.theorems.general import Options
>>> out = scale_input_grad(Options(batch=4, width=1))
>>> out.holds, out.method
(True, 'concrete m = 4, width 1, every entry (16), exact')
"""
from __future__ import annotations

import sympy
from sympy import Add, Eq, KroneckerDelta, S, Sum, Symbol

from .algebra import Chain, g as gI, i, j, jacobian_entry, k, l, r, sigma, std, u, xhat, z as zI
from .algebra import gamma as gamma_
from .proof import Step
from .concrete import Feature
from .general import Options, Outcome
from . import general

Deriv = sympy.Derivative
cI = sympy.IndexedBase("c", real=True)  # c_l = z_l − μ
cp = sympy.IndexedBase("c'", real=True)  # the same for the scaled batch
xt = sympy.IndexedBase("xtilde", real=True)  # x̂ of the scaled batch
WI, VI = sympy.IndexedBase("W", real=True), sympy.IndexedBase("V", real=True)
vv = sympy.IndexedBase("v", real=True)
SIG2P = Symbol("sigma'", positive=True) ** 2


def dl(wrt):
    """``∂ℓ/∂wrt`` for display."""
    return sympy.Derivative(Symbol("ell", real=True), wrt)


__all__ = ["scale_forward", "scale_input_grad", "scale_weight_grad", "jacobian", "null_space"]


def _method(opts, n_entries, width=None):
    w = f", width {width}" if width is not None else ""
    return f"concrete m = {opts.batch}{w}, every entry ({n_entries}), exact"


def _via_general(opts: Options, prover, why: str) -> Outcome:
    out = prover(opts)
    out.method = f"general m (symbolic), specialised to m = {opts.batch}: {why}"
    return out


def _fail(c, opts, what):
    return Outcome(None, c.steps, method=f"concrete m = {opts.batch}", reason=f"could not establish {what} exactly")


def _scaled_pair(opts: Options, c: Chain, weight_symbols: bool = False):
    """RHS feature (weights W) and LHS feature (weights aW, or free V to be set to aW), leaves verified."""
    a = opts.a
    f = Feature.linear(opts.batch, opts.width)
    W = f.variables["W"]
    if weight_symbols:
        Vs = list(sympy.symbols(f"V_1:{opts.width + 1}", real=True))
        fp = Feature.linear(opts.batch, opts.width, weights=Vs)
        subs = dict(zip(Vs, [a * w for w in W]))
    else:
        Vs, subs = None, {}
        fp = Feature.linear(opts.batch, opts.width, weights=[a * w for w in W])
    amap = fp.scaled_leaves(f, a, subs)
    c.note(Eq(cp[l], a * cI[l]), f"checked for l = 1..{opts.batch} by expanding the polynomials "
           "c_l = z_l − μ (batch_mean/batch_variance of the concrete batch)")
    return f, fp, amap, Vs, subs


def scale_forward(opts: Options) -> Outcome:
    """``x̂_i(aWu) = x̂_i(Wu)`` for every sample ``i``, exactly."""
    if opts.eps != 0:
        return _via_general(opts, general.scale_forward, "ε > 0 is handled symbolically")
    c = Chain()
    f, fp, amap, _, _ = _scaled_pair(opts, c)
    a = opts.a
    sp = sympy.sqrt(a**2) * f.S  # σ' = √(a²σ²) with σ'² = a² σ² checked through the leaves
    sgn = a / abs(a)
    for p in range(f.m):
        lhs = (fp.C[p] / sp).xreplace(amap)
        if sympy.expand(lhs - sgn * f.C[p] / f.S) != 0:
            return _fail(c, opts, f"x̂'_{p + 1}")
    c.note(Eq(xt[i], sgn * xhat[i]), f"every i = 1..{f.m}: x̃ = x̂ of the batch a z; c'_i/√(a²σ²) = (a/|a|) c_i/σ")
    return _finish(opts, c, general.scale_forward, f.m, sgn)


def _finish(opts, c, prover, n, sgn):
    if sgn == 1:
        return Outcome(True, c.steps, method=_method(opts, n, opts.width))
    gen = prover(Options(sign=opts.sign, eps=opts.eps))
    return Outcome(False, c.steps, method=_method(opts, n, opts.width), reason=gen.reason,
                   replacement=gen.replacement, replacement_latex=gen.replacement_latex,
                   counterexample=gen.counterexample)


def scale_input_grad(opts: Options) -> Outcome:
    """``∂x̂_i(aWu)/∂u_kr = (a/|a|) ∂x̂_i(Wu)/∂u_kr`` for every ``i, k, r``, exactly."""
    if opts.eps != 0:
        return _via_general(opts, general.scale_input_grad, "ε > 0 is handled symbolically")
    c = Chain()
    f, fp, amap, _, _ = _scaled_pair(opts, c)
    a = opts.a
    D = Symbol("D", real=True)
    sp = sympy.sqrt(a**2) * f.S
    sgn = a / abs(a)
    ts = [x for row in f.variables["u"] for x in row]
    for t in ts:
        for p in range(f.m):
            if sympy.expand(fp.dc(p, t) - a * f.dc(p, t)) != 0:
                return _fail(c, opts, "∂c'_l/∂u = a ∂c_l/∂u")
    c.note(Eq(Deriv(cp[l], u[k, r]), a * Deriv(cI[l], u[k, r])), "every l, k, r (sympy polynomial derivatives)")
    c.note(Eq(Deriv(SIG2P, u[k, r]), a**2 * Deriv(sigma**2, u[k, r])),
           "every k, r: ∂σ²/∂t = (2/m) Σ_l c_l ∂c_l/∂t term by term, with c'_l = a c_l and ∂c'_l/∂t = a ∂c_l/∂t")
    n = 0
    for i_ in range(f.m):
        for t in ts:
            lhs = fp.dc(i_, t) / sp - a * f.C[i_] * a**2 * D / (2 * sp**3)
            if sympy.expand(lhs - sgn * f.entry(i_, t, D)) != 0:
                return _fail(c, opts, f"entry ({i_ + 1}, {t})")
            n += 1
    c.note(Eq(Deriv(xt[i], u[k, r]), sgn * Deriv(xhat[i], u[k, r])),
           f"each of the {n} entries: ∂x̂_i/∂t = (∂c_i/∂t)/σ − c_i (∂σ²/∂t)/(2σ³) with the leaves above")
    return _finish(opts, c, general.scale_input_grad, n, sgn)


def scale_weight_grad(opts: Options) -> Outcome:
    """``∂x̂_i(Vu)/∂V_r |_{V=aW} = (1/|a|) ∂x̂_i(Wu)/∂W_r`` for every ``i, r``, exactly."""
    if opts.eps != 0:
        return _via_general(opts, general.scale_weight_grad, "ε > 0 is handled symbolically")
    c = Chain()
    f, fp, amap, Vs, subs = _scaled_pair(opts, c, weight_symbols=True)
    a = opts.a
    D = Symbol("D", real=True)
    sp = sympy.sqrt(a**2) * f.S
    sgn = a / abs(a)
    W = f.variables["W"]
    n = 0
    for V_r, W_r in zip(Vs, W):
        for p in range(f.m):
            if sympy.expand(fp.dc(p, V_r).xreplace(subs) - f.dc(p, W_r)) != 0:
                return _fail(c, opts, "∂c'_l/∂V_r = ∂c_l/∂W_r")
        for i_ in range(f.m):
            lhs = fp.dc(i_, V_r).xreplace(subs) / sp - a * f.C[i_] * a * D / (2 * sp**3)
            if sympy.expand(lhs - f.entry(i_, W_r, D) / sympy.Abs(a)) != 0:
                return _fail(c, opts, f"entry ({i_ + 1}, {W_r})")
            n += 1
    c.note(Eq(Deriv(SIG2P, VI[r]), a * Deriv(sigma**2, WI[r])), "every r, at V = aW: (2/m) Σ_l c'_l ∂c'_l/∂V_r "
           "term by term, with c'_l = a c_l and ∂c'_l/∂V_r = ∂c_l/∂W_r")
    c.note(Eq(Deriv(xt[i], VI[r]), Deriv(xhat[i], WI[r]) / sympy.Abs(a)),
           f"x̃ = x̂ of the batch Vu at V = aW; each of the {n} entries, from ∂c'_l/∂V_r = ∂c_l/∂W_r and ∂σ'²/∂V_r = a ∂σ²/∂W_r")
    return _finish(opts, c, general.scale_weight_grad, n, sgn)


def _closed_jacobian(f: Feature, c: Chain):
    """Check every brute-force entry ``∂x̂_i/∂z_k`` against the closed form; return the closed-form matrix."""
    if not f.verify_centered():
        return None
    z = f.variables["z"]
    red = {}
    for q, zk in enumerate(z):
        if not f.is_zero(f.dvar(zk) - 2 * f.C[q] / f.m):
            return None
        red[zk] = 2 * f.C[q] / f.m
    c.note(Eq(Deriv(sigma**2, zI[k]), 2 * cI[k] / f.m), f"k = 1..{f.m}, using Σ_l c_l = 0 (checked)")
    s = f.s
    closed = sympy.Matrix(f.m, f.m, lambda p, q: (KroneckerDelta(p, q) - S.One / f.m
                                                  - f.C[p] * f.C[q] / (f.m * s**2)) / s)
    for p in range(f.m):
        for q, zk in enumerate(z):
            if sympy.expand(f.entry(p, zk, red[zk]) - closed[p, q]) != 0:
                return None
    c.note(Eq(Deriv(xhat[i], zI[k]), jacobian_entry(i, k, f.eps)),
           f"each of the {f.m ** 2} entries, brute force against the closed form")
    return closed


def jacobian(opts: Options) -> Outcome:
    """Every entry of the BN Jacobian against the closed form (any ``ε``)."""
    c = Chain()
    f = Feature.of_values(opts.batch, eps=opts.eps)
    if _closed_jacobian(f, c) is None:
        return _fail(c, opts, "the closed form")
    return Outcome(True, c.steps, method=_method(opts, f.m**2))


def _xhat(f):
    return [cl / f.s for cl in f.C]


def null_space(opts: Options) -> Outcome:
    """``J·1 = 0`` and ``J·x̂ = 0`` row by row (``ε = 0``)."""
    if opts.eps != 0:
        return _via_general(opts, general.null_space, "ε > 0 is handled symbolically")
    c = Chain()
    f = Feature.of_values(opts.batch)
    J = _closed_jacobian(f, c)
    if J is None:
        return _fail(c, opts, "the closed form")
    xh = _xhat(f)
    for p in range(f.m):
        if not f.is_zero(Add(*J.row(p))) or not f.is_zero(Add(*[J[p, q] * xh[q] for q in range(f.m)])):
            return _fail(c, opts, f"row {p + 1} of J·1, J·x̂")
    c.note(Eq(Sum(Deriv(xhat[i], zI[k]), (k, 1, f.m)), 0), "every row")
    c.note(Eq(Sum(Deriv(xhat[i], zI[k]) * xhat[k], (k, 1, f.m)), 0), "every row, reducing modulo σ² = (1/m) Σ c_l²")
    return Outcome(True, c.steps, method=_method(opts, 2 * f.m))


def _grad_z(f, J, g, gamma):
    return [gamma * Add(*[g[p] * J[p, q] for p in range(f.m)]) for q in range(f.m)]


def _g(m_):
    return list(sympy.symbols(f"g_1:{m_ + 1}", real=True)), Symbol("gamma", real=True)


def backward_compact(opts: Options) -> Outcome:
    """The compact form against ``γ Jᵀ g``, every component."""
    c = Chain()
    f = Feature.of_values(opts.batch, eps=opts.eps)
    J = _closed_jacobian(f, c)
    if J is None:
        return _fail(c, opts, "the closed form")
    g, gamma = _g(f.m)
    true = _grad_z(f, J, g, gamma)
    xh = _xhat(f)
    G, X = Add(*g), Add(*[g[p] * xh[p] for p in range(f.m)])
    for q in range(f.m):
        compact = gamma / (f.m * f.s) * (f.m * g[q] - G - xh[q] * X)
        if not f.is_zero(true[q] - compact):
            return _fail(c, opts, f"component {q + 1}")
    c.note(Eq(dl(zI[k]), gamma_ / (f.m * std(f.eps)) * (f.m * gI[k] - Sum(gI[j], (j, 1, f.m)) - xhat[k] * Sum(gI[j] * xhat[j], (j, 1, f.m)))), f"each of the {f.m} components")
    return Outcome(True, c.steps, method=_method(opts, f.m))


def backward_formulas(opts: Options) -> Outcome:
    """Ioffe & Szegedy's §3.1 formulas composed, against ``γ Jᵀ g``, every component."""
    c = Chain()
    f = Feature.of_values(opts.batch, eps=opts.eps)
    J = _closed_jacobian(f, c)
    if J is None:
        return _fail(c, opts, "the closed form")
    g, gamma = _g(f.m)
    true = _grad_z(f, J, g, gamma)
    s2 = f.S**2 + f.eps
    dxh = [gi * gamma for gi in g]
    dvar = Add(*[dxh[p] * f.C[p] for p in range(f.m)]) * (-S.Half) * s2 ** sympy.Rational(-3, 2)
    dmu = Add(*[dxh[p] * (-1 / f.s) for p in range(f.m)]) + dvar * Add(*[-2 * cl for cl in f.C]) / f.m
    for q in range(f.m):
        formula = dxh[q] / f.s + dvar * 2 * f.C[q] / f.m + dmu / f.m
        if not f.is_zero(formula - true[q]):
            return _fail(c, opts, f"component {q + 1}")
    c.note(Eq(dl(zI[i]), Sum(gI[k] * gamma_ * Deriv(xhat[k], zI[i]), (k, 1, f.m))), f"the §3.1 formulas composed: each of the {f.m} components")
    return Outcome(True, c.steps, method=_method(opts, f.m))


def gradient_norm_identity(opts: Options) -> Outcome:
    """‖γ Jᵀ g‖² against the Santurkar et al. identity, exactly (``ε = 0``)."""
    if opts.eps != 0:
        return _via_general(opts, general.gradient_norm_identity, "ε > 0 is handled symbolically")
    c = Chain()
    f = Feature.of_values(opts.batch)
    J = _closed_jacobian(f, c)
    if J is None:
        return _fail(c, opts, "the closed form")
    g, gamma = _g(f.m)
    xh = _xhat(f)
    ones = [S.One] * f.m
    G, X = Add(*g), Add(*[g[p] * xh[p] for p in range(f.m)])
    # v = γ Jᵀ g = α g + β 1 + δ x̂ (backward_compact at this m); ‖v‖² by bilinearity from the Gram matrix
    coef = [gamma / f.s, -gamma * G / (f.m * f.s), -gamma * X / (f.m * f.s)]
    vecs = [g, ones, xh]
    gram = [[None] * 3 for _ in range(3)]
    for p in range(3):
        for q in range(p, 3):
            gram[p][q] = gram[q][p] = Add(*[x * y for x, y in zip(vecs[p], vecs[q])])
    if not f.is_zero(gram[1][2]) or not f.is_zero(gram[2][2] - f.m):
        return _fail(c, opts, "⟨1, x̂⟩ = 0 and ⟨x̂, x̂⟩ = m")
    c.note(Eq(Sum(xhat[j], (j, 1, f.m)), 0), "checked exactly at this m")
    c.note(Eq(Sum(xhat[j] ** 2, (j, 1, f.m)), f.m), "checked exactly at this m (σ² = (1/m) Σ c_l²)")
    gram[1][2] = gram[2][1] = S.Zero
    gram[2][2] = sympy.Integer(f.m)
    lhs = Add(*[coef[p] * coef[q] * gram[p][q] for p in range(3) for q in range(3)])
    rhs = gamma**2 / f.S**2 * (gram[0][0] - G**2 / f.m - X**2 / f.m)
    if not equal_atoms(lhs, rhs, [G, X]):
        return _fail(c, opts, "the identity")
    c.note(Eq(Sum(vv[k] ** 2, (k, 1, f.m)), gamma**2 / sigma**2 * (Sum(gI[j] ** 2, (j, 1, f.m)) - Sum(gI[j], (j, 1, f.m)) ** 2 / f.m - Sum(gI[j] * xhat[j], (j, 1, f.m)) ** 2 / f.m)), "v = ∂ℓ/∂z; exact, with the compact form")
    return Outcome(True, c.steps, method=f"concrete m = {opts.batch}, exact")


def equal_atoms(lhs, rhs, sums) -> bool:
    """Exact equality with the given sums replaced by atoms (sound: a polynomial identity in fewer atoms)."""
    atoms = {e: Symbol(f"A_{n}", real=True) for n, e in enumerate(sums)}
    diff = sympy.together(lhs.xreplace(atoms) - rhs.xreplace(atoms))
    return sympy.expand(sympy.fraction(diff)[0]) == 0


def gradient_norm_bound(opts: Options) -> Outcome:
    """The bound follows from the identity at this ``m`` (the dropped terms are squares)."""
    if opts.eps != 0:
        return _via_general(opts, general.gradient_norm_bound, "ε > 0 is handled symbolically")
    out = gradient_norm_identity(opts) if opts.coefficient == "1/m" else Outcome(True, [])
    if out.holds is not True:
        return out
    gen = general.gradient_norm_bound(Options(eps=opts.eps, coefficient=opts.coefficient))
    gen.steps = list(out.steps) + list(gen.steps)
    gen.method = f"concrete m = {opts.batch} (identity exact), bound from the identity"
    return gen


def euler(opts: Options) -> Outcome:
    """``Σ_r W_r ∂x̂_i/∂W_r = 0`` for every ``i`` (so ``⟨W, ∂ℓ/∂W⟩ = 0`` for any upstream ``g``)."""
    if opts.eps != 0:
        return _via_general(opts, general.euler, "ε > 0 is handled symbolically")
    c = Chain()
    f = Feature.linear(opts.batch, opts.width)
    W = f.variables["W"]
    for p in range(f.m):
        if sympy.expand(Add(*[w * f.dc(p, w) for w in W]) - f.c[p]) != 0:
            return _fail(c, opts, "Σ_r W_r ∂c_l/∂W_r = c_l")
    c.note(Eq(Sum(WI[r] * Deriv(cI[l], WI[r]), (r, 1, opts.width)), cI[l]), f"l = 1..{f.m} (degree-1 homogeneity, polynomials)")
    dv = Add(*[w * f.dvar(w) for w in W])
    dv = Add(*[2 * f.C[p] * f.c[p] for p in range(f.m)]) / f.m  # Σ_r W_r ∂σ²/∂W_r with the line above
    dv_atoms = Add(*[2 * cl**2 for cl in f.C]) / f.m
    for p in range(f.m):
        expr = f.C[p] / f.s - f.C[p] * dv_atoms / (2 * f.s**3)
        if not f.is_zero(expr):
            return _fail(c, opts, f"⟨W, ∂x̂_{p + 1}/∂W⟩ = 0")
    c.note(Eq(Sum(WI[r] * Deriv(xhat[i], WI[r]), (r, 1, opts.width)), 0), f"every i = 1..{f.m}, reducing modulo σ² = (1/m) Σ c_l²")
    return Outcome(True, c.steps, method=_method(opts, f.m, opts.width))


def norm_growth(opts: Options) -> Outcome:
    """Follows from :func:`euler` at this ``m`` by bilinearity."""
    sub = euler(opts)
    gen = general.norm_growth(Options(eps=opts.eps))
    gen.steps = list(sub.steps) + [st for st in gen.steps[-2:]]
    gen.method = sub.method + "; then bilinearity"
    if sub.holds is not True:
        gen.holds = sub.holds if sub.holds is None else gen.holds
    return gen


def gradient_scaling(opts: Options) -> Outcome:
    """Follows from the weight-gradient identity at this ``m`` (every entry)."""
    out = scale_weight_grad(opts)
    if out.holds is True:
        out.steps.append(Step(Eq(sympy.Function("G")(Symbol("c", positive=True) * WI[r]), sympy.Function("G")(WI[r]) / Symbol("c", positive=True)),
                                      "G_r = ∂ℓ/∂W_r = γ Σ_i g_i ∂x̂_i/∂W_r with g unchanged (forward invariance)"))
    return out


def bias(opts: Options) -> Outcome:
    """``∂c_l/∂b = 0`` for every ``l``, hence every ``∂x̂_i/∂b = 0`` (any ``ε``)."""
    c = Chain()
    f = Feature.linear(opts.batch, opts.width, bias=True, eps=opts.eps)
    b = f.variables["b"]
    for p in range(f.m):
        if f.dc(p, b) != 0:
            return _fail(c, opts, "∂c_l/∂b = 0")
        if f.entry(p, b) != 0:
            return _fail(c, opts, f"∂x̂_{p + 1}/∂b = 0")
    c.note(Eq(Deriv(cI[l], Symbol("b", real=True)), 0), f"l = 1..{f.m}: the bias cancels in z_l − μ")
    c.note(Eq(Deriv(xhat[i], Symbol("b", real=True)), 0), f"every i = 1..{f.m}")
    return Outcome(True, c.steps, method=_method(opts, f.m, opts.width))


def goodfellow(opts: Options) -> Outcome:
    """The expansion (checked for depths 1–6) and, at this ``m``, the BN forward invariance it relies on."""
    gen = general.goodfellow(Options(eps=opts.eps))
    if gen.holds is not True:
        return gen
    fw = scale_forward(Options(batch=opts.batch, width=1))
    gen.steps = list(gen.steps) + list(fw.steps)
    gen.method = f"expansion checked for L = 1..6; BN part at concrete m = {opts.batch}, exact"
    if fw.holds is not True:
        gen.holds = None
        gen.reason = "the BN forward invariance could not be checked at this m"
    return gen
