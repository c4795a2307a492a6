"""Shared pieces of the later-work experiments: seeded networks, summaries over seeds, gradient descent with
per-parameter rates and the Hessian's top eigenvalue by power iteration on Hessian-vector products.

Every network here is :func:`bnsym.vectorized.reference_mlp` on :func:`bnsym.dynamics.reference_data`, run by
the layers' own NumPy kernels (the unchecked :meth:`~bnsym.vectorized.VectorizedNetwork.run` after one
:meth:`~bnsym.vectorized.VectorizedNetwork.check`).

>>> summarize([1.0, 2.0, 3.0]).median
2.0
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ..dynamics import reference_data
from ..errors import ValuesError
from ..numeric import init_mlp
from ..vectorized import VectorizedNetwork, reference_mlp

__all__ = ["Spread", "summarize", "check_positive", "Setup", "setup", "top_eigenvalue", "feeds_bn"]

#: The quantiles of :class:`Spread`'s interval.
LOW, HIGH = 0.1, 0.9


@dataclass(frozen=True)
class Spread:
    """A quantity over seeds: median and the 10–90 % quantile interval (``n`` finite values; NaN if none).

    >>> Spread(2.0, 1.0, 3.0, 5).high
    3.0
    """

    median: float
    low: float
    high: float
    n: int


def summarize(values: Iterable[float] | np.ndarray) -> Spread:
    """Median and 10–90 % quantiles of the finite ``values`` (infinite and NaN values are left out).

    >>> s = summarize([1.0, 2.0, float("nan"), 3.0])
    >>> s.median, s.n
    (2.0, 3)
    >>> summarize([]).n
    0
    """
    v = np.asarray([float(x) for x in values if np.isfinite(x)], dtype=float)
    if v.size == 0:
        return Spread(float("nan"), float("nan"), float("nan"), 0)
    low, median, high = np.quantile(v, [LOW, 0.5, HIGH])
    return Spread(float(median), float(low), float(high), int(v.size))


def check_positive(name: str, value, *, integer: bool = False, minimum: float = 0.0):
    """``value`` if it is a (positive) number above ``minimum``, else a :class:`~bnsym.errors.ValuesError`.

    >>> check_positive("steps", 3, integer=True)
    3
    >>> check_positive("steps", 0, integer=True)
    Traceback (most recent call last):
    ...
    bnsym.errors.ValuesError: steps must be an integer > 0, got 0
    """
    kind = "an integer" if integer else "a number"
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    if ok and integer:
        ok = float(value) == int(value)
    if not ok or not np.isfinite(float(value)) or not float(value) > minimum:
        raise ValuesError(f"{name} must be {kind} > {minimum:g}, got {value!r}")
    return int(value) if integer else float(value)


@dataclass
class Setup:
    """One seeded network: the route, its checked parameters, the data."""

    net: VectorizedNetwork
    params: dict[str, np.ndarray]
    x: np.ndarray
    t: np.ndarray

    def grads(self, params: Mapping[str, np.ndarray]) -> tuple[float, dict[str, np.ndarray]]:
        """``(J, ∇J)`` at ``params`` (unchecked: NaN or inf for an overflow)."""
        with np.errstate(all="ignore"):
            return self.net.run(params, self.x, self.t)


def setup(widths: Sequence[int], *, bn: bool, seed: int, batch: int, activation: str = "relu",
          eps: float = 0.0, gain: float = float(np.sqrt(2.0)), data_seed: int = 0) -> Setup:
    """The MLP ``widths`` (BN before each hidden activation when ``bn``), weights ``N(0, gain²/fan_in)``
    from ``seed``, on ``batch`` samples of the reference data (seed ``data_seed``).

    >>> s = setup([2, 4, 1], bn=True, seed=0, batch=8)
    >>> sorted(s.params)[:2], s.x.shape
    (['W1', 'W2'], (8, 2))
    """
    net = reference_mlp(list(widths), activation, bn="pre" if bn else None, eps=eps)
    x, t = reference_data(seed=data_seed, batch=batch, inputs=widths[0])
    params, x_checked, t_checked = net.check(init_mlp(list(widths), bn=bn, seed=seed, gain=gain), x, t)
    assert t_checked is not None  # the targets were given
    return Setup(net, params, x_checked, t_checked)


def feeds_bn(names: Sequence[str], depth: int) -> list[str]:
    """The weights feeding a BN layer: ``W1 … W_{L−1}`` of a depth-``L`` MLP with BN.

    >>> feeds_bn(["W1", "b1", "gamma1", "beta1", "W2", "b2"], 2)
    ['W1']
    """
    return [n for n in names if n.startswith("W") and int(n[1:]) < depth]


def _flat(grads: Mapping[str, np.ndarray], names: Sequence[str]) -> np.ndarray:
    return np.concatenate([np.asarray(grads[n], float).ravel() for n in names])


def top_eigenvalue(gradient: Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]],
                   params: Mapping[str, np.ndarray], *, iterations: int = 20, start: np.ndarray | None = None,
                   step: float = 1e-4, seed: int = 0) -> tuple[float, np.ndarray]:
    """The loss Hessian's largest eigenvalue ``λ_max`` at ``params`` and its eigenvector, by power iteration on
    Hessian-vector products ``Hv ≈ (∇J(θ + hv) − ∇J(θ − hv))/2h`` (central differences of the gradient, error
    ``O(h²)``); ``start`` warm-starts from a previous eigenvector. Power iteration finds the eigenvalue ``μ``
    of largest magnitude; when it is negative, a second power iteration on ``H − μI`` finds the largest.

    >>> g = lambda p: {"w": np.array([[3.0, 0.0], [0.0, -1.0]]) @ p["w"]}   # J = (3w₁² − w₂²)/2
    >>> round(top_eigenvalue(g, {"w": np.array([1.0, 1.0])})[0], 6)
    3.0
    >>> g = lambda p: {"w": np.array([[1.0, 0.0], [0.0, -5.0]]) @ p["w"]}   # the top one, not the largest |μ|
    >>> round(top_eigenvalue(g, {"w": np.array([1.0, 1.0])}, iterations=60)[0], 6)
    1.0
    """
    names = list(params)
    shapes = {n: np.shape(params[n]) for n in names}
    sizes = [int(np.prod(shapes[n])) for n in names]
    theta = _flat(params, names)

    def at(vector: np.ndarray) -> dict[str, np.ndarray]:
        parts = np.split(vector, np.cumsum(sizes)[:-1])
        return {n: part.reshape(shapes[n]) for n, part in zip(names, parts, strict=True)}

    def power(v: np.ndarray, shift: float) -> tuple[float, np.ndarray]:
        value = 0.0
        with np.errstate(all="ignore"):
            for _ in range(int(iterations)):
                hv = (_flat(gradient(at(theta + step * v)), names)
                      - _flat(gradient(at(theta - step * v)), names)) / (2 * step) - shift * v
                value = float(v @ hv)
                norm = float(np.linalg.norm(hv))
                if not np.isfinite(norm) or norm == 0:
                    break
                v = hv / norm
        return value + shift, v

    first = np.random.default_rng(seed).standard_normal(theta.size) if start is None else np.array(start, float)
    value, v = power(first / np.linalg.norm(first), 0.0)
    if value < 0:  # the eigenvalue of largest magnitude is negative: the top one is the largest of H − value·I
        value, v = power(np.random.default_rng(seed + 1).standard_normal(theta.size), value)
    return value, v
