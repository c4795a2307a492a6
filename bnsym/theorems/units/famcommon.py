"""Conditions, sources and the refutation helper shared by the normalization-family units.

>>> N2.text, FEATS.text
('n ≥ 2', 'features not all equal (σ > 0)')
"""
from __future__ import annotations

from dataclasses import replace

import sympy
from sympy import Symbol

from ..batch import Options
from ..proof import Condition
from ..record import Recorder
from .common import witness_batch

__all__ = ["N2", "P2", "FEATS", "NONZERO", "V_NONZERO", "VRUN", "LN", "RMS", "WN", "GN", "BN_EVAL", "witness",
           "refute"]

_n, _p = Symbol("n", integer=True, positive=True), Symbol("p", integer=True, positive=True)
N2 = Condition("n ≥ 2", r"n \geq 2", _n >= 2)
P2 = Condition("p ≥ 2 (entries per group)", r"p \geq 2", _p >= 2)
FEATS: Condition = Condition("features not all equal (σ > 0)", r"\sigma > 0", Symbol("sigma", real=True) > 0,
                             adapt=lambda opts: None if opts.constant else FEATS)
NONZERO = Condition("features not all zero (ν > 0)", r"\sum_j z_j^2 > 0")
V_NONZERO = Condition("v ≠ 0", r"v \neq 0")
VRUN = Condition("running variance v_run > 0", r"v_{\mathrm{run}} > 0", Symbol("v_run", real=True) > 0)

LN = "Ba, Kiros & Hinton 2016 (arXiv 1607.06450), §5.1"
RMS = "Zhang & Sennrich 2019 (arXiv 1910.07467)"
WN = "Salimans & Kingma 2016 (arXiv 1602.07868), §2.1"
GN = "Wu & He 2018 (arXiv 1803.08494)"
BN_EVAL = "Ioffe & Szegedy 2015 (arXiv 1502.03167), §3.1 (inference with population statistics)"


def witness(opts: Options, base=(0, 1, 3)) -> tuple[Options, list]:
    """Options of the witness (its size ``opts.witness_m``; ``ε`` as asked, ``0`` for a statement about every
    ``ε ≥ 0``, ``1/10`` for a symbolic ``ε > 0``) and its exact entries.

    >>> o, zs = witness(Options(eps="positive"))
    >>> o.batch, o.eps, zs, witness(Options(eps="any"))[0].eps
    (3, 1/10, [0, 1, 3], 0)
    """
    eps = {"any": sympy.S.Zero, "positive": sympy.Rational(1, 10)}.get(opts.eps) if isinstance(opts.eps, str) \
        else sympy.sympify(opts.eps)
    return replace(opts, batch=opts.witness_m, eps=eps), list(witness_batch(opts.witness_m, tuple(map(sympy.Integer,
                                                                                                          base))))


def refute(rec: Recorder, ctx, lhs, rhs, values: dict, text: str, *, reason: str, replacement: str,
           replacement_latex: str, numbers: dict):
    """Record ``lhs ≠ rhs`` at ``values`` in the concrete context ``ctx`` and return the ``holds=False`` outcome."""
    rec.ne(ctx, lhs, rhs, values, text)
    return rec.outcome(False, reason=reason, replacement=replacement, replacement_latex=replacement_latex,
                       counterexample=numbers)
