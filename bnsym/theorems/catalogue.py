"""The theorem catalogue and :func:`prove` (the math reference: ``docs/math.md``).

Every theorem is a unit in :mod:`bnsym.theorems.units`; :func:`prove` runs its proof through the kernel
(:mod:`bnsym.kernel`) and returns a :class:`~bnsym.theorems.proof.Proof`. A concrete batch size is the same
proof with ``m`` given (the kernel's universal instantiation of ``m``), and counterexamples are then batches
of that size.

>>> [t.name for t in theorems()][:3]
['scale_invariance_forward', 'scale_invariance_input_grad', 'scale_invariance_weight_grad']
>>> p = prove("scale_invariance_input_grad")
>>> p.holds, p.conditions
(True, (a > 0, ε = 0, m ≥ 2, batch not constant (σ > 0)))
>>> prove("scale_invariance_input_grad", assume={"a": "negative"}).holds
False
"""
from __future__ import annotations

import dataclasses
import decimal
import functools
import math
import numbers
from collections.abc import Mapping
from fractions import Fraction
from typing import Any, cast

import sympy
from sympy import S

from ..errors import ConditionError, TheoremError
from ..kernel import core as K
from ..kernel.errors import KernelError
from . import registry
from .batch import Options
from .checks import residual
from .proof import Condition, Proof, Theorem
from .record import LemmaUnavailable, Outcome
from .units.common import EPS_ANY

__all__ = ["theorems", "prove", "get_theorem", "check", "MAX_BATCH"]

MAX_BATCH = 10**6  # a concrete m is an instantiation of the general proof: any size up to this is fast


def theorems() -> tuple[Theorem, ...]:
    """The catalogue, in the order of the math reference.

    >>> len(theorems()) >= 14 and all(t.source for t in theorems())
    True
    """
    return tuple(registry.get(n) for n in registry.names())


def get_theorem(name: str) -> Theorem:
    """The catalogue entry called ``name``; :class:`~bnsym.errors.TheoremError` lists the names otherwise.

    >>> get_theorem("bn_jacobian").group
    2
    """
    known = registry.names()
    if not isinstance(name, str) or name not in known:
        raise TheoremError(f"unknown theorem {name!r}; known: {', '.join(known)}")
    return registry.get(name)


def exact_eps(eps) -> sympy.Expr:
    """``ε`` as an exact number: a float becomes the decimal it prints as (``0.01 → 1/100``), as the builders do.

    Non-finite, complex or negative values are refused.

    >>> exact_eps(0.01), exact_eps(sympy.Rational(1, 3)), exact_eps(0)
    (1/100, 1/3, 0)
    >>> exact_eps(float("inf"))
    Traceback (most recent call last):
    ...
    bnsym.errors.ConditionError: eps must be finite, got inf
    """
    if isinstance(eps, bool) or isinstance(eps, complex) or (isinstance(eps, sympy.Basic) and not eps.is_number):
        raise TheoremError(f"eps must be 0, a positive number or 'positive', got {eps!r}")
    if isinstance(eps, sympy.Basic):
        if eps.is_real is not True or eps.is_finite is not True:
            raise ConditionError(f"eps must be finite and real, got {eps}")
        value = sympy.nsimplify(eps) if isinstance(eps, sympy.Float) else eps
        if not value.is_Rational:
            raise TheoremError(f"eps must be a rational number, got {eps}")
    elif isinstance(eps, decimal.Decimal):
        if not eps.is_finite():
            raise ConditionError(f"eps must be finite, got {eps}")
        value = sympy.Rational(str(eps))
    elif isinstance(eps, (numbers.Rational, Fraction)):
        value = sympy.Rational(eps.numerator, eps.denominator)
    elif isinstance(eps, numbers.Real):
        if not math.isfinite(float(eps)):
            raise ConditionError(f"eps must be finite, got {eps}")
        value = sympy.Rational(repr(float(eps)))
    else:
        raise TheoremError(f"eps must be 0, a positive number or 'positive', got {eps!r}")
    if value < 0:
        raise ConditionError(f"eps must be >= 0, got {eps}")
    return value


def _parse_eps(eps, assume):
    if assume.get("eps") is not None:
        eps = assume["eps"]
    if isinstance(eps, str):
        if eps in ("0", "zero"):
            return S.Zero
        if eps in ("positive", "symbolic"):
            return "positive"
        raise TheoremError(f"eps must be 0, a positive number or 'positive', got {eps!r}")
    return exact_eps(eps)


