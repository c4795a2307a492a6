r"""The HTML writer, with math rendered offline.

Math is typeset by a local MathJax 3 when one was named (``mathjax=``, ``$BNSYM_MATHJAX``) or bnsym installed
it (:func:`find_mathjax`, :func:`bundled_mathjax`); otherwise each formula is pre-rendered to an SVG image by
matplotlib's mathtext (:class:`MathImages`). Text is HTML-escaped.

>>> page = to_html(Report("<T>", [Section("S", [Text("a < b & c")])]), mathjax="tex-svg.js")
>>> "<h1>&lt;T&gt;</h1>" in page, "<p>a &lt; b &amp; c</p>" in page
(True, True)
"""
from __future__ import annotations

import html
import os
from pathlib import Path

from ..errors import BnsymError
from .model import FigureRef, Link, Math, Report, Section, Table, Text  # noqa: F401 - Section for the doctests

__all__ = ["to_html", "find_mathjax", "bundled_mathjax", "MathImages"]

#: bnsym's source tree (the directory holding ``pyproject.toml`` in a checkout).
_SOURCE_ROOT = Path(__file__).resolve().parent.parent.parent


def bundled_mathjax() -> Path | None:
    """Where ``scripts/build-docs.sh`` installs MathJax 3 in bnsym's source tree (``docs/.mathjax``), or ``None``
    when bnsym does not run from a source checkout. The path need not exist.

    >>> found = bundled_mathjax()
    >>> found is None or found.parts[-4:] == ("docs", ".mathjax", "node_modules", "mathjax")
    True
    """
    root = _SOURCE_ROOT
    if (root / "pyproject.toml").is_file() and (root / "scripts" / "build-docs.sh").is_file():
        return root / "docs" / ".mathjax" / "node_modules" / "mathjax"
    return None


def _main_checkout(root: Path) -> Path | None:
    """The main checkout of a git worktree (``root/.git`` is a file ``gitdir: <main>/.git/worktrees/<name>``),
    where ``scripts/build-docs.sh`` installed MathJax (the directory is not tracked, so worktrees lack it)."""
    marker = root / ".git"
    try:
        text = marker.read_text(encoding="utf-8") if marker.is_file() else ""
    except OSError:
        return None
    if not text.startswith("gitdir:"):
        return None
    gitdir = Path(text.split(":", 1)[1].strip())
    if gitdir.parent.name == "worktrees" and gitdir.parent.parent.name == ".git":
        return gitdir.parent.parent.parent
    return None


def _component_dir(root: Path) -> Path | None:
    for es5 in (root / "es5", root):
        if (es5 / "tex-svg.js").is_file():
            return es5
    return None


def find_mathjax(mathjax: str | os.PathLike | None = None) -> Path | None:
    """The local MathJax 3 the report uses (the directory holding ``tex-svg.js``), or ``None``.

    Only a copy that was named or that bnsym installed is used, never one found in the current directory:
    ``mathjax`` (``bnsym explain --mathjax DIR``), else ``$BNSYM_MATHJAX``, else the copy
    :func:`bundled_mathjax` (made by ``scripts/build-docs.sh``; from a git worktree, the main checkout's copy).
    A named copy (argument or variable) that
    holds no ``tex-svg.js`` (in ``DIR/es5`` or ``DIR``) raises :class:`~bnsym.errors.BnsymError`; without
    any, the HTML report pre-renders its formulas as SVG images.

    >>> found = find_mathjax()
    >>> found is None or (found / "tex-svg.js").is_file()
    True
    >>> find_mathjax("/no/such/dir")
    Traceback (most recent call last):
    ...
    bnsym.errors.BnsymError: no MathJax 3 in /no/such/dir (the --mathjax or $BNSYM_MATHJAX directory needs
    es5/tex-svg.js or tex-svg.js)
    """
    named = mathjax if mathjax is not None else (os.environ.get("BNSYM_MATHJAX") or None)
    if named is not None:
        found = _component_dir(Path(named))
        if found is None:
            raise BnsymError(f"no MathJax 3 in {named} (the --mathjax or $BNSYM_MATHJAX directory needs "
                             "es5/tex-svg.js or tex-svg.js)")
        return found
    bundled = bundled_mathjax()
    if bundled is None:
        return None
    found = _component_dir(bundled)
    main = _main_checkout(_SOURCE_ROOT) if found is None else None
    if main is not None:
        found = _component_dir(main / bundled.relative_to(_SOURCE_ROOT))
    return found


#: The body text's size in points (the pre-rendered formulas are made at it and sized in em).
_BODY_PT = 12.0


