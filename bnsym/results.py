"""The typed results of ``bnsym explain``: one small frozen dataclass per measurement.

:func:`bnsym.explain.run_explain` fills a :class:`Results`; the answer's text
(:mod:`bnsym.report.answer`) reads its fields by name, never string keys.

>>> key = SweepKey(depth=4, bn=True, scale=1.0)
>>> key == (4, True, 1.0), key.bn
(True, True)
>>> StableRates(median=0.5, min=0.25, max=1.0, per_seed=(0.25, 0.5, 1.0)).median
0.5
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, NamedTuple
from collections.abc import Mapping

from .errors import BnsymError

if TYPE_CHECKING:
    from .dynamics import GoodfellowStep, NormGrowth, Trace

__all__ = ["SweepKey", "StableRates", "Agreement", "SweepResult", "LossCurves", "WeightNormGrowth",
           "GradientNorms", "CurvatureRow", "CurvatureScaling", "HessianAtPoint", "SymbolicCurvature",
           "Curvature", "Goodfellow", "Counterexample", "GradientNormIdentity", "TwoLayerBN", "Results"]


class SweepKey(NamedTuple):
    """One cell of the sweep's table: depth, with or without BN, init scale (a tuple, so ``(4, True, 1.0)``
    works as a key too).

    >>> SweepKey(2, False, 0.5).scale
    0.5
    """

    depth: int
    bn: bool
    scale: float


@dataclass(frozen=True)
class StableRates:
    """The largest stable learning rate of one :class:`SweepKey` over the seeds (``None``: diverges at every
    rate of the grid; ``min`` is ``None`` when some seed diverges at every rate).

    >>> StableRates(None, None, None, (None,)).median is None
    True
    """

    median: float | None
    min: float | None
    max: float | None
    per_seed: tuple[float | None, ...]


@dataclass(frozen=True)
class Agreement:
    """bnsym's largest stable rate against PyTorch's for one configuration, and how many grid steps apart.

    >>> Agreement(2, True, 0, 0.5, 0.5, 0).grid_steps_apart
    0
    """

    depth: int
    bn: bool
    seed: int
    bnsym: float | None
    torch: float | None
    grid_steps_apart: int | None


@dataclass(frozen=True)
class SweepResult:
    """The learning-rate sweeps: the table by :class:`SweepKey`, the PyTorch cross-check, the raw records of
    :func:`bnsym.sweep.run_sweep`.

    >>> sweep = SweepResult({SweepKey(2, False, 1.0): StableRates(0.5, 0.5, 0.5, (0.5,))}, (), ())
    >>> sweep.rates(2, False).median, sweep.depths
    (0.5, (2,))
    """

    summary: Mapping[SweepKey, StableRates]
    agreement: tuple[Agreement, ...]
    records: tuple[Mapping[str, Any], ...]

    def rates(self, depth: int, bn: bool, scale: float = 1.0) -> StableRates:
        """The rates of one cell; a cell the sweep did not run raises :class:`~bnsym.errors.BnsymError`.

        >>> SweepResult({}, (), ()).rates(2, True)
        Traceback (most recent call last):
        ...
        bnsym.errors.BnsymError: the sweep has no depth 2, with BN, init scale 1
        """
        try:
            return self.summary[SweepKey(depth, bn, scale)]
        except KeyError:
            raise BnsymError(f"the sweep has no depth {depth}, {'with' if bn else 'without'} BN, "
                             f"init scale {scale:g}") from None

    @property
    def depths(self) -> tuple[int, ...]:
        """The depths swept at init scale 1, in increasing order.

        >>> SweepResult({SweepKey(4, True, 1.0): None, SweepKey(2, True, 2.0): None}, (), ()).depths
        (4,)
        """
        return tuple(sorted({key.depth for key in self.summary if key.scale == 1.0}))


@dataclass(frozen=True)
class LossCurves:
    """Gradient-descent runs (:class:`bnsym.dynamics.Trace` by label) at the sweep's largest stable ``rates``;
    ``stable`` is that rate without (``False``) and with (``True``) BN.

    >>> LossCurves({}, (0.1,), {False: 0.1, True: None}).rates
    (0.1,)
    """

    traces: Mapping[str, Trace]
    rates: tuple[float, ...]
    stable: Mapping[bool, float | None]


@dataclass(frozen=True)
class WeightNormGrowth:
    """A gradient-descent run of a BN network (``trace``) and its weight-norm identity (``growth``, a
    :class:`bnsym.dynamics.NormGrowth`) at learning rate ``lr``.

    >>> WeightNormGrowth(None, None, 0.5).lr
    0.5
    """

    trace: Trace
    growth: NormGrowth
    lr: float


@dataclass(frozen=True)
class GradientNorms:
    """Per-layer gradient norms ``‖∂J/∂W_l‖`` at initialization, by label, for a network of ``depth`` layers.

    >>> GradientNorms(2, {"with BN, seed 0": (1.0, 2.0)}).norms["with BN, seed 0"][1]
    2.0
    """

    depth: int
    norms: Mapping[str, tuple[float, ...]]


@dataclass(frozen=True)
class CurvatureRow:
    """``λ_max`` of the loss Hessian at initialization, the critical rate ``2/λ_max`` and the sweep's measured
    largest stable rate (seed 0) for one depth, with or without BN.

    >>> CurvatureRow(2, True, 10, 4.0, 0.5, 0.3).critical_lr
    0.5
    """

    depth: int
    bn: bool
    parameters: int
    lambda_max: float
    critical_lr: float
    measured: float | None


@dataclass(frozen=True)
class CurvatureScaling:
    """``λ_max`` of the Hessian block of a weight feeding BN, scaled by each ``c`` of ``scales``, and the fitted
    log-log ``slope`` (``−2`` for the ``1/c²`` law).

    >>> CurvatureScaling((1.0, 2.0), (4.0, 1.0), (0.5, 2.0), -2.0).as_dict()["slope"]
    -2.0
    """

    scales: tuple[float, ...]
    lambda_max: tuple[float, ...]
    critical_lr: tuple[float, ...]
    slope: float

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CurvatureScaling:
        """From :func:`bnsym.dynamics.curvature_scaling`'s dictionary.

        >>> CurvatureScaling.from_dict({"scales": [1], "lambda_max": [2.0], "critical_lr": [1.0], "slope": 0.0}).scales
        (1,)
        """
        return cls(tuple(data["scales"]), tuple(data["lambda_max"]), tuple(data["critical_lr"]),
                   float(data["slope"]))

    def as_dict(self) -> dict[str, Any]:
        """The fields as a dictionary (what :func:`bnsym.plots.curvature_figure` draws).

        >>> sorted(CurvatureScaling((1.0,), (2.0,), (1.0,), 0.0).as_dict())
        ['critical_lr', 'lambda_max', 'scales', 'slope']
        """
        return asdict(self)


@dataclass(frozen=True)
class HessianAtPoint:
    """The exact Hessian's largest eigenvalue at a point, ``2/λ_max`` (``None`` when ``λ_max ≤ 0``), its size.

    >>> HessianAtPoint(4.0, 0.5, 6).size
    6
    """

    lambda_max: float
    critical_lr: float | None
    size: int


@dataclass(frozen=True)
class SymbolicCurvature:
    """The exact curvature (``sympy.hessian``) of the seed's two-layer network, without and with BN, and the
    scaling law of its ``w1`` block.

    >>> point = HessianAtPoint(4.0, 0.5, 6)
    >>> SymbolicCurvature(point, point, CurvatureScaling((1.0,), (4.0,), (0.5,), 0.0)).with_bn.critical_lr
    0.5
    """

    without_bn: HessianAtPoint
    with_bn: HessianAtPoint
    scaling: CurvatureScaling


@dataclass(frozen=True)
class Curvature:
    """Curvature at initialization (one :class:`CurvatureRow` per depth and network), the scaling laws by label,
    and the exact curvature of the two-layer network.

    >>> Curvature((), {}, None).rows
    ()
    """

    rows: tuple[CurvatureRow, ...]
    scaling: Mapping[str, CurvatureScaling]
    symbolic: SymbolicCurvature


@dataclass(frozen=True)
class Goodfellow:
    """Goodfellow's chain: one GD step's predicted against actual loss change without and with BN
    (:class:`bnsym.dynamics.GoodfellowStep`), and the coefficients ``(k, c_k)`` of ``η^k`` in the stepped
    output at the seeded ``weights``, a polynomial of ``degree`` the depth.

    >>> Goodfellow(None, None, ((1, -2.0),), {"w1": 1.5}, 1).coefficients[0]
    (1, -2.0)
    """

    without: GoodfellowStep
    with_bn: GoodfellowStep
    coefficients: tuple[tuple[int, float], ...]
    weights: Mapping[str, float]
    degree: int


@dataclass(frozen=True)
class Counterexample:
    """A drawn upstream gradient (``draw``) where the misprinted variant falls below the exact value.

    >>> Counterexample(3, 2.0, 1.5).variant < Counterexample(3, 2.0, 1.5).exact
    True
    """

    draw: int
    exact: float
    variant: float


@dataclass(frozen=True)
class GradientNormIdentity:
    """The gradient-norm identity through BN (Santurkar et al.) measured on a batch of ``m``: both sides, their
    relative difference, and a :class:`Counterexample` to the misprinted variant (``None`` if none was found).

    >>> GradientNormIdentity(1.0, 1.0, 0.0, 16, None).relative_error
    0.0
    """

    lhs: float
    rhs: float
    relative_error: float
    m: int
    counterexample: Counterexample | None


@dataclass(frozen=True)
class TwoLayerBN:
    """``max |∂J/∂p|`` per parameter ``p`` of the seed's two-layer network with BN (``ε = 0``), with one input
    and with two inputs per unit.

    >>> TwoLayerBN({"w1": 0.0}, {"w1": 0.3}).two_inputs["w1"]
    0.3
    """

    one_input: Mapping[str, float]
    two_inputs: Mapping[str, float]


@dataclass(frozen=True)
class Results:
    """Every measurement of ``bnsym explain``.

    >>> [name for name in Results.__dataclass_fields__][:3]
    ['sweep', 'curves', 'growth']
    """

    sweep: SweepResult
    curves: LossCurves
    growth: WeightNormGrowth
    gradient_norms: GradientNorms
    curvature: Curvature
    goodfellow: Goodfellow
    santurkar: GradientNormIdentity
    two_layer_bn: TwoLayerBN
