"""Benchmark: the whole theorem catalogue through the kernel, against the pre-kernel provers, in the same run.

    python benchmarks/bench_proofs.py [--before REV] [--skip-before]

For symbolic ``m`` and for ``m = 8`` and ``m = 64`` it times ``bnsym.prove(name, batch=…)`` for every theorem of
the catalogue, each configuration in a fresh interpreter (no warm caches). The baseline is the same measurement
on the commit before the kernel (``--before``, default ``09d2df4``), checked out into a temporary git worktree
and run in the same invocation, so the ratio compares like with like on this machine. Issue 10's target: the
kernel no more than 2× slower.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BEFORE = "09d2df4"

PROBE = r"""
import json, sys, time
t0 = time.perf_counter()
from bnsym.theorems import prove, theorems
names = [t.name for t in theorems()]
batch = sys.argv[1]
batch = batch if batch == "m" else int(batch)
verdicts = {}
start = time.perf_counter()
for name in names:
    verdicts[name] = prove(name, batch=batch).holds
print(json.dumps({"seconds": time.perf_counter() - start, "verdicts": {k: str(v) for k, v in verdicts.items()}}))
"""


def measure(source: Path, batch: str) -> dict:
    """Time the catalogue at ``batch`` with the bnsym package found in ``source``."""
    env = dict(os.environ, PYTHONPATH=str(source))
    out = subprocess.run([sys.executable, "-c", PROBE, batch], env=env, capture_output=True, text=True,
                         timeout=3600, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str]) -> None:
    before = argv[argv.index("--before") + 1] if "--before" in argv else BEFORE
    skip = "--skip-before" in argv
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        old = Path(tmp) / "before"
        if not skip:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(old), before],
                           check=True, capture_output=True)
        try:
            for batch in ("m", "8", "64"):
                now = measure(ROOT, batch)
                then = None if skip else measure(old, batch)
                rows.append((batch, now, then))
                ratio = "" if then is None else f", ratio {now['seconds'] / then['seconds']:.1f}x"
                base = "" if then is None else f"; before the kernel ({before}) {then['seconds']:.2f} s"
                true = sum(v == "True" for v in now["verdicts"].values())
                print(f"catalogue at m = {batch}: {now['seconds']:.2f} s through the kernel "
                      f"({true}/{len(now['verdicts'])} hold){base}{ratio}", flush=True)
        finally:
            if not skip:
                subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(old)],
                               capture_output=True)


if __name__ == "__main__":
    main(sys.argv[1:])
