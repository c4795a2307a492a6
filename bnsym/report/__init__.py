r"""The ``explain`` report: one document model, written as Markdown, HTML (math offline), LaTeX and PDF.

A :class:`Report` is a title and sections of blocks — :class:`Text` (plain Unicode prose), :class:`Math`
(display LaTeX, with an optional multi-line ``align*`` form for the LaTeX document), :class:`Table`,
:class:`FigureRef` (a PNG and its caption) — defined in :mod:`bnsym.report.model`. :func:`write_report`
(:mod:`bnsym.report.write`) renders it as

* ``report.md`` — math as ``$$…$$`` (:mod:`bnsym.report.markdown`);
* ``report.html`` — math rendered offline: by a local MathJax 3 copied next to the report when one was named
  (``mathjax=``, ``$BNSYM_MATHJAX``) or bnsym installed it (:func:`find_mathjax`), otherwise pre-rendered to
  SVG images by matplotlib's mathtext; the report says which (:mod:`bnsym.report.html`);
* ``report.tex`` and, when ``pdflatex`` exists, ``report.pdf`` (:mod:`bnsym.report.tex`, then
  :func:`bnsym.latex.compile_pdf`, no shell escape).

:func:`build_report` (:mod:`bnsym.report.answer`) writes the text of the answer around an
:class:`~bnsym.explain.Explanation`; the model and the writers know nothing of it.

>>> r = Report("T", [Section("S", [Text("Hello."), Math(r"a^2 + b^2 = c^2")])])
>>> print(to_markdown(r))
# T
<BLANKLINE>
## S
<BLANKLINE>
Hello.
<BLANKLINE>
$$a^2 + b^2 = c^2$$
<BLANKLINE>
"""
from __future__ import annotations

from .answer import build_report
from .html import bundled_mathjax, find_mathjax, to_html
from .markdown import to_markdown
from .model import FigureRef, Math, Report, Section, Table, Text
from .tex import to_tex
from .write import write_report

__all__ = ["Text", "Math", "Table", "FigureRef", "Section", "Report", "to_markdown", "to_html", "to_tex",
           "find_mathjax", "bundled_mathjax", "write_report", "build_report"]
