"""Re-check every step of a certificate: numerically at random admissible points, exactly with SymEngine.

For an ``eq``/``lemma``/``le`` step, ``points`` times (default 5): a batch size ``m`` (the certificate's,
or random in ``2..7``) and a random integer ``1..m`` for every free index; then, :data:`VALUES_PER_INSTANCE`
times, a random exact value for every other symbol and every leaf entry (respecting its assumptions),
with the values fixed by hypotheses ``Eq(symbol, number)``; values that violate another hypothesis are
drawn again. The step is made explicit at that ``m``
(:mod:`.expand`) and both sides are evaluated to 60 digits (:mod:`.evaluate`). A point where a side is
undefined does not count; a step with no defined point is "unchecked". The random draws are seeded
with the ``seed`` and a SHA-256 of the certificate, so a replay is reproducible, yet the points cannot be
known (and a false step tuned to them) before the certificate is written. A ``ne`` step is evaluated at its
witness only, which must be complete and admissible, with a rigorous (exact or interval) separation.
The exact check (:mod:`.exact`) runs at up to two of the batches and index values drawn.

>>> import sympy
>>> x = sympy.Symbol("x", positive=True)
>>> cert = {"format": "bnsym-certificate/1", "theorem": "demo", "holds": True, "batch": "m",
...         "steps": [{"id": 0, "kind": "eq", "lhs": sympy.srepr((x**2 - 1) / (x - 1)), "rhs": sympy.srepr(x + 1)},
...                   {"id": 1, "kind": "le", "lhs": sympy.srepr(2 * x), "rhs": sympy.srepr(x**2 + 1)}]}
>>> report = check_certificate(cert)
>>> report.ok, [(s.numeric, s.exact) for s in report.steps]
(True, [('pass', 'pass'), ('pass', 'not expressible')])
"""
from __future__ import annotations

import hashlib
import json
import random
import sys
from dataclasses import dataclass, field
from typing import Any

import mpmath
import sympy

from .certificate import Certificate, Step, load_json, read_certificate
from .draw import admissible, draw_index, draw_value, random_polynomial
from .evaluate import Undefined, Unevaluable, evaluate, holds
from .exact import exact_number, exact_zero, se as symengine
from .expand import Expander, NotExplicit, Store, scan
from .report import ReplayError, ReplayReport, StepReport

__all__ = ["check_certificate", "TOLERANCE"]

TOLERANCE = mpmath.mpf(10) ** -40  #: relative tolerance of the numeric equality and inequality checks
EXACT_INSTANCES = 2  #: batches (with index values) at which the exact check runs
VALUES_PER_INSTANCE = 4  #: random value draws at each random batch size and index choice


@dataclass
class _Context:
    cert: Certificate
    definitions: dict
    fixed: dict  # symbol -> number, from Eq(symbol, number) hypotheses
    constraints: list
    independent: bool  # no equality constraint ties the variables together
    seed: str
    points: int
    cache: dict = field(default_factory=dict)  # batch size -> Store of explicit definitions, shared by the steps


def _context(cert: Certificate, seed: str, points: int) -> _Context:
    definitions: dict = {}
    for d in cert.definitions:
        definitions[d.symbol] = (d.index, d.value) if d.index else d.value
    fixed, constraints = {}, []
    for h in cert.hypotheses:
        if h is None or h is sympy.true:
            continue
        parts = h.args if isinstance(h, sympy.And) else (h,)
        for part in parts:
            if isinstance(part, sympy.Eq):
                for a, b in ((part.lhs, part.rhs), (part.rhs, part.lhs)):
                    if isinstance(a, sympy.Symbol) and a not in definitions and b.is_number and a not in fixed:
                        fixed[a] = b
                        break
                else:
                    constraints.append(part)
            else:
                constraints.append(part)
    independent = not any(isinstance(c, sympy.Eq) for c in constraints)
    return _Context(cert, definitions, fixed, constraints, independent, seed, points)


