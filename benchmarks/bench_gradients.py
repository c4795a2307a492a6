"""All-parameter gradients: bnsym's index form over a symbolic batch against the per-entry route and the naive
routes (one ``diff`` per parameter entry of the flattened expression, in SymPy and in SymEngine).

    python benchmarks/bench_gradients.py [--quick] [--repeat N] [--budget SECONDS] [--json FILE]

Every measurement runs in a fresh interpreter (a subprocess: no warm SymPy caches) and times from the builder
call on (imports excluded). Ratios are taken between numbers of the same run.

1. ``mlp([2, 8, 8, 1], bn="pre", loss="mse")`` (ReLU), all parameters:

   * *index form* (new): ``mlp(..., batch="m").gradients()`` for symbolic ``m``, or
     ``bnsym.batchform.index_gradients(net, m)`` for m = 8, 32, 1024; the time covers building, the backward
     sweep and every gradient's ``.compact`` form; the zero proofs behind ``.closed_form`` are timed apart
     (they are made for symbolic ``m`` whatever the batch). Ops: ``IndexGradients.count_ops()``.
   * *per-entry* (today's route): ``mlp(..., batch=m).gradients()`` at m = 8, 32 (``LIMITS.terms`` raised),
     building and the sweep; ops ``Gradients.count_ops()`` of its shared form, i.e. the index form written out.
   * *SymEngine naive*: the per-entry forward built directly in SymEngine (bnsym's symbol names, ReLU as the
     undefined function ``symengine.sympify`` makes of bnsym's ``ReLU``), the MSE loss flattened into one
     expression and ``diff`` once per parameter entry; ops ``symengine.count_ops`` of all derivatives. Each run
     has ``--budget`` seconds; a run that does not finish is reported as skipped with how far it got.

   Target: index-form time and ops within 1.5x from m = 8 to m = 1024. A companion table repeats the index form
   and SymEngine with tanh, an activation SymEngine differentiates natively.
2. Chain of depth 128 (no BN, abstract loss), ``batch=None`` and ``batch="m"``: ``gradients()`` against
   ``sympy.diff`` of the explicit output product per weight (target: >= 100x faster) and ``symengine`` ``diff``
   per weight, and SymEngine's gradients converted back to SymPy (what a SymPy user would hold); ops of the
   gradients against the forward's (target <= 4x).

``--quick`` runs the same tables on tiny sizes (``mlp([2, 3, 1])``, chain depth 16) in seconds; ``--in-process``
runs the workers in this interpreter (caches shared: for the smoke tests, not for timing).
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Config:
    """The sizes of one run."""

    widths: tuple[int, ...]
    index_batches: tuple          # None = symbolic m
    naive_batches: tuple[int, ...]
    chain_depth: int
    growth: tuple[int, int] = (8, 1024)  # the batches whose index-form time and ops are compared


FULL = Config((2, 8, 8, 1), (None, 8, 32, 1024), (8, 32, 1024), 128)
QUICK = Config((2, 3, 1), (None, 3, 8, 1024), (3, 8), 16)
#: the per-entry route builds O(m²) terms per BN feature: not tried beyond this batch
PER_ENTRY_MAX = 32


@contextlib.contextmanager
def raised_limits():
    """``bnsym.network.LIMITS.terms`` raised for the per-entry route, restored afterwards."""
    from bnsym.network import LIMITS

    before = LIMITS.terms
    LIMITS.terms = 10**9
    try:
        yield
    finally:
        LIMITS.terms = before


def build(widths, batch, activation: str = "relu"):
    """The benchmark's network: ``mlp(widths, bn="pre", loss="mse")`` over ``batch`` (``"m"`` or an integer)."""
    import bnsym

    return bnsym.mlp(list(widths), activation=activation, bn="pre", batch=batch, loss="mse")


def entries_of(widths) -> int:
    """Parameter entries of the network (the number of ``diff`` calls of a naive route)."""
    return sum(len(matrix) for matrix in build(widths, 2).parameters.values())


