"""The data a proof is made of: :class:`Condition`, :class:`Step`, :class:`Proof`, and the catalogue entry
:class:`Theorem`.

These are plain frozen dataclasses; :mod:`bnsym.latex` renders them.

>>> import sympy
>>> a = sympy.Symbol("a", real=True)
>>> c = Condition("a > 0", "a > 0", a > 0)
>>> c.text, c.expr
('a > 0', a > 0)
>>> Step(sympy.Eq(a, a, evaluate=False), "reflexivity").reason
'reflexivity'
"""
from __future__ import annotations

import textwrap

from dataclasses import dataclass, field
from collections.abc import Callable

import sympy

__all__ = ["Condition", "Step", "Proof", "Theorem"]


_SUB = str.maketrans("aehijklmnoprstuvx0123456789", "ₐₑₕᵢⱼₖₗₘₙₒₚᵣₛₜᵤᵥₓ₀₁₂₃₄₅₆₇₈₉")


def unicode_subscripts(text: str) -> str:
    """``Σ_j z_j`` as ``Σⱼ zⱼ`` where Unicode has the subscript letters (names such as ``bn_jacobian`` stay).

    >>> unicode_subscripts("Σ_l δ_il = 1; theorem bn_jacobian")
    'Σₗ δᵢₗ = 1; theorem bn_jacobian'
    """
    import re

    def sub(match):
        tail = match.group(2)
        return match.group(1) + tail.translate(_SUB) if all(c in "aehijklmnoprstuvx0123456789" for c in tail) \
            else match.group(0)
    return re.sub(r"(?<![A-Za-z\u0300-\u036f])([A-Za-zΣδμσγβεηλ][\u0300-\u036f]?)_([a-z0-9]{1,3})(?![A-Za-z0-9_])",
                  sub, text)


_SHOWN = {"xhat": "x̂", "xtilde": "x̃", "ztilde": "z̃", "mutilde": "μ̃", "sigmatilde": "σ̃", "ytilde": "ỹ",
          "wtilde": "w̃", "nutilde": "ν̃", "hhat": "ĥ"}


def _display(expr):
    """``expr`` with the names of the batch's normalized and scaled quantities as they are read (``x̂``, ``x̃``)."""
    bases = {b: sympy.IndexedBase(_SHOWN[str(b.label)], **b.label.assumptions0)
             for b in expr.atoms(sympy.IndexedBase) if str(b.label) in _SHOWN}
    syms = {s: sympy.Symbol(_SHOWN[s.name], **s.assumptions0) for s in expr.atoms(sympy.Symbol) if s.name in _SHOWN}
    return expr.xreplace({**bases, **syms}) if bases or syms else expr


@dataclass(frozen=True)
class Condition:
    """One hypothesis of a theorem, e.g. ``a > 0``, ``ε = 0``, ``m ≥ 2``, "batch not constant".

    >>> Condition("m >= 2", r"m \\geq 2").latex
    'm \\\\geq 2'
    """

    text: str
    latex: str
    expr: sympy.Basic | None = None
    #: how the condition reads under a proof's options (``a > 0`` becomes ``a < 0`` when the scale is assumed
    #: negative; ``None``: the condition does not apply); default: unchanged
    adapt: Callable | None = field(default=None, repr=False, compare=False)

    def __repr__(self) -> str:
        return self.text

    def under(self, opts) -> Condition | None:
        """The condition as it reads for a proof asked with ``opts`` (:class:`~bnsym.theorems.batch.Options`),
        or ``None`` when it does not apply.

        >>> from bnsym.theorems.batch import Options
        >>> from bnsym.theorems.units.common import A_POS, NONCONST
        >>> A_POS.under(Options(sign="negative")), NONCONST.under(Options(constant=True))
        (a < 0, None)
        """
        return self if self.adapt is None else self.adapt(opts)

    __str__ = __repr__


