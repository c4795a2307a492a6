r"""The one place formulas are printed: SymPy's LaTeX printer with the notation's settings, marking where a line
may break (:func:`print_latex` strips the marks; :mod:`bnsym.latex.breaking` uses them).

>>> import sympy
>>> a, b = sympy.symbols("a b")
>>> _marked(a + b, Notation()) == "a" + _ADD_MARK + " + b"
True
"""
from __future__ import annotations

import sympy
from sympy.printing.latex import LatexPrinter

from ..errors import LatexError
from .escape import _SAFE_NAME, _name_latex
from .notation import Notation

__all__ = ["print_latex"]

# Markers: the places in SymPy's output where a line may break (before a sum's + or -, between factors).
# Both characters are whitespace for ``str.split``, so SymPy's word counts (used to decide on long
# fractions) are the same with and without them.
_ADD_MARK = "\x1f"
_MUL_MARK = "\x1e"
_MARKS = _ADD_MARK + _MUL_MARK


class _BreakingPrinter(LatexPrinter):
    """SymPy's LaTeX printer, marking where sums and products may be broken (the text is otherwise SymPy's).

    A product's factors are marked through SymPy's ``mul_symbol_latex`` setting; a sum's terms by
    :meth:`_print_Add`, which lets SymPy print the sum and puts a mark before each ``+``/``-`` between its terms.
    """

    def __init__(self, settings=None, hadamard: str = r"\odot"):
        super().__init__(settings)
        self._settings["mul_symbol_latex"] = self._settings["mul_symbol_latex"] + _MUL_MARK
        self._hadamard = hadamard
        self._terms: list[str] | None = None  # the text of each term of the sum being printed

    def _print(self, expr, **kwargs) -> str:
        # record the text of each term SymPy prints for the innermost sum (not of anything inside a term)
        terms, self._terms = self._terms, None
        try:
            text = super()._print(expr, **kwargs)
        finally:
            self._terms = terms
        if terms is not None:
            terms.append(text)
        return text

    def _print_Add(self, expr, order=None):
        # SymPy's own sum, then a break mark before each " + " / " - " it put between the terms
        outer, self._terms = self._terms, []
        try:
            tex = super()._print_Add(expr, order=order)
            terms = self._terms
        finally:
            self._terms = outer
        return _mark_terms(tex, terms)

    def _print_Derivative(self, expr):
        # an abstract quantity (a bare symbol such as ℓ or J) depends on many variables: its derivative is a
        # partial one, whatever SymPy's single-free-symbol test says; d is kept for true total derivatives
        if not isinstance(expr.expr, sympy.Symbol):
            return super()._print_Derivative(expr)
        saved = self._settings["diff_operator_latex"]
        self._settings["diff_operator_latex"] = r"\partial"
        try:
            return super()._print_Derivative(expr)
        finally:
            self._settings["diff_operator_latex"] = saved

    def _print_HadamardProduct(self, expr):
        prec = sympy.printing.precedence.PRECEDENCE["Pow"]
        return (r" %s " % self._hadamard).join(self.parenthesize(a, prec, strict=True) for a in expr.args)


def _mark_terms(tex: str, terms: list[str]) -> str:
    r"""``tex``, SymPy's LaTeX of a sum of the printed ``terms`` (each as it is or in ``\left(…\right)``, joined by
    `` + `` or `` - ``), with :data:`_ADD_MARK` before each joint; ``tex`` unmarked if it is not made so.

    >>> _mark_terms(r"a - \left(b\right) + c", ["a", "b", "c"]).split(_ADD_MARK)
    ['a', ' - \\left(b\\right)', ' + c']
    """
    out, at = [], 0
    for k, term in enumerate(terms):
        if k:
            joint = tex[at:at + 3]
            if joint not in (" + ", " - "):
                return tex
            out.append(_ADD_MARK + joint)
            at += 3
        for shown in (term, r"\left(%s\right)" % term):
            if tex.startswith(shown, at) and (k + 1 == len(terms) or tex.startswith((" + ", " - "), at + len(shown))):
                break
        else:
            return tex
        out.append(shown)
        at += len(shown)
    return "".join(out) if at == len(tex) else tex


def _symbol_names(expr, notation: Notation) -> dict:
    """Check every name SymPy will print; map those the user renamed.  Unsafe names are refused."""
    renamed = {}
    atoms = expr.atoms(sympy.Symbol) if isinstance(expr, sympy.Basic) else set()
    if isinstance(expr, sympy.MatrixBase):
        atoms = set().union(*(e.atoms(sympy.Symbol) for e in expr)) if len(expr) else set()
    for symbol in atoms:
        if "^^" in symbol.name:
            raise LatexError(f"refused the symbol name {symbol.name!r}: ^^ is TeX's character escape")
        if symbol.name in notation.names:
            renamed[symbol] = notation.names[symbol.name]
        elif not _SAFE_NAME.fullmatch(symbol.name) or "'" in symbol.name:
            renamed[symbol] = _name_latex(symbol.name)
    functions = expr.atoms(sympy.core.function.AppliedUndef) if isinstance(expr, sympy.Basic) else set()
    for function in functions:
        if not _SAFE_NAME.fullmatch(function.func.__name__):
            raise LatexError(f"refused the function name {function.func.__name__!r}")
    return renamed


def print_latex(expr, notation: Notation | None = None) -> str:
    r"""``sympy.latex(expr)`` with the notation's settings: the one place formulas are printed.

    >>> import sympy
    >>> x = sympy.Symbol("x")
    >>> print_latex(sympy.Derivative(sympy.Function("f")(x), x), Notation(d="upright"))
    '\\frac{\\mathrm{d}}{\\mathrm{d} x} f{\\left(x \\right)}'
    """
    return _strip(_marked(expr, notation or Notation()))


def _marked(expr, notation: Notation) -> str:
    return _marked_settings(expr, notation)


def _marked_settings(expr, notation: Notation, **extra) -> str:
    settings = {**notation.sympy_settings(), **extra}
    names = _symbol_names(expr, notation)
    if names:
        settings["symbol_names"] = names
    return _BreakingPrinter(settings, hadamard=notation.hadamard).doprint(expr)


def _strip(text: str) -> str:
    return text.translate({ord(c): None for c in _MARKS})
