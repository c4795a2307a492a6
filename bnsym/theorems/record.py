"""Recording a proof: every step goes through the kernel; narrative is typed as :class:`Remark` steps.

A prover builds its proof with a :class:`Recorder`: :meth:`Recorder.eq` (and ``le``, ``ne``, ``limit``) asks
the kernel to check a step and records the resulting fact; :meth:`Recorder.remark` records narrative that
never contributes to a verdict. :meth:`Recorder.proved` turns the facts into ``holds=True`` only if the kernel
can :func:`~bnsym.kernel.core.conclude` every claim from them.

>>> import sympy
>>> from bnsym.theorems.batch import Options, context, mu, m, z, j
>>> rec = Recorder(context(Options()))
>>> f = rec.eq(sympy.Sum(z[j], (j, 1, m)), m * mu, "definition of μ")
>>> rec.proved([f.relation]).holds
True
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..kernel import core as K
from .proof import Step

__all__ = ["Outcome", "Recorder", "LemmaUnavailable"]


class LemmaUnavailable(Exception):
    """A cited theorem could not be proved in the context a dependent proof needs."""


@dataclass
class Outcome:
    """What a prover established (the parts of a :class:`~bnsym.theorems.proof.Proof` it decides)."""

    holds: bool | None
    steps: list = field(default_factory=list)
    method: str = "general m (symbolic), every step checked by the kernel"
    reason: str | None = None
    replacement: str | None = None
    replacement_latex: str | None = None
    counterexample: dict | None = None
    facts: list = field(default_factory=list)
    lemmas: tuple = ()


class Recorder:
    """Collects kernel-checked steps and remarks for one proof."""

    def __init__(self, ctx: K.Context):
        self.ctx = ctx
        self.steps: list[Step] = []
        self.facts: list[K.Fact] = []
        self.lemmas: list[str] = []

    def _keep(self, fact: K.Fact, reason: str) -> K.Fact:
        self.facts.append(fact)
        self.steps.append(Step(fact.relation, reason, checked=True, rule=fact.rule, fact=fact))
        return fact

    def eq(self, lhs, rhs, reason: str, *, cites=(), ctx: K.Context | None = None) -> K.Fact:
        """Check and record ``lhs = rhs``."""
        return self._keep(K.equal(ctx or self.ctx, lhs, rhs, reason, cites=cites), reason)

    def le(self, lhs, rhs, reason: str, *, cites=(), ctx: K.Context | None = None, unfold: bool = True) -> K.Fact:
        """Check and record ``lhs ≤ rhs``."""
        return self._keep(K.less_equal(ctx or self.ctx, lhs, rhs, reason, cites=cites, unfold_definitions=unfold),
                          reason)

    def ne(self, ctx: K.Context, lhs, rhs, witness: dict, reason: str, *, greater: bool = False) -> K.Fact:
        """Check and record ``lhs ≠ rhs`` (``greater``: ``lhs > rhs``) at ``witness`` (a concrete batch)."""
        return self._keep(K.unequal(ctx, lhs, rhs, witness, reason, greater=greater), reason)

    def limit(self, expr, symbol, point, value, reason: str, *, ctx: K.Context | None = None) -> K.Fact:
        """Check and record a limit by continuity."""
        return self._keep(K.limit(ctx or self.ctx, expr, symbol, point, value, reason), reason)

    def chain(self, *facts: K.Fact) -> K.Fact:
        """``a = b = … = c`` from recorded links (not shown again)."""
        fact = K.chain(*facts)
        self.facts.append(fact)
        return fact

    def cite(self, fact: K.Fact, name: str, reason: str | None = None) -> K.Fact:
        """Record that the proved theorem ``name`` is used (its fact, shown as a step)."""
        self.lemmas.append(name)
        return self._keep(fact, reason or f"theorem {name}")

    def remark(self, text: str, expr=None) -> None:
        """Narrative: shown, never part of the verdict."""
        self.steps.append(Step(expr, text, checked=False, rule="remark"))

    def outcome(self, holds, **kw) -> Outcome:
        """An outcome carrying the recorded steps and facts."""
        return Outcome(holds, list(self.steps), facts=list(self.facts), lemmas=tuple(dict.fromkeys(self.lemmas)),
                       **kw)

    def proved(self, claims, **kw) -> Outcome:
        """``holds=True`` when the kernel concludes every claim from the recorded facts."""
        for claim in claims:
            K.conclude(claim, self.facts)
        return self.outcome(True, **kw)
