r"""The typesetting choices a paper needs (:class:`Notation`); the formulas themselves come from SymPy's printer.

>>> Notation(names={"a": r"\input{secret}"})
Traceback (most recent call last):
...
bnsym.errors.LatexError: refused LaTeX for the name 'a': the command \input is not allowed
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from ..errors import LatexError
from .escape import check_name

__all__ = ["Notation"]


@dataclass(frozen=True)
class Notation:
    r"""Typesetting choices a paper needs; the formulas themselves always come from SymPy's printer.

    * ``d`` — ``"italic"`` (``d``) or ``"upright"`` (``\mathrm{d}``) for total derivatives; partial
      derivatives are always ``\partial``.
    * ``hadamard`` — the elementwise-product sign (``\odot``); a diagonal Jacobian in a chain-rule product is
      written as an elementwise product with its diagonal.
    * ``names`` — LaTeX for symbol names (``{"w1": r"\omega_1"}``); each must pass :func:`check_name` (an
      allow-list: letters, digits, Greek letters, accents, math fonts; at most :data:`NAME_LENGTH` characters).
    * ``width`` — the text block width in pt (345 pt: LaTeX's ``article`` at 10 pt); longer lines are broken.
    * ``environment`` — ``"align*"`` (a display block for a document) or ``"aligned"`` (to sit inside
      ``$$ … $$``, as notebooks want).
    * ``long_frac_ratio`` — SymPy's own setting: a fraction whose numerator is much longer than its
      denominator is printed as ``\frac{1}{d} (…)`` so it can be broken.
    * ``bn`` — the batch-norm operator's name (checked like ``names``, as is ``hadamard``).

    >>> Notation(d="upright").sympy_settings()["diff_operator"]
    'rd'
    >>> Notation(d="slanted")
    Traceback (most recent call last):
    ...
    bnsym.errors.LatexError: Notation.d must be 'italic' or 'upright', got 'slanted'
    """

    d: str = "italic"
    hadamard: str = r"\odot"
    names: Mapping[str, str] = field(default_factory=dict)
    width: float = 345.0
    environment: str = "align*"
    long_frac_ratio: float | None = 2.0
    bn: str = r"\operatorname{BN}"

    def __post_init__(self) -> None:
        if not isinstance(self.d, str) or self.d not in ("italic", "upright"):
            raise LatexError(f"Notation.d must be 'italic' or 'upright', got {self.d!r}")
        if not isinstance(self.environment, str) or self.environment not in ("align*", "aligned"):
            raise LatexError(f"Notation.environment must be 'align*' or 'aligned', got {self.environment!r}")
        if isinstance(self.width, bool) or not isinstance(self.width, (int, float)) or not 100 <= self.width <= 2000:
            raise LatexError(f"Notation.width is the text width in pt, between 100 and 2000, got {self.width!r}")
        ratio = self.long_frac_ratio
        if ratio is not None and (isinstance(ratio, bool) or not isinstance(ratio, (int, float))
                                  or not 0 < ratio < float("inf")):
            raise LatexError(f"Notation.long_frac_ratio must be None or a positive finite number, got {ratio!r}")
        if not isinstance(self.names, Mapping):
            raise LatexError("Notation.names must map symbol names to LaTeX strings")
        names = dict(self.names)
        for name, value in names.items():
            if not isinstance(name, str):
                raise LatexError(f"Notation.names must map symbol names (strings) to LaTeX, got the key {name!r}")
            check_name(value, f"LaTeX for the name {name!r}")
        object.__setattr__(self, "names", MappingProxyType(names))  # a later change to the caller's dict is not seen
        check_name(self.hadamard, "LaTeX for the Hadamard product")
        check_name(self.bn, "LaTeX for the batch-norm operator")

    def sympy_settings(self) -> dict[str, Any]:
        """The keyword arguments for :func:`sympy.latex` that this notation stands for."""
        return {"diff_operator": "rd" if self.d == "upright" else "d", "long_frac_ratio": self.long_frac_ratio}
