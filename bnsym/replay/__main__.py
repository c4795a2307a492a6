"""``python -m bnsym.replay FILE``: replay a certificate and print the report as JSON.

Exit status 0 when every step checked, 1 when a step failed or could not be checked, 2 for a malformed
certificate (the JSON then has an ``"error"``). ``FILE`` may be ``-`` for standard input.

>>> main(["--help"])  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
SystemExit: 0
"""
from __future__ import annotations

import argparse
import json
import sys

from ..errors import MissingDependencyError
from .report import REPORT_FORMAT, ReplayError


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status (see the module docstring)."""
    parser = argparse.ArgumentParser(prog="python -m bnsym.replay", description="Replay a bnsym proof certificate.")
    parser.add_argument("file", help="certificate JSON file, or - for standard input")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random points (default 0)")
    parser.add_argument("--points", type=int, default=5,
                        help="random batch sizes and indices per step, each at 4 random value draws (default 5)")
    parser.add_argument("--verbose", action="store_true", help="print a line per step to stderr")
    args = parser.parse_args(argv)
    try:
        from .check import check_certificate
    except MissingDependencyError as error:
        print(json.dumps({"format": REPORT_FORMAT, "ok": False, "error": str(error), "missing_dependency": True}))
        print(f"bnsym.replay: {error}", file=sys.stderr)
        return 2
    try:
        source = sys.stdin.read() if args.file == "-" else args.file
        if args.file == "-" and not source.lstrip().startswith("{"):
            raise ReplayError("standard input does not hold a JSON object")
        if not 1 <= args.points <= 1000:
            raise ReplayError("--points must be 1..1000")
        report = check_certificate(source, seed=args.seed, points=args.points, verbose=args.verbose)
    except ReplayError as error:
        print(json.dumps({"format": REPORT_FORMAT, "ok": False, "error": str(error)}))
        print(f"bnsym.replay: {error}", file=sys.stderr)
        return 2
    print(json.dumps(report.to_dict(), indent=2))
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
