"""The report's document model: a :class:`Report` is a title and :class:`Section` s of blocks.

A block is :class:`Text` (plain Unicode prose), :class:`Math` (display LaTeX, with an optional multi-line
``align*`` form for the LaTeX document), :class:`Table` or :class:`FigureRef` (a PNG and its caption). The
writers (:mod:`bnsym.report.markdown`, :mod:`bnsym.report.html`, :mod:`bnsym.report.tex`) know nothing else.

>>> Report("T", [Section("S", [Text("Hello."), Math("x^2")])]).sections[0].blocks[1].tex
'x^2'
"""
from __future__ import annotations

from dataclasses import dataclass, field
from collections.abc import Sequence

__all__ = ["Text", "Math", "Table", "FigureRef", "Link", "Block", "Section", "Report"]


@dataclass
class Text:
    """A paragraph of plain Unicode prose (no markup).

    >>> Text("σ grows").text
    'σ grows'
    """

    text: str


@dataclass
class Math:
    """A display formula: ``tex`` is one line of LaTeX math; ``block`` an optional full ``align*`` for the PDF.

    >>> Math("x^2").block is None
    True
    """

    tex: str
    block: str | None = None


@dataclass
class Table:
    """A table of strings with a header row and a caption.

    >>> Table(["a"], [["1"]]).caption
    ''
    """

    header: Sequence[str]
    rows: Sequence[Sequence[str | Link]]
    caption: str = ""


@dataclass
class FigureRef:
    """A figure file (PNG, relative to the report) and its caption.

    >>> FigureRef("f.png", "What it shows.").path
    'f.png'
    """

    path: str
    caption: str


@dataclass(frozen=True)
class Link:
    """A table cell that links to a section (by its ``key``); it reads as its ``text`` where links do not exist.

    >>> str(Link("§2", "sweep"))
    '§2'
    """

    text: str
    key: str

    def __str__(self) -> str:
        return self.text


#: What a section holds.
Block = Text | Math | Table | FigureRef


@dataclass
class Section:
    """A titled list of blocks.

    >>> Section("S").blocks
    []
    """

    title: str
    blocks: list[Block] = field(default_factory=list)
    key: str = ""  # an anchor other sections link to (the HTML element's id)


@dataclass
class Report:
    """A document: a title and sections.

    >>> Report("T").sections
    []
    """

    title: str
    sections: list[Section] = field(default_factory=list)