# -- workers: one measurement each, timed from the builder call on -------------------------------------------
def index_route(widths, m=None, activation="relu", proofs=True) -> dict:
    """The index form over a batch of size ``m`` (``None``: symbolic): build, sweep, every ``.compact``; then
    the zero proofs (``.closed_form``)."""
    import sympy
    from bnsym.batchform import index_gradients

    start = time.perf_counter()
    net = build(widths, "m", activation)
    grads = net.gradients() if m is None else index_gradients(net, sympy.Integer(m))
    swept = time.perf_counter()
    compact = {name: grads[name].compact for name in grads}
    done = time.perf_counter()
    row = {"seconds": done - start, "sweep_s": swept - start, "compact_s": done - swept,
           "ops": grads.count_ops(), "gradients": len(compact)}
    if proofs:
        zero = [name for name in grads if grads[name].closed_form == 0]
        row.update(proofs_s=time.perf_counter() - done, zero=zero)
    return row


def per_entry_route(widths, m, activation="relu") -> dict:
    """Today's per-entry route: ``mlp(..., batch=m).gradients()`` (build and sweep; its shared form's ops)."""
    with raised_limits():
        start = time.perf_counter()
        grads = build(widths, m, activation).gradients()
        seconds = time.perf_counter() - start
    return {"seconds": seconds, "ops": grads.count_ops()}


def parameter_names(widths) -> dict:
    """Each parameter's entry names, as bnsym names them (``W1[3,1]``; they do not depend on the batch)."""
    return {name: [[str(s) for s in row] for row in matrix.tolist()]
            for name, matrix in build(widths, 2).parameters.items()}


def symengine_forward(widths, m, activation="relu", names=None):
    """``(J, parameter entries)``: the per-entry MSE loss over a batch of ``m``, built directly in SymEngine with
    bnsym's names (``x^(1)[2]``, ``W1[3,1]``; μ and σ unnamed: the loss is one flattened expression)."""
    import symengine as se
    from bnsym.layers import entry_symbols

    act = {"relu": se.Function("ReLU"), "tanh": se.tanh, "identity": lambda u: u,
           "sigmoid": lambda u: 1 / (1 + se.exp(-u))}[activation]

    def symbols(matrix):
        return [[se.Symbol(str(s)) for s in row] for row in matrix]

    P = {name: symbols(matrix) for name, matrix in (names or parameter_names(widths)).items()}
    a = symbols(entry_symbols("x", m, widths[0]).tolist())
    depth = len(widths) - 1
    for l in range(1, depth + 1):
        W, b = P[f"W{l}"], P[f"b{l}"][0]
        z = [[se.Add(*[W[r][c] * row[c] for c in range(widths[l - 1])]) + b[r] for r in range(widths[l])]
             for row in a]
        if l == depth:
            a = z
            break
        gamma, beta = P[f"gamma{l}"][0], P[f"beta{l}"][0]
        a = [[None] * widths[l] for _ in range(m)]
        for r in range(widths[l]):
            mu = se.Add(*[z[i][r] for i in range(m)]) / m
            sigma = se.sqrt(se.Add(*[(z[i][r] - mu) ** 2 for i in range(m)]) / m)
            for i in range(m):
                a[i][r] = act(gamma[r] * (z[i][r] - mu) / sigma + beta[r])
    t = symbols(entry_symbols("t", m, widths[-1]).tolist())
    J = se.Add(*[(a[i][c] - t[i][c]) ** 2 for i in range(m) for c in range(widths[-1])]) / m
    return J, [s for matrix in P.values() for row in matrix for s in row]


def symengine_route(widths, m, activation="relu", progress=None) -> dict:
    """The naive route in SymEngine: the flattened loss, ``diff`` once per parameter entry."""
    import symengine as se

    names = parameter_names(widths)  # from bnsym, outside the timing
    start = time.perf_counter()
    J, params = symengine_forward(widths, m, activation, names)
    grads = []
    for k, p in enumerate(params, start=1):
        grads.append(J.diff(p))
        if progress:
            progress(k)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "ops": int(se.count_ops(*grads)), "entries": len(params)}


