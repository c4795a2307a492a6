"""The benchmarks run end to end on tiny sizes, and what they report besides time holds: the numeric routes
agree with PyTorch and JAX to rounding, the gradients' op counts stay within the targets, the zero proofs are
made. (Speed is measured by the benchmarks themselves, never asserted here.)"""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(script: str, *args: str) -> str:
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / script), *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_bench_gradients_quick_reports_every_route_and_the_ops_target():
    out = _run("bench_gradients.py", "--quick", "--in-process")
    for route in ("index form (new)", "per-entry (old)", "SymEngine naive", "naive sympy.diff",
                  "naive symengine diff", "symengine, then SymPy"):
        assert route in out
    assert "target gradient ops <= 4x forward: met" in out
    # the bias before BN is proved 0 at every batch size, symbolic m included
    rows = [line for line in out.splitlines() if re.match(r"\s+(m|\d+)\s+\d+\.\d+\s", line)]
    assert rows and sum(line.rstrip().endswith("b1") for line in rows) >= 4


def test_bench_numeric_agrees_with_pytorch_and_jax():
    pytest.importorskip("torch")
    out = _run("bench_numeric.py", "--repeats", "1", "--number", "1", "--depths", "2")
    rows = [line.split() for line in out.splitlines() if re.match(r"\s+2\s+(no|yes)\s", line)]
    assert len(rows) == 2
    for row in rows:
        assert float(row[-1]) < 1e-12, row  # max rel diff of loss and gradients against torch (and JAX)
