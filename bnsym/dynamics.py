"""Gradient-descent dynamics with and without BN, driven by bnsym's compiled derivations.

A *model* is anything with ``loss_and_gradients(params, x, t) -> (J, {name: ∂J/∂name})``: a
:class:`~bnsym.numeric.CompiledNetwork` (a toy network's own closed forms) or a
:class:`~bnsym.vectorized.VectorizedNetwork` (any network, the reference MLP included, run by its layers'
own NumPy kernels).

* :func:`gradient_descent` — a :class:`Trace` of loss, per-parameter gradient norms, weight norms and the
  effective learning rate ``η/‖W‖²`` per step, stopping at divergence.
* :func:`hessian`, :func:`lambda_max`, :func:`critical_learning_rate` — ``2/λ_max`` of the loss Hessian at a
  point (symbolic Hessians for toy networks via :func:`symbolic_hessian`, finite differences of the
  compiled gradients otherwise); :func:`curvature_scaling` measures ``λ_max ∝ 1/c²`` for weights feeding BN.
* :func:`norm_growth` — ``‖W_{t+1}‖²`` against ``‖W_t‖² + η²‖∇J‖²`` step by step (exact with ``ε = 0``).
* :func:`goodfellow_step` — first-order predicted vs actual loss change after one step (Deep Learning §8.7.1).

The learning-rate sweeps live in :mod:`bnsym.sweep`.

>>> import numpy as np
>>> from bnsym.numeric import init_mlp
>>> from bnsym.vectorized import reference_mlp
>>> x, t = reference_data(seed=0, batch=8)
>>> trace = gradient_descent(reference_mlp([2, 4, 1]), init_mlp([2, 4, 1], bn=False), x, t, lr=0.01, steps=5)
>>> len(trace.loss), trace.diverged
(6, False)
"""
from __future__ import annotations

from dataclasses import dataclass, field
from collections.abc import Mapping, Sequence

import numpy as np
import sympy

from .errors import NetworkSpecError, ValuesError
from .numeric import flatten, lambdify_safely, real_array, unflatten
from .vectorized import VectorizedNetwork

__all__ = [
    "Trace",
    "reference_data",
    "gradient_descent",
    "hessian",
    "lambda_max",
    "critical_learning_rate",
    "symbolic_hessian",
    "curvature_scaling",
    "NormGrowth",
    "norm_growth",
    "GoodfellowStep",
    "goodfellow_step",
    "goodfellow_polynomial",
    "DIVERGENCE_FACTOR",
]

#: A run diverges when its loss is not finite or exceeds ``DIVERGENCE_FACTOR × max(J₀, 1)``.
DIVERGENCE_FACTOR = 1e3


