"""What a test needs from the machine: a program (pdflatex, pdftoppm, npm, Chromium) or an optional package
(PyTorch, matplotlib). Without it a test skips locally and fails in CI (``CI=true``), where ``.ci/run``
installs everything, so that CI never passes by skipping.

The ``torch`` fixture (tests/conftest.py) is :func:`need_module` for PyTorch: a test that takes it runs
only with torch, and the pure SymPy/NumPy tests in the same file run without it.
"""
from __future__ import annotations

import importlib
import os
import shutil
from types import ModuleType
from typing import NoReturn

import pytest

#: how to install PyTorch
TORCH_HINT = "pip install -e '.[test]' installs torch"
_TEX = "apt-get install texlive-latex-base texlive-latex-recommended poppler-utils"
#: how to install each program the tests call
HINTS = {"pdflatex": _TEX, "pdftoppm": _TEX, "pdftotext": _TEX, "npm": "apt-get install npm",
         "chromium": "apt-get install chromium"}

#: the CI switch (.ci/run sets CI=true): a missing tool or package fails instead of skipping
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def missing(message: str) -> NoReturn:
    """Skip (locally) or fail (in CI) because ``message`` names something missing.

    >>> try:
    ...     missing("frobnicate is not installed")
    ... except (pytest.skip.Exception, pytest.fail.Exception) as outcome:
    ...     print(type(outcome).__name__ in ("Skipped", "Failed"), outcome.msg.startswith("frobnicate is not"))
    True True
    """
    if IN_CI:
        pytest.fail(f"{message} - CI must run this test (.ci/run installs it)", pytrace=False)
    pytest.skip(message, allow_module_level=True)


def need(*tools: str, hint: str = "") -> str:
    """The path of the first of ``tools`` on the PATH; :func:`missing` if none is, saying how to install it
    (``hint``, or the one :data:`HINTS` gives for the first tool).

    >>> need("no-such-tool-here", "sh").endswith("/sh")
    True
    """
    for tool in tools:
        path = shutil.which(tool)
        if path:
            return path
    hint = hint or HINTS.get(tools[0], "")
    missing(f"{' or '.join(tools)} is not installed" + (f" ({hint})" if hint else ""))


def need_module(name: str, hint: str = "") -> ModuleType:
    """The imported module ``name``; :func:`missing` if it cannot be imported.

    >>> need_module("json").dumps([1])
    '[1]'
    """
    try:
        return importlib.import_module(name)
    except ImportError as error:
        missing(f"{name} cannot be imported ({error})" + (f"; {hint}" if hint else ""))