def _options(thm: Theorem, batch, assume, eps, width) -> Options:
    if assume is not None and not isinstance(assume, Mapping):
        raise TheoremError(f"assume must be a dict such as {{'a': 'negative'}}, got {assume!r}")
    assume = dict(assume or {})
    for key in assume:
        if key not in ("a", "c", "eps", "batch", "coefficient"):
            raise TheoremError(f"unknown assumption {key!r}; use 'a', 'c', 'eps', 'batch' or 'coefficient'")
    sign = assume.get("a", assume.get("c", "positive"))
    if sign not in ("positive", "negative"):
        raise TheoremError(f"assume a/c must be 'positive' or 'negative', got {sign!r}")
    if sign == "negative" and not thm.scale:
        raise TheoremError(f"theorem {thm.name!r} has no scale a to assume negative")
    coef = assume.get("coefficient", "1/m")
    if coef not in ("1/m", "1/sqrt(m)"):
        raise TheoremError(f"coefficient must be '1/m' or '1/sqrt(m)', got {coef!r}")
    if coef != "1/m" and "coefficient" not in thm.options:
        takes = [n for n in registry.names() if "coefficient" in registry.get(n).options]
        raise TheoremError(f"the coefficient option belongs to {', '.join(takes)}")
    constant = assume.get("batch", "non-constant")
    if constant not in ("constant", "non-constant"):
        raise TheoremError(f"assume batch must be 'constant' or 'non-constant', got {constant!r}")
    if batch != "m":
        if isinstance(batch, bool) or not isinstance(batch, numbers.Integral):
            raise TheoremError(f"batch must be 'm' or an integer, got {batch!r}")
        if int(batch) < 2:
            raise ConditionError(f"batch normalization needs a batch of m >= 2 samples, got m = {batch}")
        if int(batch) > MAX_BATCH:
            raise ConditionError(f"batch = {batch} is above the limit of {MAX_BATCH} "
                                 "(bnsym.theorems.catalogue.MAX_BATCH)")
        batch = int(batch)
    if width is not None and (isinstance(width, bool) or not isinstance(width, numbers.Integral) or width < 1):
        raise TheoremError(f"width must be a positive integer, got {width!r}")
    parsed = _parse_eps(eps, assume)
    if parsed == 0 and EPS_ANY in thm.hypotheses:
        parsed = "any"  # one proof for every ε ≥ 0, ε = 0 included
    return Options(batch=batch, sign=sign, eps=parsed, width=int(width or 2), coefficient=coef,
                   constant=constant == "constant", witness_m=batch if batch != "m" else 3)


def _conditions(thm: Theorem, opts: Options) -> tuple[Condition, ...]:
    """The theorem's hypotheses as they read for ``opts`` (each condition knows how: :meth:`Condition.under`)."""
    return tuple(c for c in (cond.under(opts) for cond in thm.hypotheses) if c is not None)


def prove(name: str, *, batch: int | str = "m", assume: dict | None = None, eps=0,
          width: int | None = None) -> Proof:
    """Prove theorem ``name`` for symbolic ``m`` (``batch="m"``) or for a concrete batch size.

    ``assume={"a": "negative"}`` (scale theorems), ``{"batch": "constant"}``, ``{"coefficient": "1/sqrt(m)"}``
    (gradient_norm_bound); ``eps`` is 0, a positive number (floats are read as the decimal they print as) or
    ``"positive"`` (symbolic ``ε > 0``). ``width`` is accepted for compatibility (the proofs hold for any width).

    >>> prove("bn_jacobian", batch=4).holds
    True
    >>> prove("bn_jacobian", batch=1)
    Traceback (most recent call last):
    ...
    bnsym.errors.ConditionError: batch normalization needs a batch of m >= 2 samples, got m = 1
    """
    thm = get_theorem(name)
    opts = _options(thm, batch, assume, eps, width)
    base: dict[str, Any] = dict(name=thm.name, title=thm.title, statement=thm.statement,
                                statement_latex=thm.statement_latex, source=thm.source,
                                conditions=_conditions(thm, opts), batch=opts.batch)
    if opts.constant and (opts.eps_is_zero or opts.eps == "any" or not thm.constant_batch):
        return Proof(**base, holds=None, steps=(), method="not attempted",
                     reason="constant batch: σ = 0, so with ε = 0 the normalization x̂ = (z − μ)/σ is undefined"
                     if opts.eps_is_zero or opts.eps == "any"
                     else "constant batch: the statement is about a non-degenerate batch")
    out = _general(thm.name, dataclasses.replace(opts, batch="m"))
    if opts.batch != "m" and out.holds is True:
        out = _specialize(thm, out, opts)
    return Proof(**base, holds=out.holds, steps=tuple(out.steps), method=out.method, reason=out.reason,
                 replacement=out.replacement, replacement_latex=out.replacement_latex,
                 counterexample=out.counterexample, facts=tuple(out.facts), lemmas=out.lemmas)


