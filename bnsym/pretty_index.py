"""Text for derivations in index form: the backward steps, the compact form, the closed form, each a true
equation, with a size budget (a form too large to print is summarized, never printed for minutes).

>>> from bnsym import two_layer
>>> text = derivation_text(two_layer(bn="pre", batch="m").gradients()["b1"])
>>> print(text.splitlines()[-1])
∂J/∂b1 = 0 (proved: the kernel shows it for every batch size m; conditions: the batch of layer zhat1 is not
constant (σ > 0))
"""
from __future__ import annotations

import sympy

from .derive import tree_size

__all__ = ["derivation_text", "PRINTABLE"]

#: the largest expression tree printed in full
PRINTABLE = 2000


def _line(expr) -> str:
    from .budget import summary

    if tree_size(expr) > PRINTABLE:
        return f"({summary(tree_size(expr), 'print', limit=PRINTABLE)})"
    return sympy.sstr(expr)


def derivation_text(d) -> str:
    """The derivation ``d`` (:class:`~bnsym.batchform.IndexDerivation`) as lines of text.

    >>> from bnsym import chain
    >>> print(derivation_text(chain(2, batch="m").gradient("w2")).splitlines()[0])
    ∂J/∂w2 = Sum(dJ/dyhat[j]*h1[j], (j, 1, m))   (i, j, k: samples 1…m)
    """
    entry = sympy.sstr(d.parameter)
    name = f"∂J/∂{entry}"
    lines = [f"{name} = {_line(d.raw)}   (i, j, k: samples 1…{d.m})"]
    for step in reversed(d.steps):
        lines.append(f"  {sympy.sstr(step.lhs)} = {_line(step.value)}   ({step.text})")
    if d.compact != d.raw:
        lines.append(f"{name} = {_line(d.compact)}")
    if d.proof is not None:
        conditions = "; ".join(c.text for c in d.proof.conditions) or "none"
        lines.append(f"{name} = 0 (proved: the kernel shows it for every batch size m; conditions: {conditions})")
    return "\n".join(lines)
