"""NumPy closed forms of every normalization kind on a :class:`~bnsym.testing.kinds.Spec`, in float64.

Independent of the engine on purpose (an oracle sharing no code with bnsym's layers). Over each group of ``n``
elements: ``μ`` the mean (0 for ``rms``), ``σ²`` the biased mean square of ``x - μ``, ``s = √(σ² + ε)``,
``x̂ = (x - μ)/s``, ``y = γ x̂ + β``; with ``g' = γ g``:
``∂ℓ/∂x = (g' - mean(g') - x̂·mean(g' x̂))/s`` (``rms``: without ``mean(g')``), ``∂ℓ/∂γ = Σ g x̂``,
``∂ℓ/∂β = Σ g`` over the axes ``γ`` does not span. Eval mode (``batch``): ``y = γ (x - r_μ)/√(r_σ² + ε) + β``.

>>> from bnsym.testing.kinds import Spec
>>> spec = Spec("layer", (2, 2), params=(1,))
>>> forward(spec, np.array([[0.0, 2.0], [1.0, 5.0]]), np.ones(2), np.zeros(2), 0.0).tolist()
[[-1.0, 1.0], [-1.0, 1.0]]
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .kinds import Spec

__all__ = ["Stats", "statistics", "forward", "backward", "eval_forward", "eval_backward", "running_update"]


class Stats(NamedTuple):
    """``mean``, ``var`` (mean square for ``rms``), ``s`` (in the grouped view, reduced axes kept) and ``xhat``."""

    mean: np.ndarray
    var: np.ndarray
    s: np.ndarray
    xhat: np.ndarray


def statistics(spec: Spec, x: np.ndarray, eps: float) -> Stats:
    """The per-group statistics of ``x``.

    >>> from bnsym.testing.kinds import Spec
    >>> statistics(Spec("rms", (1, 2)), np.array([[3.0, 4.0]]), 0.0).s.ravel().tolist()
    [3.5355339059327378]
    """
    v = np.asarray(x, np.float64).reshape(spec.view_shape)
    mean = v.mean(axis=spec.reduce, keepdims=True) if spec.centred else np.zeros([1] * v.ndim)
    c = v - mean
    var = (c * c).mean(axis=spec.reduce, keepdims=True)
    s = np.sqrt(var + eps)
    with np.errstate(invalid="ignore", divide="ignore"):
        xhat = np.where(s > 0, c / np.where(s > 0, s, 1.0), 0.0)
    return Stats(mean, var, s, xhat.reshape(spec.shape))


def _affine(spec: Spec, gamma, beta):
    g = 1.0 if gamma is None else spec.broadcast(gamma)
    b = 0.0 if beta is None else spec.broadcast(beta)
    return g, b


def forward(spec: Spec, x, gamma, beta, eps: float) -> np.ndarray:
    """``y = γ x̂ + β`` (training mode: the statistics of this batch).

    >>> from bnsym.testing.kinds import Spec
    >>> forward(Spec("batch", (2, 1)), np.array([[1.0], [3.0]]), np.array([2.0]), np.array([0.5]), 0.0).ravel()
    array([-1.5,  2.5])
    """
    g, b = _affine(spec, gamma, beta)
    return g * statistics(spec, x, eps).xhat + b


def backward(spec: Spec, dy, x, gamma, beta, eps: float) -> tuple:
    """``(∂ℓ/∂x, ∂ℓ/∂γ, ∂ℓ/∂β)``; ``None`` for a parameter the normalization does not have.

    >>> from bnsym.testing.kinds import Spec
    >>> dx, dg, db = backward(Spec("batch", (2, 1)), np.array([[1.0], [0.0]]), np.array([[1.0], [3.0]]),
    ...                       np.array([2.0]), np.array([0.5]), 0.0)
    >>> dx.ravel().tolist(), dg.tolist(), db.tolist()
    ([0.0, 0.0], [-1.0], [1.0])
    """
    dy = np.asarray(dy, np.float64)
    st = statistics(spec, x, eps)
    g, _ = _affine(spec, gamma, beta)
    gp = (dy * g).reshape(spec.view_shape)
    xh = st.xhat.reshape(spec.view_shape)
    inner = gp - xh * (gp * xh).mean(axis=spec.reduce, keepdims=True)
    if spec.centred:
        inner = inner - gp.mean(axis=spec.reduce, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        dx = (inner / st.s).reshape(spec.shape)
    dgamma = None if gamma is None else spec.over_non_params(dy * st.xhat)
    dbeta = None if beta is None else spec.over_non_params(dy)
    return dx, dgamma, dbeta


def eval_forward(spec: Spec, x, gamma, beta, running_mean, running_var, eps: float) -> np.ndarray:
    """Eval mode of ``batch``: the fixed affine map of the running statistics.

    >>> from bnsym.testing.kinds import Spec
    >>> eval_forward(Spec("batch", (2, 1)), np.array([[1.0], [3.0]]), None, None, np.array([1.0]),
    ...              np.array([4.0]), 0.0).ravel().tolist()
    [0.0, 1.0]
    """
    g, b = _affine(spec, gamma, beta)
    return g * (np.asarray(x, np.float64) - spec.channel(running_mean)) / np.sqrt(spec.channel(running_var) + eps) + b


def eval_backward(spec: Spec, dy, x, gamma, beta, running_mean, running_var, eps: float) -> tuple:
    """Gradients of eval mode: ``∂ℓ/∂x = γ g/√(r_σ² + ε)`` (no statistics path), ``∂ℓ/∂γ = Σ g (x - r_μ)/√(r_σ² + ε)``,
    ``∂ℓ/∂β = Σ g``.

    >>> from bnsym.testing.kinds import Spec
    >>> eval_backward(Spec("batch", (2, 1)), np.ones((2, 1)), np.array([[1.0], [3.0]]), np.array([2.0]),
    ...               np.array([0.0]), np.array([1.0]), np.array([4.0]), 0.0)[0].ravel().tolist()
    [1.0, 1.0]
    """
    dy = np.asarray(dy, np.float64)
    g, _ = _affine(spec, gamma, beta)
    scale = np.sqrt(spec.channel(running_var) + eps)
    xhat = (np.asarray(x, np.float64) - spec.channel(running_mean)) / scale
    dgamma = None if gamma is None else spec.over_non_params(dy * xhat)
    dbeta = None if beta is None else spec.over_non_params(dy)
    return dy * g / scale, dgamma, dbeta


def running_update(spec: Spec, running_mean, running_var, x, momentum: float | None, batches_seen: int = 0) -> tuple:
    """Running statistics after one training batch, PyTorch's convention: ``new = (1 - m)·old + m·batch`` with
    the unbiased batch variance over the ``n`` elements of a channel; ``momentum=None`` is the cumulative
    average (``m = 1/(batches_seen + 1)``).

    >>> from bnsym.testing.kinds import Spec
    >>> running_update(Spec("batch", (2, 1)), np.zeros(1), np.ones(1), np.array([[1.0], [3.0]]), 0.1)
    (array([0.2]), array([1.1]))
    """
    st = statistics(spec, x, 0.0)
    n = spec.group_size
    w = 1.0 / (batches_seen + 1) if momentum is None else momentum
    mean, var = st.mean.reshape(-1), st.var.reshape(-1) * n / (n - 1)
    return ((1 - w) * np.asarray(running_mean, np.float64) + w * mean,
            (1 - w) * np.asarray(running_var, np.float64) + w * var)
