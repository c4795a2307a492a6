r"""The entry points: :func:`to_latex` (a block per derivation or proof), :func:`repr_latex` (notebooks),
:func:`document` (a complete article) and :func:`compile_pdf` (checked by a real TeX engine).

>>> from bnsym import chain
>>> print(to_latex(chain(1, names="a").gradient("a")).splitlines()[0])
\begin{align*}
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

import sympy

from ..errors import LatexError
from .derivation import _derivation_rows
from .escape import escape_text
from .notation import Notation
from .printer import print_latex
from .proof import _proof_block
from .rows import _Rows

__all__ = ["to_latex", "repr_latex", "document", "compile_pdf"]


def _is_derivation(obj) -> bool:
    if hasattr(obj, "graph") and hasattr(obj, "parameter_name"):  # a derivation in index form
        return True
    return all(hasattr(obj, a) for a in ("factors", "compact", "closed_form", "parameter_name"))


def _is_proof(obj) -> bool:
    return all(hasattr(obj, a) for a in ("statement_latex", "conditions", "steps", "holds"))


def _items(obj) -> list:
    if _is_derivation(obj) or _is_proof(obj):
        return [obj]
    if isinstance(obj, Mapping):
        obj = list(obj.values())
    if isinstance(obj, (list, tuple)) and obj and all(_is_derivation(o) or _is_proof(o) for o in obj):
        return list(obj)
    raise LatexError(
        f"to_latex renders a Derivation, a Proof, or a list or mapping of them; got {type(obj).__name__}"
    )


def _block(obj, notation: Notation, numbered: bool) -> str:
    if _is_proof(obj):
        return _proof_block(obj, notation, numbered)
    if hasattr(obj, "graph"):  # index form over the batch
        from .index import _index_block  # lazy: it needs the derivation engine

        return _index_block(obj, notation, numbered)
    rows = _Rows(notation, numbered)
    _derivation_rows(obj, rows)
    return rows.render()


def _heading(obj) -> str:
    if _is_proof(obj):
        return escape_text(obj.title)
    network = getattr(obj, "network", None)
    where = getattr(network, "description", "") or "the network"
    return r"$\partial J/\partial %s$ in the %s" % (print_latex(sympy.Symbol(obj.parameter_name)), escape_text(where))


def to_latex(obj, standalone: bool = False, numbered: bool = False, notation: Notation | None = None) -> str:
    r"""LaTeX for a :class:`~bnsym.derive.Derivation`, a :class:`~bnsym.theorems.Proof`, or a list/mapping of them.

    A derivation is an ``align*`` block: the forward definitions it uses, the symbolic chain-rule product
    ``\frac{\partial J}{\partial w_1} = \frac{\partial J}{\partial \hat y}\,\frac{\partial \hat y}{\partial z_2}
    \cdots``, the factors substituted, then the gradient in the named intermediates and explicitly. A proof
    is its statement, hypotheses and chain of equalities (each with its reason), then the verdict.
    ``numbered=True`` numbers the equations (``align``); ``standalone=True`` returns a complete document.

    >>> from bnsym import two_layer
    >>> tex = to_latex(two_layer().gradient("w1"))
    >>> r"\mathrm{ReLU}'\left(z_{2}\right) \cdot w_{2} \cdot \mathrm{ReLU}'\left(z_{1}\right) \cdot x" in tex
    True
    >>> to_latex("w1")
    Traceback (most recent call last):
    ...
    bnsym.errors.LatexError: to_latex renders a Derivation, a Proof, or a list or mapping of them; got str
    """
    notation = notation or Notation()
    if not isinstance(notation, Notation):
        raise LatexError(f"notation must be a bnsym.latex.Notation, got {type(notation).__name__}")
    items = _items(obj)
    if standalone:
        return document(items, numbered=numbered, notation=notation)
    return "\n\n".join(_block(item, notation, numbered) for item in items)


def repr_latex(obj) -> str:
    r"""What ``_repr_latex_`` returns in a notebook: an ``aligned`` block inside ``$$ … $$``.

    >>> from bnsym import chain
    >>> text = repr_latex(chain(2).gradient("w2"))
    >>> text.startswith("$$\\begin{aligned}") and text.endswith("\\end{aligned}$$")
    True
    """
    return "$$" + to_latex(obj, notation=Notation(environment="aligned")) + "$$"


_PREAMBLE = r"""\documentclass[10pt]{article}
\usepackage{amsmath}
\usepackage{amssymb}
\allowdisplaybreaks
\sloppy
\begin{document}
"""


def document(items, *, numbered: bool = False, notation: Notation | None = None, title: str | None = None) -> str:
    r"""A complete LaTeX document (``article``, ``amsmath``, ``amssymb``) with one section per item.

    >>> from bnsym import chain
    >>> tex = document([chain(2).gradient("w1")], title="Goodfellow's chain")
    >>> tex.startswith("\\documentclass") and tex.rstrip().endswith("\\end{document}")
    True
    """
    notation = notation or Notation()
    if notation.environment != "align*":
        raise LatexError("a standalone document needs Notation(environment='align*')")
    items = _items(items)
    preamble = _PREAMBLE
    if notation.width != Notation.width:  # the text block the lines were broken for
        preamble = preamble.replace(r"\usepackage{amsmath}",
                                    "\\usepackage[textwidth=%gpt]{geometry}\n\\usepackage{amsmath}" % notation.width)
    body = []
    if title:
        body.append(r"\section*{%s}" % escape_text(title))
    for item in items:
        body.append(r"\subsection*{%s}" % _heading(item))
        body.append(_block(item, notation, numbered))
    return preamble + "\n\n".join(body) + "\n\\end{document}\n"


def compile_pdf(tex: str, workdir, *, name: str = "bnsym", timeout: float = 120.0) -> Path:
    r"""Compile ``tex`` with ``pdflatex`` (no shell escape, paranoid file access) and return the PDF's path.

    ``pdflatex -no-shell-escape`` runs in ``workdir`` with ``openin_any=p`` and ``openout_any=p``: the document
    cannot run programs, nor read or write files outside ``workdir`` (no absolute paths, no ``..``, no dot
    files). ``name`` (the job name) is a letter or digit and then letters, digits, ``_`` or ``-``.

    Raises :class:`~bnsym.errors.LatexError` with an excerpt of the log on any LaTeX error and on any
    overfull box (an equation wider than the text block), or when ``pdflatex`` is not installed.

    >>> import shutil, tempfile
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
