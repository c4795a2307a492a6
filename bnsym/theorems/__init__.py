"""The proof engine: the BN scale-invariance identities and their relatives, exact, for every batch size.

Each theorem is data (:class:`Theorem`: statement, hypotheses, source) with a general-``m`` proof
(:mod:`~bnsym.theorems.general`), a concrete-``m`` exact check of every entry
(:mod:`~bnsym.theorems.concrete_proofs`) and a numeric check (:mod:`~bnsym.theorems.checks`).

>>> p = prove("scale_invariance_input_grad")
>>> p.holds, p.batch
(True, 'm')
"""
import sys as _sys
import types as _types

from .catalogue import check, get_theorem, prove, theorems
from .proof import Condition, Proof, Step, Theorem

__all__ = ["prove", "theorems", "get_theorem", "check", "Proof", "Step", "Condition", "Theorem"]



class _Catalogue(_types.ModuleType):
    """``bnsym.theorems`` is both this package and the catalogue function: calling the package lists the
    theorems, so ``bnsym.theorems()`` works however the package was first imported."""

    def __call__(self):
        return theorems()


_sys.modules[__name__].__class__ = _Catalogue