def reference_data(seed: int = 0, batch: int = 32, inputs: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """The sweeps' data: inputs ``x ~ N(0, I)`` (``batch × inputs``), targets ``t = x₁·x₂`` (``batch × 1``).

    >>> x, t = reference_data(batch=4)
    >>> x.shape, t.shape, bool(np.allclose(t[:, 0], x[:, 0] * x[:, 1]))
    ((4, 2), (4, 1), True)
    """
    rng = np.random.default_rng(10_000 + seed)
    x = rng.standard_normal((batch, inputs))
    t = (x[:, :1] * x[:, 1:2]) if inputs > 1 else np.sin(x[:, :1])
    return x, t


@dataclass
class Trace:
    """A gradient-descent run: per step ``t = 0 … steps`` the loss and, before each update, the norms.

    ``grad_norms[name][t] = ‖∂J/∂name‖``, ``weight_norms[name][t] = ‖name‖``,
    ``effective_lr[name][t] = η/‖name‖²``. ``diverged`` tells whether the run stopped early.

    >>> Trace(0.1).diverged
    False
    """

    lr: float
    loss: list[float] = field(default_factory=list)
    grad_norms: dict[str, list[float]] = field(default_factory=dict)
    weight_norms: dict[str, list[float]] = field(default_factory=dict)
    effective_lr: dict[str, list[float]] = field(default_factory=dict)
    diverged: bool = False
    bound: float = float("inf")

    def to_dict(self) -> dict:
        """A JSON-ready dictionary.

        >>> Trace(0.1, loss=[1.0]).to_dict()["loss"]
        [1.0]
        """
        return {"lr": self.lr, "loss": self.loss, "grad_norms": self.grad_norms,
                "weight_norms": self.weight_norms, "effective_lr": self.effective_lr,
                "diverged": self.diverged, "bound": self.bound}


def _check_lr(lr) -> float:
    try:
        value = float(lr)
    except (TypeError, ValueError):
        raise ValuesError(f"the learning rate must be a positive number, got {lr!r}") from None
    if not (value > 0 and np.isfinite(value)):
        raise ValuesError(f"the learning rate must be a positive finite number, got {lr!r}")
    return value


def gradient_descent(model, params: Mapping, x, t, *, lr: float, steps: int, bound: float | None = None,
                     record: bool = True) -> Trace:
    """Full-batch gradient descent ``p ← p − η ∂J/∂p`` for ``steps`` steps from ``params`` (not modified).

    Stops when the loss is not finite or exceeds ``bound`` (default ``DIVERGENCE_FACTOR × max(J₀, 1)``).
    The final parameters are in ``trace.final``. A :class:`~bnsym.vectorized.VectorizedNetwork` checks the
    values once, before the first step, then steps unchecked
    (:meth:`~bnsym.vectorized.VectorizedNetwork.run`).

    >>> from bnsym import chain
    >>> from bnsym.numeric import compile_network
    >>> model = compile_network(chain(2, loss="mse"))
    >>> tr = gradient_descent(model, {"w1": 1.0, "w2": 1.0}, [[1.0]], [[2.0]], lr=0.05, steps=50)
    >>> round(tr.loss[-1], 6) < tr.loss[0]
    True
    >>> gradient_descent(model, {"w1": 1.0, "w2": 1.0}, [[1.0]], [[2.0]], lr=-1, steps=5)
    Traceback (most recent call last):
    ...
    bnsym.errors.ValuesError: the learning rate must be a positive finite number, got -1
    """
    lr = _check_lr(lr)
    if int(steps) != steps or steps < 0:
        raise ValuesError(f"steps must be an integer >= 0, got {steps!r}")
    if isinstance(model, VectorizedNetwork):
        p, x, t = model.check(params, x, t)
        evaluate = model.run
    else:
        p = {k: np.array(v, dtype=float) for k, v in params.items()}
        evaluate = model.loss_and_gradients
    trace = Trace(lr)
    with np.errstate(all="ignore"):
        for step in range(int(steps) + 1):
            loss, grads = evaluate(p, x, t)
            trace.loss.append(float(loss))
            if step == 0:
                trace.bound = float(bound) if bound is not None else DIVERGENCE_FACTOR * max(float(loss), 1.0)
            if not np.isfinite(loss) or loss > trace.bound:
                trace.diverged = True
                break
            if record:
                for name, g in grads.items():
                    w2 = float(np.sum(p[name] ** 2))
                    trace.grad_norms.setdefault(name, []).append(float(np.sqrt(np.sum(g ** 2))))
                    trace.weight_norms.setdefault(name, []).append(float(np.sqrt(w2)))
                    trace.effective_lr.setdefault(name, []).append(lr / w2 if w2 > 0 else float("inf"))
            if step == steps:
                break
            for name, g in grads.items():
                p[name] = p[name] - lr * np.asarray(g, dtype=float).reshape(p[name].shape)
    trace.final = p  # type: ignore[attr-defined]
    return trace


# -- curvature -------------------------------------------------------------------------------------------
def hessian(model, params: Mapping, x, t, names: Sequence[str] | None = None, *, step: float = 1e-5) -> np.ndarray:
    """The loss Hessian with respect to ``names`` (default: all), by central differences of the gradients.

    The gradients are the model's compiled closed forms, so this is exact up to ``O(step²)``.

    >>> from bnsym import chain
    >>> from bnsym.numeric import compile_network
    >>> H = hessian(compile_network(chain(1, loss="mse")), {"w1": 1.0}, [[2.0]], [[0.0]])
    >>> round(float(H[0, 0]), 6)   # J = (2w)², J'' = 8
    8.0
    """
    names = list(params) if names is None else list(names)
    base = {k: np.array(v, dtype=float) for k, v in params.items()}
    theta = flatten(base, names)
    rows = []
    for i in range(theta.size):
        columns = []
        for sign in (1.0, -1.0):
            shifted = theta.copy()
            shifted[i] += sign * step
            p = dict(base)
            p.update(unflatten(shifted, base, names))
            _, grads = model.loss_and_gradients(p, x, t)
            columns.append(flatten({n: np.asarray(grads[n], float).reshape(np.shape(base[n])) for n in names}, names))
        rows.append((columns[0] - columns[1]) / (2 * step))
    H = np.array(rows)
    return (H + H.T) / 2


def lambda_max(H: np.ndarray) -> float:
    """Largest eigenvalue of a symmetric matrix.

    >>> lambda_max(np.diag([1.0, 3.0, -5.0]))
    3.0
    """
    return float(np.linalg.eigvalsh(np.asarray(H, dtype=float))[-1])


def critical_learning_rate(H: np.ndarray) -> float:
    """``2/λ_max``: above it GD on the local quadratic model diverges along the top eigenvector.

    >>> critical_learning_rate(np.diag([4.0, 1.0]))
    0.5
    """
    top = lambda_max(H)
    return 2.0 / top if top > 0 else float("inf")


def symbolic_hessian(network, names: Sequence[str] | None = None):
    """The exact Hessian of a toy network's loss (``loss="mse"``) by ``sympy.hessian``, and its NumPy function.

    Returns ``(H, f)`` with ``f(values)`` taking ``{"x": ..., "t": ..., name: value}`` like
    :meth:`~bnsym.derive.Derivation.evaluate`.

    >>> from bnsym import chain
    >>> H, f = symbolic_hessian(chain(2, loss="mse"))
    >>> H[0, 0], H[1, 1]
    (2*w2**2*x**2, 2*w1**2*x**2)
    >>> f({"x": 1.0, "t": 0.0, "w1": 1.0, "w2": 1.0})
    array([[2., 4.],
           [4., 2.]])
    """
    from .layers import flat

    if getattr(network, "loss", None) is None:
        raise NetworkSpecError('symbolic_hessian needs a network with a loss: build it with loss="mse"')
    names = list(network.parameters) if names is None else list(names)
    for name in names:
        network.parameter(name)  # a clear error for an unknown name
    variables = [s for n in names for s in network.parameters[n]]
    H = sympy.hessian(network.loss, variables)
    known = {"x": network.inputs, "t": network.targets, **network.parameters}
    order = list(known)
    function = lambdify_safely([list(flat(known[k])) for k in order], H, modules="numpy")

    def at(values: Mapping) -> np.ndarray:
        if not isinstance(values, Mapping):
            raise ValuesError(f"values must be a mapping from names to numbers, got {type(values).__name__}")
        unknown = [repr(k) for k in values if k not in known]
        if unknown:
            raise ValuesError(f"unknown name(s) {', '.join(unknown)}; give values for: {', '.join(order)}")
        missing = [k for k in order if k not in values]
        if missing:
            raise ValuesError(f"missing values for: {', '.join(missing)}")
        args = []
        for k in order:
            array = real_array(k, values[k])
            if array.size != len(known[k]):
                raise ValuesError(f"value for {k!r} must have {len(known[k])} entries, got shape {array.shape}")
            args.append(list(array.ravel()))
        with np.errstate(all="ignore"):
            return np.atleast_2d(np.asarray(function(*args), dtype=float))

    return H, at


def curvature_scaling(model, params: Mapping, x, t, weight: str, scales: Sequence[float]) -> dict:
    """``λ_max`` of the Hessian block of ``weight`` (a weight feeding BN) when it is multiplied by ``c``.

    For weights feeding BN with ``ε = 0``, ``J(cW) = J(W)`` so ``∇²_W J(cW) = ∇²_W J(W)/c²``: the fitted
    log-log slope is ``−2``. Returns ``{"scales", "lambda_max", "critical_lr", "slope"}``.

    >>> from bnsym.numeric import init_mlp
    >>> from bnsym.vectorized import reference_mlp
    >>> x, t = reference_data(batch=6)
    >>> out = curvature_scaling(reference_mlp([2, 3, 1], bn="pre"), init_mlp([2, 3, 1], bn=True), x, t, "W1",
    ...                         [1.0, 2.0, 4.0])
    >>> round(out["slope"], 3)
    -2.0
    """
    lams = []
    for c in scales:
        p = {k: np.array(v, dtype=float) for k, v in params.items()}
        p[weight] = p[weight] * float(c)
        lams.append(lambda_max(hessian(model, p, x, t, [weight], step=1e-5 * float(c))))
    slope = float(np.polyfit(np.log(np.asarray(scales, float)), np.log(np.abs(lams)), 1)[0])
    return {"scales": [float(c) for c in scales], "lambda_max": lams,
            "critical_lr": [2.0 / v if v > 0 else float("inf") for v in lams], "slope": slope}


# -- weight-norm growth ----------------------------------------------------------------------------------
@dataclass
class NormGrowth:
    """``‖W_t‖²`` measured along a GD run and predicted by ``‖W_{t−1}‖² + η²‖∇J(W_{t−1})‖²``.

    >>> NormGrowth(0.1, "W1", [1.0, 2.0], [1.0, 2.2]).max_relative_error
    0.10000000000000009
    """

    lr: float
    weight: str
    measured: list[float]
    predicted: list[float]

    @property
    def max_relative_error(self) -> float:
        """Largest ``|measured − predicted|/measured`` over the steps.

        >>> NormGrowth(0.1, "W1", [1.0], [1.0]).max_relative_error
        0.0
        """
        m, p = np.asarray(self.measured[1:]), np.asarray(self.predicted[1:])
        return float(np.max(np.abs(m - p) / m)) if m.size else 0.0


def norm_growth(model, params: Mapping, x, t, *, weight: str, lr: float, steps: int) -> NormGrowth:
    """Run GD and compare the squared norm of ``weight`` with the identity ``‖W'‖² = ‖W‖² + η²‖∇J‖²``.

    >>> from bnsym.numeric import init_mlp
    >>> from bnsym.vectorized import reference_mlp
    >>> x, t = reference_data(batch=8)
    >>> g = norm_growth(reference_mlp([2, 4, 1], bn="pre"), init_mlp([2, 4, 1], bn=True), x, t, weight="W1",
    ...                 lr=0.5, steps=10)
    >>> g.max_relative_error < 1e-12, g.measured[-1] > g.measured[0]
    (True, True)
    """
    lr = _check_lr(lr)
    p = {k: np.array(v, dtype=float) for k, v in params.items()}
    measured = [float(np.sum(p[weight] ** 2))]
    predicted = [measured[0]]
    for _ in range(int(steps)):
        _, grads = model.loss_and_gradients(p, x, t)
        predicted.append(measured[-1] + lr ** 2 * float(np.sum(np.asarray(grads[weight]) ** 2)))
        for name, g in grads.items():
            p[name] = p[name] - lr * np.asarray(g, dtype=float).reshape(p[name].shape)
        measured.append(float(np.sum(p[weight] ** 2)))
    return NormGrowth(lr, weight, measured, predicted)


# -- Goodfellow's example --------------------------------------------------------------------------------
@dataclass
class GoodfellowStep:
    """One GD step on Goodfellow's chain: predicted (first-order) and actual loss change per learning rate.

    >>> GoodfellowStep(False, [0.1], [-1.0], [-0.5]).relative_error
    [0.5]
    """

    bn: bool
    lrs: list[float]
    predicted: list[float]
    actual: list[float]

    @property
    def relative_error(self) -> list[float]:
        """``|actual − predicted| / |predicted|`` per learning rate.

        >>> GoodfellowStep(True, [0.1, 1.0], [-1.0, -10.0], [-1.0, 5.0]).relative_error
        [0.0, 1.5]
        """
        return [abs(a - p) / abs(p) if p else float("inf") for a, p in zip(self.actual, self.predicted, strict=False)]


def goodfellow_weights(depth: int = 5, seed: int = 0) -> dict[str, float]:
    """Seeded weights for the chain ``ŷ = x·a·b·c·d·e``, of size around 1.5 (so products grow).

    >>> sorted(goodfellow_weights(3))
    ['w1', 'w2', 'w3']
    """
    rng = np.random.default_rng(seed)
    return {f"w{k}": float(v) for k, v in enumerate(rng.uniform(1.0, 2.0, depth), start=1)}


def goodfellow_step(lrs: Sequence[float], *, depth: int = 5, bn: bool = False, batch: int = 8,
                    seed: int = 0) -> GoodfellowStep:
    """For the chain ``ŷ = x w₁⋯w_L`` (MSE to targets), ``ΔJ`` predicted ``−η‖∇J‖²`` vs actual per ``η``.

    With ``bn=True`` a BN (``γ = 1, β = 0``, ``ε = 0``) follows every layer but the last, as in
    :func:`bnsym.chain`. The gradients are the network's own compiled closed forms.

    >>> out = goodfellow_step([1e-4, 1e-2], depth=3)
    >>> out.relative_error[0] < out.relative_error[1]
    True
    """
    from .network import chain
    from .numeric import compile_network

    net = chain(depth, bn=bn, batch=batch, loss="mse")
    model = compile_network(net)
    rng = np.random.default_rng(100 + seed)
    x = rng.standard_normal((batch, 1))
    t = rng.standard_normal((batch, 1))
    params = {name: np.full(shape, 0.0) for name, shape in model.shapes.items()}
    for name, value in goodfellow_weights(depth, seed).items():
        params[name] = np.full((1, 1), value)
    for name in params:
        if name.startswith("gamma"):
            params[name] = np.ones((1, 1))
    loss, grads = model.loss_and_gradients(params, x, t)
    sq = sum(float(np.sum(g ** 2)) for g in grads.values())
    predicted, actual = [], []
    for lr in lrs:
        stepped = {n: params[n] - lr * grads[n] for n in params}
        predicted.append(-lr * sq)
        actual.append(model.loss(stepped, x, t) - loss)
    return GoodfellowStep(bn, [float(v) for v in lrs], predicted, actual)


def goodfellow_polynomial(depth: int = 5):
    """``ŷ(w − η∇ŷ) − ŷ(w)`` for ``ŷ = x w₁⋯w_L`` as a polynomial in ``η`` (Deep Learning §8.7.1).

    The ``η¹`` coefficient is ``−x²Σ_i Π_{j≠i} w_j²`` (``−gᵀg``); the others couple the layers.

    >>> p = goodfellow_polynomial(2)
    >>> p.degree(), p.coeff_monomial(sympy.Symbol("eta"))
    (2, -w1**2*x**2 - w2**2*x**2)
    """
    from .network import chain

    net = chain(depth)
    yhat = net.output[0]
    eta = sympy.Symbol("eta")
    ws = [net.parameters[f"w{k}"][0, 0] for k in range(1, depth + 1)]
    stepped = yhat.xreplace({w: w - eta * sympy.diff(yhat, w) for w in ws})
    return sympy.Poly(sympy.expand(stepped - yhat), eta)
