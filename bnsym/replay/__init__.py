"""Independent replay of proof certificates, in a fresh process that does not import the provers.

A certificate (format ``bnsym-certificate/1``, see :mod:`bnsym.replay.certificate`) lists a proof's steps
as data. :func:`replay` re-checks every step in a new Python process (``python -I``, with this bnsym on the
path) that imports only SymPy, SymEngine, mpmath and :mod:`bnsym.functions` - never ``bnsym.theorems``,
``bnsym.kernel``, ``bnsym.derive`` or ``bnsym.network`` - so a bug in a prover cannot vouch for itself:
each step numerically at random admissible points to 50 digits, and exactly with SymEngine where the step
is a rational-function identity (:mod:`bnsym.replay.check`). ``python -m bnsym.replay FILE`` does the same
from the shell and prints the report as JSON.

>>> cert = {"format": "bnsym-certificate/1", "theorem": "demo", "holds": True, "batch": 2,
...         "steps": [{"id": 0, "kind": "eq", "lhs": "Pow(Add(Symbol('x'), Integer(1)), Integer(2))",
...                    "rhs": "Add(Pow(Symbol('x'), Integer(2)), Mul(Integer(2), Symbol('x')), Integer(1))"}]}
>>> report = replay(cert)
>>> report.ok, report.steps[0].numeric, report.steps[0].exact
(True, 'pass', 'pass')
>>> "bnsym.theorems" in report.bnsym_modules
False
"""
from __future__ import annotations

import json
import os
import sys as _sys
import types as _types
import subprocess
import sys
from pathlib import Path
from typing import Any

from ..errors import MissingDependencyError
from .report import REPORT_FORMAT, ReplayError, ReplayReport, StepReport

__all__ = ["replay", "check_certificate", "ReplayError", "ReplayReport", "StepReport", "REPORT_FORMAT"]

#: the child's entry point: this bnsym first on the path, then ``python -m bnsym.replay``'s main
_BOOT = ("import sys; sys.path.insert(0, sys.argv.pop(1)); "
         "from bnsym.replay.__main__ import main; sys.exit(main(sys.argv[1:]))")


def check_certificate(certificate: Any, *, seed: int = 0, points: int = 5, verbose: bool = False) -> ReplayReport:
    """Replay in this process (what the child of :func:`replay` runs); see :mod:`bnsym.replay.check`.

    >>> check_certificate({"format": "bnsym-certificate/1", "theorem": "t", "steps": []}).ok
    False
    """
    from .check import check_certificate as check

    return check(certificate, seed=seed, points=points, verbose=verbose)


def _text(certificate: Any) -> str:
    if isinstance(certificate, dict):
        try:
            return json.dumps(certificate)
        except (TypeError, ValueError) as error:
            raise ReplayError(f"the certificate is not JSON data: {error}") from None
    if isinstance(certificate, str) and certificate.lstrip().startswith("{"):
        return certificate
    if isinstance(certificate, (str, os.PathLike)):
        try:
            return Path(certificate).read_text(encoding="utf-8")
        except OSError as error:
            raise ReplayError(f"cannot read certificate {certificate}: {error.strerror or error}") from None
    raise ReplayError(f"a certificate is a dict, a JSON string or a path, got {type(certificate).__name__}")


def replay(certificate: Any, *, timeout: float = 600.0, seed: int = 0, points: int = 5,
           verbose: bool = False) -> ReplayReport:
    """Re-check a certificate (dict, JSON string or path) in a fresh, isolated Python process.

    Returns the :class:`ReplayReport` (``.ok``, ``.steps``). A malformed certificate, a timeout or a crashed
    child raises :class:`ReplayError`. ``verbose`` lets the child print a line per step to stderr.

    >>> replay("{not json")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    bnsym.replay.report.ReplayError: certificate is not valid JSON: Expecting property name ...
    """
    text = _text(certificate)
    try:
        if not isinstance(json.loads(text), dict):
            raise ReplayError("a certificate is a JSON object")
    except (ValueError, RecursionError) as error:
        raise ReplayError(f"certificate is not valid JSON: {error}") from None
    root = str(Path(__file__).resolve().parent.parent.parent)
    command = [sys.executable, "-I", "-c", _BOOT, root, "-", "--seed", str(int(seed)), "--points", str(int(points))]
    if verbose:
        command.append("--verbose")
    try:
        done = subprocess.run(command, input=text, stdout=subprocess.PIPE, stderr=None if verbose else subprocess.PIPE,
                              timeout=timeout, encoding="utf-8")
    except subprocess.TimeoutExpired:
        raise ReplayError(f"the replay did not finish within {timeout} s") from None
    try:
        data = json.loads(done.stdout)
    except ValueError:
        data = None
    if done.returncode == 2 and isinstance(data, dict) and "error" in data:
        raise (MissingDependencyError if data.get("missing_dependency") else ReplayError)(data["error"])
    if done.returncode not in (0, 1) or not isinstance(data, dict):
        tail = (done.stderr or "")[-2000:]
        raise ReplayError(f"the replay process failed (exit {done.returncode}): {tail}")
    return ReplayReport.from_dict(data)


class _CallablePackage(_types.ModuleType):
    """``bnsym.replay`` is both this package and :func:`replay`: ``bnsym.replay(cert)`` works however the package
    was first imported (Python sets the attribute ``bnsym.replay`` to the package once it is imported)."""

    def __call__(self, certificate: Any, **options: Any) -> ReplayReport:
        return replay(certificate, **options)


# Why a module class: the public API has both ``bnsym.replay(...)`` and ``from bnsym.replay import ...``,
# and importing a submodule rebinds the parent's attribute to the module, so a plain function of that name
# cannot survive it.
# Setting a module's ``__class__`` to a ModuleType subclass is the documented way to customise a module (Python
# reference, "Customizing module attribute access"); it changes nothing else about the package.
_sys.modules[__name__].__class__ = _CallablePackage