def chain_route(depth, batch=None) -> dict:
    """``chain(depth, batch=batch).gradients()`` (abstract loss, no BN); also every ``.compact``, timed apart."""
    import sympy
    import bnsym

    start = time.perf_counter()
    net = bnsym.chain(depth, batch=batch)
    grads = net.gradients()
    swept = time.perf_counter()
    _ = [grads[name].compact for name in grads]
    compact_s = time.perf_counter() - swept
    output = net.output if batch is not None else net.output[0]
    return {"seconds": swept - start, "compact_s": compact_s, "ops": grads.count_ops(),
            "forward_ops": int(sympy.count_ops(output))}


def chain_sympy(depth) -> dict:
    """The naive SymPy route: ``∂J/∂ŷ · sympy.diff(ŷ, w)`` per weight of the explicit output product."""
    import sympy
    import bnsym
    from bnsym.derive import upstream_symbols
    from sympy.core.cache import clear_cache

    clear_cache()
    start = time.perf_counter()
    net = bnsym.chain(depth)
    y, u = net.output[0], upstream_symbols(net)[0]
    grads = [u * sympy.diff(y, w) for matrix in net.parameters.values() for w in matrix]
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "ops": sum(sympy.count_ops(g) for g in grads)}


def chain_symengine(depth) -> dict:
    """The naive route in SymEngine: the output product built directly, ``diff`` per weight."""
    import symengine as se

    start = time.perf_counter()
    weights = [se.Symbol(f"w{k}") for k in range(1, depth + 1)]
    y, u = se.Mul(se.Symbol("x"), *weights), se.Symbol("dJ/dyhat")
    grads = [u * y.diff(w) for w in weights]
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "ops": int(se.count_ops(*grads))}


def chain_symengine_sympy(depth) -> dict:
    """SymEngine's naive route, its gradients then converted to SymPy (what a user of SymPy objects gets)."""
    import sympy
    import symengine as se
    from sympy.core.cache import clear_cache

    clear_cache()
    start = time.perf_counter()
    weights = [se.Symbol(f"w{k}") for k in range(1, depth + 1)]
    y, u = se.Mul(se.Symbol("x"), *weights), se.Symbol("dJ/dyhat")
    grads = [sympy.sympify(u * y.diff(w)) for w in weights]
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "ops": sum(int(sympy.count_ops(g)) for g in grads)}


WORKERS = {"index": index_route, "per_entry": per_entry_route, "symengine": symengine_route,
           "chain": chain_route, "chain_sympy": chain_sympy, "chain_symengine": chain_symengine,
           "chain_symengine_sympy": chain_symengine_sympy}


#: modules the routes use, imported before any timing (their import is not the work measured)
IMPORTS = ("sympy", "symengine", "bnsym.network", "bnsym.derive", "bnsym.batchform", "bnsym.gradient_zero",
           "bnsym.kernel.core", "bnsym.theorems.proof")


def _worker(spec: str) -> int:
    import importlib

    for module in IMPORTS:
        importlib.import_module(module)
    job = json.loads(spec)
    kind = job.pop("kind")
    if kind == "symengine":
        job["progress"] = lambda k: print(f"progress {k}", flush=True)
    print("result " + json.dumps(WORKERS[kind](**job)), flush=True)
    return 0


