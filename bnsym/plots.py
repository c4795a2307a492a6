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


def _new(ncols: int = 1, width: float = 6.0, height: float = 4.0):
    require_matplotlib()
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, ncols, figsize=(width * ncols if ncols > 1 else width, height), squeeze=False,
                             layout="constrained")
    return fig, axes[0]


def lr_vs_depth(stable: Mapping[tuple, float | None], spread: Mapping[tuple, tuple] | None = None,
                reference: Mapping[tuple, float] | None = None, grid: Sequence[float] | None = None) -> Figure:
    """Largest stable learning rate against depth, with and without BN (log scale).

    ``stable`` maps ``(depth, bn)`` to the rate (``None``: every rate diverged); ``spread`` to the seeds'
    ``(min, max)``; ``reference`` to the PyTorch run's rates, drawn as open markers.

    >>> lr_vs_depth({(2, True): 0.5}, reference={(2, True): 0.5}).name
    'lr_vs_depth.png'
    """
    fig, (ax,) = _new()
    for bn, color, label in ((False, "tab:red", "without BN"), (True, "tab:blue", "with BN")):
        depths = sorted(d for (d, b) in stable if b == bn and stable[(d, b)] is not None)
        if not depths:
            continue
        values = [stable[(d, bn)] for d in depths]
        ax.plot(depths, values, "o-", color=color, label=f"{label} (bnsym, median over seeds)")
        if spread:
            lo = [values[i] - spread[(d, bn)][0] for i, d in enumerate(depths)]
            hi = [spread[(d, bn)][1] - values[i] for i, d in enumerate(depths)]
            ax.errorbar(depths, values, yerr=[lo, hi], fmt="none", color=color, alpha=0.5, capsize=3)
        if reference:
            ref = [(d, reference[(d, bn)]) for d in depths if reference.get((d, bn))]
            if ref:
                ax.plot(*zip(*ref, strict=True), "s", mfc="none", color=color, ms=10,
                        label=f"{label} (PyTorch, same runs)")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("depth (number of Linear layers)")
    ax.set_ylabel("largest stable learning rate")
    if grid:
        ax.set_ylim(min(grid) / 2, max(grid) * 2)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    caption = ("Largest learning rate that does not diverge within the step budget, against depth, for the "
               "reference MLP (width 8, ReLU, batch 32) without BN (red) and with BN before every activation "
               "(blue). Points are the median over seeds, bars the range over seeds; open squares are the same "
               "runs made with PyTorch autograd from the same initialization.")
    return Figure("lr_vs_depth.png", caption, fig)


def loss_curves(traces: Mapping[str, Any], title: str = "") -> Figure:
    """Loss against step for several runs (``label → Trace``), log scale; diverged runs are marked.

    >>> from bnsym.dynamics import Trace
    >>> loss_curves({"BN, η = 0.1": Trace(0.1, loss=[1.0, 0.5])}).name
    'loss_curves.png'
    """
    fig, (ax,) = _new()
    for label, trace in traces.items():
        style = "--" if label.startswith("no BN") else "-"
        ax.plot(range(len(trace.loss)), trace.loss, style, label=label + (" (diverged)" if trace.diverged else ""))
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("loss J")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7)
    caption = ("Training loss against gradient-descent step, without BN (dashed) and with BN (solid), at the "
               "same learning rates; a curve that stops early diverged (loss not finite or above the divergence "
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
    ax1.plot(steps, [v ** 2 for v in trace.weight_norms[weight]], label="measured $\\|W_t\\|^2$")
    if growth is not None:
        ax1.plot(range(len(growth.predicted)), growth.predicted, "--",
                 label="$\\|W_{t-1}\\|^2 + \\eta^2\\|\\nabla J\\|^2$")
    ax1.set_xlabel("step")
    ax1.set_ylabel(f"squared norm of {weight}")
    ax1.legend(fontsize=8)
    ax1.grid(True, alpha=0.3)
    rates = trace.effective_lr[weight]
    ax2.plot(steps, rates, color="tab:green")
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
    for label, values in norms.items():
        ax.plot(range(1, len(values) + 1), values, "o-" if "with BN" in label else "s--", label=label)
    ax.set_yscale("log")
    ax.set_xlabel("layer l")
    ax.set_ylabel("gradient norm $\\|\\partial J/\\partial W_l\\|$")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    spread = {}
    for bn in ("without", "with"):
        logs = [float(np.log10(v)) for label, values in norms.items() if label.startswith(bn + " ") for v in values]
        if logs:
            spread[bn] = max(logs) - min(logs)
    caption = (f"Norm of the gradient of each layer's weights at initialization, for the depth-{depth} reference "
               "MLP without BN (dashed) and with BN (solid), for two seeds. "
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
    for label, out in scaling.items():
        ax.plot(out["scales"], out["lambda_max"], "o-", label=f"{label} (slope {out['slope']:.3f})")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("scale c of the weights feeding BN")
    ax.set_ylabel("$\\lambda_{max}$ of the Hessian block")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    caption = ("Largest eigenvalue of the loss Hessian with respect to the weights W₁ feeding BN, at W₁ "
               "multiplied by c (everything else fixed): a line of slope −2, λ_max ∝ 1/c², so the critical "
               "learning rate 2/λ_max grows like c²: the same η is a smaller step for larger weights.")
    return Figure("curvature_scaling.png", caption, fig)
