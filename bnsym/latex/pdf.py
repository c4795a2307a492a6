r"""A LaTeX document compiled by a real TeX engine (:func:`compile_pdf`), which checks it: any LaTeX error or
overfull box (a line wider than the text block) is an error.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from ..errors import LatexError

__all__ = ["compile_pdf"]


def compile_pdf(tex: str, workdir, *, name: str = "bnsym", timeout: float = 120.0) -> Path:
    r"""Compile ``tex`` with ``pdflatex`` (no shell escape, paranoid file access) and return the PDF's path.

    ``pdflatex -no-shell-escape`` runs in ``workdir`` with ``openin_any=p`` and ``openout_any=p``: the document
    cannot run programs, nor read or write files outside ``workdir`` (no absolute paths, no ``..``, no dot
    files). ``name`` (the job name) is a letter or digit and then letters, digits, ``_`` or ``-``.

    Raises :class:`~bnsym.errors.LatexError` with an excerpt of the log on any LaTeX error and on any
    overfull box (an equation wider than the text block), or when ``pdflatex`` is not installed.

    >>> import shutil, tempfile
    >>> from bnsym.latex import document
    >>> if shutil.which("pdflatex"):
    ...     with tempfile.TemporaryDirectory() as tmp:
    ...         pdf = compile_pdf(document([__import__("bnsym").chain(2).gradient("w1")]), tmp)
    ...         ok = pdf.stat().st_size > 1000
    ... else:
    ...     ok = True
    >>> ok
    True
    """
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}", name):
        # an allow-list: the name is pdflatex's job name, so it must not start with "-" (an option)
        raise LatexError(f"the document name must be a letter or digit followed by at most 63 letters, digits, "
                         f"_ or -, got {name!r}")
    if not isinstance(tex, str):
        raise LatexError(f"compile_pdf needs the LaTeX source as a string, got {type(tex).__name__}")
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout < float("inf"):
        raise LatexError(f"timeout must be a positive number of seconds, got {timeout!r}")
    exe = shutil.which("pdflatex")
    if exe is None:
        raise LatexError("pdflatex is not installed (Debian: apt-get install texlive-latex-base "
                         "texlive-latex-recommended)")
    workdir = Path(workdir)
    source = workdir / f"{name}.tex"
    try:
        workdir.mkdir(parents=True, exist_ok=True)
        source.write_text(tex, encoding="utf-8")
    except OSError as exc:
        raise LatexError(f"cannot write {source}: {exc.strerror or exc}") from None
    env = dict(os.environ, openin_any="p", openout_any="p", shell_escape="f")
    try:
        result = subprocess.run(
            [exe, "-no-shell-escape", "-halt-on-error", "-interaction=nonstopmode", "-file-line-error", source.name],
            cwd=workdir, env=env, capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as exc:
        raise LatexError(f"pdflatex took longer than {timeout:.0f} s on {source}") from exc
    log_path = workdir / f"{name}.log"
    log = log_path.read_text(encoding="latin-1") if log_path.exists() else result.stdout.decode("latin-1")
    problems = [m.start() for m in re.finditer(r"^(! |.*:\d+: |Overfull \\[hv]box)", log, re.M)]
    pdf = workdir / f"{name}.pdf"
    if result.returncode != 0 or problems or not pdf.exists():
        at = problems[0] if problems else max(len(log) - 1500, 0)
        excerpt = log[at:at + 1500].strip()
        raise LatexError(f"pdflatex failed on {source} (exit {result.returncode}):\n{excerpt}")
    return pdf
