"""Evidence before a name: a known mistake that reproduces ``check_batchnorm``'s failing batch is named only if
it also reproduces the implementation's output on further well-conditioned batches where it differs from the
correct output (:data:`BATCHES` of them, at least two informative).

A mistake that only coincides with the output on one (shrunk, often tiny) batch is dropped: a per-array mean
instead of a per-feature mean matches "ε ignored" or "mean term dropped" on some batches, on none of these.

>>> BATCHES
3
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from . import reference as ref
from .adapter_base import Adapter, ImplementationCrash
from .case import BNCase
from .implementations import bn_implementations
from .tolerance import Tolerance

__all__ = ["BATCHES", "confirmed", "batches_for"]

BATCHES = 3
_INDEX = {"dx": 0, "dgamma": 1, "dbeta": 2}


def batches_for(impl: Adapter, features: int) -> list[BNCase]:
    """The further batches (seeded, rounded to the implementation's dtype), ``m = 7`` samples.

    >>> from bnsym.testing.adapters import adapt
    >>> r = bn_implementations["reference"]
    >>> [c.x.shape for c in batches_for(adapt(forward=r.forward, backward=r.backward), 2)]
    [(7, 2), (7, 2), (7, 2)]
    """
    rng = np.random.default_rng(20262)
    out = []
    for k in range(BATCHES):
        def r(a):
            return (np.asarray(a, np.float64).astype(impl.dtype).astype(np.float64))
        x = r(rng.normal(size=(7, features)) * (1 + k) + rng.normal(size=features) * (1 + k))
        gamma = r(rng.choice([-1.0, 1.0], features) * rng.uniform(0.4, 2.5, features))
        out.append(BNCase(x, gamma, r(rng.uniform(-1, 1, features)), r(rng.normal(size=(7, features)))))
    return out


def _value(fn: tuple, quantity: str, case: BNCase, eps: float):
    with np.errstate(all="ignore"):
        if quantity == "y":
            return fn[0](case.x, case.gamma, case.beta, eps)
        return fn[1](case.dy, case.x, case.gamma, case.beta, eps)[_INDEX[quantity]]


def confirmed(impl: Adapter, quantity: str, eps: float, finder: Callable[[], list], tol: Tolerance,
              features: int) -> Callable:
    """A callable: the causes ``finder()`` finds that the further batches confirm (see the module docstring)."""
    from .diagnosis import _matches
    from .properties import _bounds

    def find() -> list:
        found = finder()
        if not found or quantity not in ("y", *_INDEX):
            return found
        keep = []
        for name, cause in found:
            entry = bn_implementations.get(name)
            if entry is None:
                keep.append((name, cause))
                continue
            informative, ok = 0, True
            for case in batches_for(impl, features):
                try:
                    actual = (impl.forward(case.x, case.gamma, case.beta, eps) if quantity == "y"
                              else impl.backward(case.dy, case.x, case.gamma, case.beta, eps)[_INDEX[quantity]])
                except ImplementationCrash:
                    return found
                expected = _value((ref.forward, ref.backward), quantity, case, eps)
                candidate = _value((entry.forward, entry.backward), quantity, case, eps)
                if np.shape(actual) != np.shape(expected):  # e.g. summed over the wrong axis: shape (m,)
                    same = np.shape(candidate) == np.shape(actual) and np.allclose(actual, candidate, rtol=1e-6)
                    informative, ok = (informative + 1, ok) if same else (informative, False)
                    if not ok:
                        break
                    continue
                bound = _bounds(impl, case, tol, eps)[quantity]
                if bound.holds(candidate, expected).all():
                    continue  # this batch cannot tell the mistake from correct code
                if _matches(actual, candidate, expected, bound):
                    informative += 1
                else:
                    ok = False
                    break
            if ok and informative >= 2:
                keep.append((name, cause))
        if not keep:
            names = ", ".join(name for name, _ in found)
            return [("undecided", f"undecided - {names} reproduce{'s' if ',' not in names else ''} the failing "
                     f"batch but not the kit's {BATCHES} further batches: no known mistake explains it")]
        return keep

    return find
