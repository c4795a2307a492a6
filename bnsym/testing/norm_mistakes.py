"""The catalogue of known mistakes for every normalization kind: :func:`implementations_of` (NumPy implementations
in the kit's function convention, the correct one and one mistake each) and :func:`mistakes` (what the diagnosis
matches a failing output against).

A mistake is a change of the closed form of :mod:`bnsym.testing.norm_reference`: other axes, other groups, a
mean where there is none, ``ε`` dropped or misplaced, a term of the backward pass dropped, batch statistics in
eval mode. Its backward pass is the exact gradient of its own forward pass unless the mistake *is* the backward.

>>> sorted(implementations_of("rms"))
['eps_ignored', 'mean_subtracted', 'reference']
>>> print(mistakes("group")["wrong_group_size"].cause)
GroupNorm with groups of the wrong size (C/groups channels per group expected)
"""
from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from collections.abc import Callable, Mapping

import numpy as np

from . import norm_reference as ref
from .kinds import KINDS, Spec

__all__ = ["Mistake", "NormImplementation", "mistakes", "implementations_of"]


@dataclass(frozen=True)
class Mistake:
    """One known mistake: ``forward(spec, x, gamma, beta, eps)``, ``backward(spec, dy, x, gamma, beta, eps)``;
    ``eval`` for a mistake of eval mode (``forward(spec, x, gamma, beta, eps, running_mean, running_var)``)."""

    name: str
    cause: str
    forward: Callable
    backward: Callable
    eval: bool = False


def _on(change: Callable[[Spec], Spec], eps_of: Callable[[float], float] = lambda e: e):
    def fwd(spec, x, gamma, beta, eps):
        return ref.forward(change(spec), x, gamma, beta, eps_of(eps))

    def bwd(spec, dy, x, gamma, beta, eps):
        return ref.backward(change(spec), dy, x, gamma, beta, eps_of(eps))

    return fwd, bwd


def _all_axes(spec: Spec) -> Spec:
    return spec.replaced(axes=tuple(range(len(spec.shape))))


def _batch_axis(spec: Spec) -> Spec:  # LayerNorm over the batch axis: each feature over the samples
    return spec.replaced(axes=(0,))


def _wrong_groups(spec: Spec) -> Spec:
    c = spec.shape[1]
    other = next((g for g in range(1, c + 1) if c % g == 0 and g != spec.groups and g * spec.groups == c), None)
    return spec.replaced(groups=other or (1 if spec.groups != 1 else c))


def _with_batch(spec: Spec) -> Spec:  # instance statistics taken over the samples too
    return spec.replaced(axes=(0, *range(2, len(spec.shape))))


def _with_channels(spec: Spec) -> Spec:
    return spec.replaced(axes=tuple(range(1, len(spec.shape))))


def _unbiased(spec, x, gamma, beta, eps):
    n = spec.group_size
    st = ref.statistics(spec, x, 0.0)
    s = np.sqrt(st.var * n / (n - 1) + eps)
    with np.errstate(invalid="ignore", divide="ignore"):
        xhat = (np.asarray(x, np.float64).reshape(spec.view_shape) - st.mean) / s
    g = 1.0 if gamma is None else spec.broadcast(gamma)
    return g * xhat.reshape(spec.shape) + (0.0 if beta is None else spec.broadcast(beta))


def _outside(spec, x, gamma, beta, eps):
    st = ref.statistics(spec, x, 0.0)
    xhat = (np.asarray(x, np.float64).reshape(spec.view_shape) - st.mean) / (np.sqrt(st.var) + eps)
    g = 1.0 if gamma is None else spec.broadcast(gamma)
    return g * xhat.reshape(spec.shape) + (0.0 if beta is None else spec.broadcast(beta))


def _numeric_backward(fwd: Callable) -> Callable:
    """The exact gradient is not written out for these: central differences in float64 (diagnosis only)."""

    def bwd(spec, dy, x, gamma, beta, eps):
        x = np.asarray(x, np.float64)
        dx = np.zeros_like(x)
        h = 1e-6 * max(1.0, float(np.abs(x).max()))
        for i in np.ndindex(x.shape):
            xp, xm = x.copy(), x.copy()
            xp[i] += h
            xm[i] -= h
            diff = fwd(spec, xp, gamma, beta, eps) - fwd(spec, xm, gamma, beta, eps)
            dx[i] = (np.asarray(dy) * diff).sum() / (2 * h)
        _, dg, db = ref.backward(spec, dy, x, gamma, beta, eps)
        return dx, dg, db

    return bwd


def _dropped(term: str):
    def bwd(spec, dy, x, gamma, beta, eps):
        dy = np.asarray(dy, np.float64)
        st = ref.statistics(spec, x, eps)
        gp = (dy * (1.0 if gamma is None else spec.broadcast(gamma))).reshape(spec.view_shape)
        xh = st.xhat.reshape(spec.view_shape)
        inner = gp.copy()
        if term != "xhat":
            inner -= xh * (gp * xh).mean(axis=spec.reduce, keepdims=True)
        if term != "mean" and spec.centred:
            inner -= gp.mean(axis=spec.reduce, keepdims=True)
        _, dg, db = ref.backward(spec, dy, x, gamma, beta, eps)
        return (inner / st.s).reshape(spec.shape), dg, db

    return bwd


def _eval_batch_forward(spec, x, gamma, beta, eps, running_mean=None, running_var=None):
    return ref.forward(spec, x, gamma, beta, eps)


def _eval_batch_backward(spec, dy, x, gamma, beta, eps, running_mean=None, running_var=None):
    return ref.backward(spec, dy, x, gamma, beta, eps)


def _entry(name: str, cause: str, pair: tuple, **kw) -> Mistake:
    return Mistake(name, cause, pair[0], pair[1], **kw)


