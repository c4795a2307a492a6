"""Likely causes: which known mistake reproduces the output an implementation actually gave.

A mistake is named when its output matches the actual output (within 4× the tolerance) while differing from the
correct one: then the failure message quotes it. Training-mode quantities are matched against the mistakes in
:data:`~bnsym.testing.implementations.bn_implementations`; running statistics against the other momentum
convention and the other variance estimator; inference mode against the usual slips.

>>> import numpy as np
>>> from bnsym.testing import reference
>>> from bnsym.testing.tolerance import Tolerance
>>> x, gamma, beta = np.array([[0.0], [1.0], [5.0]]), np.array([2.0]), np.array([0.0])
>>> unbiased = bn_implementations["unbiased_variance"].forward(x, gamma, beta, 1e-5)
>>> bound = Tolerance().bound(np.float64, 3, np.array([10.0]))
>>> [name for name, _ in training_causes("y", unbiased, x, gamma, beta, None, 1e-5, bound)]
['unbiased_variance']
"""
from __future__ import annotations


import numpy as np

from . import reference as ref
from .implementations import bn_implementations
from .tolerance import Bound

__all__ = ["training_causes", "running_causes", "inference_causes", "format_causes"]

_COMPONENT = {"dx": 0, "dgamma": 1, "dbeta": 2}


def _matches(actual: np.ndarray, candidate: np.ndarray, expected: np.ndarray, bound: Bound) -> bool:
    candidate, actual = np.asarray(candidate, np.float64), np.asarray(actual, np.float64)
    if candidate.shape != actual.shape:
        return False
    with np.errstate(invalid="ignore"):
        same = (candidate == actual) | (np.isnan(candidate) & np.isnan(actual))  # also inf/nan where both are
        differs = candidate.shape != np.shape(expected) or not bound.holds(candidate, expected).all()
        return bool(differs and (same | bound.scaled(4).holds(actual, candidate)).all())


def training_causes(
    quantity: str, actual: np.ndarray, x, gamma, beta, dy, eps: float, bound: Bound
) -> list[tuple[str, str]]:
    """``(name, cause)`` of the mistakes in ``bn_implementations`` that reproduce ``actual``, for ``quantity``
    one of ``"y"``, ``"dx"``, ``"dgamma"``, ``"dbeta"``."""
    if quantity == "y":
        expected = ref.forward(x, gamma, beta, eps)
    else:
        expected = ref.backward(dy, x, gamma, beta, eps)[_COMPONENT[quantity]]
    found = []
    for name, impl in bn_implementations.items():
        if impl.correct:
            continue
        with np.errstate(all="ignore"):
            if quantity == "y":
                candidate = impl.forward(x, gamma, beta, eps)
            else:
                candidate = impl.backward(dy, x, gamma, beta, eps)[_COMPONENT[quantity]]
        if _matches(actual, candidate, expected, bound):
            found.append((name, impl.cause))
    return found


_FORMULA = {
    "pytorch": "new = (1 - momentum)·old + momentum·batch (PyTorch)",
    "keras": "new = momentum·old + (1 - momentum)·batch (Keras)",
}


def running_causes(
    quantity: str,
    actual: np.ndarray,
    running_mean,
    running_var,
    x,
    momentum: float,
    convention: str,
    unbiased: bool,
    bound: Bound,
) -> list[tuple[str, str]]:
    """Causes for a wrong running ``"mean"`` or ``"var"``: the other momentum convention, the other variance."""
    index = 0 if quantity == "mean" else 1
    expected = ref.running_update(running_mean, running_var, x, momentum, convention=convention,
                                  unbiased=unbiased)[index]
    other = "keras" if convention == "pytorch" else "pytorch"
    variants = []
    for conv in (convention, other):
        for unb in (unbiased, not unbiased):
            if (conv, unb) == (convention, unbiased):
                continue
            parts = []
            if conv != convention:
                parts.append(f"running statistics updated with the other momentum convention: {_FORMULA[conv]} "
                             f"where {_FORMULA[convention]} was expected")
            if unb != unbiased:
                parts.append(
                    "running variance updated with the "
                    f"{'unbiased (divide by m - 1)' if unb else 'biased (divide by m)'}"
                    f" batch variance where the {'unbiased' if unbiased else 'biased'} one was expected")
            name = "keras_momentum" if conv == "keras" and convention == "pytorch" and unb == unbiased else (
                "running_var_biased" if conv == convention and not unb and unbiased else "running_convention")
            candidate = ref.running_update(running_mean, running_var, x, momentum, convention=conv, unbiased=unb)
            variants.append((len(parts), name, "; and ".join(parts), candidate[index]))
    found = [(n, name, cause) for n, name, cause, cand in variants if _matches(actual, cand, expected, bound)]
    fewest = min((n for n, _, _ in found), default=0)  # the simplest explanation: one slip before two
    return [(name, cause) for n, name, cause in found if n == fewest]


def inference_causes(
    actual: np.ndarray, x, running_mean, running_var, gamma, beta, eps: float, bound: Bound
) -> list[tuple[str, str]]:
    """Causes for a wrong inference-mode output."""
    expected = ref.inference_forward(x, running_mean, running_var, gamma, beta, eps)
    variants = [
        ("inference_batch_statistics",
         "inference mode normalizes with the batch statistics instead of the running statistics",
         ref.forward(x, gamma, beta, eps)),
        ("inference_eps_outside_sqrt",
         "ε added outside the square root in inference mode: (x - running_mean)/(√running_var + ε)",
         gamma * (np.asarray(x, np.float64) - running_mean) / (np.sqrt(running_var) + eps) + beta),
    ]
    return [(name, cause) for name, cause, cand in variants if _matches(actual, cand, expected, bound)]


def format_causes(causes: list[tuple[str, str]], *, registry: bool = True) -> str | None:
    """The ``likely cause`` lines of a failure message (``None`` when no known mistake matches).

    >>> print(format_causes([("eps_outside_sqrt", "ε added outside the square root")]))
    likely cause: ε added outside the square root [bn_implementations['eps_outside_sqrt']]
    """
    if not causes:
        return None
    names = list(dict.fromkeys(name for name, _ in causes))
    if len(names) > 3:
        return (f"likely cause: undecided - {len(names)} known mistakes reproduce this output on this batch "
                f"({', '.join(names)})")
    seen, lines = set(), []
    for name, cause in causes:
        if name in seen:
            continue
        seen.add(name)
        tag = f" [bn_implementations['{name}']]" if registry and name in bn_implementations else ""
        lines.append(f"likely cause: {cause}{tag}")
    return "\n".join(lines)
