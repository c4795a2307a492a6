"""Hypothesis strategies for batch-norm inputs, built to avoid the traps of docs/math.md §10.

- :func:`batches`: shape ``(m, features)`` with ``m ≥ 2`` (``m = 2`` included), square and non-square shapes,
  centred batches, wide value ranges and nearly constant batches far from 0.
- :func:`gammas`: ``|γ|`` kept away from 0 and 1 (at least 1/8 from 1) (``γ = 1`` hides a missing ``γ``), both signs.
- :func:`upstream_gradients`: random ``g``, not all ones (all ones makes the true ``∂ℓ/∂x`` and ``∂ℓ/∂γ`` zero).
- :func:`scales`: ``a = ±2^k`` (exact in binary floating point), positive or negative.
- :func:`bn_cases`: all of it at once, as a :class:`~bnsym.testing.case.BNCase`.
- :func:`informative_cases`: fixed cases the kit checks before Hypothesis draws anything, so that even a budget
  of one example is informative (Hypothesis's first example is the simplest one: ``x = 0``, ``β = 0``).

>>> from hypothesis import find
>>> case = find(bn_cases(features=3), lambda c: True, settings=_ONE)
>>> case.x.shape[1], case.dy.shape == case.x.shape, case.gamma.shape
(3, True, (3,))
>>> find(scales(positive=False), lambda a: True, settings=_ONE) < 0
True
"""
from __future__ import annotations

import functools
from typing import Literal

import hypothesis

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from ..errors import KitUsageError
from .case import BNCase

__all__ = ["batches", "gammas", "betas", "upstream_gradients", "scales", "running_statistics", "bn_cases",
           "informative_cases", "INFORMATIVE_SCALE"]

_ONE = hypothesis.settings(max_examples=1, phases=[hypothesis.Phase.generate], database=None)  # for the doctests

Width = Literal[32, 64]  # the float widths the kit draws in
_WIDTHS: dict[np.dtype, Width] = {np.dtype(np.float32): 32, np.dtype(np.float64): 64}


def _width(dtype) -> Width:
    try:
        return _WIDTHS[np.dtype(dtype)]
    except (KeyError, TypeError):
        raise KitUsageError(f"dtype must be float32 or float64, got {dtype!r}") from None


def _cast(a: np.ndarray, dtype) -> np.ndarray:
    """Round to ``dtype`` and return float64 (so every value is representable in ``dtype``)."""
    with np.errstate(over="ignore"):
        return np.asarray(a, np.float64).astype(dtype).astype(np.float64)


def _floats(lo: float, hi: float, width: Width) -> st.SearchStrategy:
    """Finite floats in ``[lo, hi]`` of the given width, without subnormals (they flush or lose precision)."""
    return st.floats(lo, hi, width=width, allow_subnormal=False)


@functools.lru_cache(maxsize=256)
def _moderate(bound: float, width: Width) -> st.SearchStrategy:
    """0 or ``2^-10 ≤ |v| ≤ bound``: no absurdly tiny magnitudes (a 1e-114 batch overflows σ^-3 in correct code,
    a 1e-307 gradient underflows); small *differences* (nearly constant batches) come from the offset regimes."""
    return st.just(0.0) | _floats(2.0**-10, bound, width) | _floats(-bound, -(2.0**-10), width)


@functools.lru_cache(maxsize=256)
def _unit(shape, width) -> st.SearchStrategy:
    return hnp.arrays(np.float64, shape, elements=_moderate(1.0, width))


def nondegenerate(x: np.ndarray, dtype) -> bool:
    """Every feature has a spread well above rounding, and a variance that does not underflow, so ``ε = 0`` can
    normalize it.

    >>> nondegenerate(np.array([[1.0, 2.0], [3.0, 2.0]]), np.float64)   # the second feature is constant
    False
    """
    info = np.finfo(dtype)
    spread = x.max(axis=0) - x.min(axis=0)
    floor = np.maximum(64 * float(info.eps) * np.abs(x).max(axis=0), 1e4 * np.sqrt(float(info.tiny)))
    return bool((spread > floor).all())


