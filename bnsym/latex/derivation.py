r"""The rows of a :class:`~bnsym.derive.Derivation` (per entry): the forward definitions it uses, the chain-rule
product, its factors substituted, the gradient in the named intermediates (or the adjoints) and explicit.

>>> from bnsym import chain
>>> rows = _Rows(Notation())
>>> _derivation_rows(chain(2, names="ab").gradient("b"), rows)
>>> print(rows.render())
\begin{align*}
h_{1} &= a x\\
\frac{\partial J}{\partial b} &= \frac{\partial J}{\partial \hat{y}}\,\frac{\partial \hat{y}}{\partial b}\\
 &= \frac{\partial J}{\partial \hat{y}} \cdot h_{1}\\
 &= \frac{\partial J}{\partial \hat{y}} h_{1}\\
 &= \frac{\partial J}{\partial \hat{y}} a x
\end{align*}
"""
from __future__ import annotations

import itertools

import sympy

from .. import budget
from .notation import Notation
from .printer import _MUL_MARK, _marked, print_latex
from .rows import _HUGE, _is_matrix, _Rows
from .width import latex_width


def _partial(of, wrt, notation: Notation) -> str:
    return r"\frac{\partial %s}{\partial %s}" % (print_latex(of, notation), print_latex(wrt, notation))


def _sigma_prime(value) -> sympy.Expr | None:
    """The argument ``z`` when ``value`` is the sigmoid's derivative ``σ(z)(1 − σ(z))``, else None."""
    from ..functions import Sigmoid

    sigmoids = value.atoms(Sigmoid) if isinstance(value, sympy.Basic) else set()
    if len(sigmoids) == 1:
        (s,) = sigmoids
        if sympy.expand(value - s.fdiff()) == 0:
            return s.args[0]
    return None


def _symbols_in(expr) -> set:
    """The symbols of ``expr`` (or of a matrix's entries), found on SymPy's DAG: cheap on huge shared forms."""
    out, seen = set(), set()
    stack = list(expr) if _is_matrix(expr) else [expr]
    while stack:
        e = stack.pop()
        if id(e) in seen or not isinstance(e, sympy.Basic):
            continue
        seen.add(id(e))
        if e.is_Symbol:
            out.add(e)
        else:
            stack.extend(e.args)
    return out


def _adjoint_form(d, notation: Notation) -> tuple:
    r"""The gradient in the adjoints ``\bar v = \partial J/\partial v`` (how reverse accumulation computes it):
    ``(raw, rows)``, ``raw`` the gradient in the adjoints and ``rows`` their definitions, from the output back
    (the ones ``raw`` needs); ``(None, ())`` when ``d`` does not come with its reverse sweep."""
    gradients = getattr(d, "gradients", None)
    raw = getattr(gradients, "raw", {}).get(d.parameter_name) if gradients is not None else None
    adjoints = list(getattr(gradients, "adjoints", None) or [])
    if raw is None:
        return None, ()
    defined = dict(adjoints)
    needed: set = set()
    stack = list(_symbols_in(raw))
    while stack:
        s = stack.pop()
        if s in defined and s not in needed:
            needed.add(s)
            stack.extend(_symbols_in(defined[s]))
    raw = raw[0, 0] if _is_matrix(raw) and raw.shape == (1, 1) else raw
    intro = r"&\text{with the adjoints }\bar{v} = \frac{\partial J}{\partial v}\text{:}"
    rows: list[tuple[str | None, object]] = [(None, intro)] if needed else []
    rows += [(print_latex(s, notation), e) for s, e in adjoints if s in needed]
    return raw, tuple(rows)


