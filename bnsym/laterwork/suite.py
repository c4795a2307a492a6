"""All five later-work experiments together: one frozen result, its text and its figures, for the report.

>>> work = run_all(quick=True)
>>> [name for name, _ in work.seconds]
['gradient_explosion', 'edge_of_stability', 'auto_rate', 'smoothness', 'rate_speedup']
>>> describe_all(work).count("arXiv")
5
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

from ..plots import Figure
from . import auto_rate, edge_of_stability, gradient_explosion, rate_speedup, smoothness

__all__ = ["LaterWork", "run_all", "describe_all", "figures_all"]

_MODULES = (("gradient_explosion", gradient_explosion, gradient_explosion.GradientExplosionSettings),
            ("edge_of_stability", edge_of_stability, edge_of_stability.EdgeOfStabilitySettings),
            ("auto_rate", auto_rate, auto_rate.AutoRateSettings),
            ("smoothness", smoothness, smoothness.SmoothnessSettings),
            ("rate_speedup", rate_speedup, rate_speedup.RateSpeedupSettings))


@dataclass(frozen=True)
class LaterWork:
    """The five results by name, and the wall-clock seconds each took (left out of comparisons).

    >>> "seconds" in LaterWork.__dataclass_fields__
    True
    """

    gradient_explosion: gradient_explosion.GradientExplosion
    edge_of_stability: edge_of_stability.EdgeOfStability
    auto_rate: auto_rate.AutoRate
    smoothness: smoothness.Smoothness
    rate_speedup: rate_speedup.RateSpeedup
    seconds: tuple[tuple[str, float], ...] = field(default=(), compare=False)


def run_all(quick: bool = False) -> LaterWork:
    """Run every experiment with its default settings (or ``quick()``), timing each.

    See the module's example.
    """
    results, seconds = {}, []
    for name, module, settings in _MODULES:
        start = time.perf_counter()
        results[name] = module.run(settings.quick() if quick else settings())
        seconds.append((name, time.perf_counter() - start))
    return LaterWork(**results, seconds=tuple(seconds))


def describe_all(work: LaterWork) -> str:
    """The five texts, one paragraph block each, in the order of :data:`_MODULES`.

    See the module's example.
    """
    return "\n\n".join(module.describe(getattr(work, name)) for name, module, _ in _MODULES)


def figures_all(work: LaterWork) -> list[Figure]:
    """The five figures (matplotlib needed), in the same order.

    >>> [f.name for f in figures_all(run_all(quick=True))][0]
    'laterwork_gradient_explosion.png'
    """
    from . import figures

    makers = (figures.gradient_explosion_figure, figures.edge_of_stability_figure, figures.auto_rate_figure,
              figures.smoothness_figure, figures.rate_speedup_figure)
    return [make(getattr(work, name)) for make, (name, _, _) in zip(makers, _MODULES, strict=True)]
