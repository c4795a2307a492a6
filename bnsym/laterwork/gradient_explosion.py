"""Gradient explosion at initialization in deep BN networks without skip connections (Yang et al. 2019).

Yang, Pennington, Rao, Sohl-Dickstein & Schoenholz, "A mean field theory of batch normalization", ICLR 2019
(arXiv 1902.08129), §3–4 and the abstract: in a fully connected network with BN and no skip connections, the
gradient signal grows exponentially with depth at initialization (backwards, towards the input), BN itself
being the cause, and the rate cannot be tuned away by the initialization or the activation; it is larger for
smaller batches.

Here, at small scale: the MLP ``[inputs, width × (depth−1), 1]`` (ReLU, He initialization, biases 0,
``γ = 1, β = 0``), BN before every hidden activation or none, full batch of the reference data. For each
depth, batch size and seed, the per-layer gradient norms ``‖∂J/∂W_l‖`` at initialization; per network the
ratio ``‖∂J/∂W_1‖ / ‖∂J/∂W_L‖`` (first over last layer) and the per-layer growth factor
``exp(−slope)`` of a least-squares line through ``log ‖∂J/∂W_l‖`` over the hidden layers ``l < L``.

>>> r = run(GradientExplosionSettings.quick())
>>> r.row(True, 8, 8).ratio.median > r.row(False, 8, 8).ratio.median
True
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._common import Spread, check_positive, setup, summarize

__all__ = ["GradientExplosionSettings", "Profile", "GradientExplosion", "run", "describe"]


@dataclass(frozen=True)
class GradientExplosionSettings:
    """What to measure: depths (Linear layers), batch sizes, hidden width, seeds, activation.

    >>> GradientExplosionSettings.quick().depths
    (4, 8)
    """

    depths: tuple[int, ...] = (8, 16, 32, 48)
    batches: tuple[int, ...] = (4, 16, 64)
    width: int = 16
    inputs: int = 2
    seeds: int = 20
    activation: str = "relu"

    @classmethod
    def quick(cls) -> GradientExplosionSettings:
        """A seconds-long variant (two depths, one batch, three seeds).

        >>> GradientExplosionSettings.quick().seeds
        3
        """
        return cls(depths=(4, 8), batches=(8,), width=16, seeds=3)


@dataclass(frozen=True)
class Profile:
    """One (BN or not, depth, batch): per layer ``l = 1 … L`` the norms ``‖∂J/∂W_l‖`` over seeds, the ratio
    first/last layer and the fitted per-layer growth factor.

    >>> p = Profile(True, 2, 4, (Spread(2.0, 2.0, 2.0, 1), Spread(1.0, 1.0, 1.0, 1)), Spread(2.0, 2.0, 2.0, 1),
    ...             Spread(2.0, 2.0, 2.0, 1))
    >>> p.depth, len(p.per_layer)
    (2, 2)
    """

    bn: bool
    depth: int
    batch: int
    per_layer: tuple[Spread, ...]
    ratio: Spread
    growth: Spread


@dataclass(frozen=True)
class GradientExplosion:
    """All profiles, and the settings they came from.

    >>> GradientExplosion(GradientExplosionSettings.quick(), ()).profiles
    ()
    """

    settings: GradientExplosionSettings
    profiles: tuple[Profile, ...]

    def row(self, bn: bool, depth: int, batch: int) -> Profile:
        """The profile of one configuration (a ``KeyError`` if it was not run).

        >>> GradientExplosion(GradientExplosionSettings.quick(), ()).row(True, 4, 8)
        Traceback (most recent call last):
        ...
        KeyError: (True, 4, 8)
        """
        for p in self.profiles:
            if (p.bn, p.depth, p.batch) == (bn, depth, batch):
                return p
        raise KeyError((bn, depth, batch))


def _growth(norms: np.ndarray) -> float:
    """``exp(−slope)`` of ``log norms`` against the layer index over the hidden layers (all but the last)."""
    hidden = norms[:-1]
    if hidden.size < 2 or not np.all(np.isfinite(hidden)) or np.any(hidden <= 0):
        return float("nan")
    slope = np.polyfit(np.arange(1, hidden.size + 1), np.log(hidden), 1)[0]
    return float(np.exp(-slope))


def run(settings: GradientExplosionSettings = GradientExplosionSettings()) -> GradientExplosion:
    """Measure the per-layer gradient norms at initialization for every depth, batch size, seed, BN or not.

    >>> r = run(GradientExplosionSettings(depths=(3,), batches=(4,), width=4, seeds=2))
    >>> len(r.profiles), len(r.profiles[0].per_layer)
    (2, 3)
    """
    check_positive("seeds", settings.seeds, integer=True)
    check_positive("width", settings.width, integer=True)
    for d in settings.depths:
        check_positive("each depth", d, integer=True, minimum=2)
    for b in settings.batches:
        check_positive("each batch size", b, integer=True, minimum=1.5)
    profiles = []
    for bn in (False, True):
        for depth in settings.depths:
            widths = [settings.inputs] + [settings.width] * (depth - 1) + [1]
            for batch in settings.batches:
                per_seed = []
                for seed in range(settings.seeds):
                    s = setup(widths, bn=bn, seed=seed, batch=batch, activation=settings.activation)
                    _, grads = s.grads(s.params)
                    per_seed.append([float(np.linalg.norm(grads[f"W{k}"])) for k in range(1, depth + 1)])
                norms = np.asarray(per_seed)
                profiles.append(Profile(
                    bn, depth, batch, tuple(summarize(norms[:, k]) for k in range(depth)),
                    summarize(norms[:, 0] / norms[:, -1]), summarize([_growth(row) for row in norms])))
    return GradientExplosion(settings, tuple(profiles))


_NAMES = {"relu": "ReLU", "tanh": "tanh", "sigmoid": "sigmoid", "identity": "identity"}


def _fmt(s: Spread) -> str:
    return f"{s.median:.3g} (10–90 %: {s.low:.3g}–{s.high:.3g})"


def describe(result: GradientExplosion) -> str:
    """The measurement and what it shows, in Markdown; every number is read from ``result``.

    >>> r = run(GradientExplosionSettings.quick())
    >>> f"{r.row(True, 8, 8).ratio.median:.3g}" in describe(r)
    True
    """
    st = result.settings
    deep, shallow = max(st.depths), min(st.depths)
    small, large = min(st.batches), max(st.batches)
    lines = [
        "**Gradient explosion at initialization** (Yang et al. 2019, *A mean field theory of batch "
        "normalization*, arXiv 1902.08129, §3–4). "
        f"MLPs of width {st.width}, {_NAMES.get(st.activation, st.activation)} activations, He initialization, "
        f"depths {', '.join(map(str, st.depths))}, "
        f"full batches of {', '.join(map(str, st.batches))} samples, {st.seeds} seeds; "
        "the ratio ‖∂J/∂W₁‖/‖∂J/∂W_L‖ (median, 10–90 % over seeds):",
        "",
        "| depth | " + " | ".join(f"BN, batch {b}" for b in st.batches) + " | no BN, batch " + str(large) + " |",
        "|---|" + "---|" * (len(st.batches) + 1),
    ]
    for d in st.depths:
        cells = [_fmt(result.row(True, d, b).ratio) for b in st.batches] + [_fmt(result.row(False, d, large).ratio)]
        lines.append(f"| {d} | " + " | ".join(cells) + " |")
    bn_deep, no_deep = result.row(True, deep, small), result.row(False, deep, small)
    bn_large = result.row(True, deep, large)
    grows = bn_deep.ratio.median > result.row(True, shallow, small).ratio.median
    lines += [
        "",
        f"With BN (batch {small}) the gradient norm grows by a factor {bn_deep.growth.median:.3g} per layer "
        f"towards the input (median fitted over the hidden layers at depth {deep}; "
        f"{bn_large.growth.median:.3g} at batch {large}); without BN the factor is {no_deep.growth.median:.3g}. "
        + (f"The first/last ratio with BN {'rises' if grows else 'does not rise'} with depth, from "
           f"{result.row(True, shallow, small).ratio.median:.3g} at depth {shallow} to "
           f"{bn_deep.ratio.median:.3g} at depth {deep}"
           + (", the exponential explosion the paper predicts" if grows and bn_deep.growth.median > 1 else "")
           + "; "),
    ]
    smaller_worse = bn_deep.growth.median > bn_large.growth.median
    lines[-1] += (f"the per-layer factor is {'larger' if smaller_worse else 'not larger'} for the smaller batch"
                  + (", as the paper finds." if smaller_worse else ", unlike the paper's finding."))
    return "\n".join(lines)