def _derivation_rows(d, rows: _Rows) -> None:
    r"""The rows of a derivation; each is an equation (or continues the chain of ``=`` of the row above,
    about the same quantity): the forward definitions, ``\partial J/\partial p`` as the symbolic chain-rule
    product, the factors, the product substituted, the gradient in the named intermediates and explicit."""
    notation = rows.notation
    J = getattr(d, "loss_symbol", sympy.Symbol("J"))
    param = sympy.Symbol(d.parameter_name)
    target = _partial(J, param, notation)
    factors = list(d.factors)
    compact = d.compact
    # 1. the forward definitions the derivation uses
    used = set()
    pending = [compact] + [f.value for f in factors]
    definitions = list(getattr(d, "definitions", []))
    defined = {s: e for s, e in definitions}
    while pending:
        for s in _symbols_in(pending.pop()):
            if s in defined and s not in used:
                used.add(s)
                pending.append(defined[s])
    involved = {f.of for f in factors} | {f.wrt for f in factors}
    nodes = list(getattr(getattr(d, "network", None), "nodes", []))
    for previous, node in itertools.pairwise(nodes):  # name the normalizing steps the chain passes through
        layer = getattr(node, "layer", None)
        operator = (notation.bn if getattr(layer, "normalizes_batch", False) else
                    getattr(layer, "latex_name", None) if getattr(layer, "normalizes", False) else None)
        if operator and node.label in involved:
            rows.equation(print_latex(node.label, notation),
                          r"%s\left(%s\right)" % (operator, print_latex(previous.label, notation)))
    for symbol, expr in definitions:
        if symbol in used:
            rows.equation(print_latex(symbol, notation), expr)
    # 2. the symbolic chain-rule product
    symbolic = [_partial(f.of, f.wrt, notation) for f in factors]
    rows.equation(target, r"\,".join(symbolic).replace(r"\,", r"\," + _MUL_MARK))
    # 3. each factor substituted (the product substituted only when every factor is within the budget)
    small = all(budget.fits(f.value, budget.LATEX_NODES) for f in factors)
    if not any(_is_matrix(f.value) for f in factors):
        if small:
            rows.equation(target, (r" \cdot" + _MUL_MARK + " ").join(_scalar_factor(f.value, notation)
                                                                      for f in factors), again=True)
        else:
            for f in factors:
                _factor_rows(f, rows)
    else:
        for f in factors:
            _factor_rows(f, rows)
        if small:
            rows.equation(target, _hadamard_product(factors, notation), optional=True, again=True)
    # 4. multiplied out in the named intermediates (or in the adjoints), then explicit
    raw, adjoint_rows = _adjoint_form(d, notation)
    _compact_rows(d, compact, raw, adjoint_rows, rows, target)
    closed = d.closed_form
    fits = budget.fits(closed, budget.LATEX_NODES)
    if closed is not compact and (not fits or not budget.fits(compact, budget.LATEX_NODES) or closed != compact):
        _value_rows(d, closed, rows, target, what="explicit in the inputs and parameters, this is an expression",
                    hint="substituting the definitions above into the form above gives it")


def _scalar_factor(value, notation: Notation) -> str:
    arg = _sigma_prime(value)
    if arg is not None:
        return r"\sigma'\left(%s\right)" % _marked(arg, notation)
    body = _marked(value, notation)
    return r"\left(" + body + r"\right)" if isinstance(value, sympy.Add) else body


def _compact_rows(d, compact, raw, adjoint_rows, rows: _Rows, target: str) -> None:
    """The gradient in the named intermediates; in the adjoints when that form cannot be typeset unabbreviated."""
    if not _is_matrix(compact):
        rows.equation(target, compact, again=True, fallback=(("", raw),) + adjoint_rows if raw is not None else ())
        return
    typesettable = budget.fits(compact, budget.LATEX_NODES) and all(sympy.count_ops(e) <= _HUGE for e in compact)
    if typesettable or raw is None:
        _value_rows(d, compact, rows, target)
        return
    _value_rows(d, raw, rows, target)
    for lhs, rhs in adjoint_rows:
        if lhs is None:
            rows.add(rhs)
        else:
            rows.equation(lhs, rhs)