class _StepCheck:
    """The checks of one step; ``run()`` returns its :class:`StepReport`."""

    def __init__(self, ctx: _Context, step: Step):
        self.ctx, self.step = ctx, step
        self.rng = random.Random(f"{ctx.seed}:{step.id}")
        found = scan([step.lhs, step.rhs, *ctx.constraints, *ctx.fixed])
        for d in ctx.cert.definitions:  # a definition's own index is bound in its value
            inner = scan([d.value])
            found.free |= inner.free - set(d.index)
            found.index_position |= inner.index_position - set(d.index)
            found.functions |= inner.functions
        free = found.free - set(ctx.definitions)
        name = ctx.cert.batch_symbol
        self.batch = {s for s in free if isinstance(s, sympy.Symbol) and s.name == name}
        self.sizes = {s for s in free if isinstance(s, sympy.Symbol) and s.name in ctx.cert.sizes} - self.batch
        self.indices = sorted((s for s in free - self.batch - self.sizes
                               if isinstance(s, sympy.Idx) or (s.is_integer and s in found.index_position)), key=str)
        self.params = sorted(free - self.batch - self.sizes - set(self.indices), key=str)
        self.functions = found.functions
        self.polynomials = {key: random_polynomial(key[1], self.rng) for key in found.functions}
        names = {str(s) for s in ctx.definitions}
        self.notes = [f"{s} is not the defined {s} (its assumptions differ)" for s in self.params if str(s) in names]
        self.instances: dict = {}
        self.size_values: dict = {}
        self.complex: set = set()  # leaves without a realness assumption, drawn complex

    # --- points ------------------------------------------------------------------------------------
    def batch_size(self) -> int:
        for s in self.batch:
            if s in self.ctx.fixed:
                value = self.ctx.fixed[s]
                if not (value.is_Integer and value >= 1):
                    raise NotExplicit(f"the hypothesis {s} = {value} does not give a batch size")
                return int(value)
        if isinstance(self.ctx.cert.batch, int):
            return self.ctx.cert.batch
        return self.rng.randint(2, 7)

    def explicit(self, m: int, indices: dict, functions: dict) -> tuple:
        key = (m, tuple(indices.values()), bool(functions), tuple(sorted(self.size_values.items(), key=str)))
        if key not in self.instances:
            sizes = {s: sympy.Integer(v) for s, v in self.size_values.items()}
            env = {**{s: sympy.Integer(m) for s in self.batch}, **sizes, **indices}
            # definitions depend on the batch size only: share their explicit forms between the steps
            store = self.ctx.cache.setdefault((m, key[3]), Store()) if not functions else None
            lazy = bool(functions) or not self.functions  # undefined functions are differentiated in full
            expand = Expander(self.ctx.definitions, env, functions,
                              {**{s: sympy.Integer(m) for s in self.batch}, **sizes}, store, lazy)
            self.instances[key] = (expand(self.step.lhs), expand(self.step.rhs),
                                   [expand(c) for c in self.ctx.constraints])
        return self.instances[key]

    def leaves(self, exprs: list) -> list:
        return sorted(_leaves(exprs), key=sympy.default_sort_key)

    def draw(self, leaves: list) -> dict:
        values = {}
        for leaf in leaves:
            if leaf in self.ctx.fixed:
                values[leaf] = self.ctx.fixed[leaf]
                if not admissible(values[leaf], leaf.assumptions0):
                    raise NotExplicit(f"the hypothesis {leaf} = {values[leaf]} contradicts the assumptions of {leaf}")
            else:
                values[leaf] = draw_value(getattr(leaf, "assumptions0", {}), self.rng, str(leaf))
        return values

    def instance(self) -> tuple:
        """A random batch size and free indices: ``(m, indices, lhs, rhs, constraints, leaves)`` made explicit."""
        m = self.batch_size()
        self.size_values = {s: self.rng.randint(1, 3) for s in sorted(self.sizes, key=str)}
        batch = {s: sympy.Integer(m) for s in self.batch}
        batch.update({s: sympy.Integer(v) for s, v in self.size_values.items()})
        upper = {name: next((v for s, v in self.size_values.items() if s.name == size), m)
                 for name, size in self.ctx.cert.ranges}
        indices = {i: self.ctx.fixed[i] if i in self.ctx.fixed else
                   draw_index(i, upper.get(i.name, m), self.rng, batch) for i in self.indices}
        lhs, rhs, constraints = self.explicit(m, indices, self.polynomials)
        leaves = self.leaves([lhs, rhs, *constraints])
        self.complex.update(str(getattr(leaf, "base", leaf)) for leaf in leaves
                            if leaf.is_real is None and leaf not in self.ctx.fixed)
        return m, indices, lhs, rhs, constraints, leaves

    def point(self, leaves: list, constraints: list) -> dict | None:
        """Random admissible values of the leaves, or ``None`` after 10 draws that violate a hypothesis."""
        for _ in range(10):
            values = self.draw(leaves)
            try:
                if all(holds(c, values) for c in constraints):
                    return values
            except Undefined:
                continue
        return None

    # --- the checks --------------------------------------------------------------------------------
    def run(self) -> StepReport:
        try:
            if self.step.kind == "ne":
                numeric, exact, points, error, note = self.witness()
            else:
                numeric, exact, points, error, note = self.random_points()
        except (NotExplicit, Unevaluable) as reason:
            numeric, exact, points, error, note = "unchecked", "not expressible", 0, None, str(reason)
        lemma = [f"an instance of the lemma {self.step.theorem} (replay its own certificate for the lemma)"] \
            if self.step.kind == "lemma" else []
        drawn = [f"{', '.join(sorted(self.complex))} (no real assumption) drawn complex"] if self.complex else []
        notes = "; ".join(n for n in [note, *lemma, *self.notes, *drawn] if n)
        return StepReport(self.step.id, self.step.kind, numeric, exact, points, error, self.step.rule, notes)

    def random_points(self) -> tuple:
        defined, undefined, worst, failed = 0, 0, mpmath.mpf(0), None
        used: list = []  # distinct (batch size, index values) with a defined point
        instances = 0
        for _ in range(self.ctx.points * 8):
            if instances >= self.ctx.points:
                break
            m, indices, lhs, rhs, constraints, leaves = self.instance()
            before = defined
            for _ in range(VALUES_PER_INSTANCE):
                values = self.point(leaves, constraints)
                if values is None:
                    break
                try:
                    left, right = evaluate(lhs, values), evaluate(rhs, values)
                    if self.step.kind == "le":
                        left, right = _real(left), _real(right)
                except Undefined:
                    undefined += 1
                    continue
                defined += 1
                scale = max(mpmath.mpf(1), abs(left), abs(right))
                error = (max(mpmath.mpf(0), (left - right) / scale) if self.step.kind == "le"
                         else abs(left - right) / scale)
                worst = max(worst, error)
                if error > TOLERANCE and failed is None:
                    failed = _describe(m if self.batch or self.indices else None, indices, values)
                if (m, tuple(indices.values())) not in used:
                    used.append((m, tuple(indices.values())))
            instances += defined > before
        if not defined:
            note = f"no admissible point where both sides are defined ({undefined} undefined)"
            return "unchecked", "not expressible", 0, None, note
        numeric = "fail" if failed else "pass"
        try:
            exact, exact_note = self.exact(used)
        except Exception as error:  # broad on purpose: SymEngine's own errors: the exact check cannot decide
            exact, exact_note = "not expressible", f"exact check: {type(error).__name__}: {error}"
        note = "; ".join(n for n in [f"fails at {failed}" if failed else "", exact_note] if n)
        return numeric, exact, defined, float(worst), note

    def exact(self, used: list) -> tuple[str, str]:
        if self.step.kind == "le":
            return "not expressible", ""
        instances = sorted(used)  # the smallest batches (the cheapest), with distinct sizes when there are
        chosen = [instances[0]] + [x for x in instances if x[0] != instances[0][0]][:1] + instances[1:]
        results = []
        for m, index_values in chosen[:EXACT_INSTANCES]:
            lhs, rhs, _ = self.explicit(m, dict(zip(self.indices, index_values, strict=False)), {})
            fixed = {s: v for s, v in self.ctx.fixed.items() if s not in self.batch and s not in self.indices}
            results.append(exact_zero(lhs.xreplace(fixed), rhs.xreplace(fixed), self.ctx.independent))
        for verdict in ("fail", "not expressible"):
            for result, note in results:
                if result == verdict:
                    return result, note
        return "pass", ""

    def witness_batch(self) -> tuple[int | None, list[str]]:
        """The batch size at the witness (``None`` when it needs one and has none) and what is wrong with it."""
        batch, name = self.ctx.cert.batch, self.ctx.cert.batch_symbol
        given = [v for k, v in self.step.witness.items() if isinstance(k, sympy.Symbol) and k.name == name]
        if isinstance(batch, int):
            return batch, [f"{name} = {v}, but the certificate's batch is {batch}" for v in given if v != batch]
        if not given:
            return (None, []) if self.batch or self.indices else (2, [])
        bad = [f"m = {v} is not a batch size" for v in given if not (v.is_Integer and v >= 1)]
        bad += [f"two batch sizes {given[0]} and {v}" for v in given[1:] if v != given[0]]
        return (int(given[0]) if not bad else None), bad

    def witness(self) -> tuple:
        witness = self.step.witness
        m, bad = self.witness_batch()
        if m is None:
            note = "; ".join(bad) if bad else "the witness does not give the batch size"
            return "fail", "not expressible", 0, None, note
        indices = {}
        for i in self.indices:
            if i not in witness and i not in self.ctx.fixed:
                return "fail", "not expressible", 0, None, f"the witness does not assign the index {i}"
            indices[i] = witness[i] if i in witness else self.ctx.fixed[i]
            if not (indices[i].is_Integer and 1 <= indices[i] <= m and admissible(indices[i], i.assumptions0)):
                return "fail", "not expressible", 0, None, f"the witness index {i} = {indices[i]} is not in 1..{m}"
        lhs, rhs, constraints = self.explicit(m, indices, {})
        values = {}
        for leaf in self.leaves([lhs, rhs, *constraints]):
            value = witness.get(leaf, self.ctx.fixed.get(leaf))
            if value is None:
                return "fail", "not expressible", 0, None, f"the witness does not assign {leaf}"
            if leaf in self.ctx.fixed and value != self.ctx.fixed[leaf]:
                bad.append(f"{leaf} = {value} but a hypothesis fixes {self.ctx.fixed[leaf]}")
            if not admissible(value, getattr(leaf, "assumptions0", {})):
                bad.append(f"{leaf} = {value} violates its assumptions")
            values[leaf] = value
        try:
            bad += [f"the hypothesis {c} fails" for c in constraints if not holds(c, values)]
        except Undefined:
            bad.append("a hypothesis is undefined at the witness")
        if bad:
            return "fail", "not expressible", 0, None, "the witness is not admissible: " + "; ".join(bad)
        try:
            exact, exact_note = exact_number(lhs, rhs, values)
        except Exception as error:  # broad on purpose: SymEngine's own errors: the exact check cannot decide
            exact, exact_note = "not expressible", f"exact check: {type(error).__name__}: {error}"
        try:
            gap = _separation(lhs, rhs, values)
        except Undefined as reason:
            return "fail", exact, 1, None, f"undefined at the witness ({reason})"
        if gap is None:
            return "fail", exact, 1, None, "lhs and rhs are not rigorously different at the witness"
        notes = [f"|lhs - rhs| >= {mpmath.nstr(gap, 6)} at the witness", exact_note]
        return "pass", exact, 1, None, "; ".join(n for n in notes if n)