@dataclass(frozen=True)
class Step:
    """One step of a proof: a relation the kernel checked (``checked=True``, with its ``fact``), or a remark
    (narrative: ``checked=False``, never part of a verdict).

    >>> x = sympy.Symbol("x")
    >>> Step(sympy.Eq(x + x, 2 * x, evaluate=False), "collect").checked
    False
    """

    expr: sympy.Basic | None
    reason: str
    checked: bool = False
    rule: str = "remark"
    fact: object = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class Proof:
    """The outcome of :func:`bnsym.prove`: whether the statement holds, under which conditions, and why.

    ``holds`` is ``True`` only when every step was established exactly; ``None`` means the proof could not be
    completed (``reason`` says why); ``False`` comes with ``replacement`` (what holds instead) and, where
    possible, a numeric ``counterexample``.

    >>> p = Proof("demo", "Demo", "1 = 1", "1 = 1", "arithmetic", True, (), (), "trivial", "m")
    >>> p.holds, p.batch
    (True, 'm')
    """

    name: str
    title: str
    statement: str
    statement_latex: str
    source: str
    holds: bool | None
    conditions: tuple[Condition, ...]
    steps: tuple[Step, ...]
    method: str
    batch: int | str
    reason: str | None = None
    replacement: str | None = None
    replacement_latex: str | None = None
    counterexample: dict | None = None
    facts: tuple = field(default=(), repr=False, compare=False)
    lemmas: tuple = ()

    def certificate(self) -> dict:
        """The proof as data for :func:`bnsym.replay` (see :mod:`bnsym.theorems.certificate`)."""
        from .certificate import certificate

        return certificate(self)

    def __str__(self) -> str:
        """A plain-text account: statement, source, conditions, method, the steps, the verdict."""
        lines = [f"{self.title}: {self.statement}", f"source: {self.source}",
                 "conditions: " + ", ".join(c.text for c in self.conditions), f"method: {self.method}"]
        for step in self.steps:
            if step.expr is not None:
                block = sympy.pretty(_display(step.expr), use_unicode=True, wrap_line=False)
                lines.append(textwrap.indent(block, "    "))
            reason = unicode_subscripts(step.reason)
            lines.append(f"        ({reason})" if step.checked else f"    remark: {reason}")
        lines.append(f"holds: {self.holds}")
        if self.reason:
            lines.append(f"reason: {self.reason}")
        if self.replacement:
            lines.append(f"instead: {self.replacement}")
        if self.counterexample:
            lines.append(f"counterexample: {self.counterexample}")
        return "\n".join(lines)

    def _repr_latex_(self) -> str:
        """LaTeX for notebooks (``$$\\begin{aligned}…\\end{aligned}$$``, via :func:`bnsym.latex.repr_latex`)."""
        from bnsym.latex import repr_latex  # lazy: the renderer lives in its own module

        return repr_latex(self)


@dataclass(frozen=True)
class Theorem:
    """A theorem unit, registered once (:func:`bnsym.theorems.registry.register`): the statement as data, its
    hypotheses, and how to prove and check it, side by side.

    ``general`` proves it through the kernel for symbolic batch size ``m`` (a concrete ``m`` is that proof with
    ``m`` given); ``claims`` gives the relations proved; ``numeric`` maps a draw (dict of floats/arrays) to a
    residual that is 0 up to rounding when the statement holds; a failed proof carries its own counterexample.
    Each hypothesis says how it reads under the options asked (:meth:`Condition.under`), and ``options`` /
    ``constant_batch`` say which extra options the theorem takes: no list of theorem names anywhere else.

    >>> t = Theorem("demo", "Demo", "1 = 1", "1 = 1", "arithmetic", ())
    >>> t.name, t.group
    ('demo', 0)
    """

    name: str
    title: str
    statement: str
    statement_latex: str
    source: str
    hypotheses: tuple[Condition, ...]
    group: int = 0
    general: Callable | None = field(default=None, repr=False, compare=False)
    numeric: Callable | None = field(default=None, repr=False, compare=False)
    claims: Callable | None = field(default=None, repr=False, compare=False)  # opts -> the relations proved
    scale: bool = False  # has a scale a (or c) whose sign can be assumed negative
    #: the options of :func:`bnsym.prove` beyond the common ones that this theorem takes (``"coefficient"``)
    options: tuple[str, ...] = ()
    #: the statement still means something on a constant batch when ε > 0 (so it is attempted there)
    constant_batch: bool = False
    #: the statement is false as stated: its proof refutes it at an explicit witness (``holds=False``) and proves
    #: what holds instead; its numeric check is that of the replacement
    refuted: bool = False
