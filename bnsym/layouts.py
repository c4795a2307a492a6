"""Array layouts to and from the engine's ``(m, C·P)`` channel-major grid (:mod:`bnsym.layers.convnorm`).

A node of the engine is an ``(m, features)`` grid; a convolutional activation of ``C`` channels with ``P``
spatial positions per sample becomes ``C·P`` columns, channel ``c`` on columns ``c·P … c·P + P − 1`` (0-based),
the positions in row-major order. Layouts: ``"NC"`` (``P = 1``), ``"NCL"``, ``"NCHW"`` (channels first, as
PyTorch), ``"NLC"``, ``"NHWC"`` (channels last, as TensorFlow/Keras). NumPy arrays and torch tensors both work.

>>> import numpy as np
>>> a = np.arange(8).reshape(1, 2, 2, 2)      # N=1, C=2, H=W=2
>>> to_rows(a, "NCHW")
array([[0, 1, 2, 3, 4, 5, 6, 7]])
>>> to_rows(np.moveaxis(a, 1, -1), "NHWC")   # the same activation, channels last
array([[0, 1, 2, 3, 4, 5, 6, 7]])
>>> bool((from_rows(to_rows(a, "NCHW"), "NCHW", spatial=(2, 2)) == a).all())
True
"""
from __future__ import annotations

import math

from .errors import NetworkSpecError

__all__ = ["LAYOUTS", "to_rows", "from_rows"]

#: the supported layouts and their number of spatial axes
LAYOUTS = {"NC": 0, "NCL": 1, "NCHW": 2, "NLC": 1, "NHWC": 2}


def _check(layout) -> int:
    if not isinstance(layout, str) or layout not in LAYOUTS:
        raise NetworkSpecError(f"unknown layout {layout!r}; choose one of {', '.join(map(repr, LAYOUTS))}")
    return LAYOUTS[layout]


def _permute(array, axes: tuple[int, ...]):
    if hasattr(array, "permute"):  # a torch tensor
        return array.permute(*axes)
    import numpy as np

    return np.transpose(array, axes)


def to_rows(array, layout: str):
    """``array`` in ``layout`` as the ``(N, C·P)`` channel-major grid.

    >>> import numpy as np
    >>> to_rows(np.array([[[1, 2, 3], [4, 5, 6]]]), "NLC")   # N=1, L=2, C=3
    array([[1, 4, 2, 5, 3, 6]])
    >>> to_rows(np.zeros((2, 3)), "NCL")
    Traceback (most recent call last):
    ...
    bnsym.errors.NetworkSpecError: layout 'NCL' needs an array with 3 axes, got shape (2, 3)
    """
    spatial = _check(layout)
    shape = tuple(array.shape)
    if len(shape) != spatial + 2:
        raise NetworkSpecError(f"layout {layout!r} needs an array with {spatial + 2} axes, got shape {shape}")
    if layout in ("NLC", "NHWC"):  # channels last: bring the channel axis to position 1
        array = _permute(array, (0, spatial + 1, *range(1, spatial + 1)))
    return array.reshape(shape[0], math.prod(shape[1:]))


def from_rows(rows, layout: str, spatial: tuple[int, ...] = ()):
    """The ``(N, C·P)`` grid ``rows`` back in ``layout``; ``spatial`` gives the spatial sizes (``(L,)``, ``(H, W)``).

    >>> import numpy as np
    >>> from_rows(np.array([[1, 4, 2, 5, 3, 6]]), "NLC", spatial=(2,))
    array([[[1, 2, 3],
            [4, 5, 6]]])
    >>> from_rows(np.zeros((2, 5)), "NCL", spatial=(2,))
    Traceback (most recent call last):
    ...
    bnsym.errors.NetworkSpecError: 5 columns are not C·P channels of 2 positions each
    """
    axes = _check(layout)
    spatial = tuple(spatial)
    if len(spatial) != axes or any(isinstance(s, bool) or not isinstance(s, int) or s < 1 for s in spatial):
        raise NetworkSpecError(f"layout {layout!r} needs spatial= with {axes} positive integer size(s), "
                               f"got {spatial!r}")
    if len(tuple(rows.shape)) != 2:
        raise NetworkSpecError(f"rows must be an (N, C·P) grid, got shape {tuple(rows.shape)}")
    n, columns = tuple(rows.shape)
    positions = math.prod(spatial)
    if columns % positions:
        raise NetworkSpecError(f"{columns} columns are not C·P channels of {positions} positions each")
    channels_first = rows.reshape(n, columns // positions, *spatial)
    if layout in ("NLC", "NHWC"):
        return _permute(channels_first, (0, *range(2, axes + 2), 1))
    return channels_first
