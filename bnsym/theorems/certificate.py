"""A proof as data, for the independent checker :func:`bnsym.replay`.

``certificate(proof)`` gives a JSON-ready dict, ``{"format": "bnsym-certificate-bundle/1", "theorem", "holds",
"parts": [...]}``: one ``bnsym-certificate/1`` part per kernel context the proof's steps were checked in (the
batch size, the definitions ``μ := …``, ``x̂_t := …``, the fixed values such as ``ε = 0``), each step with the
relation the kernel checked (after the rewrites by the lemmas it cites) in SymPy's ``srepr``, its rule and, for
``≠``, its witness. Steps that rely on a hypothesis of the theorem (e.g. an eigenpair) are listed in
``narrative`` rather than replayed.

>>> from bnsym.theorems import prove
>>> cert = prove("bn_jacobian").certificate()
>>> cert["format"], cert["holds"], len(cert["parts"]) >= 1
('bnsym-certificate-bundle/1', True, True)
"""
from __future__ import annotations

import sympy

from ..kernel import core as K

__all__ = ["certificate", "FORMAT", "PART_FORMAT"]

FORMAT = "bnsym-certificate-bundle/1"
PART_FORMAT = "bnsym-certificate/1"


def _srepr(expr) -> str:
    return sympy.srepr(sympy.sympify(expr))


def _plain_symbols(ctx: K.Context) -> dict:
    """Defined quantities that are not symbols (``∂ℓ/∂σ²``) as plain symbols, for the certificate."""
    out = {}
    for d in ctx.definitions:
        if not isinstance(d.symbol, (sympy.Symbol, sympy.IndexedBase)):
            name = "".join(c if c.isalnum() else "_" for c in str(d.symbol)).strip("_")
            out[d.symbol] = sympy.Symbol(f"named_{name}", real=True)
    return out


def _points(ctx: K.Context) -> dict:
    """Evaluation points ``V[t] := c·B[t]``: ``V -> (B, c)``. The replay format has no evaluation points, so a
    derivative at one is written by the chain rule: ``∂f(V)/∂V_r |_{V = cB} = (1/c)·∂f(cB)/∂B_r``."""
    out = {}
    for d in ctx.definitions:
        if d.at and d.index is not None and isinstance(d.value, sympy.Mul):
            names = d.index if isinstance(d.index, tuple) else (d.index,)  # V[t, s] := c·W[t, s] too
            bases = [f for f in d.value.args if isinstance(f, sympy.Indexed) and f.indices == names]
            if len(bases) == 1:
                c = d.value / bases[0]
                if not set(names) & c.free_symbols:
                    out[d.symbol] = (bases[0].base, c)
    return out


def _at_points(expr, points: dict):
    if not points:
        return expr

    def rewrite(der):
        factor, variables = sympy.Integer(1), []
        for v, count in der.variable_count:
            if isinstance(v, sympy.Indexed) and v.base in points:
                base, c = points[v.base]
                v = base[v.indices]
                factor *= c**count
            variables.append((v, count))
        return sympy.Derivative(der.expr, *variables) / factor if factor != 1 else der
    return expr.replace(lambda e: isinstance(e, sympy.Derivative), rewrite)


def _ordered(definitions) -> list:
    """Definitions in dependency order (an evaluation point such as ``V := aW`` first where it is used)."""
    out, pending = [], list(definitions)
    while pending:
        for d in pending:
            uses = {e.symbol for e in pending if e is not d and (d.value.has(e.symbol) or any(
                isinstance(x, sympy.Indexed) and x.base == e.symbol for x in d.value.atoms(sympy.Indexed)))}
            if not uses:
                out.append(d)
                pending.remove(d)
                break
        else:  # a cycle cannot happen in a kernel context; keep the order
            out.extend(pending)
            break
    return out


def _bounds(ctx: K.Context) -> set:
    """The size symbols other than the batch that bound a sum in the definitions (the width ``n`` of BN's
    weights, the input width ``d`` of the weights feeding LayerNorm)."""
    return {str(lim[2]) for d in ctx.definitions for total in d.value.atoms(sympy.Sum) for lim in total.limits
            if isinstance(lim[2], sympy.Symbol) and lim[2] != ctx.m}


