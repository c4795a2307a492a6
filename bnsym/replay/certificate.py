"""Read a ``bnsym-certificate/1`` object into SymPy objects, refusing anything malformed.

The format (JSON; every expression is a SymPy ``srepr`` string read by :func:`~bnsym.replay.parse.parse_expr`)::

    {"format": "bnsym-certificate/1",           required
     "theorem": str,                             required
     "statement": str, "holds": bool | null,     optional (the replay echoes "holds")
     "batch": "m" | int >= 1,                    default "m": the name of the symbolic batch size, or a
                                                 concrete batch size
     "batch_symbol": "m",                        optional, with an integer batch: symbols of this name are
                                                 set to it (so Sum(f, (j, 1, m)) works at a concrete batch)
     "hypotheses": [{"text": str, "expr": srepr of a relation (Eq, Gt, ..., And) | null}],
     "definitions": [{"symbol": srepr of a Symbol, "value": srepr}
                     | {"symbol": srepr of an IndexedBase, "index": srepr of an integer Symbol
                        (or a Tuple of them), "value": srepr}],     in order, no forward references
     "steps": [{"id": int (unique; default its position), "kind": "eq" | "le" | "ne" | "lemma",
                "lhs": srepr, "rhs": srepr, "rule": str, "reason": str, "cites": [ids of earlier steps],
                "witness": {srepr of a Symbol or Indexed entry: srepr of a number},   ne: required
                "theorem": str},                                                      lemma: required
               ...],
     "narrative": [str]}                         ignored, like any other key

A hypothesis ``Eq(symbol, number)`` fixes that symbol; every other hypothesis constrains the random points;
one with ``"expr": null`` is reported as ignored. A symbol is matched by name and assumptions, so build an
``IndexedBase`` with its assumptions on the label (``IndexedBase('z', real=True)``): SymPy's ``srepr`` of
``IndexedBase(Symbol('z'), real=True)`` drops them.

>>> cert = read_certificate({"format": "bnsym-certificate/1", "theorem": "t", "batch": 2, "steps": [
...     {"id": 0, "kind": "eq", "lhs": "Integer(1)", "rhs": "Integer(1)"}]})
>>> cert.batch, cert.steps[0].lhs
(2, 1)
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sympy

from .parse import parse_expr
from .report import ReplayError

__all__ = ["FORMAT", "Certificate", "Definition", "Step", "read_certificate", "load_json"]

FORMAT = "bnsym-certificate/1"
MAX_FILE = 256 * 1024 * 1024  #: bytes of a certificate file
MAX_STEPS = 100_000
KINDS = ("eq", "le", "ne", "lemma")


@dataclass(frozen=True)
class Definition:
    """``symbol := value``, or ``symbol[index] := value`` for an :class:`~sympy.IndexedBase`."""

    symbol: Any
    value: Any
    index: tuple = ()


@dataclass(frozen=True)
class Step:
    """One claimed step: ``lhs = rhs`` (eq, lemma), ``lhs <= rhs`` (le) or ``lhs != rhs`` at a witness (ne)."""

    id: int
    kind: str
    lhs: Any
    rhs: Any
    rule: str | None = None
    witness: dict = field(default_factory=dict)
    theorem: str | None = None


@dataclass(frozen=True)
class Certificate:
    """A parsed certificate: its hypotheses (``None`` for text-only ones), definitions and steps."""

    theorem: str
    holds: bool | None
    batch: str | int
    batch_symbol: str
    hypotheses: tuple
    hypothesis_texts: tuple[str, ...]
    definitions: tuple[Definition, ...]
    steps: tuple[Step, ...]
    sizes: tuple[str, ...] = ()  # other size symbols (e.g. the width n): drawn in 1..3 like the batch size
    ranges: tuple[tuple[str, str], ...] = ()  # free index name -> the size symbol it ranges up to (else the batch)


def load_json(source: Any) -> dict:
    """A certificate object from a dict, a JSON string or a path.

    >>> load_json('{"format": "x"}')
    {'format': 'x'}
    """
    if isinstance(source, dict):
        return source
    if isinstance(source, (str, os.PathLike)) and not (isinstance(source, str) and source.lstrip().startswith("{")):
        path = Path(source)
        try:
            if path.stat().st_size > MAX_FILE:
                raise ReplayError(f"certificate file {path} is larger than {MAX_FILE} bytes")
            source = path.read_text(encoding="utf-8")
        except OSError as error:
            raise ReplayError(f"cannot read certificate {path}: {error.strerror or error}") from None
    if not isinstance(source, str):
        raise ReplayError(f"a certificate is a dict, a JSON string or a path, got {type(source).__name__}")
    try:
        data = json.loads(source)
    except (ValueError, RecursionError) as error:
        raise ReplayError(f"certificate is not valid JSON: {error}") from None
    if not isinstance(data, dict):
        raise ReplayError("a certificate is a JSON object")
    return data


def _text(data: dict, key: str, required: bool = True, where: str = "certificate") -> str | None:
    value = data.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise ReplayError(f"{where} field {key!r} must be a string, got {type(value).__name__}")
    return value


def _list(data: dict, key: str) -> list:
    value = data.get(key, [])
    if not isinstance(value, list):
        raise ReplayError(f"certificate field {key!r} must be a list")
    return value


def _defined_atoms(expr: Any) -> set:
    return expr.free_symbols | {i.base for i in expr.atoms(sympy.Indexed)}


def _definitions(entries: list) -> tuple[Definition, ...]:
    out: list[Definition] = []
    for n, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise ReplayError(f"definition {n} must be an object")
        symbol = parse_expr(_text(entry, "symbol"), f"definition {n} symbol")
        value = parse_expr(_text(entry, "value"), f"definition {n} value")
        index: tuple = ()
        if isinstance(symbol, sympy.IndexedBase):
            raw = parse_expr(_text(entry, "index"), f"definition {n} index")
            index = tuple(raw) if isinstance(raw, sympy.Tuple) else (raw,)
            if not all(isinstance(i, sympy.Symbol) and i.is_integer for i in index) or len(set(index)) != len(index):
                raise ReplayError(f"definition {n}: the index of {symbol} must be distinct integer symbols")
        elif not isinstance(symbol, sympy.Symbol):
            raise ReplayError(f"definition {n}: only a Symbol or an IndexedBase can be defined, got {symbol}")
        elif "index" in entry:
            raise ReplayError(f"definition {n}: a scalar definition has no index")
        if not isinstance(value, sympy.Expr):
            raise ReplayError(f"definition {n}: the value of {symbol} is not an expression")
        if any(d.symbol == symbol for d in out):
            raise ReplayError(f"definition {n}: {symbol} is defined twice")
        out.append(Definition(symbol, value, index))
    symbols = [d.symbol for d in out]
    for n, definition in enumerate(out):
        later = _defined_atoms(definition.value) & set(symbols[n:])
        if later:
            raise ReplayError(f"definition {n}: the value of {definition.symbol} uses "
                              f"{', '.join(sorted(map(str, later)))}, not defined before it")
    return tuple(out)


def _step(entry: Any, n: int, seen: set) -> Step:
    if not isinstance(entry, dict):
        raise ReplayError(f"step {n} must be an object")
    sid = entry.get("id", n)
    if type(sid) is not int or sid in seen:
        raise ReplayError(f"step {n}: id must be a unique integer, got {sid!r}")
    kind = entry.get("kind")
    if kind not in KINDS:
        raise ReplayError(f"step {sid}: kind must be one of {', '.join(KINDS)}, got {kind!r}")
    lhs = parse_expr(_text(entry, "lhs", where=f"step {sid}"), f"step {sid} lhs")
    rhs = parse_expr(_text(entry, "rhs", where=f"step {sid}"), f"step {sid} rhs")
    for side in (lhs, rhs):
        if not isinstance(side, sympy.Expr):
            raise ReplayError(f"step {sid}: both sides must be expressions, got {side}")
    cites = entry.get("cites", [])
    if not isinstance(cites, list) or any(type(c) is not int or c not in seen for c in cites):
        raise ReplayError(f"step {sid}: cites must list ids of earlier steps, got {cites!r}")
    witness: dict = {}
    if kind == "ne":
        raw = entry.get("witness")
        if not isinstance(raw, dict) or not raw:
            raise ReplayError(f"step {sid}: a 'ne' step needs a witness object")
        for key in raw:
            atom = parse_expr(key, f"step {sid} witness key")
            if not isinstance(atom, (sympy.Symbol, sympy.Indexed)):
                raise ReplayError(f"step {sid}: a witness assigns symbols or indexed entries, got {atom}")
            witness[atom] = parse_expr(_text(raw, key, where=f"step {sid} witness"), f"step {sid} witness value")
            if not (isinstance(witness[atom], sympy.Expr) and witness[atom].is_number):
                raise ReplayError(f"step {sid}: the witness value of {atom} must be a number")
    theorem = _text(entry, "theorem", where=f"step {sid}") if kind == "lemma" else None
    return Step(sid, kind, lhs, rhs, _text(entry, "rule", required=False, where=f"step {sid}"), witness, theorem)


def read_certificate(source: Any) -> Certificate:
    """Parse and validate a certificate (dict, JSON string or path); raises :class:`ReplayError` if malformed.

    >>> read_certificate({"format": "other"})
    Traceback (most recent call last):
    ...
    bnsym.replay.report.ReplayError: not a bnsym-certificate/1 certificate (format 'other')
    """
    data = load_json(source)
    if data.get("format") != FORMAT:
        raise ReplayError(f"not a {FORMAT} certificate (format {data.get('format')!r})")
    theorem = _text(data, "theorem")
    assert theorem is not None  # a required field is a string or refused
    holds = data.get("holds")
    if holds not in (True, False, None):
        raise ReplayError("certificate field 'holds' must be true, false or null")
    batch = data.get("batch", "m")
    if not ((type(batch) is int and batch >= 1) or (isinstance(batch, str) and batch.isidentifier())):
        raise ReplayError(f"certificate field 'batch' must be a symbol name or an integer >= 1, got {batch!r}")
    batch_symbol = batch if isinstance(batch, str) else data.get("batch_symbol", "m")
    if not (isinstance(batch_symbol, str) and batch_symbol.isidentifier()):
        raise ReplayError(f"certificate field 'batch_symbol' must be a symbol name, got {batch_symbol!r}")
    sizes = data.get("sizes", [])
    if not (isinstance(sizes, list) and len(sizes) <= 8 and all(isinstance(x, str) and x.isidentifier()
                                                                for x in sizes)):
        raise ReplayError("certificate field 'sizes' must be a list of at most 8 symbol names")
    ranges = data.get("ranges", {})
    if not (isinstance(ranges, dict) and len(ranges) <= 16 and all(
            isinstance(a, str) and a.isidentifier() and isinstance(b, str) and b in sizes for a, b in ranges.items())):
        raise ReplayError("certificate field 'ranges' must map index names to names listed in 'sizes'")
    hypotheses, texts = [], []
    for n, entry in enumerate(_list(data, "hypotheses")):
        if not isinstance(entry, dict):
            raise ReplayError(f"hypothesis {n} must be an object")
        text = _text(entry, "text", required=False) or ""
        expr = entry.get("expr")
        parsed = None if expr is None else parse_expr(expr if isinstance(expr, str) else 0, f"hypothesis {n}")
        if parsed is not None and not isinstance(parsed, sympy.logic.boolalg.Boolean):
            raise ReplayError(f"hypothesis {n} is not a relation: {parsed}")
        if parsed is sympy.false:
            raise ReplayError(f"hypothesis {n} is false")
        hypotheses.append(parsed)
        texts.append(text or str(parsed))
    definitions = _definitions(_list(data, "definitions"))
    entries = _list(data, "steps")
    if len(entries) > MAX_STEPS:
        raise ReplayError(f"more than {MAX_STEPS} steps")
    steps: list = []
    seen: set[str] = set()
    for n, entry in enumerate(entries):
        steps.append(_step(entry, n, seen))
        seen.add(steps[-1].id)
    return Certificate(theorem, holds, batch, batch_symbol, tuple(hypotheses), tuple(texts), definitions, tuple(steps),
                       tuple(sizes), tuple(sorted(ranges.items())))