def _leaves(exprs: list) -> set:
    """The symbols and indexed entries of explicit expressions (a shared subexpression is visited once)."""
    out: set = set()
    seen: set = set()
    stack = list(exprs)
    while stack:
        e = stack.pop()
        if e in seen:
            continue
        seen.add(e)
        if isinstance(e, (sympy.Symbol, sympy.Indexed)):
            out.add(e)
        elif isinstance(e, sympy.Limit):
            out |= (_leaves([e.args[0]]) - {e.args[1]}) | _leaves([e.args[2]])
        else:
            stack.extend(a for a in e.args if isinstance(a, sympy.Basic))
    return out


def _separation(lhs: Any, rhs: Any, values: dict) -> Any:
    """A rigorous lower bound of ``|lhs - rhs|`` at ``values`` (``None`` when it cannot be bounded away from 0)."""
    difference = lhs.xreplace(values) - rhs.xreplace(values)  # exact rational arithmetic where it can be
    if difference.is_Rational:
        return abs(mpmath.mpf(difference.p) / difference.q) if difference != 0 else None
    interval = evaluate(lhs, values, rigorous=True) - evaluate(rhs, values, rigorous=True)
    if interval.a > 0:
        return interval.a
    if interval.b < 0:
        return -interval.b
    return None


def _real(value: Any) -> Any:
    if isinstance(value, mpmath.mpc):
        if abs(value.imag) > TOLERANCE * max(1, abs(value)):
            raise Undefined("a non-real side of an inequality")
        return value.real
    return value