class MathImages:
    """Pre-renders formulas to SVG files ``directory/eq1.svg``, ``eq2.svg`` … with matplotlib's mathtext (a
    LaTeX subset, no TeX needed) in Computer Modern at the body's size; calling it returns the ``<img>`` tag
    (its height in em, so the formula matches the text), or the escaped source in a ``<code>`` when mathtext
    cannot render the formula.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     images = MathImages(Path(tmp) / "math")
    ...     tag = images("x^2")
    ...     made = (Path(tmp) / "math" / "eq1.svg").is_file()
    ...     tag.startswith('<img class="math" src="math/eq1.svg" style="height:'), made
    (True, True)
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.count = 0

    def __call__(self, tex: str, display: bool = True) -> str:
        import re

        from matplotlib import mathtext
        from matplotlib.font_manager import FontProperties

        self.directory.mkdir(parents=True, exist_ok=True)
        self.count += 1
        name = f"eq{self.count}.svg"
        # Computer Modern (a real math font) at the body's 12 pt; the image is sized in em to match the text
        # (display style: fractions at full size, and Computer Modern's small x-height made up for by 1.25)
        prop = FontProperties(size=_BODY_PT * 1.25, math_fontfamily="cm")
        shown = tex.replace(r"\frac", r"\dfrac") if display else tex
        try:
            mathtext.math_to_image(f"${shown}$", self.directory / name, prop=prop, dpi=72, format="svg")
        except Exception:
            return f'<code class="tex">{html.escape(tex)}</code>'
        found = re.search(r'height="([\d.]+)pt"', (self.directory / name).read_text(encoding="utf-8")[:2000])
        style = f' style="height:{float(found.group(1)) / _BODY_PT:.2f}em"' if found else ""
        return (f'<img class="math" src="{self.directory.name}/{name}"{style} alt="{html.escape(tex, quote=True)}">')


def _cell(cell) -> str:
    """A table cell: a :class:`~bnsym.report.model.Link` links to its section's anchor.

    >>> _cell(Link("§2", "sweep")), _cell("with BN")
    ('<td class="num"><a href="#sweep">§2</a></td>', '<td>with BN</td>')
    """
    text = html.escape(str(cell))
    if isinstance(cell, Link):
        text = f'<a href="#{html.escape(cell.key, quote=True)}">{text}</a>'
    return f"<td{_cell_class(str(cell))}>{text}</td>"


def _cell_class(cell: str) -> str:
    """`` class="num"`` for a short numeric cell (right-aligned), else nothing (text is left-aligned).

    >>> _cell_class("0.562 [0.316 … 1]"), _cell_class("≥ 100"), _cell_class("with BN")
    (' class="num"', ' class="num"', '')
    """
    return ' class="num"' if len(cell) <= 40 and cell[:1] in "0123456789-+−≥§" else ""


_STYLE = """body{font-family:Georgia,serif;max-width:52em;margin:2em auto;padding:0 1em;line-height:1.5;color:#222}
h1,h2{font-family:Helvetica,Arial,sans-serif}table{border-collapse:collapse;margin:1em 0}
td,th{border:1px solid #bbb;padding:.25em .6em;text-align:left;vertical-align:top}th{background:#f2f2f2}
td.num{text-align:right;white-space:nowrap}table{font-size:.92em}
figure{margin:1.5em 0}figure img{max-width:100%}figcaption{font-size:.92em;color:#444}
.display{text-align:center;margin:1em 0;overflow-x:auto}code.tex{white-space:pre-wrap}
.caption{font-size:.92em;color:#444}"""


def to_html(report: Report, directory: Path | None = None, *, mathjax: str | None = None) -> str:
    r"""The report as one HTML page. With ``mathjax`` (a path relative to the page) math is typeset by that
    local MathJax; otherwise each formula is an SVG image rendered into ``directory/math``.

    >>> page = to_html(Report("T", [Section("S", [Math("x^2")])]), mathjax="mathjax/tex-svg.js")
    >>> '<script id="MathJax-script" async src="mathjax/tex-svg.js">' in page, r"\[x^2\]" in page
    (True, True)
    """
    images = MathImages((directory or Path(".")) / "math") if mathjax is None else None

    def display(tex: str) -> str:
        if images is None:
            return f'<div class="display">\\[{html.escape(tex)}\\]</div>'
        return f'<div class="display">{images(tex)}</div>'

    head = ["<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(report.title)}</title>",
            f"<style>{_STYLE}</style>"]
    if mathjax is not None:
        head.append("<script>MathJax = {svg: {scale: 1, fontCache: 'global'}, "
                    "chtml: {scale: 1}};</script>")
        head.append(f'<script id="MathJax-script" async src="{html.escape(mathjax)}"></script>')
    body = [f"<h1>{html.escape(report.title)}</h1>"]
    figure = 0
    for section in report.sections:
        anchor = f' id="{html.escape(section.key, quote=True)}"' if section.key else ""
        body.append(f"<h2{anchor}>{html.escape(section.title)}</h2>")
        for block in section.blocks:
            if isinstance(block, Text):
                body.append(f"<p>{html.escape(block.text)}</p>")
            elif isinstance(block, Math):
                body.append(display(block.tex))
            elif isinstance(block, Table):
                rows = "".join("<tr>" + "".join(_cell(c) for c in row) + "</tr>" for row in block.rows)
                header = "".join(f"<th>{html.escape(str(h))}</th>" for h in block.header)
                body.append(f"<table><tr>{header}</tr>{rows}</table>")
                if block.caption:
                    body.append(f'<p class="caption">{html.escape(block.caption)}</p>')
            elif isinstance(block, FigureRef):
                figure += 1
                body.append(f'<figure><img src="{html.escape(block.path)}" alt="Figure {figure}">'
                            f"<figcaption><b>Figure {figure}.</b> {html.escape(block.caption)}</figcaption></figure>")
    return "\n".join(head) + "</head><body>\n" + "\n".join(body) + "\n</body></html>\n"
