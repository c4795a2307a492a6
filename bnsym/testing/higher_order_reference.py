"""The exact reference of :mod:`bnsym.testing.higher_order`: the point (dyadic rationals, exact in float64) and
``d^k/dt^k ⟨u, f(θ + t v)⟩`` at ``t = 0``, the layer's forward written in SymPy on exact rationals and rounded only
at the end. It shares no code with any framework or with bnsym's engine.

>>> lay = _Layout("weight", (1, 2), 0.0, 1, True, False, 1)
>>> exact_directional(lay, {"x": np.array([[1.0, 0.0]]), "v": np.array([[3.0, 4.0]]), "g": np.array([[5.0]])},
...                   {"g": np.array([[1.0]])}, np.array([[1.0]]), (1, 2), True)   # y = g·3/5: linear in g
{1: 0.6, 2: 0.0}
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import sympy

__all__ = ["exact_directional"]

@dataclass(frozen=True)
class _Layout:
    kind: str
    shape: tuple[int, ...]  # x: (N, C) or, for "instance", (N, C, *spatial); "weight": (N, in)
    eps: float
    groups: int
    weight: bool
    bias: bool
    outputs: int = 0  # "weight": the Linear's output rows


def _names(layout: _Layout) -> list[str]:
    """The point's parts, in the order they are flattened into θ."""
    if layout.kind == "weight":
        return ["x", "v", "g", *(["bias"] if layout.bias else [])]
    return ["x", *(["weight"] if layout.weight else []), *(["bias"] if layout.bias else [])]


def _dyadic(rng: np.random.Generator, shape, low: int, high: int) -> np.ndarray:
    return rng.integers(low, high + 1, size=shape).astype(float) / 8.0  # exact in float64


def _point(layout: _Layout, seed: int, training: bool) -> tuple[dict, dict, np.ndarray]:
    rng = np.random.default_rng(seed)
    if layout.kind == "weight":
        return _weight_point(layout, rng)
    n, c = layout.shape[:2]
    point = {"x": _dyadic(rng, layout.shape, -16, 16)}
    spatial = tuple(range(2, len(layout.shape)))
    while (np.ptp(point["x"], axis=spatial).min() == 0 if spatial else
           np.ptp(point["x"], axis=0).min() == 0 or np.ptp(point["x"], axis=1).min() == 0):
        point["x"] = _dyadic(rng, layout.shape, -16, 16)
    direction = {"x": _dyadic(rng, layout.shape, -8, 8)}
    if layout.weight:
        point["weight"], direction["weight"] = _dyadic(rng, c, 4, 16), _dyadic(rng, c, -8, 8)
    if layout.bias:
        point["bias"], direction["bias"] = _dyadic(rng, c, -8, 8), _dyadic(rng, c, -8, 8)
    if layout.kind == "batch" and not training:
        point["running_mean"], point["running_var"] = _dyadic(rng, c, -8, 8), _dyadic(rng, c, 2, 16)
    return point, direction, _dyadic(rng, layout.shape, -8, 8)


def _weight_point(layout: _Layout, rng: np.random.Generator) -> tuple[dict, dict, np.ndarray]:
    n, inputs = layout.shape
    out = layout.outputs
    point = {"x": _dyadic(rng, (n, inputs), -16, 16), "v": _dyadic(rng, (out, inputs), -16, 16),
             "g": _dyadic(rng, (out, 1), 4, 16)}
    while (np.abs(point["v"]).sum(axis=1) == 0).any():  # ‖v‖ > 0 on every row
        point["v"] = _dyadic(rng, (out, inputs), -16, 16)
    direction = {"x": _dyadic(rng, (n, inputs), -8, 8), "v": _dyadic(rng, (out, inputs), -8, 8),
                 "g": _dyadic(rng, (out, 1), -8, 8)}
    if layout.bias:
        point["bias"], direction["bias"] = _dyadic(rng, out, -8, 8), _dyadic(rng, out, -8, 8)
    return point, direction, _dyadic(rng, (n, out), -8, 8)