@functools.lru_cache(maxsize=256)
def _general(name: str, opts: Options) -> Outcome:
    """The general-``m`` proof (cached: a concrete ``m`` reuses it)."""
    try:
        general = registry.get(name).general
        assert general is not None  # every registered unit proves its theorem for a general m
        return general(opts)
    except (KernelError, LemmaUnavailable) as exc:
        return Outcome(None, [], reason=f"the proof could not be completed: {exc}")


def _specialize(thm: Theorem, out: Outcome, opts: Options) -> Outcome:
    """The general-``m`` conclusion at ``m = opts.batch``, by the kernel's instantiation of ``m``."""
    from .record import Step

    claims = thm.claims(dataclasses.replace(opts, batch="m")) if thm.claims else []
    facts = [K.conclude(c, out.facts) for c in claims]
    special = [K.specialize(f, cast(int, opts.batch)) for f in facts if isinstance(f.context.m, sympy.Symbol)]
    steps = list(out.steps) + [Step(f.relation, f"m = {opts.batch}: the general-m statement with m given", True,
                                    f.rule, f) for f in special]
    return dataclasses.replace(out, steps=steps, facts=list(out.facts) + special,
                               method=f"general m, specialised to m = {opts.batch} (kernel instantiation)")


def check(name: str, draw: dict) -> float:
    """Numeric relative residual of theorem ``name`` on one draw (see :func:`bnsym.theorems.checks.residual`).

    >>> import numpy as np
    >>> check("bn_jacobian", {"u": np.array([[1.0], [2.0], [4.0]]), "W": np.array([1.5])}) < 1e-12
    True
    """
    get_theorem(name)
    return residual(name, _check_draw(draw))


_DRAW_KEYS = {"u", "W", "a", "c", "gamma", "beta", "g", "eta", "eps", "b", "w", "x"}


def _check_draw(draw) -> dict:
    """A draw for :func:`check`: ``u`` (m×n, m ≥ 2), ``W`` (n), the other keys finite reals (``g``: m, ``w``: any
    length ≥ 2); anything else is a :class:`~bnsym.errors.TheoremError`, never a raw exception."""
    import numpy as np

    if not isinstance(draw, Mapping):
        raise TheoremError(f"a draw is a dict such as {{'u': [[1.0], [2.0]], 'W': [1.0]}}, got {type(draw).__name__}")
    unknown = set(draw) - _DRAW_KEYS
    if unknown:
        raise TheoremError(f"unknown draw keys {sorted(map(str, unknown))}; known: {sorted(_DRAW_KEYS)}")
    out = {}
    for key, value in draw.items():
        try:
            arr = np.asarray(value)
            if arr.dtype.kind not in "iuf" or arr.dtype == bool:
                raise TypeError
            arr = arr.astype(float)
        except (TypeError, ValueError, OverflowError):
            raise TheoremError(f"draw[{key!r}] must be real numbers, got {value!r}"[:200]) from None
        if not np.all(np.isfinite(arr)):
            raise TheoremError(f"draw[{key!r}] must be finite")
        out[key] = arr if arr.ndim else float(arr)
    u, W = out.get("u"), out.get("W")
    if not isinstance(u, np.ndarray) or u.ndim != 2 or u.shape[0] < 2 or u.shape[1] < 1 or u.size > 10_000:
        raise TheoremError("draw['u'] must be an m×n array with m ≥ 2 samples (at most 10000 entries)")
    if not isinstance(W, np.ndarray) or W.shape != (u.shape[1],):
        raise TheoremError(f"draw['W'] must have the n = {u.shape[1]} weights of u's columns")
    if "g" in out and np.shape(out["g"]) != (u.shape[0],):
        raise TheoremError(f"draw['g'] must have one entry per sample (m = {u.shape[0]})")
    for key in ("a", "c", "gamma", "beta", "eta", "eps", "b", "x"):
        if key in out and np.ndim(out[key]) != 0:
            raise TheoremError(f"draw[{key!r}] must be a number")
    if out.get("eps", 0.0) < 0:
        raise TheoremError("draw['eps'] must be >= 0")
    return out