def _value_rows(d, value, rows: _Rows, target: str, what: str = "an expression", hint: str = "") -> None:
    notation = rows.notation
    if not _is_matrix(value) or not budget.fits(value, budget.LATEX_NODES) and not all(
            budget.fits(e, budget.LATEX_NODES) for e in value):
        if _is_matrix(value):
            what = "%s (a %d by %d matrix)" % (what, value.rows, value.cols)
        rows.equation(target, value, again=True, what=what, hint=hint)
        return
    if budget.fits(value, budget.LATEX_NODES) and latex_width(print_latex(value, notation)) <= notation.width - 60:
        rows.equation(target, value, again=True, what=what, hint=hint)
        return
    symbols = d.parameter if _is_matrix(d.parameter) else None
    for index in range(len(value)):
        i, j = divmod(index, value.cols)
        if symbols is not None and symbols.shape == value.shape:
            lhs = _partial(getattr(d, "loss_symbol", sympy.Symbol("J")), symbols[i, j], notation)
        else:
            lhs = r"\left[%s\right]_{%d %d}" % (target, i + 1, j + 1)
        rows.equation(lhs, value[i, j], again=True, what=what, hint=hint)


def _factor_rows(f, rows: _Rows) -> None:
    notation = rows.notation
    lhs = _partial(f.of, f.wrt, notation)
    value = f.value
    if not budget.fits(value, budget.LATEX_NODES):
        rows.equation(lhs, value, what="a Jacobian" if _is_matrix(value) else "an expression")
        return
    if not _is_matrix(value):
        arg = _sigma_prime(value)
        if arg is not None:
            prime = r"\sigma'\left(%s\right) = " % print_latex(arg, notation)
            rows.equation(lhs, prime + _MUL_MARK + _marked(value, notation))
            return
        rows.equation(lhs, value)
        return
    if value.is_diagonal() and value.rows == value.cols and value.rows > 1:
        diagonal = [value[k, k] for k in range(value.rows)]
        if len(set(diagonal)) == 1:
            rows.equation(lhs, _marked(diagonal[0], notation) + r" I")
        else:
            rows.equation(lhs, r"\operatorname{diag}\left(" + ("," + _MUL_MARK + " ").join(
                _marked(e, notation) for e in diagonal) + r"\right)")
        return
    if latex_width(print_latex(value, notation)) <= notation.width - latex_width(lhs) - 40:
        rows.equation(lhs, value)
        return
    for index in range(len(value)):
        i, j = divmod(index, value.cols)
        if value[i, j] != 0:
            rows.equation(r"\left[%s\right]_{%d %d}" % (lhs, i + 1, j + 1), value[i, j])
    rows.text(r"(the other entries are 0)")


def _hadamard_product(factors, notation: Notation) -> str:
    r"""The chain-rule product with each factor substituted, read left to right: a row vector times each
    Jacobian; a diagonal Jacobian acts as an elementwise product with its diagonal (``\odot``)."""
    out, previous = "", "start"
    for k, f in enumerate(factors):
        value = f.value
        kind = "matrix" if _is_matrix(value) else "scalar"
        if kind == "matrix" and value.rows == value.cols and value.rows > 1 and value.is_diagonal():
            diagonal = [value[i, i] for i in range(value.rows)]
            if len(set(diagonal)) == 1:
                value, kind = diagonal[0], "scalar"
            else:
                value, kind = sympy.Matrix([diagonal]), "hadamard"
        piece = _marked(value, notation)
        if kind == "scalar" and isinstance(value, sympy.Add):
            piece = r"\left(" + piece + r"\right)"
        if k == 0:
            out = piece
        elif kind == "hadamard":
            if previous == "matrix":
                out = r"\left(" + out + r"\right)"
            out += f" {_MUL_MARK}{notation.hadamard} " + piece
        else:
            out += f" {_MUL_MARK}" + piece
        if k:
            previous = kind
    return out
