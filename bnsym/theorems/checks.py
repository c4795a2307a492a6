"""The numeric side of the theorems: BN and its Jacobians evaluated on a draw (float64 through
``lambdify(cse=True)``, mpmath when a draw is ill-conditioned), shared by the units' own numeric checks.

Each theorem unit (:mod:`bnsym.theorems.units`) registers its check as ``Theorem.numeric``; :func:`residual`
maps a theorem name and a draw (a dict of floats/arrays, e.g. from Hypothesis) to that check's relative
residual, 0 up to rounding when the theorem holds for that draw.

>>> import numpy as np
>>> d = {"u": np.array([[0.3], [-1.2], [2.0]]), "W": np.array([0.7]), "a": 2.5, "gamma": 1.3, "beta": 0.1,
...      "g": np.array([0.5, -0.25, 1.0]), "c": 3.0, "eta": 0.1}
>>> residual("scale_invariance_input_grad", d) < 1e-12
True
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import mpmath
import numpy as np
import sympy

from ..functions import batch_normalize

__all__ = ["residual", "names", "bn_numeric", "basics", "Basics", "rel", "ILL_CONDITIONED"]

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


@dataclass(frozen=True)
class Basics:
    """What most numeric checks start from, for one draw: the batch ``u``, weights ``W``, ``ε``, ``γ``, the
    upstream gradient ``g``, BN's output ``x̂`` and Jacobians (:func:`bn_numeric`), ``z = uW``, its ``√(σ² + ε)``,
    the closed-form Jacobian ``J`` and the weight gradient ``∂ℓ/∂W = γ gᵀ ∂x̂/∂W``."""

    u: np.ndarray
    W: np.ndarray
    eps: float
    gamma: float
    g: np.ndarray
    bn: dict
    xh: np.ndarray
    z: np.ndarray
    s: float
    J: np.ndarray
    dW: np.ndarray


def basics(d: dict) -> Basics:
    """The :class:`Basics` of a draw ``d``.

    >>> b = basics({"u": np.array([[1.0], [3.0]]), "W": np.array([1.0])})
    >>> b.xh.tolist(), float(b.s)
    ([-1.0, 1.0], 1.0)
    """
    u, W = d["u"], np.asarray(d["W"], dtype=float)
    eps = d.get("eps", 0.0)
    gam, g = d.get("gamma", 1.0), np.asarray(d.get("g", np.ones(len(u))), dtype=float)
    base = bn_numeric(u, W, eps)
    z, s = _stats(d)
    return Basics(u, W, eps, gam, g, base, base["xhat"], z, s, _closed_jac(base["xhat"], s), gam * g @ base["dW"])


def rel(x, y) -> float:
    """The largest difference of ``x`` and ``y``, relative to ``max(1, |x|, |y|)``.

    >>> rel([1.0, 2.0], [1.0, 2.5])
    0.2
    """
    return _rel(x, y)


def residual(name: str, d: dict) -> float:
    """Relative residual of theorem ``name`` on the draw ``d`` (keys: u, W, a, gamma, beta, g, c, eta, eps): the
    theorem unit's own numeric check (``Theorem.numeric``, registered beside its proof).

    >>> d = {"u": np.array([[1.0, 0.5], [0.0, 2.0], [3.0, -1.0]]), "W": np.array([0.4, -0.3]), "gamma": 1.5,
    ...      "beta": 0.0, "g": np.array([1.0, -2.0, 0.5]), "a": 3.0, "c": 2.0, "eta": 0.3}
    >>> all(residual(t, d) < 1e-10 for t in names())
    True
    """
    from . import registry

    if name not in registry.names():
        raise KeyError(name)
    numeric = registry.get(name).numeric
    assert numeric is not None  # every registered unit has its numeric check
    return numeric(d)


def names() -> tuple[str, ...]:
    """The theorems with a numeric check (all of them, in catalogue order).

    >>> "bn_jacobian" in names()
    True
    """
    from . import registry

    return tuple(n for n in registry.names() if registry.get(n).numeric is not None)


def __getattr__(attr: str):
    if attr == "NAMES":  # the names of the theorems with a numeric check (every one), as a tuple
        return names()
    raise AttributeError(f"module {__name__!r} has no attribute {attr!r}")
