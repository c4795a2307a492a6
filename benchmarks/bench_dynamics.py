"""Benchmark: one gradient-descent step of bnsym's vectorized route vs PyTorch autograd, and ``explain``.

    .venv/bin/python benchmarks/bench_dynamics.py            # steps + the whole explain
    .venv/bin/python benchmarks/bench_dynamics.py --no-explain

The network is the reference MLP of the learning-rate sweeps (2 inputs, width 8, ReLU, one output, MSE,
batch 32), with and without BN, float64. A step is loss + all gradients + the parameter update. PyTorch runs
``nn.Sequential`` + ``torch.optim.SGD`` with one thread (as each sweep worker does). Target: bnsym within 2×
of PyTorch. Times are the median of several repeats.
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


from bnsym.dynamics import reference_data
from bnsym.numeric import init_mlp
from bnsym.vectorized import reference_mlp


def _median_time(step, repeats: int, number: int) -> float:
    for _ in range(10):
        step()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(number):
            step()
        samples.append((time.perf_counter() - start) / number)
    return statistics.median(samples)


def bnsym_step_time(depth: int, bn: bool, repeats: int, number: int) -> float:
    widths = [2] + [8] * (depth - 1) + [1]
    engine = reference_mlp(widths, bn=bn, eps=1e-5)
    params = init_mlp(widths, bn=bn, seed=0)
    x, t = reference_data(batch=32)
    lr = 1e-4

    def step():
        _, grads = engine.loss_and_gradients(params, x, t)
        for name, g in grads.items():
            params[name] -= lr * g

    return _median_time(step, repeats, number)


def torch_step_time(depth: int, bn: bool, repeats: int, number: int) -> float:
    import torch

    torch.set_num_threads(1)
    widths = [2] + [8] * (depth - 1) + [1]
    layers = []
    for l in range(1, len(widths)):
        layers.append(torch.nn.Linear(widths[l - 1], widths[l]).double())
        if l < len(widths) - 1:
            if bn:
                layers.append(torch.nn.BatchNorm1d(widths[l]).double())
            layers.append(torch.nn.ReLU())
    net = torch.nn.Sequential(*layers)
    opt = torch.optim.SGD(net.parameters(), lr=1e-4)
    x, t = (torch.as_tensor(a) for a in reference_data(batch=32))

    def step():
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(net(x), t)
        loss.backward()
        opt.step()

    return _median_time(step, repeats, number)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--no-explain", action="store_true", help="skip timing the whole `bnsym explain`")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--number", type=int, default=100)
    args = parser.parse_args()
    try:
        import torch  # noqa: F401
        have_torch = True
    except ImportError:
        have_torch = False
    print("time per GD step, reference MLP (width 8, batch 32, float64); ratio = bnsym / PyTorch (target <= 2)")
    print(f"{'depth':>5} {'BN':>4} {'bnsym ms':>9} {'torch ms':>9} {'ratio':>6}")
    worst = 0.0
    for depth in (2, 4, 8, 16):
        for bn in (False, True):
            ours = bnsym_step_time(depth, bn, args.repeats, args.number)
            if have_torch:
                theirs = torch_step_time(depth, bn, args.repeats, args.number)
                ratio = ours / theirs
                worst = max(worst, ratio)
                print(f"{depth:>5} {'yes' if bn else 'no':>4} {ours * 1e3:>9.3f} {theirs * 1e3:>9.3f} {ratio:>6.2f}")
            else:
                print(f"{depth:>5} {'yes' if bn else 'no':>4} {ours * 1e3:>9.3f} {'-':>9} {'-':>6}")
    if have_torch:
        print(f"worst ratio {worst:.2f} ({'within' if worst <= 2 else 'NOT within'} the 2x target)")
    if not args.no_explain:
        with tempfile.TemporaryDirectory() as tmp:
            bnsym = Path(sys.executable).with_name("bnsym")
            command = [str(bnsym) if bnsym.exists() else "bnsym", "explain", "-o", str(Path(tmp) / "report")]
            start = time.perf_counter()
            done = subprocess.run(command, capture_output=True, text=True)
            elapsed = time.perf_counter() - start
            status = "ok" if done.returncode == 0 else f"FAILED ({done.stderr.strip().splitlines()[-1:]})"
            print(f"bnsym explain (defaults): {elapsed:.1f} s wall, {status} (target < 120 s on 2 cores)")


if __name__ == "__main__":
    main()
