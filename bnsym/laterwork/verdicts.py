"""The claims-table rows of the later-work experiments: what each paper claims, what the run measured, a verdict.

Each function reads one experiment's result and returns :class:`bnsym.report.claims.Claim` rows whose
*measured* cell and verdict are computed from that result (never typed by hand); :func:`claims` dispatches by
the result's key in :class:`bnsym.laterwork.suite.LaterWork`. The verdict rules, stated in each function's
docstring, are deliberately simple thresholds on the medians over seeds.

>>> from bnsym.laterwork.suite import run_all
>>> rows = claims("auto_rate", run_all(quick=True).auto_rate)
>>> rows[0].link, rows[0].verdict in ("holds", "holds under stated conditions", "contradicted")
('later', True)
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..report.claims import CONTRADICTED, HOLDS, HOLDS_UNDER, LATER_WORK, NOT_JUDGED, Claim
from .auto_rate import AutoRate
from .edge_of_stability import EdgeOfStability
from .gradient_explosion import GradientExplosion
from .rate_speedup import RateSpeedup
from .smoothness import Smoothness, _over_training

__all__ = ["claims", "LINK"]

#: The report section the later-work rows link to.
LINK = "later"
_SOURCE = {key: source for key, _, source in LATER_WORK}


def _g(v: float) -> str:
    return f"{v:.3g}"


def rate_speedup(r: RateSpeedup) -> list[Claim]:
    """One row per multiple of the best no-BN rate: *holds* when BN at that rate reaches the target loss in
    fewer steps (median over seeds) than the best network without BN, *contradicted* otherwise.

    >>> from bnsym.laterwork.rate_speedup import RateSpeedupSettings, run
    >>> [c.claim.split(",")[0] for c in rate_speedup(run(RateSpeedupSettings.quick()))]
    ['BN with 1 × the best rate without BN trains faster', 'BN with 5 × the best rate without BN trains faster', \
'BN with 30 × the best rate without BN trains faster']
    """
    source = _SOURCE["rate_speedup"]
    if r.best is None:
        return [Claim("BN allows 5× and 30× larger learning rates", source, "—",
                      "no rate without BN reached the target", NOT_JUDGED, LINK)]
    rows = []
    for e in r.with_bn:
        speed = r.speedup(e)
        faster = bool(np.isfinite(speed) and speed > 1)
        measured = (f"steps to {r.settings.target:g} × J₀: {_g(e.median)} against {_g(r.best.median)} "
                    f"without BN at η* = {_g(r.best.lr)}" if np.isfinite(e.median) else
                    f"does not reach {r.settings.target:g} × J₀ for half the seeds "
                    f"({e.diverged} of {r.settings.seeds} diverge)")
        rows.append(Claim(f"BN with {e.multiple:g} × the best rate without BN trains faster, at small scale",
                          source, "—", measured, HOLDS if faster else CONTRADICTED, LINK))
    return rows


def gradient_explosion(r: GradientExplosion) -> list[Claim]:
    """*Holds* when, with BN at the smallest batch and the largest depth, the per-layer growth factor of the
    gradient norm towards the input is above 1.05 and the first/last ratio exceeds the one without BN;
    *contradicted* otherwise.

    >>> from bnsym.laterwork.gradient_explosion import GradientExplosionSettings, run
    >>> gradient_explosion(run(GradientExplosionSettings.quick()))[0].source.startswith("Yang")
    True
    """
    st = r.settings
    deep, small = max(st.depths), min(st.batches)
    bn, plain = r.row(True, deep, small), r.row(False, deep, small)
    holds = bn.growth.median > 1.05 and bn.ratio.median > plain.ratio.median
    measured = (f"‖∂J/∂W₁‖/‖∂J/∂W_L‖ at depth {deep}, batch {small}: {_g(bn.ratio.median)} with BN, "
                f"{_g(plain.ratio.median)} without; growth {_g(bn.growth.median)} per layer with BN")
    return [Claim("BN without skip connections makes gradients explode at initialization (toward the input)",
                  _SOURCE["gradient_explosion"], "—", measured, HOLDS if holds else CONTRADICTED,
                  LINK)]


def edge_of_stability(r: EdgeOfStability) -> list[Claim]:
    """*Holds* when every run that did not diverge ends (median over the second half of the run) with
    ``ηλ_max/2`` within 10 % of 1; *holds under stated conditions* when some do (they are named); else
    *contradicted*.

    >>> from bnsym.laterwork.edge_of_stability import EdgeOfStabilitySettings, run
    >>> edge_of_stability(run(EdgeOfStabilitySettings.quick()))[0].link
    'later'
    """
    runs = [x for x in r.runs if np.isfinite(x.late.median)]
    at_edge = [x for x in runs if abs(x.late.median - 1) <= 0.1]
    cells = ", ".join(f"{'BN' if x.bn else 'no BN'} η = {x.lr:g}: {x.late.median:.2f}" for x in runs)
    verdict = (HOLDS if runs and len(at_edge) == len(runs) else HOLDS_UNDER if at_edge else CONTRADICTED)
    return [Claim("full-batch GD trains at the edge of stability: λ_max rises to 2/η and hovers there",
                  _SOURCE["edge_of_stability"], "—", f"ηλ_max/2 late in training: {cells}",
                  verdict, LINK)]


def auto_rate(r: AutoRate) -> list[Claim]:
    """*Holds* when, with BN, no rate diverges, the loss falls (median final/initial below 1) at every rate, and
    the norm identity holds to 1e-10 with no decrease of ``‖W‖²`` beyond rounding; *contradicted* otherwise.

    See the module's example.
    """
    over = [c for c in r.conditions if c.over_critical.median > 1]
    ok = (bool(r.conditions) and all(c.diverged == 0 and c.loss_ratio.median < 1 for c in r.conditions)
          and max(c.identity_error for c in r.conditions) < 1e-10
          and min(c.min_increment for c in r.conditions) >= -1e-12)
    top = max((c.over_critical.median for c in over), default=float("nan"))
    measured = (f"with BN none of {len(r.conditions)} rates diverges, up to {_g(top)} × 2/λ_max at init; "
                f"without BN {sum(c.diverged_without_bn for c in r.conditions)} of "
                f"{len(r.conditions) * r.settings.seeds} runs diverge; ‖W‖² identity to "
                f"{max(c.identity_error for c in r.conditions):.2g}")
    if not ok:
        measured = (f"with BN {sum(c.diverged for c in r.conditions)} runs diverge or the loss does not fall; "
                    + measured.split("; ", 1)[1])
    return [Claim("with BN (ε = 0) rates far above 2/λ_max converge: ‖W‖ grows and η/‖W‖² falls",
                  _SOURCE["auto_rate"], "‖W′‖² = ‖W‖² + η²‖∇J‖² (proved)",
                  measured, HOLDS if ok else CONTRADICTED, LINK)]


def smoothness(r: Smoothness) -> list[Claim]:
    """*Holds* when, over training (median over checkpoints of the medians over seeds), both the effective
    β-smoothness and the largest gradient change along the gradient are smaller with BN; *holds under stated
    conditions* when one is; *contradicted* when neither is.

    >>> from bnsym.laterwork.smoothness import SmoothnessSettings, run
    >>> smoothness(run(SmoothnessSettings.quick()))[0].source.startswith("Santurkar")
    True
    """
    bn, plain = r.get(True), r.get(False)
    beta = _over_training(plain.beta) / _over_training(bn.beta)
    change = _over_training(plain.grad_change) / _over_training(bn.grad_change)
    smoother = [name for name, v in (("β-smoothness", beta), ("gradient change", change)) if v > 1]
    verdict = HOLDS if len(smoother) == 2 else HOLDS_UNDER if smoother else CONTRADICTED
    return [Claim("BN makes the loss smoother along the gradient (smaller β, smaller gradient change)",
                  _SOURCE["smoothness"], "—",
                  f"without BN over with BN: β-smoothness {_g(beta)}×, largest gradient change {_g(change)}×",
                  verdict, LINK)]


_BY_KEY: dict[str, tuple[type, Callable[[Any], list[Claim]]]] = {
    "rate_speedup": (RateSpeedup, rate_speedup), "gradient_explosion": (GradientExplosion, gradient_explosion),
    "edge_of_stability": (EdgeOfStability, edge_of_stability), "auto_rate": (AutoRate, auto_rate),
    "smoothness": (Smoothness, smoothness)}


def claims(key: str, result: Any) -> list[Claim] | None:
    """The rows of the experiment ``key`` (a field of :class:`~bnsym.laterwork.suite.LaterWork`), or ``None``
    when ``result`` is not that experiment's result (nothing can be judged from it).

    >>> claims("smoothness", object()) is None, claims("nonsense", None) is None
    (True, True)
    """
    kind, rows = _BY_KEY.get(key, (type(None), None))
    return rows(result) if rows is not None and isinstance(result, kind) else None
