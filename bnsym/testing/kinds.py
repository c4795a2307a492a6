"""The normalization kinds the kit checks and their layouts: which axes the statistics are taken over, which
axes ``γ``/``β`` span, and how a user's layout maps to the kit's canonical (channels-first) one.

=============  ==============================================  ===============================================
kind           statistics over (canonical layout)              ``γ``, ``β``
=============  ==============================================  ===============================================
``batch``      all axes but C: ``(N,C)``, ``(N,C,L)``,         one per channel C
               ``(N,C,H,W)``, ``(N,C,D,H,W)``
``layer``      the trailing ``normalized_shape`` axes           shape ``normalized_shape``
``rms``        the trailing ``normalized_shape`` axes, no mean  ``γ`` of shape ``normalized_shape``, no ``β``
``group``      each sample's group of C/groups channels × L…    one per channel C
``instance``   each sample and channel over L, H·W or D·H·W     one per channel C (``affine=True``)
=============  ==============================================  ===============================================

Channels-last layouts (``"NLC"``, ``"NHWC"``, ``"NDHWC"``) are for implementations that take them: the kit draws
the canonical array and permutes it before each call (and the results back).

>>> spec = Spec("group", (2, 4, 3), params=(1,), groups=2)
>>> spec.group_size, spec.param_shape
(6, (4,))
>>> Spec("batch", (5, 3, 2, 2)).reduce
(0, 2, 3)
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import KitUsageError

__all__ = ["KINDS", "LAYOUTS", "Spec", "to_layout", "from_layout"]

KINDS = ("batch", "layer", "rms", "group", "instance", "weight")
"""The values of ``kind`` accepted by :func:`bnsym.testing.check_normalization`."""

#: layout -> (rank, channels-last)
LAYOUTS = {"NC": (2, False), "NCL": (3, False), "NCHW": (4, False), "NCDHW": (5, False),
           "NLC": (3, True), "NHWC": (4, True), "NDHWC": (5, True)}


def _prod(shape) -> int:
    return int(np.prod(shape, dtype=np.int64)) if len(shape) else 1


@dataclass(frozen=True)
class Spec:
    """One normalization's geometry on a canonical (channels-first) shape.

    ``params``: the axes ``γ``/``β`` span (``()`` for none: ``affine=False``); ``normalized``: the number of
    trailing axes of ``layer``/``rms``; ``groups`` for ``group``; ``bias`` whether there is a ``β``.

    >>> Spec("layer", (3, 2, 4), params=(1, 2), normalized=2).reduce
    (1, 2)
    """

    kind: str
    shape: tuple
    params: tuple = (1,)
    normalized: int = 1
    groups: int = 1
    bias: bool = True
    axes: tuple | None = None  # the statistics' axes, when not the kind's own (the mistakes catalogue)
    centred: bool = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "centred", self.kind != "rms")

    @property
    def reduce(self) -> tuple:
        """The axes of the statistics (of the grouped view for ``group``)."""
        rank = len(self.shape)
        if self.axes is not None:
            return self.axes
        if self.kind == "batch":
            return tuple(a for a in range(rank) if a != 1)
        if self.kind in ("layer", "rms"):
            return tuple(range(rank - self.normalized, rank))
        if self.kind == "instance":
            return tuple(range(2, rank))
        return tuple(range(2, rank + 1))  # group: the view (N, G, C/G, *S)

    @property
    def view_shape(self) -> tuple:
        """The shape the statistics are taken on (``(N, G, C/G, *S)`` for ``group``, else ``shape``)."""
        if self.kind != "group" or self.axes is not None:
            return self.shape
        n, c, *rest = self.shape
        return (n, self.groups, c // self.groups, *rest)

    @property
    def group_size(self) -> int:
        """How many elements each statistic is computed from."""
        return _prod([self.view_shape[a] for a in self.reduce])

    @property
    def param_shape(self) -> tuple:
        """The shape of ``γ`` (and ``β``)."""
        return tuple(self.shape[a] for a in self.params)

    def stat_shape(self) -> tuple:
        """The shape of the running statistics of ``batch`` (one per channel)."""
        return (self.shape[1],)

    def broadcast(self, p: np.ndarray) -> np.ndarray:
        """``γ``-shaped ``p`` broadcast against ``x``.

        >>> Spec("batch", (2, 3, 4)).broadcast(np.arange(3.0)).shape
        (1, 3, 1)
        """
        shape = [self.shape[a] if a in self.params else 1 for a in range(len(self.shape))]
        return np.asarray(p, np.float64).reshape(shape)

    def channel(self, p: Any) -> np.ndarray:
        """A per-channel array broadcast against ``x``."""
        shape = [self.shape[1] if a == 1 else 1 for a in range(len(self.shape))]
        return np.asarray(p, np.float64).reshape(shape)

    def over_non_params(self, a: np.ndarray) -> np.ndarray:
        """Sum of ``a`` (shaped like ``x``) over every axis ``γ`` does not span (``∂ℓ/∂γ``'s reduction)."""
        return np.asarray(a).sum(axis=tuple(i for i in range(len(self.shape)) if i not in self.params))

    def with_shape(self, shape: tuple) -> Spec:
        """The same normalization on another shape (same rank)."""
        return Spec(self.kind, tuple(shape), self.params, self.normalized, self.groups, self.bias, self.axes)

    def replaced(self, **changes) -> Spec:
        """A copy with some fields changed (the mistakes catalogue: another kind, other axes or groups).

        >>> Spec("rms", (2, 3)).replaced(kind="layer").centred
        True
        """
        return dataclasses.replace(self, **changes)


def _permutation(rank: int, last: bool) -> tuple:
    return (0, *range(2, rank), 1) if last else tuple(range(rank))


def _check(layout: str, rank: int) -> bool:
    if layout not in LAYOUTS:
        raise KitUsageError(f"unknown layout {layout!r}; choose one of {list(LAYOUTS)}")
    want, last = LAYOUTS[layout]
    if want != rank:
        raise KitUsageError(f"layout {layout!r} is for {want}-d inputs, the batch has {rank} axes")
    return last


def to_layout(x: np.ndarray, layout: str | None):
    """The canonical (channels-first) array in ``layout`` (``None``: as it is).

    >>> to_layout(np.zeros((2, 3, 4, 5)), "NHWC").shape
    (2, 4, 5, 3)
    """
    if layout is None:
        return x
    last = _check(layout, x.ndim)
    return x.transpose(_permutation(x.ndim, last)) if last else x


def from_layout(y: np.ndarray, layout: str | None):
    """Back from ``layout`` to the canonical layout (inverse of :func:`to_layout`).

    >>> from_layout(np.zeros((2, 4, 5, 3)), "NHWC").shape
    (2, 3, 4, 5)
    """
    if layout is None:
        return y
    last = _check(layout, np.ndim(y))
    return np.moveaxis(y, -1, 1) if last else y
