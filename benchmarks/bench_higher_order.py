"""Benchmark: the cost of the higher-order kit checks (bnsym.testing.higher_order) per torch module, and the sweep
of PyTorch's own normalization modules and functional ops in every mode.

    PYTHONPATH=. python benchmarks/bench_higher_order.py            # timings, then the sweep
    PYTHONPATH=. python benchmarks/bench_higher_order.py --no-sweep

A check of order k computes the exact reference (SymPy on rationals) and every torch mode for that order; times
are the median of a few repeats, one thread. A disagreement found by torch's own op does not stop the timing (the
check's cost is the same); the sweep lists each (order, mode) that disagrees.
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from bnsym.testing.higher_order import TORCH_MODES, HigherOrderMismatch, check_higher_order

EPS = 1e-5
MODULES = {"BatchNorm1d": ("batch", lambda: torch.nn.BatchNorm1d(3)),
           "LayerNorm": ("layer", lambda: torch.nn.LayerNorm(3)),
           "GroupNorm": ("group", lambda: torch.nn.GroupNorm(2, 4)), "RMSNorm": ("rms", lambda: torch.nn.RMSNorm(3))}
FUNCTIONAL = {
    "F.batch_norm": ("batch", 3,
                     lambda x, w, b, *s: F.batch_norm(x, *(s or (None, None)), w, b, training=not s, eps=EPS)),
    "F.layer_norm": ("layer", 3, lambda x, w, b: F.layer_norm(x, (3,), w, b, EPS)),
    "F.group_norm": ("group", 4, lambda x, w, b: F.group_norm(x, 2, w, b, EPS)),
    "F.rms_norm": ("rms", 3, lambda x, w, b: F.rms_norm(x, (3,), w, EPS)),
}


def _check(**kwargs):
    try:
        check_higher_order(**kwargs)
        return []
    except HigherOrderMismatch as failure:
        return failure.failures


def timings(repeats: int) -> None:
    torch.set_num_threads(1)
    print(f"torch {torch.__version__}; median of {repeats} runs; modes: {', '.join(TORCH_MODES)}")
    print(f"{'module':<12} {'mode':<6} {'order 1,2,3 (default)':>22} {'order 2':>9} {'order 3':>9}")
    for name, (kind, make) in MODULES.items():
        for training in (True, False) if kind == "batch" else (True,):
            row = []
            for orders in ((1, 2, 3), (2,), (3,)):
                samples = []
                for _ in range(repeats):
                    start = time.perf_counter()
                    _check(kind=kind, module=make(), orders=orders, training=training)
                    samples.append(time.perf_counter() - start)
                row.append(statistics.median(samples))
            mode = "train" if training else "eval"
            print(f"{name:<12} {mode:<6} {row[0]:>20.2f} s {row[1]:>7.2f} s {row[2]:>7.2f} s")


def sweep() -> None:
    print("\nsweep: every (order, mode) that disagrees with the exact value (orders 1-3, float64)")
    cases = [(name, kind, dict(module=make())) for name, (kind, make) in MODULES.items()]
    cases += [(name, kind, dict(forward=f, features=c, eps=EPS)) for name, (kind, c, f) in FUNCTIONAL.items()]
    for name, kind, how in cases:
        for training in (True, False) if kind == "batch" else (True,):
            failures = _check(kind=kind, training=training, **how)
            said = "; ".join(f"{f.order}:{f.mode}" + (" (raised)" if f.got is None else "") for f in failures)
            print(f"  {name:<13} {'train' if training else 'eval':<6} {said or 'all agree'}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-sweep", action="store_true")
    args = parser.parse_args()
    timings(args.repeats)
    if not args.no_sweep:
        sweep()


if __name__ == "__main__":
    main()
