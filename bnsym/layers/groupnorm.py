"""Group normalization (Wu & He 2018) and instance normalization (Ulyanov et al. 2016), without their affine step.

A sample's ``features = C·P`` columns are channel-major (channel ``c`` occupies the ``P = positions`` consecutive
columns ``c·P … c·P + P − 1``); ``G`` groups of ``C/G`` consecutive channels are each normalized on their own
(statistics per sample and group). Instance normalization is the case ``G = C``. The math is
:class:`~bnsym.layers.samplenorm.SampleNormalize` with ``G`` groups of ``(C/G)·P`` columns.

>>> import sympy
>>> GroupNorm("zhat1", features=4, groups=2, statistic="1").forward(sympy.Matrix([[1, 3, 0, 4]]))
Matrix([[-1, 1, -1, 1]])
"""
from __future__ import annotations

from ..errors import NetworkSpecError
from .samplenorm import SampleNormalize

__all__ = ["GroupNorm", "InstanceNorm"]


def _positive(value, label: str, what: str, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise NetworkSpecError(f"{what} {name!r}: {label} must be a positive integer, got {value!r}")
    return value


class GroupNorm(SampleNormalize):
    """Each sample normalized over each of ``groups`` groups of consecutive channels (``features = C·positions``).

    >>> GroupNorm("zhat1", features=6, groups=4)
    Traceback (most recent call last):
    ...
    bnsym.errors.NetworkSpecError: group normalization 'zhat1': 4 groups do not divide the 6 channels
    """

    kind = "group_norm"
    latex_name = r"\mathrm{GN}"
    what = "group normalization"

    def __init__(self, name: str, *, features: int, groups: int, positions: int = 1, eps=0,
                 statistic: str = "") -> None:
        features = _positive(features, "features", self.what, name)
        groups = _positive(groups, "groups", self.what, name)
        positions = _positive(positions, "positions", self.what, name)
        if features % positions:
            raise NetworkSpecError(f"{self.what} {name!r}: {features} features are not channels of {positions} "
                                   "positions each (features = channels · positions)")
        self.channels, self.positions = features // positions, positions
        if self.channels % groups:
            raise NetworkSpecError(f"{self.what} {name!r}: {groups} groups do not divide the {self.channels} channels")
        super().__init__(name, features=features, groups=groups, centre=True, eps=eps, statistic=statistic)

    def torch_forward(self, x, params: dict):
        import torch

        if self.eps > 0:
            shaped = x.reshape(x.shape[0], self.channels, self.positions)
            return torch.nn.functional.group_norm(shaped, self.groups, eps=float(self.eps)).reshape(x.shape)
        return self.torch_formula(x)


class InstanceNorm(GroupNorm):
    """Each sample's channels normalized one by one over their ``positions ≥ 2`` positions.

    >>> InstanceNorm("zhat1", channels=2, positions=1, eps=0.1)
    Traceback (most recent call last):
    ...
    bnsym.errors.NetworkSpecError: instance normalization 'zhat1' needs positions >= 2 (got 1): ...
    """

    kind = "instance_norm"
    latex_name = r"\mathrm{IN}"
    what = "instance normalization"

    def __init__(self, name: str, *, channels: int, positions: int, eps=0, statistic: str = "") -> None:
        channels = _positive(channels, "channels", self.what, name)
        positions = _positive(positions, "positions", self.what, name)
        if positions < 2:
            raise NetworkSpecError(f"{self.what} {name!r} needs positions >= 2 (got {positions}): with one position "
                                   "per channel it normalizes single values (σ² = 0 always)")
        super().__init__(name, features=channels * positions, groups=channels, positions=positions, eps=eps,
                         statistic=statistic)

    def torch_forward(self, x, params: dict):
        import torch

        if self.eps > 0:
            shaped = x.reshape(x.shape[0], self.channels, self.positions)
            return torch.nn.functional.instance_norm(shaped, eps=float(self.eps)).reshape(x.shape)
        return self.torch_formula(x)
