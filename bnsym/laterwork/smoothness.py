"""Loss and gradient variation along the gradient, and the effective β-smoothness (Santurkar et al. 2018).

Santurkar, Tsipras, Ilyas & Madry, "How does batch normalization help optimization?", NeurIPS 2018 (arXiv
1805.11604), §3.2 and Fig. 4: at points along training, move from ``θ`` along the gradient, to
``θ − s∇J(θ)`` for a range of step sizes ``s``, and measure (a) the variation of the loss (the "loss
landscape"), (b) the change of the gradient ``‖∇J(θ) − ∇J(θ − s∇J)‖`` ("gradient predictiveness") and (c)
the effective β-smoothness ``max_s ‖∇J(θ) − ∇J(θ − s∇J)‖ / ‖s∇J(θ)‖``; with BN all three are smaller and
vary less: the landscape is smoother.

Here: the MLP ``widths`` (ReLU, He init), with BN before each hidden activation or none, full-batch GD at
the same rate ``η``; every ``every`` steps the three quantities over ``s = c·η`` for the ``multiples`` ``c``.
Per checkpoint: the loss range ``max_s J − min_s J``, the largest gradient change, and β, over seeds.

>>> r = run(SmoothnessSettings.quick())
>>> len(r.get(True).beta) == len(r.steps)
True
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._common import Spread, check_positive, setup, summarize

__all__ = ["SmoothnessSettings", "Landscape", "Smoothness", "run", "describe"]


@dataclass(frozen=True)
class SmoothnessSettings:
    """Network, the training rate, steps, checkpoint spacing, step-size multiples of ``η``, seeds.

    >>> SmoothnessSettings().multiples
    (0.5, 1.0, 2.0, 4.0, 8.0)
    """

    widths: tuple[int, ...] = (2, 16, 16, 16, 16, 16, 1)
    batch: int = 32
    lr: float = 0.03
    steps: int = 200
    every: int = 20
    multiples: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0, 8.0)
    seeds: int = 20

    @classmethod
    def quick(cls) -> SmoothnessSettings:
        """A sub-second variant.

        >>> SmoothnessSettings.quick().seeds
        3
        """
        return cls(widths=(2, 8, 8, 1), steps=40, every=20, seeds=3)


@dataclass(frozen=True)
class Landscape:
    """One network (BN or not): per checkpoint over seeds the loss range along the gradient, the largest
    gradient change, the effective β-smoothness, and the loss; the seeds whose training diverged.

    >>> s = Spread(1.0, 1.0, 1.0, 1)
    >>> Landscape(True, (s,), (s,), (s,), (s,), 0).bn
    True
    """

    bn: bool
    loss_range: tuple[Spread, ...]
    grad_change: tuple[Spread, ...]
    beta: tuple[Spread, ...]
    loss: tuple[Spread, ...]
    diverged: int


@dataclass(frozen=True)
class Smoothness:
    """Both networks, the checkpoint steps and the settings.

    >>> Smoothness(SmoothnessSettings.quick(), (0,), ()).steps
    (0,)
    """

    settings: SmoothnessSettings
    steps: tuple[int, ...]
    landscapes: tuple[Landscape, ...]

    def get(self, bn: bool) -> Landscape:
        """The landscape with or without BN (a ``KeyError`` if absent).

        >>> Smoothness(SmoothnessSettings.quick(), (0,), ()).get(True)
        Traceback (most recent call last):
        ...
        KeyError: True
        """
        for land in self.landscapes:
            if land.bn == bn:
                return land
        raise KeyError(bn)


def _probe(s, p, multiples, lr) -> tuple[float, float, float]:
    """Loss range, largest gradient change and β along ``−∇J`` from ``p``."""
    _, g = s.grads(p)
    gvec = np.concatenate([g[k].ravel() for k in p])
    gnorm = float(np.linalg.norm(gvec))
    losses, changes, betas = [], [], []
    for c in multiples:
        step = c * lr
        loss, g2 = s.grads({k: p[k] - step * g[k] for k in p})
        change = float(np.linalg.norm(np.concatenate([g2[k].ravel() for k in p]) - gvec))
        losses.append(loss)
        changes.append(change)
        betas.append(change / (step * gnorm) if gnorm > 0 else float("nan"))
    with np.errstate(invalid="ignore"):
        return float(np.max(losses) - np.min(losses)), float(np.max(changes)), float(np.max(betas))


def run(settings: SmoothnessSettings = SmoothnessSettings()) -> Smoothness:
    """Train with and without BN at ``settings.lr``, probing the landscape at every checkpoint.

    >>> r = run(SmoothnessSettings(widths=(2, 4, 4, 1), steps=4, every=2, seeds=1))
    >>> r.steps
    (0, 2, 4)
    """
    check_positive("seeds", settings.seeds, integer=True)
    check_positive("steps", settings.steps, integer=True)
    check_positive("every", settings.every, integer=True)
    check_positive("lr", settings.lr)
    for c in settings.multiples:
        check_positive("each multiple", c)
    steps = tuple(range(0, settings.steps + 1, settings.every))
    lands = []
    for bn in (False, True):
        rows, diverged = [], 0
        for seed in range(settings.seeds):
            s = setup(list(settings.widths), bn=bn, seed=seed, batch=settings.batch)
            p, row, dead = dict(s.params), [], False
            for step in range(settings.steps + 1):
                loss, g = s.grads(p)
                dead = dead or not np.isfinite(loss)
                if step % settings.every == 0:
                    row.append((float("nan"),) * 4 if dead else (*_probe(s, p, settings.multiples, settings.lr), loss))
                if not dead:
                    p = {k: p[k] - settings.lr * g[k] for k in p}
            rows.append(row)
            diverged += dead
        A = np.asarray(rows)  # seeds × checkpoints × 4
        columns = [tuple(summarize(A[:, k, j]) for k in range(A.shape[1])) for j in range(4)]
        lands.append(Landscape(bn, columns[0], columns[1], columns[2], columns[3], diverged))
    return Smoothness(settings, steps, tuple(lands))


def _over_training(values: tuple[Spread, ...]) -> float:
    finite = [v.median for v in values if np.isfinite(v.median)]
    return float(np.median(finite)) if finite else float("nan")


def describe(result: Smoothness) -> str:
    """The measurement and what it shows, in Markdown; every number is read from ``result``.

    >>> r = run(SmoothnessSettings.quick())
    >>> f"{r.get(False).beta[0].median:.3g}" in describe(r)
    True
    """
    st = result.settings
    no, bn = result.get(False), result.get(True)
    lines = [
        "**Smoothness of the landscape along the gradient** (Santurkar et al. 2018, *How does batch "
        "normalization help optimization?*, arXiv 1805.11604, §3.2, Fig. 4). "
        f"MLP {list(st.widths)}, ReLU, batch {st.batch}, full-batch GD at η = {st.lr:g} for {st.steps} steps, "
        f"{st.seeds} seeds; every {st.every} steps, from θ to θ − s∇J for s = "
        f"{', '.join(f'{c:g}' for c in st.multiples)} × η (medians over seeds):",
        "",
        "| network | loss range at step 0 / median over training | largest ‖Δ∇J‖ at step 0 / median | "
        "β-smoothness at step 0 / median | diverged |",
        "|---|---|---|---|---|",
    ]
    for land in (no, bn):
        lines.append(
            f"| {'BN' if land.bn else 'no BN'} | "
            f"{land.loss_range[0].median:.3g} / {_over_training(land.loss_range):.3g} | "
            f"{land.grad_change[0].median:.3g} / {_over_training(land.grad_change):.3g} | "
            f"{land.beta[0].median:.3g} / {_over_training(land.beta):.3g} | {land.diverged}/{st.seeds} |")
    ratio = _over_training(no.beta) / _over_training(bn.beta)
    change = _over_training(no.grad_change) / _over_training(bn.grad_change)
    spread = _over_training(no.loss_range) / _over_training(bn.loss_range)
    text = (f"Over training (median over checkpoints of the medians over seeds), without BN the effective "
            f"β-smoothness is {ratio:.3g} times, the largest gradient change {change:.3g} times and the loss range "
            f"{spread:.3g} times that with BN")
    if ratio > 1 and change > 1:
        text += ": the landscape along the gradient is smoother with BN, as the paper reports"
        text += (" (the β-smoothness only moderately, by less than a factor 2)." if ratio < 2 else ".")
    else:
        text += ": by this measure the landscape with BN is not smoother here, unlike the paper's finding."
    loss_no, loss_bn = _over_training(no.loss), _over_training(bn.loss)
    if loss_bn < loss_no:
        text += (f" Part of the loss range's difference is the loss itself: its median over training is {loss_bn:.3g} "
                 f"with BN against {loss_no:.3g} without.")
    lines += ["", text]
    return "\n".join(lines)
