"""How much a printer prints: the size and time limits of every printer of bnsym, in one place.

A formula is measured in expression-tree nodes by :func:`tree_size`, which counts on SymPy's
shared DAG: measuring a closed form of billions of tree nodes takes milliseconds, while printing it would
never end. A printer prints a formula only when it is within its limit, and otherwise prints
:func:`summary` in its place; a printer that loops over rows also watches a :class:`Deadline` and, when the
time is up, says how many rows it left out. Nothing is cut silently, and no printer hangs.

* :data:`TEXT_NODES` — the text printer (``str(derivation)``) prints a formula of at most this many nodes;
* :data:`LATEX_NODES` — LaTeX (:func:`bnsym.to_latex`, notebooks' ``_repr_latex_``) typesets a formula of at
  most this many nodes; one that is within it but cannot be broken to fit the line is printed with its
  common subexpressions named (``κ₁, κ₂, …``, each defined in the block);
* :data:`SECONDS` — the wall-clock time one printed block (a derivation or a proof) may take.

>>> import sympy
>>> x = sympy.Symbol("x")
>>> huge = x
>>> for _ in range(60):
...     huge = huge * (huge + 1)  # 2**60 tree nodes, 121 distinct ones
>>> size(huge) > 10**18, fits(x + 1, LATEX_NODES), fits(huge, LATEX_NODES)
(True, True, False)
>>> print(summary(size(x * (x + 1)), "typeset", limit=3))
an expression of 5 nodes: too large to typeset (the limit is 3 nodes)
"""
from __future__ import annotations

import time

__all__ = ["TEXT_NODES", "LATEX_NODES", "SECONDS", "tree_size", "size", "fits", "summary", "Deadline"]

#: Largest formula, in expression-tree nodes, that the text printer prints in full.
TEXT_NODES = 4000
#: Largest formula, in expression-tree nodes, typeset in LaTeX (in a document or a notebook).
LATEX_NODES = 2000
#: Wall-clock seconds one printed block may take; the rows not printed by then are summarized.
SECONDS = 20.0


def tree_size(expr) -> int:
    """Number of nodes of ``expr`` as a tree, computed on its DAG (fast even when the tree is huge).

    >>> import sympy
    >>> x = sympy.Symbol("x")
    >>> tree_size(x), tree_size(x + 1), tree_size(sympy.Matrix([[x, x * 2]]))
    (1, 3, 4)
    >>> tree_size(sympy.IndexedBase("x")[sympy.Symbol("i")])  # no range: its .shape would raise
    4
    """
    from sympy.matrices import MatrixBase  # here: budget is imported by printers that need not load SymPy first

    if isinstance(expr, MatrixBase):  # a matrix (mutable or immutable): sum over its entries
        return sum(tree_size(e) for e in expr)
    memo: dict[int, int] = {}

    def size(e) -> int:
        key = id(e)
        if key not in memo:
            memo[key] = 1 + sum(size(a) for a in e.args)
        return memo[key]

    return size(expr)


def size(expr) -> int:
    """Nodes of ``expr`` as a tree (summed over the entries of a matrix); 1 for what is not an expression.

    >>> import sympy
    >>> size(sympy.Symbol("x") + 1), size(sympy.Matrix([[1, 2]])), size("text")
    (3, 2, 1)
    """
    if isinstance(expr, str) or not hasattr(expr, "args") and not hasattr(expr, "shape"):
        return 1
    return tree_size(expr)


def fits(expr, limit: int) -> bool:
    """Whether ``expr`` is at most ``limit`` nodes (a string of ready LaTeX always fits).

    >>> import sympy
    >>> fits(sympy.Symbol("x") + 1, 3), fits(sympy.Symbol("x") + 1, 2)
    (True, False)
    """
    return size(expr) <= limit


def summary(nodes: int, verb: str = "typeset", *, limit: int | None = None, what: str = "an expression",
            hint: str = "") -> str:
    """What a printer prints instead of a formula of ``nodes`` nodes, over ``limit`` (plain text).

    >>> summary(17125, hint="the form above is the readable one")
    'an expression of 17125 nodes: too large to typeset (the limit is 2000 nodes); the form above is the readable one'
    """
    limit = (LATEX_NODES if verb == "typeset" else TEXT_NODES) if limit is None else limit
    text = f"{what} of {nodes} nodes: too large to {verb} (the limit is {limit} nodes)"
    return text + (f"; {hint}" if hint else "")


class Deadline:
    """A printer's wall-clock budget: :meth:`passed` once ``seconds`` (:data:`SECONDS`) have gone by since it
    was made.

    >>> Deadline().passed(), Deadline(0.0).passed()
    (False, True)
    >>> Deadline(0.0).left_out(3, "rows")
    '3 rows left out: the printer used up its time budget of 0 s'
    """

    def __init__(self, seconds: float | None = None) -> None:
        self.seconds = SECONDS if seconds is None else seconds  # read now: a caller may have changed SECONDS
        self.end = time.monotonic() + self.seconds

    def passed(self) -> bool:
        """Whether the time is up."""
        return time.monotonic() >= self.end

    def left_out(self, count: int, what: str = "rows") -> str:
        """The sentence a printer ends with when it stopped early, ``count`` items not printed."""
        return f"{count} {what} left out: the printer used up its time budget of {self.seconds:g} s"
