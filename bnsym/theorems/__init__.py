"""The proof engine: the BN scale-invariance identities and their relatives, exact, for every batch size.

Each theorem is data (:class:`Theorem`: statement, hypotheses, source) with a general-``m`` proof
(:mod:`~bnsym.theorems.general`), a concrete-``m`` exact check of every entry
(:mod:`~bnsym.theorems.concrete_proofs`) and a numeric check (:mod:`~bnsym.theorems.checks`).

>>> p = prove("scale_invariance_input_grad")
>>> p.holds, p.batch
(True, 'm')
"""
from .catalogue import check, get_theorem, prove, theorems
from .proof import Condition, Proof, Step, Theorem

__all__ = ["prove", "theorems", "get_theorem", "check", "Proof", "Step", "Condition", "Theorem"]
