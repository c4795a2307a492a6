"""Benchmark: one full-batch gradient-descent step of the vectorized route vs PyTorch autograd and ``jax.jit``.

    .venv/bin/python benchmarks/bench_numeric.py
    .venv/bin/python benchmarks/bench_numeric.py --repeats 7 --number 100

The network is the reference MLP (2 inputs, width 16, ReLU, one output, MSE, batch 64, float64, CPU) at
depths 2, 4, 8, 16, without and with BN before the activations (ε = 1e-5). A step is the loss, all gradients
and the update ``p ← p − η ∂J/∂p``, on the same parameters and data for every route:

* bnsym — :class:`bnsym.vectorized.VectorizedNetwork` on checked arrays (``run``, as gradient descent uses
  it); the "checked" column is ``loss_and_gradients``, which validates every value on each call;
* PyTorch — autograd through the same layers' torch forms (``F.linear``, ``F.batch_norm``, ``torch.relu``);
* JAX — the same MLP in ``jax.numpy``, ``jax.value_and_grad`` and the update under one ``jax.jit``
  (the column is skipped, with a note, when JAX is not importable).

Every route runs on one thread (``torch.set_num_threads(1)``, single-threaded BLAS and XLA), as each sweep
worker does. Before timing, the three routes' losses and gradients are compared. Times are the best of
``--repeats`` runs of ``--number`` steps, the routes taking turns; the ratios are bnsym (run) over each other
route, from the same run.
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")

import argparse  # noqa: E402
import importlib.util  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from bnsym.dynamics import reference_data  # noqa: E402
from bnsym.numeric import init_mlp  # noqa: E402
from bnsym.vectorized import reference_mlp  # noqa: E402

WIDTH, BATCH, EPS, LR = 16, 64, 1e-5, 1e-4


def _best_times(steps: dict, repeats: int, number: int) -> dict:
    """The best time per step of each route, the routes taking turns (so a busy machine slows them alike)."""
    for step in steps.values():
        for _ in range(10):
            step()
    best = {name: float("inf") for name in steps}
    for _ in range(repeats):
        for name, step in steps.items():
            start = time.perf_counter()
            for _ in range(number):
                step()
            best[name] = min(best[name], (time.perf_counter() - start) / number)
    return best


def _problem(depth: int, bn: bool):
    widths = [2] + [WIDTH] * (depth - 1) + [1]
    x, t = reference_data(batch=BATCH)
    return widths, init_mlp(widths, bn=bn, seed=0), x, t


def bnsym_steps(depth: int, bn: bool):
    """``(step on checked arrays, step through loss_and_gradients, loss and gradients at the start)``."""
    widths, params, x, t = _problem(depth, bn)
    net = reference_mlp(widths, bn=bn, eps=EPS)
    start = net.loss_and_gradients(params, x, t)
    p, xs, ts = net.check(params, x, t)
    q = {k: v.copy() for k, v in params.items()}

    def step():
        _, grads = net.run(p, xs, ts)
        for name, g in grads.items():
            p[name] = p[name] - LR * g

    def checked():
        _, grads = net.loss_and_gradients(q, x, t)
        for name, g in grads.items():
            q[name] = q[name] - LR * g

    return step, checked, start


def bnsym_jax_step(depth: int, bn: bool):
    """The vectorized route's own loops and layer kernels compiled by ``jax.jit`` (``VectorizedNetwork.jitted``)."""
    import jax.numpy as jnp

    widths, params, x, t = _problem(depth, bn)
    net = reference_mlp(widths, bn=bn, eps=EPS)
    p, xs, ts = net.check(params, x, t)
    update = net.jitted(learning_rate=LR)
    state = {"p": {k: jnp.asarray(v) for k, v in p.items()}}
    X, T = jnp.asarray(xs), jnp.asarray(ts)

    def step():
        value, state["p"] = update(state["p"], X, T)
        value.block_until_ready()

    loss, grads = net.jitted()(state["p"], X, T)
    return step, (float(loss), {k: np.asarray(g) for k, g in grads.items()})


def torch_step(depth: int, bn: bool):
    """A step by PyTorch autograd through the same layers' torch forms, and the start's loss and gradients."""
    import torch

    torch.set_num_threads(1)
    widths, params, x, t = _problem(depth, bn)
    layers = reference_mlp(widths, bn=bn, eps=EPS).layers
    p = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in params.items()}
    values = {**p, "t": torch.tensor(t)}
    X = torch.tensor(x)

    def loss_and_grads():
        h = X
        for layer in layers:
            h = layer.torch_forward(h, values)
        h.backward()
        return h

    def step():
        loss_and_grads()
        with torch.no_grad():
            for v in p.values():
                v -= LR * v.grad
                v.grad = None

    loss = loss_and_grads()
    start = (float(loss.detach()), {k: v.grad.numpy().copy() for k, v in p.items()})
    for v in p.values():
        v.grad = None
    return step, start