def _blocks(layout: _Layout, training: bool) -> list[list[tuple[int, int]]]:
    """The entries normalized together (one list per group of shared statistics)."""
    n, c = layout.shape[:2]
    if layout.kind == "instance":
        positions = list(np.ndindex(*layout.shape[2:]))
        return [[(i, j, *p) for p in positions] for i in range(n) for j in range(c)]
    if layout.kind == "batch":
        return [[(i, j) for i in range(n)] for j in range(c)]
    if layout.kind == "group":
        size = c // layout.groups
        return [[(i, j) for j in range(g * size, (g + 1) * size)] for i in range(n) for g in range(layout.groups)]
    return [[(i, j) for j in range(c)] for i in range(n)]


def exact_directional(layout: _Layout, point: Mapping, direction: Mapping, cotangent: np.ndarray, orders,
                      training: bool) -> dict[int, float]:
    """``d^k/dt^k ⟨u, f(θ + t v)⟩`` at ``t = 0`` for each ``k``, by SymPy on exact rationals, rounded at the end.

    >>> lay = _Layout("layer", (1, 2), 0.0, 1, False, False)
    >>> exact_directional(lay, {"x": np.array([[0.0, 2.0]])}, {"x": np.array([[0.0, 1.0]])},
    ...                   np.array([[0.0, 1.0]]), (1,), True)     # y₂ = (x₂−x₁)/|x₂−x₁| = 1: constant
    {1: 0.0}
    """
    t = sympy.Symbol("t", real=True)
    q = sympy.Rational

    def line(name, *index):
        return q(float(point[name][index])) + t * q(float(direction[name][index])) if name in direction \
            else q(float(point[name][index]))

    eps = q(layout.eps)
    phi_parts = _weight_parts(layout, line, cotangent) if layout.kind == "weight" else []
    for block in ([] if layout.kind == "weight" else _blocks(layout, training)):
        xs = [line("x", *index) for index in block]
        size = len(xs)
        if layout.kind == "batch" and not training:
            j = block[0][1]
            centred = [xv - q(float(point["running_mean"][j])) for xv in xs]
            scale = 1 / sympy.sqrt(q(float(point["running_var"][j])) + eps)
        elif layout.kind == "rms":
            centred = xs
            scale = 1 / sympy.sqrt(sum(xv**2 for xv in xs) / size + eps)
        else:
            mean = sum(xs) / size
            centred = [xv - mean for xv in xs]
            scale = 1 / sympy.sqrt(sum(cv**2 for cv in centred) / size + eps)
        for index, cv in zip(block, centred, strict=True):
            y = cv * scale
            if layout.weight:
                y = y * line("weight", index[1])
            if layout.bias:
                y = y + line("bias", index[1])
            phi_parts.append(q(float(cotangent[index])) * y)
    out = {}
    for k in orders:
        value = sum(sympy.diff(part, t, k).subs(t, 0) for part in phi_parts)
        out[k] = float(sympy.N(value, 40))
    return out


def _weight_parts(layout: _Layout, line: Callable, cotangent: np.ndarray) -> list:
    """``u_ij · y_ij`` with ``y_ij = Σ_k x_ik g_j v_jk / ‖v_j‖ + b_j`` (weight normalization, ``dim=0``)."""
    n, inputs = layout.shape
    parts = []
    for j in range(layout.outputs):
        vs = [line("v", j, k) for k in range(inputs)]
        w = [line("g", j, 0) * vk / sympy.sqrt(sum(a**2 for a in vs)) for vk in vs]
        for i in range(n):
            y = sum(line("x", i, k) * w[k] for k in range(inputs))
            if layout.bias:
                y = y + line("bias", j)
            parts.append(sympy.Rational(float(cotangent[i, j])) * y)
    return parts
