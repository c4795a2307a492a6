"""RMS normalization (Zhang & Sennrich 2019) without its gain: each sample divided by its root mean square.

Per sample ``i``: ``ν_i = √((1/n) Σ_r z[i, r]² + ε)``, ``y[i, r] = z[i, r]/ν_i`` (no centring); the math is
:class:`~bnsym.layers.samplenorm.SampleNormalize` with one group and ``centre=False``.

>>> import sympy
>>> RMSNorm("y1", features=2, statistic="1").forward(sympy.Matrix([[1, 1], [-3, 3]]))
Matrix([
[ 1, 1],
[-1, 1]])
"""
from __future__ import annotations

from .samplenorm import SampleNormalize

__all__ = ["RMSNorm"]


class RMSNorm(SampleNormalize):
    """``y[i, r] = z[i, r]/ν_i`` over the ``features`` of each sample.

    >>> RMSNorm("y1", features=0)
    Traceback (most recent call last):
    ...
    bnsym.errors.NetworkSpecError: RMS normalization 'y1': features must be a positive integer, got 0
    """

    kind = "rms_norm"
    latex_name = r"\mathrm{RMSNorm}"
    what = "RMS normalization"

    def __init__(self, name: str, *, features: int, eps=0, statistic: str = "") -> None:
        super().__init__(name, features=features, groups=1, centre=False, eps=eps, statistic=statistic)

    def torch_forward(self, x, params: dict):
        import torch

        if self.eps > 0:
            return torch.nn.functional.rms_norm(x, (self.features,), eps=float(self.eps))
        return self.torch_formula(x)