def _describe(m: int | None, indices: dict, values: dict) -> str:
    shown = ([] if m is None else [f"m = {m}"]) + [f"{k} = {v}" for k, v in indices.items()]
    shown += [f"{k} = {v}" for k, v in list(values.items())[:12]]
    return ", ".join(shown) + (", ..." if len(values) > 12 else "")


def check_certificate(certificate: Any, *, seed: int = 0, points: int = 5, verbose: bool = False) -> ReplayReport:
    """Replay a certificate (dict, JSON string or path) in this process; see the module docstring.

    ``ok`` is true when the certificate has steps and every step's numeric check passed and no exact check
    failed. ``verbose`` prints a line per step to stderr. Malformed input raises :class:`ReplayError`.
    """
    data = load_json(certificate)
    if isinstance(data, dict) and data.get("format") == BUNDLE_FORMAT:
        return _check_bundle(data, seed=seed, points=points, verbose=verbose)
    cert = read_certificate(data)
    try:  # the points depend on the certificate itself: they cannot be known when it is written
        digest = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:32]
    except (TypeError, ValueError) as error:
        raise ReplayError(f"the certificate is not JSON data: {error}") from None
    ctx = _context(cert, f"{seed}:{digest}", points)
    reports = []
    for step in cert.steps:
        try:
            report = _StepCheck(ctx, step).run()
        except Exception as error:  # broad on purpose: a library failure on one step leaves it unchecked, never passed
            report = StepReport(step.id, step.kind, "unchecked", "not expressible", 0, None, step.rule,
                                f"internal error while checking: {type(error).__name__}: {error}")
        reports.append(report)
        if verbose:
            print(f"step {report.id} ({report.kind}): numeric {report.numeric} at {report.points} points, "
                  f"exact {report.exact}" + (f" - {report.note}" if report.note else ""), file=sys.stderr)
    ignored = tuple(text for text, h in zip(cert.hypothesis_texts, cert.hypotheses, strict=False) if h is None)
    engines = (("sympy", sympy.__version__), ("symengine", symengine.__version__), ("mpmath", mpmath.__version__),
               ("python", sys.version.split()[0]))
    modules = tuple(sorted(n for n in sys.modules if n == "bnsym" or n.startswith("bnsym.")))
    return ReplayReport(ok=bool(reports) and all(r.passed for r in reports), theorem=cert.theorem, holds=cert.holds,
                        steps=tuple(reports), seed=seed, engines=engines, bnsym_modules=modules,
                        ignored_hypotheses=ignored)


