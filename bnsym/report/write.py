"""Writing a report to disk: ``report.md``, ``report.html`` (math offline), ``report.tex`` and ``report.pdf``.

A text block may hold the placeholder ``@@MATH@@``: it is replaced, in each format, by the sentence saying how
the HTML renders its math (known only when the files are written).

>>> import tempfile
>>> with tempfile.TemporaryDirectory() as tmp:
...     out = write_report(Report("T", [Section("S", [Text("Math: @@MATH@@.")])]), tmp, pdf=False)
...     "Math: formulas pre-rendered" in (Path(tmp) / "report.md").read_text() or "MathJax" in out["math"]
True
"""
from __future__ import annotations

import html
import os
import shutil
from pathlib import Path

from ..errors import BnsymError, LatexError
from .html import find_mathjax, to_html
from .markdown import to_markdown
from .model import Report, Section, Text  # noqa: F401 - Section and Text for the doctests
from .tex import tex_text, to_tex

__all__ = ["write_report", "MATH_PLACEHOLDER"]

#: Replaced in every format by how the HTML renders math.
MATH_PLACEHOLDER = "@@MATH@@"


def write_report(report: Report, directory: str | Path, *, pdf: bool = True,
                 mathjax: str | os.PathLike | None = None) -> dict[str, Path | str]:
    """Write ``report.md``, ``report.html``, ``report.tex`` (and ``report.pdf``) into ``directory``.

    Returns the paths written, plus ``"math"`` (how the HTML renders math) and ``"pdf_error"`` when the PDF
    could not be made. Figures must already be in ``directory``. ``mathjax`` names a MathJax 3 copy (see
    :func:`~bnsym.report.html.find_mathjax`). A file that cannot be written raises
    :class:`~bnsym.errors.BnsymError`.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     out = write_report(Report("T", [Section("S", [Text("Hi.")])]), tmp, pdf=False)
    ...     sorted(k for k in out if k != "math"), (Path(tmp) / "report.md").read_text().startswith("# T")
    (['html', 'md', 'tex'], True)
    """
    directory = Path(directory)
    mathjax_dir = find_mathjax(mathjax)
    try:
        return _write_report(report, directory, pdf, mathjax_dir)
    except OSError as exc:
        raise BnsymError(f"cannot write the report in {directory}: {exc.strerror or exc}"
                         + (f" ({exc.filename})" if exc.filename else "")) from None


def _write_report(report: Report, directory: Path, pdf: bool, mathjax_dir: Path | None) -> dict[str, Path | str]:
    directory.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path | str] = {}
    if mathjax_dir is not None:
        # one self-contained component (every TeX extension, SVG fonts included), not the whole distribution
        bundle = next(p for p in (mathjax_dir / "tex-svg-full.js", mathjax_dir / "tex-svg.js") if p.is_file())
        (directory / "mathjax").mkdir(exist_ok=True)
        shutil.copy(bundle, directory / "mathjax" / bundle.name)
        how = f"MathJax 3 ({bundle.name}), a local copy in mathjax/, no network needed"
        page = to_html(report, directory, mathjax=f"mathjax/{bundle.name}")
    else:
        how = ("formulas pre-rendered to SVG images (Computer Modern) by matplotlib's mathtext (in math/); "
               "no MathJax copy was found")
        page = to_html(report, directory)
    written["math"] = how
    (directory / "report.html").write_text(page.replace(MATH_PLACEHOLDER, html.escape(how)), encoding="utf-8")
    (directory / "report.md").write_text(to_markdown(report).replace(MATH_PLACEHOLDER, how), encoding="utf-8")
    tex = to_tex(report).replace(MATH_PLACEHOLDER, tex_text(how))
    (directory / "report.tex").write_text(tex, encoding="utf-8")
    written.update(md=directory / "report.md", html=directory / "report.html", tex=directory / "report.tex")
    if pdf and shutil.which("pdflatex"):
        written.update(_pdf(tex, directory))
    elif pdf:
        written["pdf_error"] = "pdflatex is not installed; report.tex was written, report.pdf was not"
    return written


def _pdf(tex: str, directory: Path) -> dict[str, Path | str]:
    """``report.pdf`` by :func:`bnsym.latex.compile_pdf` (no shell escape), or why it could not be made."""
    from ..latex import compile_pdf

    try:
        produced = compile_pdf(tex, directory, name="report")
    except LatexError as exc:
        return {"pdf_error": str(exc)}
    if Path(produced) != directory / "report.pdf":
        shutil.copy(produced, directory / "report.pdf")
    return {"pdf": directory / "report.pdf"}