@st.composite
def batches(
    draw,
    *,
    features: int | None = None,
    min_m: int = 2,
    max_m: int = 12,
    max_features: int = 4,
    dtype=np.float64,
    allow_constant: bool = True,
) -> np.ndarray:
    """Batches of shape ``(m, features)``: ``0.5 × offset + spread × U(-1, 1)`` with three regimes (plain,
    wide: spread ``10^-3 … 10^3``, nearly constant: spread ``10^-5 … 10^-2`` around an offset up to 100). With
    ``allow_constant=False`` (for ``ε = 0``) every feature has a non-zero spread.

    >>> from hypothesis import find
    >>> x = find(batches(min_m=5, features=2), lambda x: True, settings=_ONE)
    >>> x.shape[0] >= 5, x.shape[1]
    (True, 2)
    """
    if min_m < 2 or max_m < min_m:
        raise KitUsageError(f"batches need 2 <= min_m <= max_m, got min_m={min_m}, max_m={max_m}")
    if features is not None and (not isinstance(features, (int, np.integer)) or features < 1):
        raise KitUsageError(f"features must be a positive integer, got {features!r}")
    width = _width(dtype)
    m = draw(st.integers(min_m, max_m))
    f = int(features) if features is not None else draw(st.integers(1, max_features))
    regime = draw(st.sampled_from(["plain", "wide", "nearly_constant"]))
    if regime == "plain":
        offset, spread = 0.0, 1.0
    elif regime == "wide":
        spread = 10.0 ** draw(st.integers(-3, 3))
        offset = draw(_floats(-10.0, 10.0, width)) * spread
    else:
        spread = 10.0 ** draw(st.integers(-5, -2))
        offset = draw(_floats(1.0, 100.0, width)) * draw(st.sampled_from([1.0, -1.0]))
    x = _cast(offset + spread * draw(_unit((m, f), width)), dtype)
    if not allow_constant:
        # a deterministic fallback keeps shrinking cheap: spread the first two rows apart
        if not nondegenerate(x, dtype):
            x[0] -= spread
            x[1] += spread
            x = _cast(x, dtype)
        assume(nondegenerate(x, dtype))
    return x


@functools.lru_cache(maxsize=256)  # building strategies is costly; they are immutable
def gammas(features: int, *, dtype=np.float64) -> st.SearchStrategy:
    """``γ`` per feature: ``|γ| ∈ [0.25, 0.875] ∪ [1.125, 4]`` (bounds exact in every float width), either sign.

    >>> from hypothesis import find
    >>> g = find(gammas(3), lambda g: True, settings=_ONE)
    >>> bool((np.abs(g) >= 0.25).all() and (np.abs(np.abs(g) - 1) >= 0.1).all())
    True
    """
    width = _width(dtype)
    magnitude = _floats(0.25, 0.875, width) | _floats(1.125, 4.0, width)
    element = st.tuples(magnitude, st.sampled_from([1.0, -1.0])).map(lambda t: t[0] * t[1])
    return hnp.arrays(np.float64, (features,), elements=element)


@functools.lru_cache(maxsize=256)  # building strategies is costly; they are immutable
def betas(features: int, *, dtype=np.float64) -> st.SearchStrategy:
    """``β`` per feature in ``[-2, 2]``.

    >>> from hypothesis import find
    >>> find(betas(2), lambda b: True, settings=_ONE).shape
    (2,)
    """
    return hnp.arrays(np.float64, (features,), elements=_floats(-2.0, 2.0, _width(dtype)))


@functools.lru_cache(maxsize=256)  # building strategies is costly; they are immutable
def upstream_gradients(shape: tuple, *, dtype=np.float64) -> st.SearchStrategy:
    """Upstream gradients ``g = ∂ℓ/∂y`` in ``[-2, 2]``, never constant along the batch (a constant ``g``, e.g. all
    ones, makes the correct ``∂ℓ/∂x`` and ``∂ℓ/∂γ`` zero and hides most mistakes).

    >>> from hypothesis import find
    >>> g = find(upstream_gradients((3, 2)), lambda g: True, settings=_ONE)
    >>> bool((g.max(axis=0) > g.min(axis=0)).all())
    True
    """
    width = _width(dtype)

    def vary(g: np.ndarray) -> np.ndarray:
        g = g.copy()
        flat = (g.max(axis=0) == g.min(axis=0))
        g[0, flat] += 1.0  # deterministic fix, keeps shrinking simple
        return g

    return hnp.arrays(np.float64, shape, elements=_moderate(2.0, width)).map(vary)


def scales(*, positive: bool = True, negative: bool = True, max_exponent: int = 6) -> st.SearchStrategy:
    """Scales ``a = ±2^k``, ``1 ≤ |k| ≤ max_exponent``: exact in binary floating point, so ``a·x`` and ``ε/a²``
    carry no rounding of their own.

    >>> from hypothesis import find
    >>> find(scales(negative=False), lambda a: True, settings=_ONE) > 0
    True
    """
    if not (positive or negative):
        raise KitUsageError("scales() needs positive=True or negative=True")
    signs = [s for s, keep in ((1.0, positive), (-1.0, negative)) if keep]
    exponent = st.integers(-max_exponent, max_exponent).filter(lambda k: k != 0)
    return st.tuples(st.sampled_from(signs), exponent).map(lambda t: t[0] * 2.0 ** t[1])


@functools.lru_cache(maxsize=256)  # building strategies is costly; they are immutable
def running_statistics(features: int, *, dtype=np.float64) -> st.SearchStrategy:
    """Initial ``(running_mean, running_var)``: means in ``[-2, 2]``, variances in ``[0.125, 4]``.

    >>> from hypothesis import find
    >>> mean, var = find(running_statistics(2), lambda t: True, settings=_ONE)
    >>> bool((var > 0).all())
    True
    """
    width = _width(dtype)
    return st.tuples(
        hnp.arrays(np.float64, (features,), elements=_floats(-2.0, 2.0, width)),
        hnp.arrays(np.float64, (features,), elements=_floats(0.125, 4.0, width)),
    )


