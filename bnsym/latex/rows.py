r"""The rows of one ``align*`` block (:class:`_Rows`): equations laid out and broken when rendered, with common
subexpressions named when a form does not fit, and the size and time budgets.

>>> import sympy
>>> rows = _Rows(Notation())
>>> rows.equation("y", sympy.Symbol("a") + 1)
>>> print(rows.render())
\begin{align*}
y &= a + 1
\end{align*}
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import sympy

from .. import budget
from .breaking import break_latex
from .escape import _text, escape_text
from .notation import Notation
from .printer import _marked_settings, print_latex
from .width import latex_width

_HUGE = 150  # operations: beyond this a right-hand side is printed with named common subexpressions


@dataclass
class _Rows:
    r"""The rows of one ``align*`` block, laid out when rendered (the left column's width is known then).

    Every row is an equation on its own: it has a left-hand side, or it continues the chain of ``=`` of the
    row above, whose left-hand side it shares. An equation marked ``again`` repeats its left-hand side
    unless the chain above is about that same quantity. Common subexpressions named to make a long form fit
    (``\kappa_1 = …``) are defined after the chain that uses them, so that they never interrupt it. A
    formula over :data:`bnsym.budget.LATEX_NODES` nodes is summarized, and rendering stops (saying so) when
    :data:`bnsym.budget.SECONDS` have passed.
    """

    notation: Notation
    numbered: bool = False
    entries: list[tuple] = field(default_factory=list)
    cache: dict = field(default_factory=dict)

    def equation(self, lhs: str, rhs, *, relation: str = "=", note: str = "", optional: bool = False,
                 again: bool = False, fallback: Sequence[tuple] = (), what: str = "an expression",
                 hint: str = "") -> None:
        r"""Add the row ``lhs &= rhs``; ``rhs`` is an expression or (marked) LaTeX, broken when rendered.

        ``again``: ``lhs`` is left out when the row above continues a chain about ``lhs``. ``fallback``: rows
        printed instead when ``rhs`` cannot be typeset to fit without abbreviations, each ``(lhs, rhs)`` (the
        first continues this row's chain when its ``lhs`` is ``""``) or ``(None, latex)``, a row of ready LaTeX.
        ``what``, ``hint``: the words of :func:`bnsym.budget.summary` when ``rhs`` is over the node budget."""
        self.entries.append(("eq", lhs, dict(rhs=rhs, relation=relation, note=note, optional=optional,
                                             fallback=tuple(fallback), what=what, hint=hint), again))

    def add(self, text: str) -> None:
        """Add a row of ready LaTeX (short: it is not broken)."""
        self.entries.append(("raw", text))

    def text(self, text: str) -> None:
        """Add a row of words (``text`` is already escaped for ``\\text``)."""
        self.add(r"&\text{%s}" % text)

    def render(self) -> str:
        left = max([latex_width(e[1]) for e in self.entries if e[0] == "eq"] + [0.0])
        deadline = budget.Deadline()
        for _attempt in range(3):
            self.rows: list[str] = []
            self.abbreviations = 0
            self.widest_left = left
            self.chain: str | None = None  # the left-hand side the last row's chain of "=" is about
            self.pending: list[tuple] = []  # abbreviations to define after the current chain
            for k, entry in enumerate(self.entries):
                if deadline.passed():
                    self._flush(left)
                    self._remark(deadline.left_out(len(self.entries) - k, "rows of this block"), left)
                    break
                self._entry(entry, left)
            self._flush(left)
            if self.widest_left <= left + 0.5 or deadline.passed():
                break
            left = self.widest_left
        if self.notation.environment == "aligned":
            env = "aligned"
        else:
            env = "align" if self.numbered else "align*"
        return f"\\begin{{{env}}}\n" + "\\\\\n".join(self.rows) + f"\n\\end{{{env}}}"

    def _entry(self, entry: tuple, left: float) -> None:
        kind = entry[0]
        if kind == "raw":
            self._add(entry[1], number=False)
        elif kind == "note":  # a long reason, set as a paragraph in the right-hand column
            self._add(self._paragraph("(%s)" % entry[1], left), number=False)
        else:
            lhs, row, again = entry[1:]
            shown = "" if again and self.chain == lhs else lhs
            if shown or not row["relation"]:  # a new equation: the chain above is complete; define its abbreviations
                self._flush(left)
            previous = self.chain
            self.chain = lhs if shown else (self.chain if row["relation"] else None)
            if not self._equation(shown, left=left, **row):
                self.chain = previous

    def _paragraph(self, text: str, left: float) -> str:
        room = int(self.notation.width - left - 60)
        return r"&\qquad\parbox[t]{%dpt}{\raggedright %s}" % (room, text)

    def _remark(self, text: str, left: float, lhs: str = "") -> None:
        """A row of words: a paragraph in a document, ``\\text`` in a notebook (MathJax has no ``\\parbox``)."""
        if self.notation.environment == "aligned":
            row = r"%s&\quad\text{(%s)}" % (lhs, _text(text, self.notation))
        else:
            row = lhs + self._paragraph("(%s)" % escape_text(text), left)
        self._add(row, number=False)

    def _flush(self, left: float) -> None:
        """Define the abbreviations of the chain just printed (``where κ₁ = …``)."""
        first = True
        while self.pending:
            symbol, value, depth = self.pending.pop(0)
            head = (r"\text{where }" if first else "") + print_latex(symbol, self.notation)
            self._equation(head, value, left=left, depth=depth)
            first = False
            self.chain = None

    def _add(self, text: str, number: bool = True) -> None:
        if self.numbered and self.notation.environment == "align*" and not number:
            text += r" \nonumber"
        self.rows.append(text)

    def _fit(self, rhs, width: float, first: float):
        """Lines of ``rhs`` that fit, trying SymPy's ``root_notation=False`` (breakable roots) second."""
        if isinstance(rhs, str):
            variants = [lambda: rhs]
        else:
            variants = [lambda: self._print(rhs, True), lambda: self._print(rhs, False)]
        best = None
        for variant in variants:
            marked = variant()
            lines = break_latex(marked, width, self.notation, first=first)
            fits = all(latex_width(line) <= (first if k == 0 else width) for k, line in enumerate(lines))
            if fits:
                return lines, True
            best = best or lines
        return best, False

    def _print(self, expr, roots: bool) -> str:
        key = (sympy.ImmutableMatrix(expr) if _is_matrix(expr) else expr, roots)
        if key not in self.cache:
            extra = {} if roots else {"root_notation": False}
            self.cache[key] = _marked_settings(expr, self.notation, **extra)
        return self.cache[key]

    def _equation(self, lhs: str, rhs, relation: str = "=", note: str = "", optional: bool = False, *,
                  left: float, depth: int = 0, fallback: Sequence[tuple] = (), what: str = "an expression",
                  hint: str = "") -> bool:
        r"""Lay out ``lhs &= rhs``; return whether a row was printed. A right-hand side that cannot be broken
        to fit is replaced by ``fallback``'s rows, or printed with its common subexpressions named
        (``\kappa_1, \kappa_2, …`` from :func:`sympy.cse`, defined by :meth:`_flush`); one over the node budget
        is summarized; an ``optional`` row that does not fit is left out."""
        if not isinstance(rhs, str) and not budget.fits(rhs, budget.LATEX_NODES):
            if optional:
                return False
            if fallback:
                return self._fallback(lhs, fallback, left)
            self.widest_left = max(self.widest_left, latex_width(lhs))
            self._remark(budget.summary(budget.size(rhs), what=what, hint=hint), left, lhs=lhs)
            return True
        self.widest_left = max(self.widest_left, latex_width(lhs))
        right = self.notation.width - left - 13.4 - 20.0
        first = right - (latex_width(note) if note else 0.0)
        rest = right - 20.0
        huge = isinstance(rhs, sympy.Expr) and depth == 0 and sympy.count_ops(rhs) > _HUGE
        lines, fits = (None, False) if huge else self._fit(rhs, max(rest, 60.0), max(first, 60.0))
        if not fits and optional:
            return False
        if not fits and fallback:
            return self._fallback(lhs, fallback, left)
        if not fits and isinstance(rhs, sympy.Expr) and depth < 2:
            taken = {s.name for s in rhs.free_symbols}
            names = (sympy.Symbol(f"kappa{k}") for k in range(self.abbreviations + 1, 10**6))
            replacements, (reduced,) = sympy.cse(rhs, symbols=(s for s in names if s.name not in taken),
                                                 optimizations=None)
            if replacements:
                self.abbreviations += len(replacements)
                self._equation(lhs, reduced, relation, note, left=left, depth=depth + 1)
                self.pending.extend((symbol, value, depth + 1) for symbol, value in replacements)
                return True
        if lines is None:  # a long form with nothing in common for cse to name: broken as well as it can be
            lines, _ = self._fit(rhs, max(rest, 60.0), max(first, 60.0))
        for k, line in enumerate(lines):
            if k == 0:
                text = f"{lhs} &{relation} {line}" if relation else f"{lhs} & {line}"
                if note:
                    text += note
            else:
                text = rf" &\qquad {{}}{line}"
            self._add(text, number=(k == len(lines) - 1))
        return True

    def _fallback(self, lhs: str, rows: Sequence[tuple], left: float) -> bool:
        for k, (row_lhs, row_rhs) in enumerate(rows):
            if row_lhs is None:  # a row of ready LaTeX
                self._flush(left)
                self._add(row_rhs, number=False)
                continue
            if k and row_lhs:
                self._flush(left)
            if self._equation(lhs if k == 0 and not row_lhs else row_lhs, row_rhs, left=left) and row_lhs:
                self.chain = row_lhs
        return True


def _is_matrix(value) -> bool:
    return isinstance(value, sympy.MatrixBase)