def jax_step(depth: int, bn: bool):
    """A ``jax.jit`` step (loss, gradients, update in one compiled function), and the start's loss and gradients."""
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)
    widths, params, x, t = _problem(depth, bn)
    L = len(widths) - 1

    def loss(p, x, t):
        a = x
        for l in range(1, L + 1):
            z = a @ p[f"W{l}"].T + p[f"b{l}"]
            if l == L:
                break
            if bn:
                mu = z.mean(axis=0, keepdims=True)
                z = (z - mu) / jnp.sqrt(((z - mu) ** 2).mean(axis=0, keepdims=True) + EPS)
                z = p[f"gamma{l}"] * z + p[f"beta{l}"]
            a = jax.nn.relu(z)
        return jnp.sum((z - t) ** 2) / x.shape[0]

    value_and_grad = jax.jit(jax.value_and_grad(loss))

    @jax.jit
    def update(p, x, t):
        value, grads = jax.value_and_grad(loss)(p, x, t)
        return value, jax.tree_util.tree_map(lambda v, g: v - LR * g, p, grads)

    state = {"p": {k: jnp.asarray(v) for k, v in params.items()}}
    X, T = jnp.asarray(x), jnp.asarray(t)

    def step():
        value, state["p"] = update(state["p"], X, T)
        value.block_until_ready()

    value, grads = value_and_grad(state["p"], X, T)
    return step, (float(value), {k: np.asarray(g) for k, g in grads.items()})


def _difference(a, b) -> float:
    """Largest difference between two (loss, gradients) pairs, relative to the loss and to the largest gradient
    entry (a gradient that is 0 in exact arithmetic, the bias before BN, is compared as rounding)."""
    scale = max(float(np.max(np.abs(g))) for g in a[1].values())
    worst = abs(a[0] - b[0]) / abs(a[0])
    for name, g in a[1].items():
        worst = max(worst, float(np.max(np.abs(np.asarray(b[1][name]).reshape(g.shape) - g))) / scale)
    return worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--number", type=int, default=50)
    parser.add_argument("--depths", type=int, nargs="+", default=[2, 4, 8, 16], help="hidden depths to time")
    args = parser.parse_args()
    have_torch = importlib.util.find_spec("torch") is not None
    have_jax = importlib.util.find_spec("jax") is not None
    print(f"time per GD step (loss, all gradients, update), reference MLP width {WIDTH}, batch {BATCH}, float64, "
          "CPU, one thread")
    if not have_torch:
        print("(PyTorch is not importable: its column is skipped)")
    if not have_jax:
        print("(JAX is not importable: its column is skipped; pip install jax to add it)")
    header = (f"{'depth':>5} {'BN':>4} {'bnsym ms':>9} {'checked ms':>10} {'bnsym-jit ms':>12} {'torch ms':>9} "
              f"{'jax ms':>8} {'/torch':>7} {'/jax':>7} {'jit/jax':>7} {'max rel diff':>12}")
    print(header)
    print("-" * len(header))
    for depth in args.depths:
        for bn in (False, True):
            step, checked, start = bnsym_steps(depth, bn)
            steps = {"bnsym": step, "checked": checked}
            diffs = []
            if have_torch:
                steps["torch"], tstart = torch_step(depth, bn)
                diffs.append(_difference(start, tstart))
            if have_jax:
                steps["jax"], jstart = jax_step(depth, bn)
                diffs.append(_difference(start, jstart))
                steps["bnsym-jit"], bstart = bnsym_jax_step(depth, bn)
                diffs.append(_difference(start, bstart))
            best = _best_times(steps, args.repeats, args.number)
            ours = best["bnsym"]

            def cell(name, width, best=best):
                return f"{best[name] * 1e3:>{width}.3f}" if name in best else f"{'-':>{width}}"

            def ratio(name, best=best, ours=ours):
                return f"{ours / best[name]:>7.2f}" if name in best else f"{'-':>7}"

            diff = f"{max(diffs):>12.1e}" if diffs else f"{'-':>12}"
            jit = f"{best['bnsym-jit'] / best['jax']:>7.2f}" if "jax" in best else f"{'-':>7}"
            print(f"{depth:>5} {'yes' if bn else 'no':>4} {cell('bnsym', 9)} {cell('checked', 10)} "
                  f"{cell('bnsym-jit', 12)} {cell('torch', 9)} {cell('jax', 8)} {ratio('torch')} {ratio('jax')} {jit} "
                  f"{diff}", flush=True)
    print("bnsym-jit ms: the same loops and layer kernels compiled by jax.jit (VectorizedNetwork.jitted); jit/jax: "
          "bnsym-jit over hand-written JAX.")
    print("bnsym ms: VectorizedNetwork.run on checked arrays (as gradient descent runs); checked ms: "
          "loss_and_gradients, validating every value each call; /torch, /jax: bnsym ms over theirs (< 1: faster); "
          "max rel diff: largest difference of the start's loss and gradients from bnsym's (relative to the loss, "
          "to the largest gradient entry).")


if __name__ == "__main__":
    main()
