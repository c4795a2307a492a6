r"""Paper-ready LaTeX for :class:`~bnsym.derive.Derivation`\ s and :class:`~bnsym.theorems.Proof`\ s.

:func:`to_latex` walks the chain rule step by step (the symbolic product of local partials, each factor
substituted, the gradient in the named intermediates and the closed form), or a proof's hypotheses and its
chain of equalities. Every formula is printed by SymPy's own LaTeX printer from the very expression the
object holds; this package only lays the rows out and breaks long ones so that no line is wider than the text
block (:attr:`Notation.width`). :func:`compile_pdf` checks the result with a real TeX engine.

>>> from bnsym import chain
>>> print(to_latex(chain(2, names="ab").gradient("a")))
\begin{align*}
\frac{\partial J}{\partial a} &= \frac{\partial J}{\partial \hat{y}}\,\frac{\partial \hat{y}}{\partial h_{1}}\,\frac{\partial h_{1}}{\partial a}\\
 &= \frac{\partial J}{\partial \hat{y}} \cdot b \cdot x\\
 &= \frac{\partial J}{\partial \hat{y}} b x
\end{align*}

User-supplied LaTeX is refused when it could do more than typeset math:

>>> Notation(names={"a": r"\input{secret}"})
Traceback (most recent call last):
...
bnsym.errors.LatexError: refused LaTeX for the name 'a': the command \input is not allowed

One concern per module:

* :mod:`~bnsym.latex.escape` — allow-lists for user LaTeX (:func:`check_name`, :func:`check_math`), plain text as
  LaTeX (:func:`escape_text`), symbol names as LaTeX;
* :mod:`~bnsym.latex.notation` — :class:`Notation`;
* :mod:`~bnsym.latex.printer` — SymPy's printer marking break points (:func:`print_latex`);
* :mod:`~bnsym.latex.width` — the width estimate (:func:`latex_width`);
* :mod:`~bnsym.latex.breaking` — line breaking (:func:`break_latex`);
* :mod:`~bnsym.latex.rows` — the rows of an ``align*`` block, with their size and time budgets;
* :mod:`~bnsym.latex.derivation`, :mod:`~bnsym.latex.index`, :mod:`~bnsym.latex.proof` — the rows of a
  derivation, of a derivation in index form, of a proof;
* :mod:`~bnsym.latex.render` — the entry points :func:`to_latex`, :func:`repr_latex`, :func:`document`;
* :mod:`~bnsym.latex.pdf` — :func:`compile_pdf`, a document checked by ``pdflatex``.
"""
from __future__ import annotations

from .breaking import break_latex
from .escape import (  # noqa: F401 - the allow-lists, documented as bnsym.latex.NAME_COMMANDS ...
    MATH_COMMANDS,
    MATH_ENVIRONMENTS,
    MATH_LENGTH,
    NAME_COMMANDS,
    NAME_LENGTH,
    check_math,
    check_name,
    escape_text,
)
from .notation import Notation
from .pdf import compile_pdf
from .printer import print_latex
from .render import document, repr_latex, to_latex
from .width import latex_width

__all__ = ["Notation", "to_latex", "repr_latex", "document", "compile_pdf", "escape_text", "check_math", "check_name",
           "break_latex", "latex_width", "print_latex"]
