"""The numeric side of the normalization family: LayerNorm, RMSNorm, weight normalization and eval-mode BN in
NumPy, and derivatives by the complex step (``f'(x) = Im f(x + ih)/h``, exact to rounding for analytic ``f``).

A draw (keys as for :mod:`bnsym.theorems.checks`) gives the features of one sample as ``z = u W`` (``m`` values);
the weights feeding LayerNorm are the matrix ``u`` (one row per feature) applied to the input ``W``.

>>> import numpy as np
>>> [round(float(x), 12) for x in layer_norm(np.array([1.0, 3.0]))]
[-1.0, 1.0]
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .checks import rel

__all__ = ["layer_norm", "rms_norm", "group_norm", "weight_norm", "eval_norm", "jacobian", "features",
           "weight_grad", "ln_weight_grad", "rel"]

_H = 1e-30


def layer_norm(z: np.ndarray, eps: float = 0.0) -> np.ndarray:
    """``(z − mean z)/√(var z + ε)`` over the entries of ``z`` (biased variance; complex entries allowed).

    >>> layer_norm(np.array([0.0, 2.0])).tolist()
    [-1.0, 1.0]
    """
    c = z - z.mean()
    return c / np.sqrt((c * c).mean() + eps)


def rms_norm(z: np.ndarray, eps: float = 0.0) -> np.ndarray:
    """``z/√(mean z² + ε)``.

    >>> rms_norm(np.array([3.0, 4.0, 0.0, 0.0]) * 2).tolist() == rms_norm(np.array([3.0, 4.0, 0.0, 0.0])).tolist()
    True
    """
    return z / np.sqrt((z * z).mean() + eps)


def group_norm(z: np.ndarray, groups: int, eps: float = 0.0) -> np.ndarray:
    """:func:`layer_norm` of each of ``groups`` equal consecutive slices of ``z`` (GroupNorm of one sample).

    >>> group_norm(np.array([0.0, 2.0, 5.0, 9.0]), 2).tolist()
    [-1.0, 1.0, -1.0, 1.0]
    """
    if len(z) % groups:
        raise ValueError(f"{len(z)} channels do not split into {groups} equal groups")
    return np.concatenate([layer_norm(part, eps) for part in np.split(z, groups)])


def weight_norm(vec: np.ndarray, gain: float = 1.0) -> np.ndarray:
    """``g v/‖v‖``.

    >>> weight_norm(np.array([3.0, 4.0])).tolist()
    [0.6, 0.8]
    """
    return gain * vec / np.sqrt((vec * vec).sum())


def eval_norm(z: np.ndarray, mu_run: float, var_run: float, eps: float = 0.0, gamma: float = 1.0,
              beta: float = 0.0) -> np.ndarray:
    """``γ (z − μ_run)/√(v_run + ε) + β`` (eval-mode BN with running statistics).

    >>> eval_norm(np.array([1.0, 3.0]), 1.0, 4.0).tolist()
    [0.0, 1.0]
    """
    return gamma * (z - mu_run) / np.sqrt(var_run + eps) + beta


def jacobian(f: Callable, x: np.ndarray) -> np.ndarray:
    """``∂f_r/∂x_s`` by the complex step.

    >>> jacobian(lambda x: x**2, np.array([1.0, 2.0])).tolist()
    [[2.0, 0.0], [0.0, 4.0]]
    """
    x = np.asarray(x, dtype=float)
    cols = []
    for k in range(x.size):
        e = np.zeros(x.size, dtype=complex)
        e[k] = 1j * _H
        cols.append(np.imag(f((x.ravel() + e).reshape(x.shape))).ravel() / _H)
    return np.array(cols).T


def features(d: dict) -> np.ndarray:
    """The features ``z = u W`` of a draw.

    >>> features({"u": np.array([[1.0], [2.0]]), "W": np.array([3.0])}).tolist()
    [3.0, 6.0]
    """
    return np.asarray(d["u"], dtype=float) @ np.asarray(d["W"], dtype=float)


def weight_grad(norm: Callable, M: np.ndarray, x: np.ndarray, g: np.ndarray) -> np.ndarray:
    """``∂ℓ/∂M`` for ``ℓ = Σ_i g_i norm(M x)_i`` (weights ``M`` feeding the normalization ``norm``), by the
    complex step.

    >>> M = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    >>> G = weight_grad(rms_norm, M, np.array([1.0, 2.0]), np.array([1.0, 0.0, -1.0]))
    >>> G.shape, abs(float((M * G).sum())) < 1e-12
    ((3, 2), True)
    """
    row = jacobian(lambda flat: g @ norm(flat.reshape(M.shape) @ x), M.ravel())
    return row.reshape(M.shape)


def ln_weight_grad(M: np.ndarray, x: np.ndarray, g: np.ndarray, eps: float = 0.0) -> np.ndarray:
    """:func:`weight_grad` for LayerNorm with ``ε``.

    >>> M = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    >>> G = ln_weight_grad(M, np.array([1.0, 2.0]), np.array([1.0, 0.0, -1.0]))
    >>> G.shape, abs(float((M * G).sum())) < 1e-12
    ((3, 2), True)
    """
    return weight_grad(lambda zz: layer_norm(zz, eps), M, x, g)
