"""Benchmark: how long the property-test kit takes on each torch normalization module at its default size.

    .venv/bin/python benchmarks/bench_kit.py
    .venv/bin/python benchmarks/bench_kit.py --repeats 3 --only BatchNorm1d

Each row is one ``check_normalization(kind, module=...)`` call with the default profile (``"ci"``:
derandomized, the same examples on every run) and default sizes; ``check_batchnorm(module=BatchNorm1d)`` (the
original (N, C) kit) is timed too. Times are wall-clock seconds, the best of ``--repeats`` runs; the examples
column is the number of cases each property ran (the kit's fixed case plus Hypothesis's draws). torch runs on one
thread, as the kit sets it during a check.
"""
from __future__ import annotations

import argparse
import time

import torch
from torch.nn.utils.parametrizations import weight_norm

from bnsym.testing import check_batchnorm, check_normalization

MODULES = {
    "BatchNorm1d": ("batch", lambda: torch.nn.BatchNorm1d(4)),
    "BatchNorm2d": ("batch", lambda: torch.nn.BatchNorm2d(4)),
    "BatchNorm3d": ("batch", lambda: torch.nn.BatchNorm3d(4)),
    "BatchNorm2d eval": ("batch", lambda: torch.nn.BatchNorm2d(4).eval()),
    "LayerNorm": ("layer", lambda: torch.nn.LayerNorm(8)),
    "RMSNorm": ("rms", lambda: torch.nn.RMSNorm(8)),
    "GroupNorm": ("group", lambda: torch.nn.GroupNorm(2, 4)),
    "InstanceNorm2d": ("instance", lambda: torch.nn.InstanceNorm2d(4, affine=True)),
    "weight_norm Linear": ("weight", lambda: weight_norm(torch.nn.Linear(8, 4))),
    "BatchNorm2d float16": ("batch", lambda: torch.nn.BatchNorm2d(4).half()),
    "LayerNorm bfloat16": ("layer", lambda: torch.nn.LayerNorm(8).to(torch.bfloat16)),
}


def _time(call, repeats: int) -> tuple[float, object]:
    best, report = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        report = call()
        best = min(best, time.perf_counter() - start)
    return best, report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--only", default=None, help="one row name")
    args = parser.parse_args()
    rows = [("check_batchnorm BatchNorm1d", lambda: check_batchnorm(module=torch.nn.BatchNorm1d(4)))]
    rows += [(f"check_normalization {name}", lambda kind=kind, make=make: check_normalization(kind, module=make()))
             for name, (kind, make) in MODULES.items()]
    if args.only:
        rows = [r for r in rows if r[0].endswith(args.only)]
    print(f"{'check':44s} {'seconds':>8s}  {'properties':>10s}  examples per property")
    for name, call in rows:
        seconds, report = _time(call, args.repeats)
        examples = sorted(set(getattr(report, "examples", {}).values()))
        print(f"{name:44s} {seconds:8.2f}  {len(report.passed):10d}  {examples}")


if __name__ == "__main__":
    main()
