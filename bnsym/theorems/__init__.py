"""The proof engine: the BN scale-invariance identities and their relatives, exact, for every batch size.

Each theorem is one unit (:mod:`~bnsym.theorems.units`: statement, hypotheses, source, claims, proof), proved
through the kernel (:mod:`bnsym.kernel`) for symbolic ``m``; a concrete ``m`` is the same proof with ``m`` given.
:mod:`~bnsym.theorems.checks` checks each theorem numerically, and :meth:`Proof.certificate` exports the
proof for the independent checker (:func:`bnsym.replay`).

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


# Why a module class: the public API has both ``bnsym.theorems(...)`` and ``from bnsym.theorems import ...``,
# and importing a submodule rebinds the parent's attribute to the module, so a plain function of that name
# cannot survive it.
# Setting a module's ``__class__`` to a ModuleType subclass is the documented way to customise a module (Python
# reference, "Customizing module attribute access"); it changes nothing else about the package.
_sys.modules[__name__].__class__ = _Catalogue