@st.composite
def bn_cases(
    draw,
    *,
    features: int | None = None,
    min_m: int = 2,
    max_m: int = 12,
    max_features: int = 4,
    dtype=np.float64,
    allow_constant: bool = True,
    affine: bool = True,
) -> BNCase:
    """A whole :class:`BNCase`. With ``affine=False`` (a module without ``γ``/``β``) ``γ = 1`` and ``β = 0``.

    >>> from hypothesis import find
    >>> case = find(bn_cases(max_m=3, features=1, affine=False), lambda c: True, settings=_ONE)
    >>> case.gamma.tolist(), case.beta.tolist()
    ([1.0], [0.0])
    """
    x = draw(batches(features=features, min_m=min_m, max_m=max_m, max_features=max_features, dtype=dtype,
                     allow_constant=allow_constant))
    m, f = x.shape
    if affine:
        gamma, beta = draw(gammas(f, dtype=dtype)), draw(betas(f, dtype=dtype))
    else:
        gamma, beta = np.ones(f), np.zeros(f)
    dy = _cast(draw(upstream_gradients((m, f), dtype=dtype)), dtype)
    running_mean, running_var = draw(running_statistics(f, dtype=dtype))
    return BNCase(x, _cast(gamma, dtype), _cast(beta, dtype), dy, running_mean, running_var)


INFORMATIVE_SCALE = -4.0
"""The scale ``a`` checked with the informative cases: negative (the sign flip) and not 1 in magnitude."""


def informative_cases(*, features: int | None = None, dtype=np.float64, eps: float = 0.0,
                      affine: bool = True, max_m: int = 12) -> list[BNCase]:
    """Fixed, pseudo-random cases that expose the usual mistakes on their own (docs/math.md §10): a non-square batch
    with a non-zero mean per feature, ``|γ|`` away from 0 and 1 with both signs, ``β ≠ 0``, an upstream gradient
    that is neither constant nor sums to zero, running statistics away from ``(0, 1)``; for ``ε > 0`` a second
    batch whose variance is about ``ε``, where ``ε`` matters. Every value is representable in ``dtype``; no batch
    has more than ``max_m`` samples.

    >>> first = informative_cases(features=2)[0]
    >>> first.m != first.features, bool((np.abs(first.x.mean(axis=0)) > 0.1).all())
    (True, True)
    >>> bool((np.abs(np.abs(first.gamma) - 1) >= 0.125).all() and (first.beta != 0).all())
    True
    >>> len(informative_cases(features=2, eps=1e-5))
    2
    """
    f = 3 if features is None else int(features)
    rng = np.random.default_rng(16)  # fixed: the same cases on every run
    _width(dtype)

    def case(m: int, x: np.ndarray) -> BNCase:
        if affine:
            magnitude = np.where(rng.random(f) < 0.5, rng.uniform(0.25, 0.875, f), rng.uniform(1.125, 4.0, f))
            signs = np.where(np.arange(f) % 2 == 0, 1.0, -1.0)
            gamma, beta = magnitude * signs, -signs * rng.uniform(0.25, 2.0, f)
        else:
            gamma, beta = np.ones(f), np.zeros(f)
        dy = rng.uniform(-2.0, 2.0, (m, f))
        dy[0] += 1.0  # Σ g ≠ 0: the mean term of ∂ℓ/∂x matters
        return BNCase(_cast(x, dtype), _cast(gamma, dtype), _cast(beta, dtype), _cast(dy, dtype),
                      _cast(rng.uniform(-2.0, 2.0, f), dtype), _cast(rng.uniform(0.125, 4.0, f), dtype))

    def size(*choices: int) -> int:  # not square: square batches hide statistics over the wrong axis
        fits = [m for m in choices if m <= max_m] or [2]
        return next((m for m in fits if m != f), fits[0])

    def spread(m: int) -> np.ndarray:  # per feature a shuffled, jittered grid: variance between 0.2 and 1.4
        grid = np.linspace(-1.0, 1.0, m)
        return np.stack([rng.permutation(grid) for _ in range(f)], axis=1) + rng.uniform(-0.2, 0.2, (m, f))

    m = size(5, 6, 4, 3, 2)
    offsets = rng.uniform(0.5, 3.0, f) * np.where(np.arange(f) % 2 == 0, 1.0, -1.0)
    cases = [case(m, offsets + rng.uniform(0.5, 2.0, f) * spread(m))]
    if eps > 0:
        m = size(3, 4, 2)
        cases.append(case(m, np.sqrt(eps) * (rng.uniform(-1.0, 1.0, f) + spread(m))))
    return cases
