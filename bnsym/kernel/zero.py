"""TEMPORARY stand-in for the kernel's zero decision (replaced by the kernel-zero branch)."""
from __future__ import annotations

from dataclasses import dataclass

import sympy

__all__ = ["Decision", "decide_zero"]


@dataclass(frozen=True)
class Decision:
    value: bool | None
    witness: dict | None
    reason: str


def decide_zero(expr, *, positive=(), nonnegative=(), max_ops: int = 20000) -> Decision:
    expr = sympy.sympify(expr)
    if expr == 0:
        return Decision(True, None, "syntactically 0")
    facts = [sympy.expand(p) for p in positive] + [sympy.expand(p) for p in nonnegative]
    roots = []
    for power in sorted(expr.atoms(sympy.Pow), key=sympy.count_ops):
        if power.exp.is_Rational and power.exp.q == 2:
            base = power.base
            if base.is_nonnegative or sympy.expand(base) in facts:
                if base not in [b for _, b in roots]:
                    roots.append((sympy.Dummy("s", nonnegative=True), base))
    for s, base in roots:
        expr = expr.replace(lambda e, b=base: e.is_Pow and e.base == b and e.exp.is_Rational and e.exp.q == 2,
                            lambda e, s=s: s ** (e.exp * 2))
    num, _ = sympy.fraction(sympy.together(expr))
    num = sympy.expand(num)
    for s, base in reversed(roots):
        if num.has(s):
            num = sympy.expand(sympy.rem(num, s**2 - sympy.expand(base), s))
    return Decision(True, None, "numerator reduces to 0") if num == 0 else Decision(None, None, "undecided")
