"""Numeric checks (float64 through ``lambdify(cse=True)``, mpmath when a draw is ill-conditioned) and the numeric
counterexamples attached to failed proofs.

:func:`residual` maps a theorem name and a draw (a dict of floats/arrays, e.g. from Hypothesis) to a relative
residual that is 0 up to rounding when the theorem holds for that draw.

>>> import numpy as np
>>> d = {"u": np.array([[0.3], [-1.2], [2.0]]), "W": np.array([0.7]), "a": 2.5, "gamma": 1.3, "beta": 0.1,
...      "g": np.array([0.5, -0.25, 1.0]), "c": 3.0, "eta": 0.1}
>>> residual("scale_invariance_input_grad", d) < 1e-12
True
"""
from __future__ import annotations

from functools import cache
from itertools import combinations

import mpmath
import numpy as np
import sympy

from ..functions import batch_normalize

__all__ = ["residual", "bn_numeric", "NAMES", "ILL_CONDITIONED"]

EPS = sympy.Symbol("epsilon", nonnegative=True)
ILL_CONDITIONED = 1e-6  # σ / max|z - mean| below this: recompute with mpmath


@cache
def _compiled(m: int, n: int, bias: bool, modules: str):
    """``x̂``, ``∂x̂/∂u``, ``∂x̂/∂W``, ``∂x̂/∂b`` of a concrete batch, by :func:`sympy.diff`, lambdified."""
    U = [[sympy.Symbol(f"u_{p}_{q}", real=True) for q in range(1, n + 1)] for p in range(1, m + 1)]
    W = list(sympy.symbols(f"W_1:{n + 1}", real=True))
    b = sympy.Symbol("b", real=True)
    u = [x for row in U for x in row]
    z = [sympy.Add(*[W[q] * U[p][q] for q in range(n)]) + (b if bias else 0) for p in range(m)]
    xh = sympy.Matrix(batch_normalize(z, EPS))
    outs = [xh, xh.jacobian(u), xh.jacobian(W)]
    outs.append(sympy.Matrix([[sympy.diff(x, W[r], W[q]) for q in range(n) for r in range(n)] for x in xh]))
    if bias:
        outs.append(xh.jacobian([b]))
    args = [u, W, b, EPS]
    return sympy.lambdify(args, outs, modules=modules, cse=True)


def bn_numeric(u: np.ndarray, W: np.ndarray, eps: float = 0.0, b: float | None = None) -> dict:
    """Evaluate ``x̂`` and its Jacobians for a batch ``u`` (m×n) and weights ``W`` (n), float64 or mpmath.

    >>> r = bn_numeric(np.array([[1.0], [3.0]]), np.array([1.0]))
    >>> [round(float(v), 12) for v in r["xhat"]]
    [-1.0, 1.0]
    """
    u = np.asarray(u, dtype=float)
    m, n = u.shape
    zc = u @ np.asarray(W, dtype=float)
    spread = np.max(np.abs(zc - zc.mean())) if m else 0.0
    ill = spread == 0 or zc.std() / max(spread, 1e-300) < ILL_CONDITIONED or zc.std() < 1e-150
    bias = b is not None
    args = (list(u.ravel()), list(W), 0.0 if b is None else b, eps)
    if ill:
        with mpmath.workdps(60):
            fn = _compiled(m, n, bias, "mpmath")
            vals = fn(*[[mpmath.mpf(float(x)) for x in a] if isinstance(a, list) else mpmath.mpf(float(a))
                        for a in args])
            vals = [np.array(sympy.Matrix(v).evalf(30).tolist(), dtype=float) if not isinstance(v, np.ndarray)
                    else v.astype(float) for v in vals]
    else:
        fn = _compiled(m, n, bias, "numpy")
        vals = [np.asarray(v, dtype=float) for v in fn(*args)]
    out = {"xhat": vals[0].ravel(), "du": vals[1].reshape(m, m, n), "dW": vals[2].reshape(m, n),
           "dWW": vals[3].reshape(m, n, n)}
    if bias:
        out["db"] = vals[4].ravel()
    return out


def _rel(x, y) -> float:
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    scale = max(1.0, float(np.max(np.abs(x), initial=0.0)), float(np.max(np.abs(y), initial=0.0)))
    return float(np.max(np.abs(x - y), initial=0.0)) / scale


def _closed_jac(xh: np.ndarray, s: float) -> np.ndarray:
    mm = len(xh)
    return (np.eye(mm) - 1.0 / mm - np.outer(xh, xh) / mm) / s


def _stats(d):
    z = d["u"] @ d["W"]
    s = np.sqrt(z.var() + d.get("eps", 0.0))
    return z, s


