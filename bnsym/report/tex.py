r"""The LaTeX writer: a standalone ``article`` (amsmath, graphicx); prose is escaped, math is passed through.

>>> tex = to_tex(Report("T", [Section("S", [Text("a_b & 100%")])]))
>>> r"a\_b \& 100\%" in tex
True
"""
from __future__ import annotations

from .model import FigureRef, Math, Report, Section, Table, Text  # noqa: F401 - Section for the doctests

__all__ = ["to_tex", "tex_text"]

#: Characters that :func:`bnsym.latex.escape_text` does not transliterate (yet): typeset here.
_TEX_OVERRIDES = {"⋯": r"$\cdots$", "ŷ": r"$\hat{y}$", "′": "$'$", "∝": r"$\propto$", "⁻⁵": r"$^{-5}$", "∈": r"$\in$",
                 "/": r"/\allowbreak{}"}  # a line may break after a slash (‖∂J/∂W₁‖/‖∂J/∂W_L‖ in a narrow cell)


def tex_text(text: str) -> str:
    r"""Plain text as LaTeX: :func:`bnsym.latex.escape_text`, plus a few characters it does not know, and a
    permitted line break after each slash.

    >>> tex_text("ŷ ∝ 1/c² at 50%")
    '$\\hat{y}$ $\\propto$ 1/\\allowbreak{}c$^{2}$ at 50\\%'
    """
    from ..latex import escape_text

    parts = [str(text)]
    for char in _TEX_OVERRIDES:
        parts = [piece for part in parts for piece in _split_keep(part, char)]
    return "".join(_TEX_OVERRIDES[p] if p in _TEX_OVERRIDES else escape_text(p) for p in parts if p)


def _split_keep(text: str, sep: str) -> list[str]:
    if text in _TEX_OVERRIDES:
        return [text]
    pieces = text.split(sep)
    out = []
    for i, piece in enumerate(pieces):
        if i:
            out.append(sep)
        out.append(piece)
    return out


def to_tex(report: Report) -> str:
    r"""The report as a standalone LaTeX document (article, amsmath, graphicx); text is escaped.

    >>> tex = to_tex(Report("T", [Section("S", [Text("50% of σ"), Math("x^2")])]))
    >>> r"50\% of $\sigma$" in tex, r"\[x^2\]" in tex
    (True, True)
    """
    escape_text = tex_text
    out = [r"\documentclass[11pt]{article}", r"\usepackage[margin=2.2cm]{geometry}",
           r"\usepackage{amsmath,amssymb,graphicx,float,array,longtable}", r"\usepackage[T1]{fontenc}",
           r"\sloppy", r"\setlength{\emergencystretch}{3em}",
           r"\title{" + escape_text(report.title) + "}", r"\date{}", r"\begin{document}", r"\maketitle"]
    for section in report.sections:
        out.append(r"\section*{" + escape_text(section.title) + "}")
        for block in section.blocks:
            if isinstance(block, Text):
                out += [escape_text(block.text), ""]
            elif isinstance(block, Math):
                out.append(block.block if block.block else r"\[" + block.tex + r"\]")
            elif isinstance(block, Table):
                out += _table(block)
            elif isinstance(block, FigureRef):
                out += [r"\begin{figure}[H]\centering",
                        r"\includegraphics[width=0.85\linewidth]{" + block.path + "}",
                        r"\caption{" + escape_text(block.caption) + "}", r"\end{figure}"]
    out.append(r"\end{document}")
    return "\n".join(out) + "\n"


def _long_table(block: Table) -> list[str]:
    """A table with prose in its cells: a ``longtable`` (it may break across pages) of ragged-right paragraph
    columns, each as wide as its longest cell asks (within limits)."""
    cols = len(block.header)
    cells = [[str(block.header[k])] + [str(r[k]) for r in block.rows] for k in range(cols)]
    want = [min(max(len(c) for c in column), 60) for column in cells]
    # no column narrower than its longest word (about 110 footnotesize characters to a line)
    floor = [(max(len(w) for c in column for w in c.split() or [""]) + 2) / 110 for column in cells]
    room = 0.97 - cols * 0.015  # what the column separators (3pt each side) leave
    share = [max(w / sum(want) * room, f) for w, f in zip(want, floor, strict=True)]
    fixed = sum(f for s, f in zip(share, floor, strict=True) if s == f)
    free = sum(s for s, f in zip(share, floor, strict=True) if s != f)
    share = [s if s == f else s * max(room - fixed, 0.05) / free for s, f in zip(share, floor, strict=True)]
    spec = "".join(r">{\raggedright\arraybackslash}p{%.3f\linewidth}" % f for f in share)
    out = [r"{\footnotesize\setlength{\tabcolsep}{3pt}\begin{longtable}{" + spec + "}",
           " & ".join(r"\textbf{" + tex_text(str(h)) + "}" for h in block.header) + r"\\ \hline\endhead"]
    out += [" & ".join(tex_text(str(c)) for c in row) + r"\\ \hline" for row in block.rows]
    if block.caption:
        out.append(r"\multicolumn{%d}{p{0.95\linewidth}}{%s}\\" % (cols, tex_text(block.caption)))
    out.append(r"\end{longtable}}")
    return out


def _table(block: Table) -> list[str]:
    if len(block.rows) > 25 or any(len(str(c)) > 40 for row in block.rows for c in row):  # may break across pages
        return _long_table(block)
    spec = "l" + "r" * (len(block.header) - 1)
    out = [r"\begin{table}[H]\centering\small",
           r"\resizebox{\ifdim\width>\linewidth\linewidth\else\width\fi}{!}{%",
           r"\begin{tabular}{" + spec + "}",
           " & ".join(tex_text(str(h)) for h in block.header) + r"\\ \hline"]
    out += [" & ".join(tex_text(str(c)) for c in row) + r"\\" for row in block.rows]
    out.append(r"\end{tabular}}")
    if block.caption:
        out.append(r"\par\smallskip\parbox{\linewidth}{\footnotesize " + tex_text(block.caption) + "}")
    out.append(r"\end{table}")
    return out
