"""Tolerances derived from the dtype and the batch's conditioning (overridable).

For a batch ``x`` of shape ``(m, features)`` run in a dtype with unit roundoff ``u`` (``numpy.finfo(dtype).eps``),
each feature ``j`` has the conditioning ``κ_j = max(1, max_i |x_ij| / s_j)`` with ``s_j = √(σ_j² + ε)``: ``κ`` is
about 1 for a centred batch and grows for nearly constant batches far from 0, where ``x - μ`` cancels. With
``c = factor·m`` (summations over the batch lose up to ``m·u``) a value ``actual`` passes when, elementwise,
``|actual - expected| ≤ atol + rtol·|expected|`` with ``rtol = c·u`` and ``atol = c·u·scale + tiny`` (``tiny`` the
smallest normal number of the dtype, for results that underflow), where ``scale`` is the size of the terms the
quantity is computed from:

=================  =========================================
quantity           scale
=================  =========================================
``y``              ``κ·|γ| + |β|``
``∂ℓ/∂x``          ``κ·|γ|·max_i|g_i| / s`` (an absolute floor: at ``m = 2`` the true value is ``O(ε/σ²)``)
``∂ℓ/∂γ``          ``κ·Σ_i |g_i|``
``∂ℓ/∂β``          ``Σ_i |g_i|``
running mean/var   ``|old| + max|x|`` and ``|old| + max|x|²``
=================  =========================================

Sums of ``∂ℓ/∂x`` (the null-space property) get ``m`` times the ``∂ℓ/∂x`` bound. ``Tolerance(rtol=..., atol=...)``
replaces the derived values by fixed ones; ``Tolerance(factor=...)`` scales them.

>>> import numpy as np
>>> tol = Tolerance()
>>> bound = tol.bound(np.float64, m=4, scale=np.array([1.0]))
>>> bool(bound.rtol == 16 * 4 * np.finfo(np.float64).eps)
True
>>> bool(bound.holds(np.array([1.0 + 1e-15]), np.array([1.0])).all())
True
>>> bool(bound.holds(np.array([1.0 + 1e-9]), np.array([1.0])).all())
False
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from .arguments import check_real

__all__ = ["Tolerance", "Bound", "conditioning"]


class Bound(NamedTuple):
    """An elementwise bound ``|actual - expected| ≤ atol + rtol·|expected|``."""

    atol: np.ndarray
    rtol: float

    def allowed(self, expected: np.ndarray) -> np.ndarray:
        """The allowed error for each element of ``expected``.

        >>> Bound(np.array(1.0), 0.5).allowed(np.array([2.0, -4.0])).tolist()
        [2.0, 3.0]
        """
        return self.atol + self.rtol * np.abs(expected)

    def holds(self, actual: np.ndarray, expected: np.ndarray) -> np.ndarray:
        """Elementwise: does ``actual`` match ``expected``? (Equal values match, infinities and NaN included.)

        >>> Bound(np.array(0.1), 0.0).holds(np.array([1.05, np.nan, np.inf]), np.array([1.0, 1.0, np.inf])).tolist()
        [True, False, True]
        """
        actual = np.asarray(actual, np.float64)
        with np.errstate(invalid="ignore"):
            same = (actual == expected) | (np.isnan(actual) & np.isnan(expected))
            return same | (np.abs(actual - expected) <= self.allowed(expected))

    def scaled(self, k: float) -> Bound:
        """The same bound ``k`` times wider.

        >>> Bound(np.array(1.0), 0.5).scaled(2).rtol
        1.0
        """
        return Bound(self.atol * k, self.rtol * k)


def conditioning(x: np.ndarray, eps: float) -> np.ndarray:
    """Per-feature conditioning ``κ = max(1, max_i |x_i| / √(σ² + ε))`` of a batch.

    >>> conditioning(np.array([[-1.0, 1000.0], [1.0, 1000.001]]), 0.0).round(0).tolist()
    [1.0, 2000002.0]
    """
    x = np.asarray(x, np.float64)
    s = np.sqrt(x.var(axis=0) + eps)
    with np.errstate(divide="ignore", invalid="ignore"):
        kappa = np.where(s > 0, np.abs(x).max(axis=0) / np.where(s > 0, s, 1.0), np.inf)
    return np.maximum(1.0, kappa)


@dataclass(frozen=True)
class Tolerance:
    """How closely an implementation must match: derived (``factor``) or fixed (``rtol``/``atol``).

    >>> Tolerance(rtol=1e-6, atol=1e-9).bound(np.float32, m=8, scale=np.ones(2))
    Bound(atol=array(1.e-09), rtol=1e-06)
    >>> Tolerance(rtol="1e-3")
    Traceback (most recent call last):
    ...
    bnsym.errors.KitUsageError: Tolerance(rtol=...) must be a real number, got '1e-3' (str)
    """

    factor: float = 16.0
    rtol: float | None = None
    atol: float | None = None

    def __post_init__(self) -> None:
        for name in ("factor", "rtol", "atol"):
            value = getattr(self, name)
            if value is not None or name == "factor":  # strings, booleans, NaN, negatives: refused, never parsed
                object.__setattr__(self, name, check_real(value, f"Tolerance({name}=...)", low=0.0))

    def bound(self, dtype, m: int, scale: np.ndarray) -> Bound:
        """The bound for a quantity of size ``scale`` computed from a batch of ``m`` samples in ``dtype``."""
        info = np.finfo(dtype)
        c = self.factor * m * float(info.eps)
        # the floor (the smallest normal number) keeps results that underflow to subnormals from failing
        atol = np.asarray(self.atol if self.atol is not None else c * np.asarray(scale, np.float64) + float(info.tiny))
        return Bound(atol, self.rtol if self.rtol is not None else c)
