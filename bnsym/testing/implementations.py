"""``bn_implementations``: the reference batch norm and the known mistakes, as NumPy implementations.

Each entry follows the kit's function convention (``forward(x, gamma, beta, eps) -> y``,
``backward(dy, x, gamma, beta, eps) -> (dx, dgamma, dbeta)``, ``update_running(running_mean, running_var, x,
momentum) -> (mean, var)``) so it can be passed straight to :func:`bnsym.testing.check_batchnorm`. The kit uses
the mistakes to name the *likely cause* of a failure: when your output matches a mistake's output, the failure
message quotes that entry's ``cause``.

>>> sorted(name for name, impl in bn_implementations.items() if impl.correct)
['reference', 'reference_steps']
>>> print(bn_implementations["eps_outside_sqrt"].cause)
ε added outside the square root: x̂ = (x - μ)/(σ + ε) instead of (x - μ)/√(σ² + ε)
"""
from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from collections.abc import Callable, Mapping

import numpy as np

from . import reference as ref

__all__ = ["BNImplementation", "bn_implementations"]


@dataclass(frozen=True)
class BNImplementation:
    """One NumPy batch-norm implementation: correct (``cause`` is empty) or a known mistake.

    >>> impl = bn_implementations["reference"]
    >>> impl.forward(np.array([[1.0], [3.0]]), np.ones(1), np.zeros(1), 0.0).ravel().tolist()
    [-1.0, 1.0]
    """

    name: str
    cause: str
    forward: Callable[..., np.ndarray]
    backward: Callable[..., tuple]
    update_running: Callable[..., tuple] | None = None

    @property
    def correct(self) -> bool:
        """True for the correct implementations (no cause)."""
        return not self.cause


def _pytorch_running(running_mean, running_var, x, momentum):
    return ref.running_update(running_mean, running_var, x, momentum)


def _keras_running(running_mean, running_var, x, momentum):
    return ref.running_update(running_mean, running_var, x, momentum, convention="keras")


def _biased_running(running_mean, running_var, x, momentum):
    return ref.running_update(running_mean, running_var, x, momentum, unbiased=False)


def _unbiased_parts(x, eps):
    x = np.asarray(x, np.float64)
    m = x.shape[0]
    centred = x - x.mean(axis=0)
    s = np.sqrt((centred**2).sum(axis=0) / (m - 1) + eps)
    return centred / s, s, m


def _unbiased_forward(x, gamma, beta, eps):
    return gamma * _unbiased_parts(x, eps)[0] + beta


def _unbiased_backward(dy, x, gamma, beta, eps):
    xhat, s, m = _unbiased_parts(x, eps)
    g = np.asarray(dy, np.float64)
    dx = gamma / s * (g - g.mean(axis=0) - xhat * (g * xhat).sum(axis=0) / (m - 1))
    return dx, (g * xhat).sum(axis=0), g.sum(axis=0)


def _outside_parts(x, eps):
    x = np.asarray(x, np.float64)
    centred = x - x.mean(axis=0)
    sigma = np.sqrt((centred**2).mean(axis=0))
    return centred / (sigma + eps), sigma, x.shape[0]


def _eps_outside_forward(x, gamma, beta, eps):
    return gamma * _outside_parts(x, eps)[0] + beta


