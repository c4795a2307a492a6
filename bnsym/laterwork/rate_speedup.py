"""BN with a 5× and a 30× larger learning rate trains faster (Ioffe & Szegedy 2015, §4.2.1).

Ioffe & Szegedy, "Batch normalization: accelerating deep network training by reducing internal covariate
shift", ICML 2015 (arXiv 1502.03167), §4.2.1 ("Accelerating BN networks": increase the learning rate) and
§4.2.2 (BN-x5 and BN-x30 reach the baseline's accuracy in fewer steps than BN-Baseline, which itself needs
fewer than the network without BN).

Here: the MLP ``widths`` (ReLU, He init) on the reference data, full-batch GD. Without BN, the number of
steps to bring the loss to ``target × J₀`` (each run's own initial loss ``J₀``) is measured for every rate of
a log grid; the *best* rate is the one with the fewest steps (median over seeds, a seed that does not reach
the target or diverges counting as never). With BN, the same count at ``1×, 5×, 30×`` that rate.

>>> r = run(RateSpeedupSettings.quick())
>>> [c.multiple for c in r.with_bn]
[1.0, 5.0, 30.0]
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..dynamics import DIVERGENCE_FACTOR
from ._common import Spread, check_positive, setup, summarize

__all__ = ["RateSpeedupSettings", "StepsToTarget", "RateSpeedup", "run", "describe"]


@dataclass(frozen=True)
class RateSpeedupSettings:
    """Network, the no-BN rate grid, the BN multiples, the target fraction of ``J₀``, the step budget, seeds.

    >>> RateSpeedupSettings().multiples
    (1.0, 5.0, 30.0)
    """

    widths: tuple[int, ...] = (2, 16, 16, 16, 16, 16, 1)
    batch: int = 32
    rates: tuple[float, ...] = tuple(float(v) for v in np.logspace(-2.5, 0, 11))
    multiples: tuple[float, ...] = (1.0, 5.0, 30.0)
    target: float = 0.05
    max_steps: int = 1000
    seeds: int = 20

    @classmethod
    def quick(cls) -> RateSpeedupSettings:
        """A sub-second variant.

        >>> RateSpeedupSettings.quick().max_steps
        200
        """
        return cls(widths=(2, 8, 8, 1), rates=(0.01, 0.03, 0.1), max_steps=200, seeds=3)


@dataclass(frozen=True)
class StepsToTarget:
    """One network at one rate: steps to the target over the seeds that reach it (``steps``), the median
    over all seeds counting the others as never (``median``, ``inf`` when half do not reach it), how many
    reach it and how many diverge.

    >>> StepsToTarget(False, 0.1, 1.0, Spread(5.0, 4.0, 6.0, 3), 5.0, 3, 0).reached
    3
    """

    bn: bool
    lr: float
    multiple: float
    steps: Spread
    median: float
    reached: int
    diverged: int


@dataclass(frozen=True)
class RateSpeedup:
    """The no-BN grid, the best no-BN rate's entry, the BN entries at its multiples, the settings.

    >>> RateSpeedup(RateSpeedupSettings.quick(), (), None, ()).best is None
    True
    """

    settings: RateSpeedupSettings
    without_bn: tuple[StepsToTarget, ...]
    best: StepsToTarget | None
    with_bn: tuple[StepsToTarget, ...]

    def speedup(self, entry: StepsToTarget) -> float:
        """The best no-BN run's median steps over ``entry``'s (``inf`` or NaN when one never reaches the target).

        >>> s = Spread(5.0, 5.0, 5.0, 1)
        >>> best = StepsToTarget(False, 0.1, 1.0, s, 10.0, 1, 0)
        >>> result = RateSpeedup(RateSpeedupSettings.quick(), (best,), best, ())
        >>> result.speedup(StepsToTarget(True, 0.1, 1.0, s, 5.0, 1, 0))
        2.0
        """
        if self.best is None:
            return float("nan")
        with np.errstate(all="ignore"):
            return float(np.float64(self.best.median) / np.float64(entry.median))


def _steps(s, lr: float, target: float, max_steps: int) -> tuple[float, bool]:
    """Steps until ``J ≤ target·J₀`` (``inf`` if not within ``max_steps``), and whether the run diverged."""
    p = dict(s.params)
    first = None
    for step in range(max_steps + 1):
        loss, g = s.grads(p)
        first = loss if first is None else first
        if not np.isfinite(loss) or loss > DIVERGENCE_FACTOR * max(first, 1.0):
            return float("inf"), True
        if loss <= target * first:
            return float(step), False
        p = {k: p[k] - lr * g[k] for k in p}
    return float("inf"), False


def _entry(settings: RateSpeedupSettings, bn: bool, lr: float, multiple: float) -> StepsToTarget:
    counts, diverged = [], 0
    for seed in range(settings.seeds):
        n, div = _steps(setup(list(settings.widths), bn=bn, seed=seed, batch=settings.batch), lr, settings.target,
                        settings.max_steps)
        counts.append(n)
        diverged += div
    finite = [c for c in counts if np.isfinite(c)]
    return StepsToTarget(bn, float(lr), float(multiple), summarize(finite), float(np.median(counts)), len(finite),
                         diverged)


def run(settings: RateSpeedupSettings = RateSpeedupSettings()) -> RateSpeedup:
    """Find the best no-BN rate on the grid, then count BN's steps at its multiples.

    >>> r = run(RateSpeedupSettings(widths=(2, 4, 4, 1), rates=(0.05,), max_steps=20, seeds=1, target=0.9))
    >>> r.best.lr
    0.05
    """
    check_positive("seeds", settings.seeds, integer=True)
    check_positive("max_steps", settings.max_steps, integer=True)
    check_positive("target", settings.target)
    for v in (*settings.rates, *settings.multiples):
        check_positive("each rate and multiple", v)
    if not settings.rates:
        check_positive("the number of rates", 0, integer=True)
    grid = tuple(_entry(settings, False, lr, 1.0) for lr in sorted(settings.rates))
    reaching = [e for e in grid if np.isfinite(e.median)]
    best = min(reaching, key=lambda e: e.median) if reaching else None  # ties: the smaller rate (sorted grid)
    with_bn = () if best is None else tuple(_entry(settings, True, best.lr * m, m) for m in settings.multiples)
    return RateSpeedup(settings, grid, best, with_bn)


def describe(result: RateSpeedup) -> str:
    """The measurement and what it shows, in Markdown; every number is read from ``result``.

    >>> r = run(RateSpeedupSettings.quick())
    >>> f"{r.best.lr:.3g}" in describe(r)
    True
    """
    st = result.settings
    head = ("**BN with a 5× and 30× rate** (Ioffe & Szegedy 2015, *Batch normalization*, arXiv 1502.03167, "
            f"§4.2.1–4.2.2). MLP {list(st.widths)}, ReLU, batch {st.batch}, full-batch GD, steps until the loss is "
            f"at most {st.target:g} × its initial value (budget {st.max_steps} steps, {st.seeds} seeds). ")
    if result.best is None:
        return head + "Without BN no rate of the grid reached the target for half the seeds, so there is no best rate."
    b = result.best
    lines = [head + f"The best rate without BN on the grid of {len(st.rates)} rates "
             f"({min(st.rates):.3g}–{max(st.rates):.3g}) is η* = {b.lr:.3g}.", "",
             "| network | rate | steps to target (median) | 10–90 % (seeds reaching it) | reached | diverged | "
             "speed-up over no BN at η* |", "|---|---|---|---|---|---|---|"]

    def row(name: str, e: StepsToTarget) -> str:
        median = "never" if not np.isfinite(e.median) else f"{e.median:.0f}"
        spread = "–" if e.steps.n == 0 else f"{e.steps.low:.0f}–{e.steps.high:.0f}"
        speed = result.speedup(e) if np.isfinite(e.median) else float("nan")
        return (f"| {name} | {e.lr:.3g} | {median} | {spread} | {e.reached}/{st.seeds} | {e.diverged}/{st.seeds} | "
                f"{'–' if not np.isfinite(speed) else f'{speed:.2g}×'} |")

    lines.append(row("no BN (η*)", b))
    lines += [row(f"BN, {e.multiple:g} × η*", e) for e in result.with_bn]
    faster = [e for e in result.with_bn if result.speedup(e) > 1]
    failed = [e for e in result.with_bn if not np.isfinite(e.median)]
    verb = "reaches" if len(faster) == 1 else "reach"
    text = (f"With BN, {len(faster)} of the {len(result.with_bn)} rates {verb} the target in fewer steps than the "
            "best network without BN")
    if faster:
        top = max(faster, key=result.speedup)
        text += f" (at most {result.speedup(top):.2g}× fewer, at {top.multiple:g} × η*)"
    if failed:
        text += ("; at " + ", ".join(f"{e.multiple:g} × η*" for e in failed) + " BN does not reach it for at "
                 "least half the seeds (" + ", ".join(f"{e.diverged} of {st.seeds} diverge" for e in failed) + ")")
    lines += ["", text + ". " + ("As in the paper, BN makes the larger rates usable and faster."
                                  if len(faster) == len(result.with_bn) else
                                  "The paper's larger rates help only where the table shows a speed-up above 1×.")]
    return "\n".join(lines)