_EPS0 = _on(lambda s: s, lambda e: 0.0)
_SAME = _on(lambda s: s)
_COMMON = {
    "eps_ignored": _entry("eps_ignored", "ε ignored: x̂ = (x - μ)/σ instead of (x - μ)/√(σ² + ε)", _EPS0),
}
_CATALOGUE: dict[str, list[Mistake]] = {
    "batch": [
        _entry("reduce_over_channels", "statistics over C as well (one mean and variance for the whole array, "
               "not one per channel)", _on(_all_axes)),
        _entry("unbiased_variance", "unbiased variance (divide by n - 1) used to normalize; training mode uses "
               "the biased one", (_unbiased, _numeric_backward(_unbiased))),
        _entry("eps_outside_sqrt", "ε added outside the square root: (x - μ)/(σ + ε)",
               (_outside, _numeric_backward(_outside))),
        _COMMON["eps_ignored"],
        _entry("no_mean_term", "the mean term was dropped from ∂ℓ/∂x (the path through μ)",
               (_SAME[0], _dropped("mean"))),
        _entry("no_xhat_term", "the x̂·mean(g x̂) term was dropped from ∂ℓ/∂x (the path through σ²)",
               (_SAME[0], _dropped("xhat"))),
        Mistake("eval_batch_statistics", "eval mode normalizes with the batch statistics instead of the running "
                "statistics", _eval_batch_forward, _eval_batch_backward, eval=True),
    ],
    "layer": [
        _entry("wrong_axis", "LayerNorm statistics over the wrong axis (each feature over the samples, as batch "
               "norm does, instead of each sample over its normalized_shape)", _on(_batch_axis)),
        _COMMON["eps_ignored"],
        _entry("no_xhat_term", "the x̂·mean(g x̂) term was dropped from ∂ℓ/∂x (the path through σ²)",
               (_SAME[0], _dropped("xhat"))),
    ],
    "rms": [
        _entry("mean_subtracted", "RMSNorm with the mean subtracted (that is LayerNorm: RMSNorm divides x by "
               "√(mean(x²) + ε), no centring)", _on(lambda s: s.replaced(kind="layer"))),
        _COMMON["eps_ignored"],
    ],
    "group": [
        _entry("wrong_group_size", "GroupNorm with groups of the wrong size (C/groups channels per group expected)",
               _on(_wrong_groups)),
        _COMMON["eps_ignored"],
    ],
    "instance": [
        _entry("batch_statistics", "InstanceNorm statistics over the samples too (that is BatchNorm: instance norm "
               "takes each sample and channel on its own)", _on(_with_batch)),
        _entry("channel_statistics", "InstanceNorm statistics over the channels too (each sample over C·L…, "
               "one statistic per sample)", _on(_with_channels)),
        _COMMON["eps_ignored"],
    ],
    "weight": [],
}


def mistakes(kind: str) -> Mapping[str, Mistake]:
    """The known mistakes of ``kind``, by name.

    >>> "reduce_over_channels" in mistakes("batch")
    True
    """
    from .norm_adapters import check_kind

    return MappingProxyType({m.name: m for m in _CATALOGUE[check_kind(kind)]})


@dataclass(frozen=True)
class NormImplementation:
    """A NumPy implementation in the kit's function convention (``forward(x, gamma, beta, eps)``,
    ``backward(dy, x, gamma, beta, eps)``), correct (``cause`` empty) or one known mistake; the geometry
    (``normalized``, ``groups``) is fixed, the shape is read from ``x``.

    >>> impl = implementations_of("layer")["reference"]
    >>> impl.forward(np.array([[0.0, 2.0]]), np.ones(2), np.zeros(2), 0.0).tolist()
    [[-1.0, 1.0]]
    """

    name: str
    cause: str
    forward: Callable[..., np.ndarray]
    backward: Callable[..., tuple]


def _spec_of(kind: str, x, normalized: int, groups: int, gamma, beta) -> Spec:
    rank = np.ndim(x)
    params = tuple(range(rank - normalized, rank)) if kind in ("layer", "rms") else (1,)
    return Spec(kind, np.shape(x), params=params if gamma is not None else (), normalized=normalized,
                groups=groups, bias=beta is not None)


def implementations_of(kind: str, *, normalized: int = 1, groups: int = 1) -> Mapping[str, NormImplementation]:
    """``{"reference": ..., mistake name: ...}`` for ``kind`` (``normalized``: the number of trailing axes of
    ``layer``/``rms``; ``groups`` of ``group``). Eval-mode mistakes are not in this function convention (they
    need running statistics: see :func:`mistakes`).

    >>> sorted(implementations_of("group", groups=2))
    ['eps_ignored', 'reference', 'wrong_group_size']
    """
    if kind not in KINDS or kind == "weight":
        from ..errors import KitUsageError

        raise KitUsageError(f"implementations_of(kind) takes one of {list(KINDS[:-1])}, got {kind!r}")
    entries = [Mistake("reference", "", ref.forward, ref.backward), *mistakes(kind).values()]
    out = {}
    for m in entries:
        if m.eval:
            continue

        def fwd(x, gamma, beta, eps, m=m):
            return m.forward(_spec_of(kind, x, normalized, groups, gamma, beta), x, gamma, beta, eps)

        def bwd(dy, x, gamma, beta, eps, m=m):
            return m.backward(_spec_of(kind, x, normalized, groups, gamma, beta), dy, x, gamma, beta, eps)

        fwd.__qualname__ = bwd.__qualname__ = f"{kind}.{m.name}"
        out[m.name] = NormImplementation(m.name, m.cause, fwd, bwd)
    return MappingProxyType(out)