BUNDLE_FORMAT = "bnsym-certificate-bundle/1"


def _check_bundle(data: dict, *, seed: int, points: int, verbose: bool) -> ReplayReport:
    """A bundle (``bnsym.Proof.certificate()``): one ``bnsym-certificate/1`` part per context of the proof.

    Every part is replayed; the report lists all their steps (ids as in the bundle) and is ok when every part is."""
    parts = data.get("parts")
    if not isinstance(parts, list) or not parts or not all(isinstance(p, dict) for p in parts):
        raise ReplayError("a certificate bundle needs a non-empty list of parts")
    if len(parts) > 1000:
        raise ReplayError("a certificate bundle of more than 1000 parts is refused")
    reports = [check_certificate(part, seed=seed, points=points, verbose=verbose) for part in parts]
    first = reports[0]
    return ReplayReport(ok=all(r.ok for r in reports), theorem=str(data.get("theorem", first.theorem)),
                        holds=data.get("holds", first.holds) if isinstance(data.get("holds"), (bool, type(None)))
                        else None, steps=tuple(s for r in reports for s in r.steps), seed=seed,
                        engines=first.engines,
                        bnsym_modules=tuple(sorted({m for r in reports for m in r.bnsym_modules})),
                        ignored_hypotheses=tuple(dict.fromkeys(h for r in reports for h in r.ignored_hypotheses)))
