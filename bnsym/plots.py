"""Figures for the ``explain`` report (matplotlib, Agg backend). Each function returns a :class:`Figure`.

A :class:`Figure` is a file name, a caption that says what the figure shows, and the matplotlib figure;
:meth:`Figure.save` writes the PNG. matplotlib is an optional dependency (``pip install 'bnsym[plots]'``).

>>> fig = lr_vs_depth({(2, False): 0.3, (4, False): 0.1, (2, True): 0.56, (4, True): 0.56})
>>> fig.name, "depth" in fig.caption
('lr_vs_depth.png', True)
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from collections.abc import Mapping, Sequence

from .errors import MissingDependencyError

__all__ = [
    "Figure",
    "COLORS",
    "condition_color",
    "require_matplotlib",
    "lr_vs_depth",
    "loss_curves",
    "norm_and_effective_lr",
    "gradient_norms_per_layer",
    "goodfellow_figure",
    "curvature_figure",
]


def require_matplotlib():
    """Import matplotlib with the Agg backend, or raise a bnsym error saying how to install it.

    >>> require_matplotlib().get_backend().lower()
    'agg'
    """
    try:
        import matplotlib
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise MissingDependencyError(
            "the report's figures need matplotlib: pip install 'bnsym[plots]'") from exc
    matplotlib.use("Agg", force=True)
    return matplotlib


@dataclass
class Figure:
    """A figure of the report: PNG file name, caption, and the matplotlib figure.

    >>> import tempfile
    >>> fig = curvature_figure({"W1": {"scales": [1, 2], "lambda_max": [4.0, 1.0], "slope": -2.0}})
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     fig.save(tmp).read_bytes()[:4]
    b'\x89PNG'
    """

    name: str
    caption: str
    figure: Any

    def save(self, directory: str | Path) -> Path:
        """Write ``directory/name`` as a PNG (150 dpi) and close the figure; returns the path."""
        import matplotlib.pyplot as plt

        path = Path(directory) / self.name
        self.figure.savefig(path, dpi=150, bbox_inches="tight")
        plt.close(self.figure)
        return path


#: One colour per condition across every figure of the report.
COLORS: Mapping[bool, str] = {False: "tab:red", True: "tab:blue"}


def condition_color(label: str) -> str:
    """The colour of a run's condition from its label: with BN blue, without BN red.

    >>> condition_color("no BN, η = 0.1"), condition_color("with BN, seed 0"), condition_color("BN, η = 1")
    ('tab:red', 'tab:blue', 'tab:blue')
    """
    low = label.lower()
    return COLORS[not (low.startswith("no bn") or "without bn" in low)]


def _new(ncols: int = 1, width: float = 6.0, height: float = 4.0):
    require_matplotlib()
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, ncols, figsize=(width * ncols if ncols > 1 else width, height), squeeze=False,
                             layout="constrained")
    return fig, axes[0]


def lr_vs_depth(stable: Mapping[tuple, float | None], spread: Mapping[tuple, tuple] | None = None,
                training: Mapping[tuple, float | None] | None = None,
                training_spread: Mapping[tuple, tuple] | None = None, grid: Sequence[float] | None = None,
                train_fraction: float | None = None) -> Figure:
    """The two outcomes against depth, with and without BN (log scale): the largest rate that does not
    diverge (filled, solid) and the largest that trains (open, dashed), median and interquartile range.

    ``stable`` and ``training`` map ``(depth, bn)`` to the median rate (``None``: no rate of the grid);
    ``spread`` and ``training_spread`` to the seeds' ``(q25, q75)``.

    >>> lr_vs_depth({(2, True): 0.5}, training={(2, True): 0.3}, grid=[0.1, 1.0]).name
    'lr_vs_depth.png'
    """
    fig, (ax,) = _new()
    floor = min(grid) / 2 if grid else None
    for values, bars, style, what in ((stable, spread, "o-", "does not diverge"),
                                      (training or {}, training_spread, "s--", "trains")):
        for bn, label in ((False, "without BN"), (True, "with BN")):
            depths = sorted(d for (d, b) in values if b == bn and values[(d, b)] is not None)
            if not depths:
                continue
            ys = [float(values[(d, bn)] or 0) for d in depths]
            ax.plot(depths, ys, style, color=COLORS[bn], mfc=COLORS[bn] if what != "trains" else "none",
                    label=f"{label}: {what}")
            if bars:
                lo = [y - float(bars[(d, bn)][0] or floor or y) for y, d in zip(ys, depths, strict=True)]
                hi = [float(bars[(d, bn)][1] or y) - y for y, d in zip(ys, depths, strict=True)]
                ax.errorbar(depths, ys, yerr=[lo, hi], fmt="none", color=COLORS[bn], alpha=0.5, capsize=3)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("depth (number of Linear layers)")
    ax.set_ylabel("largest learning rate")
    if grid:
        ax.set_ylim(min(grid) / 2, max(grid) * 2)
        ax.axhline(max(grid), color="gray", ls=":", lw=1)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    rule = (f"final loss at most {train_fraction:g} × the initial loss" if train_fraction is not None
            else "final loss below a fraction of the initial loss")
    caption = ("The largest learning rate that does not diverge (filled markers, solid) and the largest that "
               f"trains ({rule}; open markers, dashed), against depth, without BN (red) and with BN before "
               "every hidden activation (blue). Points are the median over seeds, bars the interquartile "
               "range; the dotted line is the top of the grid.")
    return Figure("lr_vs_depth.png", caption, fig)


def loss_curves(traces: Mapping[str, Any], title: str = "") -> Figure:
    """Loss against step for several runs (``label → Trace``), log scale; diverged runs are marked.

    >>> from bnsym.dynamics import Trace
    >>> loss_curves({"BN, η = 0.1": Trace(0.1, loss=[1.0, 0.5])}).name
    'loss_curves.png'
    """
    import numpy as np

    fig, (ax,) = _new()
    styles = ["-", "--", ":", "-."]
    rates = sorted({trace.lr for trace in traces.values()})
    for label, trace in traces.items():
        ax.plot(range(len(trace.loss)), trace.loss, styles[rates.index(trace.lr) % len(styles)],
                color=condition_color(label), label=label + (" (diverged)" if trace.diverged else ""))
    ax.set_yscale("log")
    finite = [v for trace in traces.values() for v in trace.loss if np.isfinite(v) and v > 0]
    if finite:  # clipped to the informative range: from the lowest loss to 10 × the largest initial loss
        top = 10 * max(trace.loss[0] for trace in traces.values() if np.isfinite(trace.loss[0]))
        ax.set_ylim(min(finite) / 2, max(min(max(finite), top), min(finite)) * 2)
    ax.set_xlabel("step")
    ax.set_ylabel("loss J")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7)
    caption = ("Training loss against gradient-descent step, without BN (red) and with BN (blue) at the same "
               "rates, one line "
               "style per learning rate; the axis is clipped at 10 × the initial loss; a curve that stops early "
               "diverged (loss not finite or above the divergence "
               "bound). " + title)
    return Figure("loss_curves.png", caption, fig)


def norm_and_effective_lr(trace, weight: str, growth=None) -> Figure:
    """‖W‖ and the effective learning rate ``η/‖W‖²`` of a weight feeding BN over the steps of a run.

    >>> from bnsym.dynamics import Trace
    >>> tr = Trace(0.5, loss=[1.0, 0.9], weight_norms={"W1": [1.0, 2.0]}, effective_lr={"W1": [0.5, 0.125]})
    >>> "η = 0.5" in norm_and_effective_lr(tr, "W1").caption
    True
    """
    fig, (ax1, ax2) = _new(2, width=4.5)
    steps = range(len(trace.weight_norms[weight]))
    ax1.plot(steps, [v ** 2 for v in trace.weight_norms[weight]], color=COLORS[True],
             label="measured $\\|W_t\\|^2$")
    if growth is not None:
        ax1.plot(range(len(growth.predicted)), growth.predicted, "--", color="black",
                 label="$\\|W_{t-1}\\|^2 + \\eta^2\\|\\nabla J\\|^2$")
    ax1.set_xlabel("step")
    ax1.set_ylabel(f"squared norm of {weight}")
    ax1.legend(fontsize=8)
    ax1.grid(True, alpha=0.3)
    rates = trace.effective_lr[weight]
    ax2.plot(steps, rates, color=COLORS[True])
    finite = [r for r in rates if r and r > 0]
    if finite and max(finite) / min(finite) > 10:  # log scale only when the rate spans more than a decade
        ax2.set_yscale("log")
    ax2.set_xlabel("step")
    ax2.set_ylabel(f"effective rate $\\eta/\\|{weight}\\|^2$")
    ax2.grid(True, alpha=0.3)
    caption = (f"Left: squared norm of the weight {weight} feeding BN during gradient descent at η = {trace.lr:g} "
               "(solid), and the identity ‖W_{t+1}‖² = ‖W_t‖² + η²‖∇J‖² applied step by step (dashed): the norm "
               "only grows. Right: the effective learning rate η/‖W‖² of the direction W/‖W‖, which falls as "
               "the norm grows: BN tunes its own step size.")
    return Figure("weight_norm_effective_lr.png", caption, fig)


def gradient_norms_per_layer(norms: Mapping[str, Sequence[float]], depth: int) -> Figure:
    """‖∂J/∂W_l‖ against layer ``l`` at initialization, per network and seed (``label → norms``).

    >>> fig = gradient_norms_per_layer({"without BN, seed 0": [1.0, 100.0], "with BN, seed 0": [1.0, 10.0]}, 2)
    >>> "span 2.0 decades" in fig.caption, "span 1.0 decades" in fig.caption
    (True, True)
    """
    import numpy as np

    fig, (ax,) = _new()
    runs: dict[bool, list[Sequence[float]]] = {}
    for label, values in norms.items():
        runs.setdefault(condition_color(label) == COLORS[True], []).append(values)
    for bn, group in sorted(runs.items()):
        table = np.array(group, dtype=float)
        layers = np.arange(1, table.shape[1] + 1)
        mid = np.median(table, axis=0)
        ax.plot(layers, mid, "o-" if bn else "s--", color=COLORS[bn],
                label=f"{'with' if bn else 'without'} BN: median over {len(group)} seed(s)")
        if len(group) > 1:
            ax.fill_between(layers, *np.quantile(table, [0.25, 0.75], axis=0), color=COLORS[bn], alpha=0.2,
                            label="interquartile range")
    ax.set_yscale("log")
    ax.set_xlabel("layer l")
    ax.set_ylabel("gradient norm $\\|\\partial J/\\partial W_l\\|$")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    spread = {}
    for which in ("without", "with"):
        logs = [float(np.log10(v)) for label, values in norms.items() if label.startswith(which + " ")
                for v in values]
        if logs:
            spread[which] = max(logs) - min(logs)
    caption = (f"Norm of the gradient of each layer's weights at initialization, for the depth-{depth} reference "
               "MLP without BN (red) and with BN (blue): median over seeds and interquartile band. "
               + " ".join(f"{k.capitalize()} BN the norms span {v:.1f} decades over layers and seeds."
                          for k, v in spread.items()))
    return Figure("gradient_norm_per_layer.png", caption, fig)


def goodfellow_figure(without, with_bn) -> Figure:
    """Relative error of the first-order prediction of the loss change after one step, against ``η``.

    >>> from bnsym.dynamics import GoodfellowStep
    >>> step = GoodfellowStep(False, [0.1], [-1.0], [-0.9])
    >>> goodfellow_figure(step, step).name
    'goodfellow.png'
    """
    fig, (ax,) = _new()
    for out, color, label in ((without, "tab:red", "without BN"), (with_bn, "tab:blue", "with BN")):
        ax.plot(out.lrs, out.relative_error, "o-", color=color, label=label)
    ax.axhline(1.0, color="gray", ls=":", lw=1)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("learning rate η")
    ax.set_ylabel("|actual ΔJ − predicted ΔJ| / |predicted ΔJ|")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    caption = ("Goodfellow's chain ŷ = x·w₁⋯w₅ (Deep Learning §8.7.1): relative error of the first-order "
               "prediction −η‖∇J‖² of the loss change after one gradient step, against the learning rate, "
               "without BN and with BN after every layer but the last. Above the dotted line the prediction "
               "is useless: the higher-order terms, which couple the layers, dominate.")
    return Figure("goodfellow.png", caption, fig)


def curvature_figure(scaling: Mapping[str, dict]) -> Figure:
    """``λ_max`` of the Hessian block of a weight feeding BN against the scale ``c`` (log-log).

    >>> "slope" in curvature_figure({"W1": {"scales": [1, 2], "lambda_max": [4.0, 1.0], "slope": -2.0}}).caption
    True
    """
    fig, (ax,) = _new()
    for (label, out), style in zip(scaling.items(), ["o-", "s--", "^:", "d-."] * 4, strict=False):
        ax.plot(out["scales"], out["lambda_max"], style, color=COLORS[True],
                label=f"{label} (slope {out['slope']:.3f})")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("scale c of the weights feeding BN")
    ax.set_ylabel("$\\lambda_{max}$ of the Hessian block")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="lower left")
    caption = ("Largest eigenvalue of the loss Hessian, at the weights W₁ feeding BN multiplied by c "
               "(everything else fixed), networks with BN: of the block of W₁ (slope −2 is the law λ_max ∝ 1/c²) "
               "and, where shown, of the full Hessian, which the law does not cover. Fitted log-log slopes in "
               "the legend.")
    return Figure("curvature_scaling.png", caption, fig)
