r"""The LaTeX of a :class:`~bnsym.theorems.Proof`: its statement, hypotheses and chain of equalities (each step
with its reason), then the verdict, a replacement that holds and a counterexample.

>>> from bnsym.theorems import prove
>>> tex = _proof_block(prove("backward_formulas"), Notation(), numbered=False)
>>> tex.startswith(r"\noindent\textbf{") and r"\noindent Holds: proved" in tex
True
"""
from __future__ import annotations

import re

import sympy

from .. import budget
from .breaking import _mark_free, _open_fractions
from .escape import _breakable, _text, check_math, escape_text
from .notation import Notation
from .printer import _ADD_MARK, _strip, print_latex
from .rows import _Rows
from .width import latex_width

_RELATIONS_TEX = {"==": "=", "!=": r"\neq", "<": "<", "<=": r"\leq", ">": ">", ">=": r"\geq"}

_SUBSCRIPTED = re.compile(r"(?<![A-Za-z\u0300-\u036f])([A-Za-zΣδμσγβεηλ][\u0300-\u036f]?)_([A-Za-z0-9]{1,3})"
                         r"(?![A-Za-z0-9_])")


def _reason(text: str, notation: Notation) -> str:
    """A step's reason: text, with subscripted symbols (``Σ_j``, ``δ_ik``, ``x̂_l``) typeset as math.

    >>> print(_reason("Σ_l δ_il = 1 (theorem bn_jacobian)", Notation()))
    $\\Sigma_{l}$ $\\delta_{il}$ = 1 (theorem bn\\_jacobian)
    """
    if notation.environment == "aligned":
        return _text(text, notation)
    out, last = [], 0
    for match in _SUBSCRIPTED.finditer(str(text)):
        out.append(_text(text[last:match.start()], notation))
        base = escape_text(match.group(1))
        base = base[1:-1] if base.startswith("$") and base.endswith("$") else base
        out.append(f"${base}_{{{match.group(2)}}}$")
        last = match.end()
    out.append(_text(text[last:], notation))
    return "".join(out)


def _proof_rows(proof, rows: _Rows) -> None:
    """Statement, hypotheses, then the chain of equalities, each step with its reason."""
    notation = rows.notation
    rows.equation("", _mark_free(check_math(proof.statement_latex, "statement_latex")), relation="")
    conditions = [check_math(c.latex, "a condition's LaTeX") for c in proof.conditions]
    if conditions:
        line: list[str] = []
        current: list[str] = []
        for c in conditions:
            trial = current + [c]
            if current and latex_width(r"\text{if }" + r",\ ".join(trial)) > notation.width - 60:
                line.append(r",\ ".join(current))
                current = [c]
            else:
                current = trial
        line.append(r",\ ".join(current))
        for k, part in enumerate(line):
            rows.add((r"&\text{if } " if k == 0 else r"&\qquad ") + part + ("," if k < len(line) - 1 else ""))
    previous = None
    for step in proof.steps:
        expr = step.expr
        if expr is None:  # a remark: narrative, on its own line, never part of a chain of equalities
            rows.entries.append(("note", "Remark: " + _reason(step.reason, notation)))
            previous = None
            continue
        reason = _reason(step.reason, notation) if step.reason else ""
        short = reason and latex_width(r"\text{(%s)}" % reason) < 0.35 * notation.width
        note = r"\qquad\text{(%s)}" % reason if short else ""
        if isinstance(expr, sympy.core.relational.Relational):
            relation = _RELATIONS_TEX[expr.rel_op]
            if previous is not None and expr.lhs == previous:
                rows.equation("", expr.rhs, relation=relation, note=note)
            elif budget.fits(expr.lhs, budget.LATEX_NODES) and \
                    latex_width(print_latex(expr.lhs, notation)) < 0.3 * notation.width:
                rows.equation(print_latex(expr.lhs, notation), expr.rhs, relation=relation, note=note)
            else:
                rows.equation("", expr.lhs, relation="")
                rows.equation("", expr.rhs, relation=relation, note=note)
            previous = expr.rhs
        elif isinstance(expr, sympy.logic.boolalg.Boolean):
            # a fact that is not an equality (e.g. L ∈ {1, …, 6}): its own line, not "= …"
            rows.equation("", expr, relation="", note=note)
            previous = None
        else:
            rows.equation("", expr, note=note)
            previous = expr
        if reason and not short:
            if notation.environment == "aligned":
                rows.add(r"&\qquad\text{(%s)}" % reason)
            else:
                rows.entries.append(("note", reason))