# -- the driver ----------------------------------------------------------------------------------------------
@dataclass
class Runner:
    """Runs workers in fresh interpreters (best of ``repeat``, each within ``budget`` seconds) or in-process."""

    repeat: int = 3
    budget: float = 300.0
    in_process: bool = False

    def once(self, kind: str, **job) -> dict:
        if self.in_process:
            return WORKERS[kind](**job)
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
        with tempfile.TemporaryFile("w+") as out:
            proc = subprocess.Popen([sys.executable, __file__, "--worker", json.dumps({"kind": kind, **job})],
                                    stdout=out, stderr=subprocess.PIPE, text=True, env=env)
            try:
                _, err = proc.communicate(timeout=self.budget)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()
                out.seek(0)
                done = [int(l.split()[1]) for l in out.read().splitlines() if l.startswith("progress")]
                return {"skipped": f"too slow: over the budget of {self.budget:.0f} s"
                                   + (f" ({done[-1] if done else 0} derivatives done)" if kind == "symengine" else "")}
            out.seek(0)
            lines = [l for l in out.read().splitlines() if l.startswith("result ")]
        if proc.returncode != 0 or not lines:  # reported in the table, not fatal: the other rows still run
            last = (err or "").strip().splitlines()[-1:] or [f"exit code {proc.returncode}, no message"]
            why = "killed (out of memory?)" if proc.returncode in (-9, 137) else last[0][:120]
            print(f"worker {kind} {job} failed: {why}", file=sys.stderr, flush=True)
            return {"skipped": f"failed: {why}"}
        return json.loads(lines[-1][len("result "):])

    def best(self, kind: str, repeat: int | None = None, **job) -> dict:
        rows = [self.once(kind, **job) for _ in range(repeat or self.repeat)]
        timed = [r for r in rows if "seconds" in r]
        return min(timed, key=lambda r: r["seconds"]) if timed else rows[0]


def _m(batch) -> str:
    return "m" if batch is None else str(batch)


def _time(row: dict) -> str:
    return f"{row['seconds']:.3f}" if "seconds" in row else "-"


def _times(x: float) -> str:
    return f"{x:.0f}x" if x >= 100 else f"{x:.1f}x" if x >= 1 else f"{x:.2g}x"


def _ratio(new: dict, old: dict, key: str) -> str:
    if key not in new or key not in old:
        return "-"
    return _times(new[key] / old[key])


def mlp_tables(config: Config, runner: Runner, activation: str = "relu", baselines: bool = True) -> dict:
    """Table 1 (or its tanh companion): the index form at every batch, beside the per-entry and SymEngine routes."""
    widths = config.widths
    rows: dict = {"index": {}, "per_entry": {}, "symengine": {}}
    print(f"\nmlp({list(widths)}, {activation}, bn='pre', loss='mse'): {entries_of(widths)} parameter entries")
    print(f"  {'index form (new)':18} {'m':>5} {'time (s)':>9} {'sweep':>7} {'compact':>8} {'proofs':>7} "
          f"{'ops':>6}  zero")
    for batch in config.index_batches:
        first = runner.once("index", widths=widths, m=batch, activation=activation, proofs=baselines)
        rest = [runner.once("index", widths=widths, m=batch, activation=activation, proofs=False)
                for _ in range(runner.repeat - 1)]
        row = min([first, *rest], key=lambda r: r["seconds"])
        row = {**row, **{k: first[k] for k in ("proofs_s", "zero") if k in first}}
        rows["index"][_m(batch)] = row
        proofs = f"{row['proofs_s']:7.2f}" if "proofs_s" in row else f"{'-':>7}"
        print(f"  {'':18} {_m(batch):>5} {row['seconds']:9.3f} {row['sweep_s']:7.3f} {row['compact_s']:8.3f} "
              f"{proofs} {row['ops']:6d}  {', '.join(row.get('zero', []))}", flush=True)
    low, high = map(str, config.growth)
    a, b = rows["index"][low], rows["index"][high]
    growth = {"time": b["seconds"] / a["seconds"], "ops": b["ops"] / a["ops"]}
    rows["growth"] = growth
    met = "met" if max(growth.values()) <= 1.5 else "NOT met"
    print(f"  m = {low} -> {high}: time x{growth['time']:.2f}, ops x{growth['ops']:.2f} "
          f"(target: within 1.5x): {met}")
    print(f"  {'route':18} {'m':>5} {'time (s)':>9} {'ops':>10} {'new/this time':>14} {'new/this ops':>13}")
    slow = False
    for batch in config.naive_batches:
        new = rows["index"].get(str(batch))
        routes = [("symengine", "SymEngine naive")]
        if baselines and batch <= PER_ENTRY_MAX:
            routes.insert(0, ("per_entry", "per-entry (old)"))
        for key, label in routes:
            if key == "symengine" and slow:
                row = {"skipped": "too slow: a smaller batch already exceeded the budget"}
            elif key == "symengine":
                row = runner.best(key, repeat=1, widths=widths, m=batch, activation=activation)
                slow = "skipped" in row
            else:
                row = runner.best(key, widths=widths, m=batch, activation=activation)
            rows[key][str(batch)] = row
            if "skipped" in row:
                print(f"  {label:18} {batch:>5} skipped: {row['skipped']}", flush=True)
                continue
            ratios = ("-", "-") if new is None else (_ratio(new, row, "seconds"), _ratio(new, row, "ops"))
            print(f"  {label:18} {batch:>5} {row['seconds']:9.3f} {row['ops']:10d} {ratios[0]:>14} {ratios[1]:>13}",
                  flush=True)
    return rows


