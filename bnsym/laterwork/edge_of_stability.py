"""Progressive sharpening and the edge of stability under full-batch gradient descent (Cohen et al. 2021).

Cohen, Kaur, Li, Kolter & Talwalkar, "Gradient descent on neural networks typically occurs at the edge of
stability", ICLR 2021 (arXiv 2103.00065), §3 (and §3.2 and Appendix for BN networks): during full-batch GD at
rate ``η`` the sharpness ``λ_max`` (largest eigenvalue of the training loss's Hessian) rises (*progressive
sharpening*) until it reaches ``2/η``, then hovers just above it while the loss keeps falling,
non-monotonically (*edge of stability*); a network with BN behaves the same way.

Here: the MLP ``widths`` (tanh by default), with BN before each hidden activation or none, full-batch GD on the
reference data at a few rates; every ``every`` steps ``λ_max`` by power iteration on Hessian-vector products
(central differences of the layers' own gradients, warm-started from the previous eigenvector;
:func:`bnsym.laterwork._common.top_eigenvalue`). Reported as ``λ_max/(2/η) = ηλ_max/2`` per checkpoint, over
seeds.

>>> r = run(EdgeOfStabilitySettings.quick())
>>> len(r.runs), r.runs[0].steps[-1] == r.settings.steps
(2, True)
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._common import Spread, check_positive, setup, summarize, top_eigenvalue

__all__ = ["EdgeOfStabilitySettings", "SharpnessRun", "EdgeOfStability", "run", "describe"]

#: A checkpoint counts as "at the edge" when ``ηλ_max/2`` is at least this.
NEAR = 0.9


@dataclass(frozen=True)
class EdgeOfStabilitySettings:
    """Network, rates, steps, checkpoint spacing, power iterations (first / warm-started), seeds.

    >>> EdgeOfStabilitySettings().rates
    (0.02, 0.04)
    """

    widths: tuple[int, ...] = (2, 32, 32, 1)
    activation: str = "tanh"
    gain: float = 1.0
    batch: int = 64
    rates: tuple[float, ...] = (0.02, 0.04)
    steps: int = 2000
    every: int = 100
    iterations: int = 20
    warm_iterations: int = 8
    seeds: int = 5

    @classmethod
    def quick(cls) -> EdgeOfStabilitySettings:
        """A variant of about a second: one rate, a short run, one seed.

        >>> EdgeOfStabilitySettings.quick().seeds
        1
        """
        return cls(widths=(2, 16, 16, 1), rates=(0.04,), steps=300, every=50, seeds=1)


@dataclass(frozen=True)
class SharpnessRun:
    """One (BN or not, ``η``): per checkpoint step the ratio ``ηλ_max/2`` and the loss over seeds; summaries over
    seeds of the ratio at the start, its median over the second half of the run (``late``), its peak, the
    first step at which it reaches :data:`NEAR` (NaN for a seed that never does), and the diverged seeds.

    >>> s = Spread(1.0, 1.0, 1.0, 1)
    >>> SharpnessRun(False, 0.1, (0,), (s,), (s,), s, s, s, s, 0).lr
    0.1
    """

    bn: bool
    lr: float
    steps: tuple[int, ...]
    ratio: tuple[Spread, ...]
    loss: tuple[Spread, ...]
    initial: Spread
    late: Spread
    peak: Spread
    reach_step: Spread
    diverged: int

    @property
    def threshold(self) -> float:
        """``2/η``, the sharpness at which GD on the local quadratic model stops being stable.

        >>> s = Spread(1.0, 1.0, 1.0, 1)
        >>> SharpnessRun(False, 0.1, (0,), (s,), (s,), s, s, s, s, 0).threshold
        20.0
        """
        return 2.0 / self.lr


@dataclass(frozen=True)
class EdgeOfStability:
    """All runs and the settings.

    >>> EdgeOfStability(EdgeOfStabilitySettings.quick(), ()).runs
    ()
    """

    settings: EdgeOfStabilitySettings
    runs: tuple[SharpnessRun, ...]

    def get(self, bn: bool, lr: float) -> SharpnessRun:
        """The run of one condition (a ``KeyError`` if it was not run).

        >>> EdgeOfStability(EdgeOfStabilitySettings.quick(), ()).get(True, 0.04)
        Traceback (most recent call last):
        ...
        KeyError: (True, 0.04)
        """
        for r in self.runs:
            if r.bn == bn and r.lr == lr:
                return r
        raise KeyError((bn, lr))


def _one(settings: EdgeOfStabilitySettings, bn: bool, lr: float, seed: int) -> tuple[list[float], list[float], bool]:
    s = setup(list(settings.widths), bn=bn, seed=seed, batch=settings.batch, activation=settings.activation,
              gain=settings.gain)

    def gradient(p):
        return s.grads(p)[1]

    p, vector, ratios, losses, diverged = dict(s.params), None, [], [], False
    for step in range(settings.steps + 1):
        loss, grads = s.grads(p)
        if not np.isfinite(loss):
            diverged = True
        if step % settings.every == 0:
            if diverged:
                ratios.append(float("nan"))
                losses.append(float("nan"))
            else:
                n = settings.iterations if vector is None else settings.warm_iterations
                value, vector = top_eigenvalue(gradient, p, iterations=n, start=vector, seed=seed)
                ratios.append(lr * value / 2)
                losses.append(float(loss))
        if not diverged:
            p = {k: p[k] - lr * grads[k] for k in p}
    return ratios, losses, diverged


def _first(ratios: np.ndarray, steps: np.ndarray) -> float:
    hits = np.nonzero(ratios >= NEAR)[0]
    return float(steps[hits[0]]) if hits.size else float("nan")


def run(settings: EdgeOfStabilitySettings = EdgeOfStabilitySettings()) -> EdgeOfStability:
    """Train every condition and seed, measuring the sharpness every ``settings.every`` steps.

    >>> r = run(EdgeOfStabilitySettings(widths=(2, 4, 1), rates=(0.1,), steps=20, every=10, seeds=1))
    >>> r.get(True, 0.1).steps
    (0, 10, 20)
    """
    check_positive("seeds", settings.seeds, integer=True)
    check_positive("steps", settings.steps, integer=True)
    check_positive("every", settings.every, integer=True)
    for lr in settings.rates:
        check_positive("each rate", lr)
    steps = np.arange(0, settings.steps + 1, settings.every)
    runs = []
    for bn in (False, True):
        for lr in settings.rates:
            ratios, losses, diverged = [], [], 0
            for seed in range(settings.seeds):
                r, loss, div = _one(settings, bn, lr, seed)
                ratios.append(r)
                losses.append(loss)
                diverged += div
            R, L = np.asarray(ratios), np.asarray(losses)
            half = R[:, R.shape[1] // 2:]
            late = [float(np.median(row)) if np.all(np.isfinite(row)) else float("nan") for row in half]
            runs.append(SharpnessRun(
                bn, float(lr), tuple(int(k) for k in steps), tuple(summarize(R[:, k]) for k in range(R.shape[1])),
                tuple(summarize(L[:, k]) for k in range(L.shape[1])), summarize(R[:, 0]), summarize(late),
                summarize(np.nanmax(np.where(np.isfinite(R), R, np.nan), axis=1)),
                summarize([_first(row, steps) for row in R]), diverged))
    return EdgeOfStability(settings, tuple(runs))


def describe(result: EdgeOfStability) -> str:
    """The measurement and what it shows, in Markdown; every number is read from ``result``.

    >>> r = run(EdgeOfStabilitySettings.quick())
    >>> f"{r.get(False, 0.04).late.median:.2f}" in describe(r)
    True
    """
    st = result.settings
    lines = [
        "**Sharpness during full-batch gradient descent** (Cohen et al. 2021, *Gradient descent on neural "
        "networks typically occurs at the edge of stability*, arXiv 2103.00065, §3). "
        f"MLP {list(st.widths)}, {st.activation}, batch {st.batch}, {st.steps} GD steps, λ_max by power iteration "
        f"on Hessian-vector products every {st.every} steps, {st.seeds} seed(s). "
        "The table gives ηλ_max/2 = λ_max/(2/η) (median over seeds; 1 means λ_max = 2/η):",
        "",
        "| network | η | 2/η | at step 0 | peak | second half (median) | "
        f"first step ≥ {NEAR:g} (seeds reaching it) | diverged |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in result.runs:
        reach = "never" if r.reach_step.n == 0 else f"{r.reach_step.median:.0f} ({r.reach_step.n}/{st.seeds})"
        lines.append(f"| {'BN' if r.bn else 'no BN'} | {r.lr:g} | {r.threshold:.3g} | {r.initial.median:.2f} | "
                     f"{r.peak.median:.2f} | {r.late.median:.2f} | {reach} | {r.diverged}/{st.seeds} |")
    sentences = []
    for r in result.runs:
        name = f"{'With' if r.bn else 'Without'} BN at η = {r.lr:g}"
        if r.late.n == 0:
            sentences.append(f"{name} every seed diverged.")
            continue
        off = abs(r.late.median - 1) * 100
        if r.initial.median < NEAR <= r.late.median:
            what = (f"the sharpness starts at {r.initial.median:.2f}·2/η, rises (progressive sharpening) to "
                    f"{NEAR:g}·2/η by step {r.reach_step.median:.0f} (median over the {r.reach_step.n} seeds that "
                    f"get there) and in the second half stays within {off:.1f} % of 2/η (edge of stability)")
        elif r.initial.median >= NEAR and r.late.median >= NEAR:
            what = (f"the sharpness starts at or above the edge ({r.initial.median:.2f}·2/η) and in the second half "
                    f"stays within {off:.1f} % of 2/η")
        else:
            what = (f"the sharpness goes from {r.initial.median:.2f}·2/η to {r.late.median:.2f}·2/η: it has not "
                    "reached the edge of stability within the run (median over seeds)")
        sentences.append(f"{name}, {what}.")
    lines += ["", " ".join(sentences)]
    return "\n".join(lines)
