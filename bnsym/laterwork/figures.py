"""Figures of the later-work experiments (matplotlib, Agg), as :class:`bnsym.plots.Figure` objects.

One fixed colour per condition across every figure (:data:`COLORS`, the same red and blue as
:mod:`bnsym.plots`); variants of a condition (batch sizes, rates) are lighter or darker shades of its colour
with their own line style. Medians are lines, the 10–90 % intervals over seeds shaded bands; axes are clipped
to the range of the finite data.

>>> from bnsym.laterwork import gradient_explosion
>>> fig = gradient_explosion_figure(gradient_explosion.run(gradient_explosion.GradientExplosionSettings.quick()))
>>> fig.name
'laterwork_gradient_explosion.png'
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..plots import Figure, require_matplotlib
from ._common import Spread

__all__ = ["COLORS", "shade", "gradient_explosion_figure", "edge_of_stability_figure", "auto_rate_figure",
           "smoothness_figure", "rate_speedup_figure"]

#: One colour per condition, the same in every figure.
COLORS: dict[str, str] = {"no BN": "tab:red", "BN": "tab:blue"}

_STYLES = ("-", "--", ":", "-.")
_MARKERS = ("o", "s", "^", "D", "v")


def shade(condition: str, k: int, n: int) -> tuple[float, float, float]:
    """The ``k``-th of ``n`` shades of a condition's colour, from lighter (``k = 0``) to the colour itself.

    >>> shade("BN", 1, 2) == tuple(__import__("matplotlib.colors").colors.to_rgb(COLORS["BN"]))
    True
    """
    from matplotlib.colors import to_rgb

    base = np.asarray(to_rgb(COLORS[condition]))
    mix = 0.55 * (n - 1 - k) / max(n - 1, 1)
    r, g, b = (1 - mix) * base + mix
    return float(r), float(g), float(b)


def _axes(ncols: int, width: float = 4.6, height: float = 3.8):
    require_matplotlib()
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, ncols, figsize=(width * ncols, height), squeeze=False, layout="constrained")
    return fig, list(axes[0])


def _band(ax, x: Sequence[float], spreads: Sequence[Spread], color, label: str, style: str = "-", marker=None) -> list:
    med = np.array([s.median for s in spreads])
    ax.plot(x, med, style, color=color, marker=marker, ms=4, label=label)
    ax.fill_between(x, [s.low for s in spreads], [s.high for s in spreads], color=color, alpha=0.18, lw=0)
    return [v for s in spreads for v in (s.low, s.high, s.median) if np.isfinite(v)]


def _clip_log(ax, values: Sequence[float], pad: float = 1.5) -> None:
    """Log y-axis over the positive finite ``values`` (padded by a factor ``pad``)."""
    ax.set_yscale("log")
    pos = [v for v in values if np.isfinite(v) and v > 0]
    if pos:
        ax.set_ylim(min(pos) / pad, max(pos) * pad)


def _finish(ax, xlabel: str, ylabel: str) -> None:
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)


def gradient_explosion_figure(result) -> Figure:
    """Left: ``‖∂J/∂W_l‖`` against layer at the largest depth; right: first/last ratio against depth.

    See the module's example.
    """
    st = result.settings
    fig, (left, right) = _axes(2)
    deep, n = max(st.depths), len(st.batches)
    seen_left: list[float] = []
    seen_right: list[float] = []
    for k, b in enumerate(st.batches):
        color = shade("BN", k, n)
        prof = result.row(True, deep, b)
        seen_left += _band(left, range(1, deep + 1), prof.per_layer, color, f"BN, batch {b}", _STYLES[k % 4])
        seen_right += _band(right, st.depths, [result.row(True, d, b).ratio for d in st.depths], color,
                            f"BN, batch {b}", _STYLES[k % 4], _MARKERS[k % 5])
    b = max(st.batches)
    seen_left += _band(left, range(1, deep + 1), result.row(False, deep, b).per_layer, COLORS["no BN"],
                       f"no BN, batch {b}")
    seen_right += _band(right, st.depths, [result.row(False, d, b).ratio for d in st.depths], COLORS["no BN"],
                        f"no BN, batch {b}", "-", "o")
    _clip_log(left, seen_left)
    _clip_log(right, seen_right)
    _finish(left, "layer l", f"$\\|\\partial J/\\partial W_l\\|$ at depth {deep}")
    _finish(right, "depth L", "$\\|\\partial J/\\partial W_1\\| / \\|\\partial J/\\partial W_L\\|$")
    caption = (f"Gradient norms at initialization (Yang et al. 2019). Left: per-layer gradient norm of the "
               f"depth-{deep} MLP (width {st.width}) with BN at each batch size (blue shades) and without BN (red); "
               "right: first-over-last-layer ratio against depth. Lines: median over {st.seeds} seeds; bands: 10–90 %.")
    return Figure("laterwork_gradient_explosion.png", caption, fig)


def edge_of_stability_figure(result) -> Figure:
    """Left: ``ηλ_max/2`` against step per network and rate (1 is the edge ``λ_max = 2/η``); right: loss.

    >>> from bnsym.laterwork import edge_of_stability as eos
    >>> edge_of_stability_figure(eos.run(eos.EdgeOfStabilitySettings.quick())).name
    'laterwork_edge_of_stability.png'
    """
    st = result.settings
    fig, (left, right) = _axes(2)
    n = len(st.rates)
    seen: list[float] = []
    losses: list[float] = []
    for r in result.runs:
        k = sorted(st.rates).index(r.lr)
        cond = "BN" if r.bn else "no BN"
        color, style = shade(cond, k, n), _STYLES[k % 4]
        seen += _band(left, r.steps, r.ratio, color, f"{cond}, η = {r.lr:g}", style)
        losses += _band(right, r.steps, r.loss, color, f"{cond}, η = {r.lr:g}", style)
    left.axhline(1.0, color="gray", ls=":", lw=1)
    top = max([v for v in seen if v > 0] + [1.0])
    left.set_ylim(0, min(top, 3.0) * 1.1)
    _clip_log(right, losses)
    _finish(left, "GD step", "$\\eta\\,\\lambda_{max}/2$  (1: $\\lambda_{max} = 2/\\eta$)")
    _finish(right, "GD step", "training loss J")
    caption = ("Sharpness during full-batch GD (Cohen et al. 2021): λ_max of the loss Hessian in units of 2/η "
               "(dotted line: the edge of stability) and the loss, without BN (red) and with BN (blue), shades "
               f"for the rates; median over {st.seeds} seed(s), bands 10–90 %.")
    return Figure("laterwork_edge_of_stability.png", caption, fig)


def auto_rate_figure(result) -> Figure:
    """``‖W‖²`` of the weights feeding BN, the effective rate ``η/‖W₁‖²`` and the loss against step, per ``η``.

    >>> from bnsym.laterwork import auto_rate
    >>> auto_rate_figure(auto_rate.run(auto_rate.AutoRateSettings.quick())).name
    'laterwork_auto_rate.png'
    """
    st = result.settings
    fig, axes = _axes(3, width=4.0)
    n = len(result.conditions)
    seen: list[list[float]] = [[], [], []]
    for k, c in enumerate(sorted(result.conditions, key=lambda c: c.lr)):
        color, style, steps = shade("BN", k, n), _STYLES[k % 4], range(len(c.norm_sq))
        label = f"BN, η = {c.lr:g}"
        for j, spreads in enumerate((c.norm_sq, c.effective_lr, c.loss)):
            seen[j] += _band(axes[j], steps, spreads, color, label, style)
    for ax, values in zip(axes, seen, strict=True):
        _clip_log(ax, values)
        ax.set_xscale("symlog", linthresh=1.0)  # the norms jump in the first steps
        ax.set_xlim(0, st.steps)
    _finish(axes[0], "GD step", "$\\sum_l \\|W_l\\|^2$ (weights feeding BN)")
    _finish(axes[1], "GD step", "effective rate $\\eta/\\|W_1\\|^2$")
    _finish(axes[2], "GD step", "training loss J")
    caption = ("Auto rate-tuning (Arora et al. 2018): with BN (ε = 0) the squared norm of the weights feeding BN "
               "only grows, the faster the larger η, so the effective rate η/‖W‖² falls and the loss decreases "
               f"even for η far above 2/λ_max; other parameters at rate {st.other_rate:g}; median over {st.seeds} "
               "seeds, bands 10–90 %.")
    return Figure("laterwork_auto_rate.png", caption, fig)


def smoothness_figure(result) -> Figure:
    """Loss range, largest gradient change and β-smoothness along the gradient against training step.

    >>> from bnsym.laterwork import smoothness
    >>> smoothness_figure(smoothness.run(smoothness.SmoothnessSettings.quick())).name
    'laterwork_smoothness.png'
    """
    st = result.settings
    fig, axes = _axes(3, width=4.0)
    seen: list[list[float]] = [[], [], []]
    for land in result.landscapes:
        cond = "BN" if land.bn else "no BN"
        for j, spreads in enumerate((land.loss_range, land.grad_change, land.beta)):
            seen[j] += _band(axes[j], result.steps, spreads, COLORS[cond], cond)
    for ax, values in zip(axes, seen, strict=True):
        _clip_log(ax, values)
    _finish(axes[0], "GD step", "loss range along $-\\nabla J$")
    _finish(axes[1], "GD step", "$\\max_s \\|\\nabla J(\\theta) - \\nabla J(\\theta - s\\nabla J)\\|$")
    _finish(axes[2], "GD step", "effective β-smoothness")
    caption = ("Landscape along the gradient during training (Santurkar et al. 2018, Fig. 4): variation of the "
               "loss, of the gradient and the effective β-smoothness over steps s = "
               f"{', '.join(f'{c:g}' for c in st.multiples)} × η (η = {st.lr:g}), without BN (red) and with BN "
               f"(blue); median over {st.seeds} seeds, bands 10–90 %.")
    return Figure("laterwork_smoothness.png", caption, fig)


def rate_speedup_figure(result) -> Figure:
    """Steps to the target loss against the rate: no BN over its grid, BN at the multiples of the best rate.

    >>> from bnsym.laterwork import rate_speedup
    >>> rate_speedup_figure(rate_speedup.run(rate_speedup.RateSpeedupSettings.quick())).name
    'laterwork_rate_speedup.png'
    """
    st = result.settings
    fig, (ax,) = _axes(1, width=6.0)
    cap = st.max_steps * 1.3  # where "never" is drawn
    finite = [v for e in (*result.without_bn, *result.with_bn) for v in (e.median, e.steps.low) if np.isfinite(v)]
    for cond, entries in (("no BN", result.without_bn), ("BN", result.with_bn)):
        if not entries:
            continue
        x = [e.lr for e in entries]
        y = [e.median if np.isfinite(e.median) else cap for e in entries]
        ax.plot(x, y, "o-" if cond == "no BN" else "s--", color=COLORS[cond], label=f"{cond} (median)")
        lo = [e.steps.low if e.steps.n else np.nan for e in entries]
        hi = [e.steps.high if e.steps.n else np.nan for e in entries]
        ax.fill_between(x, lo, hi, color=COLORS[cond], alpha=0.18, lw=0)
        for e, yy in zip(entries, y, strict=True):
            if cond == "BN":
                ax.annotate(f"{e.multiple:g}×", (e.lr, yy), textcoords="offset points", xytext=(4, 4), fontsize=8)
    if result.best is not None:
        ax.axvline(result.best.lr, color=COLORS["no BN"], ls=":", lw=1)
    ax.axhline(st.max_steps, color="gray", ls=":", lw=1)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_ylim(max(min(finite, default=1.0) / 1.5, 0.5), cap * 1.3)
    _finish(ax, "learning rate η", f"steps until J ≤ {st.target:g}·J₀")
    caption = ("Steps to bring the loss to a fraction of its initial value (Ioffe & Szegedy 2015 §4.2.1): without "
               "BN (red) over the rate grid, the dotted vertical line at its best rate η*; with BN (blue) at 1×, 5× "
               f"and 30× η*. Points above the dotted horizontal line never reached the target in {st.max_steps} "
               f"steps; median over {st.seeds} seeds, bands 10–90 % of the seeds that reach it.")
    return Figure("laterwork_rate_speedup.png", caption, fig)