def chain_table(config: Config, runner: Runner) -> dict:
    """Table 2: the chain's gradients against the naive SymPy and SymEngine routes."""
    depth = config.chain_depth
    rows = {"ours": runner.best("chain", depth=depth), "index": runner.best("chain", depth=depth, batch="m"),
            "sympy": runner.best("chain_sympy", repeat=1, depth=depth),
            "symengine": runner.best("chain_symengine", depth=depth),
            "symengine_sympy": runner.best("chain_symengine_sympy", depth=depth)}
    naive = rows["sympy"]
    print(f"\nchain({depth}), no BN, abstract loss: all {depth} weight gradients")
    print(f"  {'route':24} {'time (s)':>9} {'+compact':>9} {'ops':>7} {'ops/fwd':>8} {'naive SymPy/this':>17} "
          f"{'this/SymEngine':>15}")
    for key, label in (("ours", "gradients(), batch=None"), ("index", "gradients(), batch='m'"),
                       ("sympy", "naive sympy.diff"), ("symengine", "naive symengine diff"),
                       ("symengine_sympy", "symengine, then SymPy")):
        row = rows[key]
        if "skipped" in row:
            print(f"  {label:24} skipped: {row['skipped']}")
            continue
        compact = f"{row['compact_s']:9.3f}" if "compact_s" in row else f"{'-':>9}"
        fwd = f"{row['ops'] / row['forward_ops']:7.2f}x" if "forward_ops" in row else f"{'-':>8}"
        speed = _times(naive["seconds"] / row["seconds"]) if "seconds" in naive else "-"
        versus = _ratio(row, rows["symengine"], "seconds")
        print(f"  {label:24} {row['seconds']:9.3f} {compact} {row['ops']:7d} {fwd} {speed:>17} {versus:>15}",
              flush=True)
    ours = rows["ours"]
    if "seconds" in naive:
        speed = naive["seconds"] / ours["seconds"]
        print(f"  target naive SymPy / ours >= 100x: {'met' if speed >= 100 else 'NOT met'} ({speed:.0f}x)")
    ratios = [rows[k]["ops"] / rows[k]["forward_ops"] for k in ("ours", "index")]
    print(f"  target gradient ops <= 4x forward: {'met' if max(ratios) <= 4 else 'NOT met'} "
          f"({', '.join(f'{r:.2f}x' for r in ratios)})")
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, seconds")
    parser.add_argument("--repeat", type=int, default=None, help="best of N fresh interpreters (default 3; 1 quick)")
    parser.add_argument("--budget", type=float, default=300.0, help="seconds per naive run before it is skipped")
    parser.add_argument("--in-process", action="store_true", help="no subprocesses (smoke tests; caches shared)")
    parser.add_argument("--json", help="also write every row to this JSON file")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return _worker(args.worker)
    config = QUICK if args.quick else FULL
    runner = Runner(args.repeat or (1 if args.quick else 3), args.budget, args.in_process)
    mode = "in-process" if args.in_process else "each in a fresh interpreter"
    print(f"bench_gradients ({'quick' if args.quick else 'full'}; best of {runner.repeat}, {mode}; "
          f"naive runs budget {runner.budget:.0f} s)")
    results = {"config": config.__dict__, "mlp": mlp_tables(config, runner),
               "mlp_tanh": mlp_tables(config, runner, "tanh", baselines=False), "chain": chain_table(config, runner)}
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2, default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
