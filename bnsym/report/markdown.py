"""The Markdown writer: GitHub-flavoured, ``$$`` math, pipe tables, numbered figures with captions.

>>> print(to_markdown(Report("T", [Section("S", [Table(["a", "b"], [["1", "x|y"]])])])))
# T
<BLANKLINE>
## S
<BLANKLINE>
| a | b |
|---|---|
| 1 | x\\|y |
<BLANKLINE>
"""
from __future__ import annotations

from .model import FigureRef, Math, Report, Section, Table, Text  # noqa: F401 - Section for the doctests

__all__ = ["to_markdown"]


def _md_cell(text: object) -> str:
    return str(text).replace("|", "\\|")


def to_markdown(report: Report) -> str:
    """The report as Markdown (GitHub-flavoured: ``$$`` math, pipe tables, images with captions).

    >>> md = to_markdown(Report("T", [Section("S", [Math("x^2"), FigureRef("f.png", "A caption.")])]))
    >>> "$$x^2$$" in md, "![Figure 1](f.png)" in md, "*Figure 1. A caption.*" in md
    (True, True, True)
    """
    lines = [f"# {report.title}", ""]
    figure = 0
    for section in report.sections:
        lines += [f"## {section.title}", ""]
        for block in section.blocks:
            if isinstance(block, Text):
                lines += [block.text, ""]
            elif isinstance(block, Math):
                lines += [f"$${block.tex}$$", ""]
            elif isinstance(block, Table):
                lines.append("| " + " | ".join(_md_cell(h) for h in block.header) + " |")
                lines.append("|" + "---|" * len(block.header))
                lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in block.rows]
                lines += ["", f"*{block.caption}*", ""] if block.caption else [""]
            elif isinstance(block, FigureRef):
                figure += 1
                lines += [f"![Figure {figure}]({block.path})", "", f"*Figure {figure}. {block.caption}*", ""]
    return "\n".join(lines)
