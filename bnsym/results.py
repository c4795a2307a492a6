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

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple
from collections.abc import Mapping, Sequence

from .errors import BnsymError

if TYPE_CHECKING:
    from .dynamics import GoodfellowStep, NormGrowth, Trace

__all__ = ["SweepKey", "StableRates", "Agreement", "SweepResult", "LossCurves", "WeightNormGrowth",
           "GradientNorms", "CurvatureRow", "CurvatureScaling", "HessianAtPoint", "SymbolicCurvature",
           "Curvature", "Goodfellow", "Counterexample", "GradientNormIdentity", "TwoLayerBN", "RateCap", "Statement",
           "Results"]


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
    q25: float | None = None
    q75: float | None = None

    @classmethod
    def of(cls, values: Sequence[float | None]) -> StableRates:
        """Median, quartiles and range over the seeds; ``None`` (no rate of the grid) counts as below the grid,
        so a quantile that falls on it is ``None``. Quantiles are seeds' values (``inverted_cdf``), never
        interpolated between grid points.

        >>> r = StableRates.of([0.1, 0.3, None, 1.0])
        >>> r.median, r.q25, r.q75, r.min, r.max
        (0.1, None, 0.3, None, 1.0)
        """
        import numpy as np

        ranked = np.array([-np.inf if v is None else float(v) for v in values])

        def q(p: float) -> float | None:
            v = float(np.quantile(ranked, p, method="inverted_cdf"))
            return None if v == -np.inf else v

        finite = [v for v in values if v is not None]
        return cls(median=q(0.5), min=min(finite) if len(finite) == len(values) else None,
                   max=max(finite) if finite else None, per_seed=tuple(values), q25=q(0.25), q75=q(0.75))


@dataclass(frozen=True)
class Agreement:
    """One configuration rerun with PyTorch autograd at the rates that decide bnsym's two outcomes (the largest
    rate that does not diverge, the largest that trains, and the grid rate above each): whether every
    outcome (diverges, trains) is the same, and the largest relative difference of the final losses of runs
    that neither diverged.

    >>> Agreement(2, True, 0, (0.5, 1.0), True, 1e-12).same_outcomes
    True
    """

    depth: int
    bn: bool
    seed: int
    rates: tuple[float, ...]
    same_outcomes: bool
    final_loss_difference: float | None


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
    training: Mapping[SweepKey, StableRates] = field(default_factory=dict)
    train_fraction: float | None = None

    def trained(self, depth: int, bn: bool, scale: float = 1.0) -> StableRates:
        """The largest rates that train (final loss ≤ ``train_fraction`` × J₀) of one cell; a cell the sweep
        did not run raises :class:`~bnsym.errors.BnsymError`.

        >>> SweepResult({}, (), ()).trained(2, True)
        Traceback (most recent call last):
        ...
        bnsym.errors.BnsymError: the sweep has no 'trains' outcome for depth 2, with BN, init scale 1
        """
        try:
            return self.training[SweepKey(depth, bn, scale)]
        except KeyError:
            raise BnsymError(f"the sweep has no 'trains' outcome for depth {depth}, "
                             f"{'with' if bn else 'without'} BN, init scale {scale:g}") from None

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
    largest stable rate (seed 0) for one depth, with or without BN; ``lambda_end`` is ``λ_max`` where the run at
    that rate ended.

    >>> CurvatureRow(2, True, 10, 4.0, 0.5, 0.3).critical_lr
    0.5
    """

    depth: int
    bn: bool
    parameters: int
    lambda_max: float
    critical_lr: float
    measured: float | None
    lambda_end: float | None = None


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
    scaling law of its ``w1`` block and (``full_scaling``) of the full Hessian when ``w1`` is scaled.

    >>> point = HessianAtPoint(4.0, 0.5, 6)
    >>> SymbolicCurvature(point, point, CurvatureScaling((1.0,), (4.0,), (0.5,), 0.0)).with_bn.critical_lr
    0.5
    """

    without_bn: HessianAtPoint
    with_bn: HessianAtPoint
    scaling: CurvatureScaling
    full_scaling: CurvatureScaling | None = None


@dataclass(frozen=True)
class Curvature:
    """Curvature at initialization (one :class:`CurvatureRow` per depth and network), the scaling laws by label,
    the exact curvature of the two-layer network, and the fitted log-log slope of ``‖∂J/∂W₁‖`` against the
    scale of ``W₁`` (``−1`` for the ``1/c`` law).

    >>> Curvature((), {}, None).rows
    ()
    """

    rows: tuple[CurvatureRow, ...]
    scaling: Mapping[str, CurvatureScaling]
    symbolic: SymbolicCurvature
    gradient_slope: float | None = None


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
class RateCap:
    """What caps BN's learning rate at one depth: the largest rate that does not diverge over the seeds when
    gradient descent updates every parameter (``full``), only the weights that feed a BN layer
    (``normalized``: the others stay at their initial values), or only the others (``unnormalized``: the last
    layer, γ and β); and ``2/λ_max`` of the loss Hessian's block of the unnormalized parameters at
    initialization, per seed (``block_critical``).

    >>> r = StableRates.of([1.0])
    >>> RateCap(4, r, r, r, (0.9,)).depth
    4
    """

    depth: int
    full: StableRates
    normalized: StableRates
    unnormalized: StableRates
    block_critical: tuple[float, ...]


@dataclass(frozen=True)
class Statement:
    """A theorem proved by :func:`bnsym.theorems.prove` (for every batch size ``m``): its name, statement in
    LaTeX, conditions, source, and whether the kernel proved it (``holds``).

    >>> Statement("gradient_scaling", "J(cW) = J(W)", ("c > 0",), "src", True).holds
    True
    """

    name: str
    latex: str
    conditions: tuple[str, ...]
    source: str
    holds: bool | None


@dataclass(frozen=True)
class Results:
    """Every measurement of ``bnsym explain``: the parts below, what caps BN's rate (:class:`RateCap` per
    depth), the theorems proved for the displayed formulas (:class:`Statement` by name), and the later-work
    results by key (``later``; filled by the later-work parts, empty when they were not run).

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
    cap: tuple[RateCap, ...] = ()
    statements: Mapping[str, Statement] = field(default_factory=dict)
    later: Mapping[str, Any] = field(default_factory=dict)

    def statement(self, name: str) -> Statement:
        """The proved theorem ``name``; one that was not proved in this run raises
        :class:`~bnsym.errors.BnsymError`.

        >>> Results(*[None] * 8).statement("gradient_scaling")
        Traceback (most recent call last):
        ...
        bnsym.errors.BnsymError: the theorem 'gradient_scaling' was not proved in this run
        """
        try:
            return self.statements[name]
        except KeyError:
            raise BnsymError(f"the theorem {name!r} was not proved in this run") from None
