"""Conditions and sources shared by the theorem units.

>>> EPS0.text, NONCONST.text
('ε = 0', 'batch not constant (σ > 0)')
>>> from bnsym.theorems.batch import Options
>>> (EPS0.under(Options(eps="positive")), EPS0.under(Options(eps=sympy.Rational(1, 100))),
...  EPS_ANY.under(Options(eps="any")))
(ε > 0, ε = 1/100, ε ≥ 0)
"""
from __future__ import annotations

import sympy
from sympy import Symbol

from ..batch import m
from ..proof import Condition

_a = Symbol("a", real=True)
_c = Symbol("c", real=True)
_eps = Symbol("epsilon", real=True)


def _eps_value(opts) -> Condition | None:
    """``ε = value`` for an exact nonzero ``ε`` (``None`` for ``ε = 0`` or a symbolic ``ε``)."""
    if isinstance(opts.eps, str) or opts.eps_is_zero:
        return None
    value = sympy.sympify(opts.eps)
    return Condition(f"ε = {value}", rf"\epsilon = {sympy.latex(value)}", sympy.Eq(opts.eps_symbol, value))


A_NEG = Condition("a < 0", "a < 0", _a < 0)
A_POS: Condition = Condition("a > 0", "a > 0", _a > 0, adapt=lambda opts: A_NEG if opts.sign == "negative" else A_POS)
C_NEG = Condition("c < 0", "c < 0", _c < 0)
C_POS: Condition = Condition("c > 0", "c > 0", _c > 0, adapt=lambda opts: C_NEG if opts.sign == "negative" else C_POS)
EPS_POS = Condition("ε > 0", r"\epsilon > 0", _eps > 0)
EPS0: Condition = Condition("ε = 0", r"\epsilon = 0", sympy.Eq(_eps, 0),
                 adapt=lambda opts: _eps_value(opts) or (EPS0 if opts.eps_is_zero else EPS_POS))
EPS_ANY: Condition = Condition("ε ≥ 0", r"\epsilon \geq 0", _eps >= 0,
                    adapt=lambda opts: _eps_value(opts) or (EPS_POS if opts.constant else EPS_ANY))
M2 = Condition("m ≥ 2", r"m \geq 2", m >= 2)
NONCONST: Condition = Condition("batch not constant (σ > 0)", r"\sigma > 0", Symbol("sigma", real=True) > 0,
                     adapt=lambda opts: None if opts.constant else NONCONST)
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
