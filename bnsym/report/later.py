"""The report's section on later work: each experiment of :mod:`bnsym.laterwork`, its text and its figure.

The texts come from each experiment's ``describe`` (Markdown whose every number is read from the result); this
module turns them into the document model's blocks (paragraphs as :class:`Text`, pipe tables as
:class:`Table`) so every writer (Markdown, HTML, LaTeX) renders them in its own way.

>>> blocks = markdown_blocks("**Title** (a source). Intro:\\n\\n| a | b |\\n|---|---|\\n| 1 | 2 |\\n\\nEnd.")
>>> [type(b).__name__ for b in blocks], blocks[1].rows
(['Text', 'Table', 'Text'], [['1', '2']])
>>> blocks[0].text
'Title (a source). Intro:'
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING

from ..errors import BnsymError
from .model import Block, FigureRef, Section, Table, Text

if TYPE_CHECKING:
    from ..explain import Explanation

__all__ = ["markdown_blocks", "later_section", "ORDER"]

#: The experiments in the order the section shows them: (key in ``Results.later``, figure name).
ORDER = (("gradient_explosion", "laterwork_gradient_explosion"), ("edge_of_stability", "laterwork_edge_of_stability"),
         ("auto_rate", "laterwork_auto_rate"), ("smoothness", "laterwork_smoothness"),
         ("rate_speedup", "laterwork_rate_speedup"))

_EMPHASIS = re.compile(r"\*\*(.+?)\*\*|\*(.+?)\*")


def _plain(text: str) -> str:
    return _EMPHASIS.sub(lambda m: m.group(1) or m.group(2), text).strip()


def _cells(line: str) -> list[str]:
    return [_plain(c) for c in line.strip().strip("|").split("|")]


def markdown_blocks(markdown: str) -> list[Block]:
    """The paragraphs and pipe tables of ``markdown`` as blocks; ``**bold**`` and ``*italic*`` marks are
    dropped (the document model's text is plain). See the module's example."""
    blocks: list[Block] = []
    for chunk in re.split(r"\n\s*\n", markdown.strip()):
        lines = [ln for ln in chunk.splitlines() if ln.strip()]
        rule = len(lines) >= 2 and set(lines[1].replace("|", "").strip()) <= set("-: ")
        if rule and lines[0].lstrip().startswith("|"):
            blocks.append(Table(_cells(lines[0]), [_cells(ln) for ln in lines[2:]]))
        elif lines:
            blocks.append(Text(_plain(" ".join(ln.strip() for ln in lines))))
    return blocks


def later_section(ex: Explanation) -> Section:
    """What later work showed, reproduced at small scale in this run (or a sentence saying it was not run)."""
    from ..laterwork import suite

    later = ex.results.later
    blocks: list[Block] = []
    if not later:
        blocks.append(Text("The later-work experiments were not run in this report (bnsym explain runs them "
                           "unless told not to)."))
    modules = {name: module for name, module, _ in suite._MODULES}
    for key, figure in ORDER:
        result = later.get(key) if later else None
        if result is None:
            continue
        blocks += markdown_blocks(modules[key].describe(result))
        try:
            fig = ex.figure(figure)
        except BnsymError:  # the figure needs matplotlib
            continue
        blocks.append(FigureRef(fig.name, fig.caption))
    return Section("What later work showed, reproduced at small scale", blocks, key="later")
