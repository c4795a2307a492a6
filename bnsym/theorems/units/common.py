"""Conditions and sources shared by the theorem units.

>>> EPS0.text, NONCONST.text
('ε = 0', 'batch not constant (σ > 0)')
"""
from __future__ import annotations

import sympy
from sympy import Symbol

from ..batch import m
from ..proof import Condition

_a = Symbol("a", real=True)
A_POS = Condition("a > 0", "a > 0", _a > 0)
A_NEG = Condition("a < 0", "a < 0", _a < 0)
C_POS = Condition("c > 0", "c > 0", Symbol("c", real=True) > 0)
EPS0 = Condition("ε = 0", r"\epsilon = 0", sympy.Eq(Symbol("epsilon", real=True), 0))
EPS_POS = Condition("ε > 0", r"\epsilon > 0", Symbol("epsilon", real=True) > 0)
EPS_ANY = Condition("ε ≥ 0", r"\epsilon \geq 0", Symbol("epsilon", real=True) >= 0)
M2 = Condition("m ≥ 2", r"m \geq 2", m >= 2)
NONCONST = Condition("batch not constant (σ > 0)", r"\sigma > 0", Symbol("sigma", real=True) > 0)
P_NONZERO = Condition("w₁⋯w_{L−1} ≠ 0", r"w_{1} \cdots w_{L-1} \neq 0")

IS = "Ioffe & Szegedy 2015 (arXiv 1502.03167)"
SANT = "Santurkar, Tsipras, Ilyas & Madry 2018 (arXiv 1805.11604), Theorem 4.1"
ALL = "van Laarhoven 2017 (arXiv 1706.05350); Arora, Li & Lyu 2018 (arXiv 1812.03981)"

# a small non-degenerate batch for witnesses (exact rationals)
WITNESS_Z = (sympy.Integer(0), sympy.Integer(1), sympy.Integer(3))


def witness_batch(size: int, base=WITNESS_Z) -> tuple:
    """``size`` exact samples: ``base`` truncated or padded with zeros (never constant for ``size ≥ 2``).

    >>> witness_batch(2), witness_batch(5)
    ((0, 1), (0, 1, 3, 0, 0))
    """
    return tuple(sympy.Integer(base[p]) if p < len(base) else sympy.Integer(0) for p in range(size))
