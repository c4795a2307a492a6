"""Measurement: the largest stable and the largest training learning rate vs depth, for each normalization.

    .venv/bin/python benchmarks/bench_norm_sweep.py                       # depths 2, 4, 8; 5 seeds
    .venv/bin/python benchmarks/bench_norm_sweep.py --depths 2 --seeds 1 --steps 20   # a quick look

The sweep of ``bnsym explain`` (issue #12, "Measured") run with LayerNorm, RMSNorm and weight norm beside BN
and none: the reference MLP of :class:`bnsym.explain.ExplainSettings` (width, batch, steps, the grid
``EXPLAIN_GRID``, ``train_fraction``), ReLU, each normalization before the activation (weight norm on the hidden
layers' weights), full-batch gradient descent from the same seeded draws (:func:`bnsym.numeric.init_mlp`;
weight norm starts at ``g = ‖v_row‖``, i.e. at the plain network). For each (depth, normalization) the table
prints the median over the seeds of the largest stable rate and of the largest training rate (the lower
median, so it is a rate of the grid; a seed with no such rate on the grid counts as below it, shown ``<grid``),
and how long the sweep took. One process, one core.
"""
from __future__ import annotations

import argparse
import time

from bnsym.explain import ExplainSettings
from bnsym.sweep import SweepConfig, run_sweep

#: the table's columns: (label, SweepConfig fields)
KINDS = (("none", {"bn": False}), ("batch", {"bn": True}), ("layer", {"bn": True, "norm": "layer"}),
         ("rms", {"bn": True, "norm": "rms"}), ("weight", {"bn": True, "norm": "weight"}))


def lower_median(rates: list[float | None]) -> float | None:
    """The lower median of ``rates``, ``None`` (no rate of the grid) ranking below every rate.

    >>> lower_median([0.1, None, 1.0]), lower_median([None, None, 0.5])
    (0.1, None)
    """
    ordered = sorted(rates, key=lambda r: -1.0 if r is None else r)
    return ordered[(len(ordered) - 1) // 2]


def measure(depths: list[int], seeds: int, steps: int) -> tuple[dict, float]:
    """``{(depth, kind): (median largest stable, median largest training)}`` and the seconds it took."""
    s = ExplainSettings()
    configs = {(d, label, seed): SweepConfig(depth=d, seed=seed, width=s.width, batch=s.batch, steps=steps,
                                             train_fraction=s.train_fraction, **fields)
               for d in depths for label, fields in KINDS for seed in range(seeds)}
    start = time.perf_counter()
    records = run_sweep(list(configs.values()), s.lrs, workers=1, progress=False)
    elapsed = time.perf_counter() - start
    by = dict(zip(configs, records, strict=True))
    table = {}
    for d in depths:
        for label, _ in KINDS:
            rows = [by[(d, label, seed)] for seed in range(seeds)]
            table[(d, label)] = (lower_median([r["largest_stable"] for r in rows]),
                                 lower_median([r["largest_training"] for r in rows]))
    return table, elapsed


def _rate(value: float | None) -> str:
    return "<grid" if value is None else f"{value:.3g}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--depths", type=int, nargs="+", default=[2, 4, 8])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=ExplainSettings().steps)
    args = parser.parse_args()
    s = ExplainSettings()
    table, elapsed = measure(args.depths, args.seeds, args.steps)
    print(f"reference MLP: width {s.width}, batch {s.batch}, {args.steps} steps of GD, {len(s.lrs)} rates from "
          f"{min(s.lrs):g} to {max(s.lrs):g}, trains = final loss <= {s.train_fraction:g} x J0, "
          f"{args.seeds} seed(s); medians over the seeds")
    print("largest stable / largest training rate")
    print(f"{'depth':>5}  " + "  ".join(f"{label:>17}" for label, _ in KINDS))
    for d in args.depths:
        cells = [f"{_rate(table[(d, label)][0])} / {_rate(table[(d, label)][1])}" for label, _ in KINDS]
        print(f"{d:>5}  " + "  ".join(f"{c:>17}" for c in cells))
    print(f"sweep time: {elapsed:.1f} s (one process)")


if __name__ == "__main__":
    main()
