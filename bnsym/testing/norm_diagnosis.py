"""The likely cause of a failure of :func:`~bnsym.testing.check_normalization`, named only on evidence.

A known mistake of :func:`~bnsym.testing.norm_mistakes.mistakes` is named when it reproduces the output of the
implementation on the failing batch *and* on :data:`CONFIRM` further non-degenerate batches where it differs
from the correct output (the kit runs the implementation on them): a mistake that matches one batch by
coincidence (a per-array mean looks like a missing ``ε`` on some batches) is not named. When no mistake survives,
the message says so instead of guessing.

>>> CONFIRM
3
"""
from __future__ import annotations

import numpy as np

from . import norm_reference as ref
from .adapter_base import ImplementationCrash
from .kinds import Spec
from .norm_mistakes import mistakes
from .tolerance import Bound

__all__ = ["CONFIRM", "Diagnosis", "diagnose", "confirm_cases"]

CONFIRM = 3
"""How many further batches a mistake must reproduce before it is named."""
_INDEX = {"dx": 0, "dgamma": 1, "dbeta": 2}


def confirm_cases(spec: Spec, impl, like, count: int = CONFIRM) -> list:
    """``count`` fixed, well-conditioned cases of the failing case's shape (seeded: the same on every run),
    rounded to the implementation's dtype.

    >>> from bnsym.testing.kinds import Spec
    >>> from bnsym.testing.norm_adapters import NormFunctions
    >>> from bnsym.testing.norm_mistakes import implementations_of
    >>> ref_impl = implementations_of("batch")["reference"]
    >>> len(confirm_cases(Spec("batch", (4, 2)), NormFunctions(ref_impl.forward, ref_impl.backward, eps=1e-5), None))
    3
    """
    from .norm_adapters import round_to
    from .norm_properties import NormCase

    rng = np.random.default_rng(20260)
    out = []
    for k in range(count):
        def r(a):
            return (round_to(a, impl.dtype))
        x = r(rng.normal(size=spec.shape) * (1.0 + k) + rng.normal(size=spec.shape[1:2]).reshape(
            [1, -1] + [1] * (len(spec.shape) - 2)) * (0.5 + k))
        pshape = spec.param_shape
        gamma = None if like is None or like.gamma is None else r(
            rng.choice([-1, 1], pshape) * rng.uniform(0.4, 2.5, pshape))
        beta = None if like is None or like.beta is None else r(rng.uniform(-1, 1, pshape))
        c = spec.shape[1]
        rm = None if like is None or like.running_mean is None else r(rng.uniform(-1, 1, c))
        rv = None if like is None or like.running_var is None else r(rng.uniform(0.5, 2, c))
        if like is None and impl.affine:
            gamma = r(rng.uniform(0.4, 2.5, pshape))
            beta = r(rng.uniform(-1, 1, pshape)) if impl.bias else None
        out.append(NormCase(spec, x, gamma, beta, r(rng.normal(size=spec.shape)), rm, rv, 2.0))
    return out


def _matches(actual, candidate, expected, b: Bound) -> bool:
    actual, candidate = np.asarray(actual, np.float64), np.asarray(candidate, np.float64)
    if actual.shape != candidate.shape or candidate.shape != np.shape(expected):
        return False
    with np.errstate(all="ignore"):
        differs = not b.holds(candidate, expected).all()
        return bool(differs and ((candidate == actual) | b.scaled(4).holds(actual, candidate)).all())


def _candidate(m, case, quantity: str, eps: float):
    args = (case.spec, case.x, case.gamma, case.beta, eps)
    with np.errstate(all="ignore"):
        if m.eval:
            r = (case.running_mean, case.running_var)
            if quantity == "y":
                return m.forward(*args, *r)
            return m.backward(case.spec, case.dy, *args[1:], *r)[_INDEX[quantity]]
        return m.forward(*args) if quantity == "y" else m.backward(case.spec, case.dy, *args[1:])[_INDEX[quantity]]


def _correct(impl, case, quantity: str):
    s, r = case.spec, (case.running_mean, case.running_var, impl.eps)
    if impl.training:
        return (ref.forward(s, case.x, case.gamma, case.beta, impl.eps) if quantity == "y"
                else ref.backward(s, case.dy, case.x, case.gamma, case.beta, impl.eps)[_INDEX[quantity]])
    return (ref.eval_forward(s, case.x, case.gamma, case.beta, *r) if quantity == "y"
            else ref.eval_backward(s, case.dy, case.x, case.gamma, case.beta, *r)[_INDEX[quantity]])


class Diagnosis:
    """Called (lazily, only when the message is shown): ``[(name, cause)]`` of the mistakes that survive;
    ``verdict`` then says why none was named."""

    verdict: str | None = None

    def __init__(self, impl, case, quantity: str, actual, b: Bound, tol) -> None:
        self.args = (impl, case, quantity, actual, b, tol)

    def __call__(self) -> list:
        from .norm_properties import bounds

        impl, case, quantity, actual, b, tol = self.args
        pool = [m for m in mistakes(case.spec.kind).values() if m.eval == (not impl.training)]
        expected = _correct(impl, case, quantity)
        alive = [m for m in pool if _matches(actual, _candidate(m, case, quantity, impl.eps), expected, b)]
        if not alive:
            self.verdict = ("likely cause: no known mistake explains this output (see bnsym.testing.mistakes"
                            f"({case.spec.kind!r}))")
            return []
        informative = {m.name: 0 for m in alive}
        for extra in confirm_cases(case.spec, impl, case):
            try:
                out = impl.run(extra.spec, extra.x, extra.gamma, extra.beta, dy=None if quantity == "y" else extra.dy,
                               running=None if impl.training else (extra.running_mean, extra.running_var))
            except ImplementationCrash:
                break
            got = out["y"] if quantity == "y" else out["grads"][_INDEX[quantity]]
            if got is None:
                break
            good = _correct(impl, extra, quantity)
            eb = bounds(impl, extra, tol)[quantity]
            for m in list(alive):
                cand = _candidate(m, extra, quantity, impl.eps)
                if eb.holds(cand, good).all():  # this batch cannot tell the mistake from correct code
                    continue
                if _matches(got, cand, good, eb):
                    informative[m.name] += 1
                else:
                    alive.remove(m)
        named = [m for m in alive if informative[m.name] >= 2]
        if not named:
            tried = ", ".join(m.name for m in pool if m.name in informative)
            self.verdict = (f"likely cause: undecided - {tried} reproduce{'s' if ',' not in tried else ''} the failing "
                            f"batch but not the kit's {CONFIRM} further batches: no known mistake explains it")
        return [(m.name, m.cause) for m in named]


def diagnose(impl, case, quantity: str, actual, b: Bound, tol) -> Diagnosis:
    """The lazy diagnosis of a failing ``quantity`` (``"y"``, ``"dx"``, ``"dgamma"``, ``"dbeta"``)."""
    return Diagnosis(impl, case, quantity, actual, b, tol)
