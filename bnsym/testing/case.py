"""``BNCase``: one drawn example (a batch, the affine weights, an upstream gradient, running statistics).

All arrays are float64 holding values exactly representable in the dtype the implementation runs in.

>>> import numpy as np
>>> case = BNCase(x=np.array([[0.0], [1.0]]), gamma=np.array([2.0]), beta=np.array([0.0]),
...               dy=np.array([[1.0], [-1.0]]))
>>> case.m, case.features
(2, 1)
>>> print(case.describe())
m = 2 samples, 1 feature
  x     = [[0.], [1.]]
  gamma = [2.]
  beta  = [0.]
  dy    = [[ 1.], [-1.]]
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["BNCase", "format_array"]


def format_array(a: np.ndarray) -> str:
    """A one-line, copy-pasteable rendering with the shortest exact float repr.

    >>> format_array(np.array([[0.1, 2.0]]))
    '[[0.1, 2. ]]'
    """
    return np.array2string(
        np.asarray(a), separator=", ", floatmode="unique", max_line_width=10**6, threshold=10**6
    ).replace("\n", "")


@dataclass(frozen=True, eq=False)
class BNCase:
    """A batch ``x`` of shape ``(m, features)``, ``gamma``/``beta`` of shape ``(features,)``, an upstream gradient
    ``dy`` like ``x``, and (optional) initial running statistics for the running-statistics property.

    >>> BNCase(np.zeros((3, 2)), np.ones(2), np.zeros(2), np.zeros((3, 2))).features
    2
    >>> BNCase([[0, 1], [2, 3]], [1, 2], [0, 0], [[1, 0], [0, 1]]).x.dtype   # lists become float64 arrays
    dtype('float64')
    """

    x: np.ndarray
    gamma: np.ndarray
    beta: np.ndarray
    dy: np.ndarray
    running_mean: np.ndarray | None = field(default=None)
    running_var: np.ndarray | None = field(default=None)

    def __post_init__(self) -> None:
        # real array-likes (lists, integer arrays) become float64 arrays; anything else is left for
        # bnsym.testing.arguments.check_case to refuse with a clear message
        for name in ("x", "gamma", "beta", "dy", "running_mean", "running_var"):
            value = getattr(self, name)
            if value is None or (isinstance(value, np.ndarray) and value.dtype == np.float64):
                continue
            try:
                arr = np.asarray(value)
            except Exception:  # broad on purpose: refused later, with the field's name
                continue
            if arr.dtype.kind in "biuf":
                object.__setattr__(self, name, arr.astype(np.float64))

    @property
    def m(self) -> int:
        """The batch size."""
        return int(self.x.shape[0])

    @property
    def features(self) -> int:
        """The number of features (columns)."""
        return int(self.x.shape[1])

    def describe(self, *, running: bool = False) -> str:
        """The case as text, for failure messages (every value printed exactly)."""
        lines = [f"m = {self.m} samples, {self.features} feature{'s' if self.features != 1 else ''}"]
        names = ["x", "gamma", "beta", "dy"] + (["running_mean", "running_var"] if running else [])
        width = max(len(n) for n in names)
        for name in names:
            lines.append(f"  {name.ljust(width)} = {format_array(getattr(self, name))}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"BNCase({self.describe(running=self.running_mean is not None)})"
