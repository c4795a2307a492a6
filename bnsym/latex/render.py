r"""The entry points: :func:`to_latex` (a block per derivation or proof), :func:`repr_latex` (notebooks) and
:func:`document` (a complete article).

>>> from bnsym import chain
>>> print(to_latex(chain(1, names="a").gradient("a")).splitlines()[0])
\begin{align*}
"""
from __future__ import annotations

from collections.abc import Mapping

import sympy

from ..errors import LatexError
from .derivation import _derivation_rows
from .escape import escape_text
from .notation import Notation
from .printer import print_latex
from .proof import _proof_block
from .rows import _Rows

__all__ = ["to_latex", "repr_latex", "document"]


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
