"""The text printer of per-entry derivations (``str(derivation)``): the chain-rule factors, the compact form
in the named intermediates and the closed form, each within the text budget (:mod:`bnsym.budget`).

>>> from bnsym import chain
>>> text = derivation_text(chain(2, names="ab").gradient("a"))
>>> text.splitlines()[3], len(text.splitlines())
('  ∂h₁/∂a = x', 7)
"""
from __future__ import annotations

import sympy
from sympy import Symbol

from . import budget
from .budget import tree_size

__all__ = ["derivation_text"]


def derivation_text(d) -> str:
    """A :class:`~bnsym.derive.Derivation` as text: a formula over :data:`bnsym.budget.TEXT_NODES` nodes is
    summarized, and the printer stops (saying so) after :data:`bnsym.budget.SECONDS`.

    >>> from bnsym import chain
    >>> lines = derivation_text(chain(1).gradient("w1")).splitlines()
    >>> lines[2].endswith("/∂w₁ = x"), len(lines)   # the product of factors, each factor, compact, where, closed
    (True, 6)
    """
    deadline = budget.Deadline()
    name = f"∂J/∂{_pretty(Symbol(d.parameter_name))}"
    lines = [f"{name} = " + " · ".join(f"∂{_pretty(f.of)}/∂{_pretty(f.wrt)}" for f in d.factors)]
    for k, factor in enumerate(d.factors):
        if deadline.passed():
            lines.append("  (" + deadline.left_out(len(d.factors) - k, "factors") + ")")
            break
        lines.append(_equation(f"  ∂{_pretty(factor.of)}/∂{_pretty(factor.wrt)} = ", factor.value))
    if tree_size(d.compact) <= budget.TEXT_NODES:
        lines.append(_equation(f"{name} = ", d.compact))
    else:
        from .derive import _scalar_or_matrix

        raw = _scalar_or_matrix(d.gradients.raw[d.parameter_name])
        lines.append(_equation(f"{name} = ", raw))
        lines.append("  with the adjoints (x̄ = ∂J/∂x): " + _lines(d.gradients.adjoints, deadline))
    lines.append("  where " + _lines(d.definitions, deadline))
    size = tree_size(d.closed_form)
    if size <= budget.TEXT_NODES:
        lines.append(_equation(f"{name} = ", d.closed_form))
    else:
        lines.append(f"{name} = (" + budget.summary(size, "print", what="explicit closed form, an expression",
                                                     hint="the form in the named intermediates above is the "
                                                          "readable one") + ")")
    return "\n".join(lines)


def _line(expr) -> str:
    """One-line unicode form (pretty when it fits on one line, else SymPy's string form; summarized when it
    is over :data:`bnsym.budget.TEXT_NODES` nodes)."""
    size = tree_size(expr)
    if size > budget.TEXT_NODES:
        return "(" + budget.summary(size, "print") + ")"
    text = _pretty(expr)
    return text if "\n" not in text else sympy.sstr(expr)


def _lines(equations, deadline) -> str:
    """``s = d; …`` for ``(symbol, definition)`` pairs, until the printer's ``deadline`` passes."""
    out = []
    for k, (symbol, definition) in enumerate(equations):
        if deadline.passed():
            out.append("(" + deadline.left_out(len(equations) - k, "equations") + ")")
            break
        out.append(f"{_line(symbol)} = {_line(definition)}")
    return "; ".join(out)


def _pretty(expr) -> str:
    return sympy.pretty(expr, use_unicode=True, wrap_line=False)


def _equation(label: str, value) -> str:
    """``label`` followed by the pretty form of ``value``, the label on the value's baseline (or a summary
    of ``value`` when it is over :data:`bnsym.budget.TEXT_NODES` nodes)."""
    from sympy.printing.pretty.pretty import PrettyPrinter
    from sympy.printing.pretty.stringpict import prettyForm, stringPict

    size = tree_size(value)
    if size > budget.TEXT_NODES:
        return label + "(" + budget.summary(size, "print") + ")"
    form = PrettyPrinter({"use_unicode": True, "wrap_line": False})._print(value)
    return str(prettyForm(*stringPict.next(prettyForm(label), form)))