def residual(name: str, d: dict) -> float:
    """Relative residual of theorem ``name`` on the draw ``d`` (keys: u, W, a, gamma, beta, g, c, eta, eps).

    >>> d = {"u": np.array([[1.0, 0.5], [0.0, 2.0], [3.0, -1.0]]), "W": np.array([0.4, -0.3]), "gamma": 1.5,
    ...      "beta": 0.0, "g": np.array([1.0, -2.0, 0.5]), "a": 3.0, "c": 2.0, "eta": 0.3}
    >>> all(residual(t, d) < 1e-10 for t in NAMES)
    True
    """
    u, W = d["u"], np.asarray(d["W"], dtype=float)
    eps = d.get("eps", 0.0)
    gam, g = d.get("gamma", 1.0), np.asarray(d.get("g", np.ones(len(u))), dtype=float)
    base = bn_numeric(u, W, eps)
    xh = base["xhat"]
    z, s = _stats(d)
    J = _closed_jac(xh, s)
    if name == "scale_invariance_forward":
        return _rel(bn_numeric(u, d["a"] * W, eps)["xhat"], xh)
    if name == "scale_invariance_input_grad":
        return _rel(bn_numeric(u, d["a"] * W, eps)["du"], base["du"])
    if name == "scale_invariance_weight_grad":
        return _rel(bn_numeric(u, d["a"] * W, eps)["dW"], base["dW"] / d["a"])
    if name == "bn_jacobian":  # du[i, k, r] = J_ik W_r
        return _rel(base["du"], J[:, :, None] * W[None, None, :])
    if name == "bn_jacobian_null_space":
        return _rel(np.concatenate([J @ np.ones(len(xh)), J @ xh]) * s, 0.0)
    if name in ("backward_formulas", "backward_compact"):
        true = gam * np.einsum("i,ikr->kr", g, base["du"]) / W[None, :]  # ∂ℓ/∂z_k from ∂ℓ/∂u_kr = ∂ℓ/∂z_k W_r
        mm = len(xh)
        if name == "backward_compact":
            mine = gam / (mm * s) * (mm * g - g.sum() - xh * (g @ xh))
        else:
            dxh = g * gam
            dvar = np.sum(dxh * (z - z.mean())) * -0.5 * (z.var() + eps) ** -1.5
            dmu = np.sum(dxh * -1 / s) + dvar * np.mean(-2 * (z - z.mean()))
            mine = dxh / s + dvar * 2 * (z - z.mean()) / mm + dmu / mm
        return _rel(np.broadcast_to(mine[:, None], true.shape), true)
    if name in ("gradient_norm_identity", "gradient_norm_bound"):
        v = gam * J.T @ g
        mm = len(xh)
        exact = gam**2 / s**2 * (g @ g - g.sum() ** 2 / mm - (g @ xh) ** 2 / mm)
        if name == "gradient_norm_identity":
            return _rel(v @ v, exact)
        return max(0.0, (v @ v - gam**2 / s**2 * (g @ g)) / max(1.0, v @ v))
    dW = gam * g @ base["dW"]  # ∂ℓ/∂W for ℓ with upstream gradient g
    if name == "weight_orthogonality":
        return abs(W @ dW) / max(1.0, float(np.linalg.norm(W) * np.linalg.norm(dW)))
    if name == "weight_norm_growth":
        eta = d["eta"]
        return _rel((W - eta * dW) @ (W - eta * dW), W @ W + eta**2 * dW @ dW)
    if name == "gradient_scaling":
        cW = bn_numeric(u, d["c"] * W, eps)  # same upstream g: the forward pass is unchanged
        return _rel(gam * g @ cW["dW"], dW / d["c"])
    if name == "hessian_block_scaling":
        return _rel(bn_numeric(u, d["c"] * W, eps)["dWW"], base["dWW"] / d["c"] ** 2)
    if name == "hessian_times_weight":
        return _rel(np.einsum("irs,s->ir", base["dWW"], W), -base["dW"])
    if name == "block_critical_rate":  # the W block of ℓ = Σ_i γ g_i x̂_i (downstream linear) at cW and at W
        H = gam * np.einsum("i,irs->rs", g, base["dWW"])
        Hc = gam * np.einsum("i,irs->rs", g, bn_numeric(u, d["c"] * W, eps)["dWW"])
        lam, lam_c = np.linalg.eigvalsh((H + H.T) / 2), np.linalg.eigvalsh((Hc + Hc.T) / 2)
        return _rel(lam_c, lam / d["c"] ** 2)
    if name == "goodfellow_bn":  # ŷ = w_L(γ x̂(P z) + β) does not depend on P ≠ 0 beyond its sign
        P = float(d.get("c", 2.0))
        return max(_rel(bn_numeric(u, P * W, 0.0)["xhat"], xh), _rel(bn_numeric(u, -P * W, 0.0)["xhat"], -xh))
    if name == "bias_gradient_zero":
        return _rel(bn_numeric(u, W, eps, b=d.get("b", 0.7))["db"], 0.0)
    if name == "goodfellow_expansion":
        ws = np.asarray(d.get("w", np.array([1.1, -0.8, 1.3, 0.9])), dtype=float)
        x, eta = float(d.get("x", 0.6)), d["eta"]
        L = len(ws)
        grads = np.array([x * np.prod(np.delete(ws, p)) for p in range(L)])
        new = x * np.prod(ws - eta * grads)
        series = sum((-eta) ** len(S_) * x * np.prod(grads[list(S_)]) * np.prod(np.delete(ws, list(S_)))
                     for o in range(L + 1) for S_ in combinations(range(L), o))
        # with BN on h = x w_1⋯w_{L−1} over the batch, ŷ changes exactly linearly in η
        P = np.prod(ws[:-1])
        h = bn_numeric(u, W * P, 0.0)["xhat"]
        gL = h  # ∂ŷ_i/∂w_L
        y_new = (ws[-1] - eta * gL[0]) * h[0]
        return max(_rel(new, series), _rel(y_new - ws[-1] * h[0], -eta * gL[0] * h[0]))
    raise KeyError(name)


NAMES = ("scale_invariance_forward", "scale_invariance_input_grad", "scale_invariance_weight_grad", "bn_jacobian",
         "bn_jacobian_null_space", "backward_formulas", "backward_compact", "gradient_norm_identity",
         "gradient_norm_bound", "weight_orthogonality", "weight_norm_growth", "gradient_scaling",
         "hessian_block_scaling", "hessian_times_weight", "block_critical_rate", "bias_gradient_zero",
         "goodfellow_expansion", "goodfellow_bn")