def _context_part(proof, ctx: K.Context) -> dict:
    batch = int(ctx.m) if ctx.concrete else str(ctx.m)
    plain = _plain_symbols(ctx)
    hyps: list[dict[str, str | None]] = [{"text": f"{sym} = {val}", "expr": _srepr(sympy.Eq(sym, val, evaluate=False))}
                                         for sym, val in ctx.values]
    hyps += [{"text": text, "expr": None} for text in ctx.hypotheses]
    defs = []
    for d in _ordered(ctx.definitions):
        entry = {"symbol": _srepr(plain.get(d.symbol, d.symbol)), "value": _srepr(d.value.xreplace(plain))}
        if d.index is not None:
            entry["index"] = _srepr(d.index)
        defs.append(entry)  # an evaluation point V := aW: the replay's chain rule treats ∂/∂V as at V
    sizes = sorted({str(upper) for item in ctx.free if isinstance(item, tuple) for upper in [item[1]]})
    ranges = {str(item[0]): str(item[1]) for item in ctx.free if isinstance(item, tuple)}
    narrative = ([f"a derivative at the evaluation point {sym} := {d}·{b} is written (1/{d})·∂/∂{b} (chain rule)"
                  for sym, (b, d) in _points(ctx).items()])
    return {"format": PART_FORMAT, "theorem": proof.name, "statement": proof.statement, "holds": proof.holds,
            "_points": _points(ctx), "batch": batch,
            "sizes": sorted(set(sizes) | _bounds(ctx)),
            "ranges": ranges, "hypotheses": hyps, "definitions": defs, "steps": [], "narrative": narrative,
            "_plain": plain}


def _step(fact: K.Fact, reason: str, n: int, plain: dict, points: dict) -> dict | None:
    cites = [c for c in fact.cites if c.kind == "eq"]
    if any(c.rule.startswith("hypothesis") for c in fact.cites) or fact.rule.startswith("hypothesis"):
        return None
    lhs, rhs = fact.lhs, fact.rhs
    if isinstance(lhs, sympy.Limit):  # continuity: the value at the point
        expr, sym, point = lhs.args[0], lhs.args[1], lhs.args[2]
        lhs = expr.xreplace({sym: point})
    else:
        lhs, rhs = K._rewrite(lhs, cites), K._rewrite(rhs, cites)
    lhs, rhs = _at_points(lhs, points).xreplace(plain), _at_points(rhs, points).xreplace(plain)
    out = {"id": n, "kind": fact.kind if fact.kind != "gt" else "ne", "lhs": _srepr(lhs), "rhs": _srepr(rhs),
           "rule": fact.rule, "reason": reason, "cites": []}
    if fact.witness:
        out["witness"] = {_srepr(k): _srepr(v) for k, v in fact.witness.items()}
    return out


def certificate(proof) -> dict:
    """The certificate of ``proof`` (a :class:`~bnsym.theorems.proof.Proof`)."""
    parts: dict = {}
    n = 0
    for step in proof.steps:
        fact = step.fact
        if fact is None:
            continue
        key = id(fact.context)
        if key not in parts:
            parts[key] = _context_part(proof, fact.context)
        entry = _step(fact, step.reason, n, parts[key]["_plain"], parts[key]["_points"])
        if entry is None:
            parts[key]["narrative"].append(f"{step.reason} (relies on a hypothesis of the theorem: not replayed)")
            continue
        parts[key]["steps"].append(entry)
        n += 1
    return {"format": FORMAT, "theorem": proof.name, "statement": proof.statement, "holds": proof.holds,
            "batch": proof.batch if isinstance(proof.batch, int) else "m",
            "conditions": [c.text for c in proof.conditions], "lemmas": list(proof.lemmas),
            "narrative": [t for p in parts.values() if not p["steps"] for t in p["narrative"]],
            "parts": [{k: v for k, v in p.items() if not k.startswith("_")} for p in parts.values() if p["steps"]]}
