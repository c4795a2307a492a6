"""All-parameter gradients: bnsym's reverse accumulation vs the naive route (one ``sympy.diff`` per parameter
on the flattened output), on the chain at depths 8/32/128 and on small MLPs.

Run: ``.venv/bin/python benchmarks/bench_gradients.py`` (about a minute). Both routes start from the same
built network with SymPy's cache cleared; the naive route includes flattening the graph into one expression. Reports, per network:
time of ours and of the naive route and their ratio, the growth of each with depth (linear ⇒ ×4 per ×4
depth, quadratic ⇒ ×16), and the op count of all gradients together in the shared representation against
the forward expression's (the cheap-gradient principle: target ≤ 4×).
Targets (issue 3): naive grows quadratically and ours linearly; at depth 128 ours ≥ 20× faster; ops ≤ 4×.
"""
from __future__ import annotations

import argparse
import json
import sys
import time

import sympy
from sympy.core.cache import clear_cache

import bnsym
from bnsym.derive import upstream_symbols


def _best_of(build, route, repeat: int) -> float:
    """Best time of ``route(network)`` over fresh networks, with SymPy's cache cleared before each run
    (a warm cache would return the naive route's derivatives from earlier runs)."""
    best = float("inf")
    for _ in range(repeat):
        net = build()
        clear_cache()
        start = time.perf_counter()
        route(net)
        best = min(best, time.perf_counter() - start)
    return best


def ours(net: bnsym.Network):
    return net.gradients()


def naive(net: bnsym.Network):
    """One sympy.diff per parameter entry on the flattened output (abstract loss: Σ ∂J/∂ŷ_i · ∂ŷ_i/∂p)."""
    output = net.output
    upstream = list(upstream_symbols(net))
    return {symbol: sympy.Add(*[g * sympy.diff(y, symbol) for g, y in zip(upstream, output)])
            for matrix in net.parameters.values() for symbol in matrix}


def measure(label: str, build, repeat: int) -> dict:
    net = build()
    t_ours = _best_of(build, ours, repeat)
    t_naive = _best_of(build, naive, 1 if "128" in label else repeat)
    forward_ops = sympy.count_ops(net.output)
    gradient_ops = net.gradients().count_ops()
    return {"network": label, "ours_s": t_ours, "naive_s": t_naive, "speedup": t_naive / t_ours,
            "forward_ops": forward_ops, "all_gradient_ops": gradient_ops, "ops_ratio": gradient_ops / forward_ops}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="best of this many runs (default 3)")
    parser.add_argument("--json", help="also write the rows to this JSON file")
    args = parser.parse_args(argv)
    cases = [(f"chain depth {d}", (lambda d=d: bnsym.chain(d))) for d in (8, 32, 128)]
    cases += [
        ("MLP [2,4,4,1] relu m=4", lambda: bnsym.mlp([2, 4, 4, 1], activation="relu", batch=4)),
        ("MLP [2,3,1] tanh BN-pre m=4", lambda: bnsym.mlp([2, 3, 1], activation="tanh", bn="pre", batch=4)),
    ]
    rows = []
    print(f"{'network':30} {'ours (s)':>10} {'naive (s)':>10} {'speedup':>8} {'fwd ops':>8} {'grad ops':>9} {'ratio':>6}")
    for label, build in cases:
        row = measure(label, build, args.repeat)
        rows.append(row)
        print(f"{label:30} {row['ours_s']:10.4f} {row['naive_s']:10.4f} {row['speedup']:7.1f}x "
              f"{row['forward_ops']:8d} {row['all_gradient_ops']:9d} {row['ops_ratio']:5.2f}x", flush=True)
    chain_rows = rows[:3]
    print("\ngrowth with depth (x4 depth each step; linear => ~4x, quadratic => ~16x):")
    for before, after in zip(chain_rows, chain_rows[1:]):
        print(f"  {before['network']} -> {after['network']}: ours x{after['ours_s'] / before['ours_s']:.1f}, "
              f"naive x{after['naive_s'] / before['naive_s']:.1f}")
    deep = chain_rows[-1]
    ok_speed = deep["speedup"] >= 20
    ok_ops = all(r["ops_ratio"] <= 4 for r in chain_rows)
    print(f"\ntarget depth 128 speedup >= 20x: {'met' if ok_speed else 'NOT met'} ({deep['speedup']:.1f}x)")
    ratios = ", ".join(f"{r['ops_ratio']:.2f}x" for r in chain_rows)
    print(f"target chain gradient ops <= 4x forward: {'met' if ok_ops else 'NOT met'} ({ratios})")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(rows, handle, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
