"""Benchmark: theorem 1's two derivative identities, our route vs the naive route, and the symbolic catalogue.

    python benchmarks/bench_proofs.py [--skip-naive]

Naive route (the baseline named in issue 4): ``sympy.diff`` of the expanded per-sample expressions, then
``simplify`` of every entry of LHS − RHS to 0 (width 1). Our route: ``bnsym.prove(..., batch=m)`` (every entry,
exact). Issue targets: ≥ 100× faster than naive at m = 8; m = 64 every entry < 10 s; catalogue (symbolic m) < 2 s.
"""
from __future__ import annotations

import sys
import time

import sympy

from bnsym.functions import batch_normalize
from bnsym.theorems import prove, theorems

IDENTITIES = ("scale_invariance_input_grad", "scale_invariance_weight_grad")


def naive(m: int) -> float:
    """Both identities by brute force: expand, differentiate, simplify every entry of the difference to 0."""
    t0 = time.perf_counter()
    a = sympy.Symbol("a", positive=True)
    w, v = sympy.symbols("w v", real=True)
    u = sympy.symbols(f"u1:{m + 1}", real=True)
    rhs = [sympy.expand(e) for e in batch_normalize([w * x for x in u])]
    lhs = [sympy.expand(e) for e in batch_normalize([a * w * x for x in u])]
    lhs_v = [sympy.expand(e) for e in batch_normalize([v * x for x in u])]
    for i in range(m):
        for k in range(m):  # ∂BN(awu)/∂u = ∂BN(wu)/∂u
            assert sympy.simplify(sympy.diff(lhs[i], u[k]) - sympy.diff(rhs[i], u[k])) == 0
        # ∂BN(vu)/∂v at v = aw equals (1/a) ∂BN(wu)/∂w
        assert sympy.simplify(sympy.diff(lhs_v[i], v).subs(v, a * w) - sympy.diff(rhs[i], w) / a) == 0
    return time.perf_counter() - t0


def ours(m: int) -> float:
    t0 = time.perf_counter()
    for name in IDENTITIES:
        assert prove(name, batch=m, width=1).holds is True
    return time.perf_counter() - t0


def main(argv: list[str]) -> None:
    skip = "--skip-naive" in argv
    base = {6: 14.0, 8: 40.0}  # issue 4's figures on these machines
    ours(2)  # warm-up: imports and SymPy's caches, so the figures below are the route itself
    print("theorem 1, both derivative identities (width 1), every entry")
    for m in (6, 8):
        t_naive = None if skip else naive(m)
        t_ours = ours(m)
        ref = t_naive if t_naive is not None else base[m]
        label = "measured" if t_naive is not None else "issue figure"
        print(f"  m = {m:2d}: naive {ref:7.2f} s ({label}), ours {t_ours:6.3f} s, speed-up {ref / t_ours:7.1f}x"
              f" (vs issue baseline {base[m]:.0f} s: {base[m] / t_ours:.1f}x)")
    for name in IDENTITIES:
        t0 = time.perf_counter()
        p = prove(name, batch=64, width=1)
        dt = time.perf_counter() - t0
        print(f"  m = 64: {name}: holds={p.holds}, {p.method}: {dt:.2f} s (target < 10 s)")
    t0 = time.perf_counter()
    results = [prove(t.name).holds for t in theorems()]
    dt = time.perf_counter() - t0
    print(f"whole catalogue, symbolic m: {len(results)} theorems, all hold: {all(results)}, {dt:.2f} s (target < 2 s)")


if __name__ == "__main__":
    main(sys.argv[1:])