def _eps_outside_backward(dy, x, gamma, beta, eps):
    xhat, sigma, m = _outside_parts(x, eps)
    g = np.asarray(dy, np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        last = np.where(sigma > 0, xhat * (g * xhat).sum(axis=0) / (m * np.where(sigma > 0, sigma, 1.0)), 0.0)
    dx = gamma * ((g - g.mean(axis=0)) / (sigma + eps) - last)
    return dx, (g * xhat).sum(axis=0), g.sum(axis=0)


def _eps_ignored_forward(x, gamma, beta, eps):
    return ref.forward(x, gamma, beta, 0.0)


def _eps_ignored_backward(dy, x, gamma, beta, eps):
    return ref.backward(dy, x, gamma, beta, 0.0)


def _wrong_axis_forward(x, gamma, beta, eps):
    return ref.forward(np.asarray(x, np.float64).T, 1.0, 0.0, eps).T * gamma + beta


def _projected(dy, x, gamma, eps, *, mean_term=True, xhat_term=True, with_gamma=True):
    g = np.asarray(dy, np.float64)
    st = ref.statistics(x, eps)
    m = g.shape[0]
    inner = g.copy()
    if mean_term:
        inner -= g.mean(axis=0)
    if xhat_term:
        inner -= st.xhat * (g * st.xhat).sum(axis=0) / m
    return (gamma if with_gamma else 1.0) * inner / st.s, (g * st.xhat).sum(axis=0), g.sum(axis=0)


def _no_mean_term_backward(dy, x, gamma, beta, eps):
    return _projected(dy, x, gamma, eps, mean_term=False)


def _no_xhat_term_backward(dy, x, gamma, beta, eps):
    return _projected(dy, x, gamma, eps, xhat_term=False)


def _no_gamma_backward(dy, x, gamma, beta, eps):
    return _projected(dy, x, gamma, eps, with_gamma=False)


def _dgamma_wrong_axis_backward(dy, x, gamma, beta, eps):
    dx, _, dbeta = ref.backward(dy, x, gamma, beta, eps)
    return dx, (np.asarray(dy, np.float64) * ref.statistics(x, eps).xhat).sum(axis=1), dbeta


def _dbeta_wrong_axis_backward(dy, x, gamma, beta, eps):
    dx, dgamma, _ = ref.backward(dy, x, gamma, beta, eps)
    return dx, dgamma, np.asarray(dy, np.float64).sum(axis=1)


_ENTRIES = [
    BNImplementation("reference", "", ref.forward, ref.backward, _pytorch_running),
    BNImplementation("reference_steps", "", ref.forward, ref.backward_steps, _pytorch_running),
    BNImplementation(
        "unbiased_variance",
        "unbiased variance (divide by m - 1) used to normalize; training mode normalizes with the biased "
        "variance (divide by m), only the running variance is unbiased",
        _unbiased_forward,
        _unbiased_backward,
        _pytorch_running,
    ),
    BNImplementation(
        "eps_outside_sqrt",
        "ε added outside the square root: x̂ = (x - μ)/(σ + ε) instead of (x - μ)/√(σ² + ε)",
        _eps_outside_forward,
        _eps_outside_backward,
        _pytorch_running,
    ),
    BNImplementation(
        "eps_ignored",
        "ε ignored: x̂ = (x - μ)/σ instead of (x - μ)/√(σ² + ε)",
        _eps_ignored_forward,
        _eps_ignored_backward,
        _pytorch_running,
    ),
    BNImplementation(
        "statistics_wrong_axis",
        "statistics taken over the wrong axis (axis 1, the features, instead of axis 0, the batch)",
        _wrong_axis_forward,
        ref.backward,
        _pytorch_running,
    ),
    BNImplementation(
        "backward_no_mean_term",
        "the mean term was dropped from ∂ℓ/∂x: missing -(γ/s)·(1/m)Σ g, the path through μ",
        ref.forward,
        _no_mean_term_backward,
        _pytorch_running,
    ),
    BNImplementation(
        "backward_no_xhat_term",
        "the x̂·Σ(g x̂) term was dropped from ∂ℓ/∂x: missing -(γ/s)·x̂·(1/m)Σ g x̂, the path through σ²",
        ref.forward,
        _no_xhat_term_backward,
        _pytorch_running,
    ),
    BNImplementation(
        "backward_missing_gamma",
        "γ missing from ∂ℓ/∂x (∂ℓ/∂x̂ = g γ, not g)",
        ref.forward,
        _no_gamma_backward,
        _pytorch_running,
    ),
    BNImplementation(
        "dgamma_wrong_axis",
        "γ gradient summed over the wrong axis (axis 1, the features, instead of axis 0, the batch)",
        ref.forward,
        _dgamma_wrong_axis_backward,
        _pytorch_running,
    ),
    BNImplementation(
        "dbeta_wrong_axis",
        "β gradient summed over the wrong axis (axis 1, the features, instead of axis 0, the batch)",
        ref.forward,
        _dbeta_wrong_axis_backward,
        _pytorch_running,
    ),
    BNImplementation(
        "keras_momentum",
        "running statistics updated with the other momentum convention: new = momentum·old + "
        "(1 - momentum)·batch (Keras) where new = (1 - momentum)·old + momentum·batch (PyTorch) was expected",
        ref.forward,
        ref.backward,
        _keras_running,
    ),
    BNImplementation(
        "running_var_biased",
        "running variance updated with the biased batch variance (divide by m) where the unbiased one "
        "(divide by m - 1, PyTorch) was expected",
        ref.forward,
        ref.backward,
        _biased_running,
    ),
]

bn_implementations: Mapping[str, BNImplementation] = MappingProxyType({e.name: e for e in _ENTRIES})
