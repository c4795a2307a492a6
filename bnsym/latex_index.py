"""Deprecated alias of :mod:`bnsym.latex.index` (the LaTeX of a derivation in index form): import from there.

>>> from bnsym.latex.index import index_rows as current
>>> index_rows is current
True
"""
from __future__ import annotations

from .latex.index import TYPESET_LIMIT, index_rows

__all__ = ["index_rows", "TYPESET_LIMIT"]