def _display(latex: str, notation: Notation) -> str:
    r"""Ready LaTeX as display math: ``\[ … \]`` when it fits the text block, else an ``align*`` block broken at
    its first top-level relation and at its sums (a wide fraction opened by :func:`_open_fractions`)."""
    if latex_width(latex) <= notation.width - 20:
        return r"\[ %s \]" % latex
    marked = _mark_free(latex)
    lhs, relation, rhs = "", "", latex
    relations = {"=": "=", "<": "<", ">": ">", "\\leq": r"\leq", "\\geq": r"\geq", "\\le": r"\le",
                 "\\ge": r"\ge", "\\neq": r"\neq", "\\approx": r"\approx"}
    if _ADD_MARK in marked:
        head, tail = marked.split(_ADD_MARK, 1)
        rel = re.match(r"\s*(=|<|>|\\(?:leq|geq|le|ge|neq|approx)(?![A-Za-z]))", tail)
        if rel and head.strip():
            lhs, relation = head.strip(), relations[rel.group(1)]
            rhs = _strip(tail[rel.end():]).strip()
    rows = _Rows(notation)
    rows.equation(lhs, _mark_free(_open_fractions(rhs, 0.5 * notation.width), deep=True), relation=relation)
    return rows.render()


def _proof_verdict(proof, text) -> str:
    if proof.holds is True:
        return "Holds: proved (" + text(proof.method) + ")."
    if proof.holds is False:
        verdict = "Does not hold as stated"
        if proof.replacement:
            verdict += "; what holds instead: " + text(proof.replacement)
        return verdict + "."
    return "Could not be completed" + (": " + text(proof.reason) if proof.reason else "") + "."


def _proof_block(proof, notation: Notation, numbered: bool) -> str:
    rows = _Rows(notation, numbered)
    _proof_rows(proof, rows)
    math = rows.render()
    if notation.environment == "aligned":
        head = r"&\textbf{%s}\\&\text{(%s)}\\" % (_text(proof.title, notation), _text(proof.source, notation))
        verdict = r"\\&\text{%s}" % _proof_verdict(proof, lambda t: _text(t, notation))
        if proof.holds is False and proof.replacement_latex:
            verdict += r"\\& %s" % check_math(proof.replacement_latex, "replacement_latex")
        return math.replace(r"\begin{aligned}" + "\n", r"\begin{aligned}" + "\n" + head + "\n", 1).replace(
            "\n" + r"\end{aligned}", verdict + "\n" + r"\end{aligned}")
    batch = "" if str(proof.batch) == "m" else r"; batch size $m = %s$" % escape_text(str(proof.batch))
    parts = [r"\noindent\textbf{%s.} %s%s." % (escape_text(proof.title), escape_text(proof.source), batch)]
    parts.append(math)
    parts.append(r"\noindent %s" % _proof_verdict(proof, _breakable))
    if proof.holds is False and proof.replacement_latex:
        parts.append(_display(check_math(proof.replacement_latex, "replacement_latex"), notation))
    if proof.holds is False and proof.counterexample:
        items = ", ".join(f"{escape_text(str(k))} = {_breakable(_short(v))}" for k, v in proof.counterexample.items())
        parts.append(r"\noindent Counterexample: %s." % items)
    return "\n".join(parts)


def _short(value) -> str:
    text = str(value)
    return text if len(text) <= 60 else text[:57] + "..."
