"""NumPy reference of batch normalization: the closed forms of docs/math.md §2 and §4, in float64.

Convention (the kit's function convention): ``x`` has shape ``(m, features)``, the statistics are taken over
axis 0, the variance is the biased one (divide by ``m``) and ``ε`` sits inside the square root:
``x̂ = (x - μ)/√(σ² + ε)``, ``y = γ x̂ + β``.

>>> import numpy as np
>>> x = np.array([[1.0], [3.0]])
>>> forward(x, np.array([2.0]), np.array([0.5]), 0.0)
array([[-1.5],
       [ 2.5]])
>>> dx, dgamma, dbeta = backward(np.array([[1.0], [0.0]]), x, np.array([2.0]), np.array([0.5]), 0.0)
>>> dx.ravel().tolist(), dgamma.tolist(), dbeta.tolist()
([0.0, 0.0], [-1.0], [1.0])
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

__all__ = [
    "Statistics",
    "statistics",
    "forward",
    "backward",
    "backward_steps",
    "running_update",
    "inference_forward",
]


class Statistics(NamedTuple):
    """Per-feature batch statistics: mean ``μ``, biased variance ``σ²``, ``s = √(σ² + ε)`` and ``x̂``."""

    mean: np.ndarray
    var: np.ndarray
    s: np.ndarray
    xhat: np.ndarray


def statistics(x: np.ndarray, eps: float) -> Statistics:
    """Batch statistics over axis 0 (two-pass, biased variance).

    >>> st = statistics(np.array([[1.0], [3.0]]), 0.0)
    >>> st.mean.tolist(), st.var.tolist(), st.s.tolist(), st.xhat.ravel().tolist()
    ([2.0], [1.0], [1.0], [-1.0, 1.0])
    """
    x = np.asarray(x, dtype=np.float64)
    mean = x.mean(axis=0)
    centred = x - mean
    var = (centred * centred).mean(axis=0)
    s = np.sqrt(var + eps)
    with np.errstate(invalid="ignore", divide="ignore"):
        xhat = np.where(s > 0, centred / np.where(s > 0, s, 1.0), 0.0)
    return Statistics(mean, var, s, xhat)


def forward(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float) -> np.ndarray:
    """Training-mode forward pass ``y = γ (x - μ)/√(σ² + ε) + β`` (Ioffe & Szegedy 2015, Alg. 1).

    >>> forward(np.array([[0.0, 5.0], [2.0, 7.0]]), np.ones(2), np.zeros(2), 0.0)
    array([[-1., -1.],
           [ 1.,  1.]])
    """
    return np.asarray(gamma, np.float64) * statistics(x, eps).xhat + np.asarray(beta, np.float64)


def backward(
    dy: np.ndarray, x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients ``(∂ℓ/∂x, ∂ℓ/∂γ, ∂ℓ/∂β)`` in the compact form of the math reference (docs/math.md §4):
    ``∂ℓ/∂x = (γ/(m s))·(m g - Σ g - x̂ Σ g x̂)``, ``∂ℓ/∂γ = Σ g x̂``, ``∂ℓ/∂β = Σ g``.

    >>> dx, dg, db = backward(np.array([[1.0], [0.0], [0.0]]), np.array([[0.0], [1.0], [2.0]]),
    ...                       np.array([1.0]), np.array([0.0]), 0.0)
    >>> np.round(dx.ravel(), 6).tolist(), np.round(dg, 6).tolist(), db.tolist()
    ([0.204124, -0.408248, 0.204124], [-1.224745], [1.0])
    """
    g = np.asarray(dy, np.float64)
    gamma = np.asarray(gamma, np.float64)
    st = statistics(x, eps)
    m = g.shape[0]
    with np.errstate(invalid="ignore", divide="ignore"):
        inv_s = np.where(st.s > 0, 1.0 / np.where(st.s > 0, st.s, 1.0), np.inf)
    dgamma = (g * st.xhat).sum(axis=0)
    dbeta = g.sum(axis=0)
    dx = (gamma * inv_s / m) * (m * g - dbeta - st.xhat * dgamma)
    return dx, dgamma, dbeta


def backward_steps(
    dy: np.ndarray, x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The same gradients step by step, as printed in Ioffe & Szegedy 2015 §3.1 (docs/math.md §4), *including* the
    second term of ``∂ℓ/∂μ``, which is identically zero: both forms are correct.

    >>> args = (np.array([[1.0], [-2.0], [0.5]]), np.array([[0.0], [1.0], [3.0]]), np.array([1.5]),
    ...         np.array([0.0]), 1e-3)
    >>> all(np.allclose(a, b) for a, b in zip(backward_steps(*args), backward(*args)))
    True
    """
    g = np.asarray(dy, np.float64)
    x = np.asarray(x, np.float64)
    gamma = np.asarray(gamma, np.float64)
    m = x.shape[0]
    st = statistics(x, eps)
    centred = x - st.mean
    dxhat = g * gamma
    dvar = (dxhat * centred).sum(axis=0) * -0.5 * (st.var + eps) ** -1.5
    dmean = (dxhat * (-1.0 / st.s)).sum(axis=0) + dvar * (-2.0 * centred).sum(axis=0) / m
    dx = dxhat / st.s + dvar * 2.0 * centred / m + dmean / m
    return dx, (g * st.xhat).sum(axis=0), g.sum(axis=0)


def running_update(
    running_mean: np.ndarray,
    running_var: np.ndarray,
    x: np.ndarray,
    momentum: float,
    *,
    convention: str = "pytorch",
    unbiased: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Running statistics after one training batch (the math reference, docs/math.md §9).

    ``convention="pytorch"``: ``new = (1 - momentum)·old + momentum·batch`` (momentum 0.1 by default there);
    ``convention="keras"``: ``new = momentum·old + (1 - momentum)·batch`` (momentum 0.99 there). The batch variance
    stored is the unbiased one when ``unbiased`` (PyTorch), the biased one otherwise (Keras).

    >>> running_update(np.zeros(1), np.ones(1), np.array([[1.0], [3.0]]), 0.1)
    (array([0.2]), array([1.1]))
    >>> running_update(np.zeros(1), np.ones(1), np.array([[1.0], [3.0]]), 0.9, convention="keras", unbiased=False)
    (array([0.2]), array([1.]))
    """
    x = np.asarray(x, np.float64)
    m = x.shape[0]
    st = statistics(x, 0.0)
    batch_var = st.var * m / (m - 1) if unbiased else st.var
    new_weight = momentum if convention == "pytorch" else 1.0 - momentum
    old_weight = 1.0 - new_weight
    return (
        old_weight * np.asarray(running_mean, np.float64) + new_weight * st.mean,
        old_weight * np.asarray(running_var, np.float64) + new_weight * batch_var,
    )


def inference_forward(
    x: np.ndarray,
    running_mean: np.ndarray,
    running_var: np.ndarray,
    gamma: np.ndarray,
    beta: np.ndarray,
    eps: float,
) -> np.ndarray:
    """Inference-mode forward pass: a fixed affine map ``γ (x - running_mean)/√(running_var + ε) + β``.

    >>> inference_forward(np.array([[1.0], [3.0]]), np.array([1.0]), np.array([4.0]), np.ones(1), np.zeros(1), 0.0)
    array([[0.],
           [1.]])
    """
    x = np.asarray(x, np.float64)
    return np.asarray(gamma, np.float64) * (x - running_mean) / np.sqrt(
        np.asarray(running_var, np.float64) + eps
    ) + np.asarray(beta, np.float64)
