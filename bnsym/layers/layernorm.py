"""Layer normalization (Ba, Kiros & Hinton 2016) without its affine step: each sample normalized over its features.

Per sample ``i``: ``μ_i = (1/n) Σ_r z[i, r]``, ``σ_i = √((1/n) Σ_r (z[i, r] − μ_i)² + ε)`` (biased),
``x̂[i, r] = (z[i, r] − μ_i)/σ_i``; the math (index form, VJP, kernels) is :class:`~bnsym.layers.samplenorm.
SampleNormalize` with one group.

>>> import sympy
>>> LayerNorm("zhat1", features=2, statistic="1").forward(sympy.Matrix([[1, 3], [5, 1]]))
Matrix([
[-1, 1],
[ 1, -1]])
"""
from __future__ import annotations

from .samplenorm import SampleNormalize

__all__ = ["LayerNorm"]


class LayerNorm(SampleNormalize):
    """``x̂[i, r] = (z[i, r] − μ_i)/σ_i`` over the ``features`` of each sample (``features ≥ 2`` when ``ε = 0``).

    >>> LayerNorm("zhat1", features=1)
    Traceback (most recent call last):
    ...
    bnsym.errors.NetworkSpecError: layer normalization 'zhat1' with eps = 0 needs at least 2 features
    per group (got 1): ...
    """

    kind = "layer_norm"
    latex_name = r"\mathrm{LN}"
    what = "layer normalization"

    def __init__(self, name: str, *, features: int, eps=0, statistic: str = "") -> None:
        super().__init__(name, features=features, groups=1, centre=True, eps=eps, statistic=statistic)

    def torch_forward(self, x, params: dict):
        import torch

        if self.eps > 0:
            return torch.nn.functional.layer_norm(x, (self.features,), eps=float(self.eps))
        return self.torch_formula(x)
