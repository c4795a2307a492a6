"""Exact second and third derivatives of a network's loss, through the same engine as its gradients.

The engine's reverse accumulation (:func:`bnsym.derive.reverse_accumulate`) writes every gradient in a shared
list of named intermediates (forward nodes, then adjoints). Differentiating that list once more in forward
mode — each intermediate ``s = d(…)`` gets a tangent ``ṡ = Σ_f ∂d/∂f · ḟ``, SymPy's ``diff`` going through our
functions' ``fdiff`` — gives forward-over-reverse second derivatives; doing it again gives third ones. Nothing
here writes ``sympy.hessian`` of the flattened loss: that is the independent check in the tests.

* :func:`hessian` — ``∂²J/∂θ_a∂θ_b`` (one tangent sweep per parameter entry);
* :func:`hvp` — ``H v`` (one tangent sweep);
* :func:`third_directional` — ``d^k/dt^k J(θ + t v)`` at ``t = 0`` (``k = 3`` by default; ``k − 1`` sweeps);
* :func:`compiled_hessian`, :func:`compiled_hvp`, :func:`compiled_directional` — the same on numbers: JAX's
  forward mode over the engine's own compiled reverse loop (:class:`~bnsym.vectorized.VectorizedNetwork`);
* :func:`block_vs_full_scaling` — a measured example: ``λ_max·c²`` is constant for the Hessian block of weights
  feeding BN, not for the full Hessian (:mod:`bnsym.theorems.units.weights` states the block theorems).

>>> from bnsym import chain
>>> H = hessian(chain(2, loss="mse"))
>>> H.closed_form.expand()
Matrix([
[      2*w2**2*x**2, -2*t*x + 4*w1*w2*x**2],
[-2*t*x + 4*w1*w2*x**2,       2*w1**2*x**2]])
>>> H.evaluate({"x": 1.0, "t": 0.0, "w1": 1.0, "w2": 1.0})
array([[2., 4.],
       [4., 2.]])
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sympy
from sympy import Expr, Matrix, Symbol

from .errors import NetworkSpecError, ValuesError
from .numeric import lambdify_safely, real_array

__all__ = ["HigherDerivative", "hessian", "hvp", "third_directional", "compiled_hessian", "compiled_hvp",
           "compiled_directional", "BlockScaling", "block_vs_full_scaling"]


@dataclass(frozen=True)
class HigherDerivative:
    """A second or third derivative of a network's loss, in the engine's shared intermediates.

    :attr:`value` is written in :attr:`shared` (the forward nodes, the adjoints, then the tangents); its
    :attr:`closed_form` is explicit in inputs, targets and parameters, and :meth:`evaluate` gives numbers through
    the shared list (never the closed form, which grows quickly with BN).

    >>> from bnsym import chain
    >>> d = third_directional(chain(1, loss="mse"), {"w1": 1})
    >>> d.kind, d.closed_form     # J = (w x − t)², no third derivative
    ('d^3/dt^3 J(θ + t v)', 0)
    """

    network: Any
    kind: str
    variables: tuple[Symbol, ...]
    value: Any
    shared: tuple[tuple[Symbol, Expr], ...] = field(repr=False)

    @property
    def closed_form(self):
        """The value explicit in inputs, targets and parameters (resolving the shared list)."""
        resolved: dict[Symbol, Expr] = {}
        for symbol, definition in self.shared:
            resolved[symbol] = definition.xreplace(resolved)
        return self.value.xreplace(resolved)

    def evaluate(self, values: Mapping) -> Any:
        """The value at ``values`` (keys as for :meth:`bnsym.derive.Derivation.evaluate`): an array for a matrix or
        vector, a float for a directional derivative.

        >>> from bnsym import chain
        >>> hvp(chain(2, loss="mse"), {"w1": 1, "w2": 0}).evaluate({"x": 1.0, "t": 0.0, "w1": 1.0, "w2": 1.0})
        array([[2.],
               [4.]])
        """
        from .evaluation import _substitution, named_symbols

        if getattr(self.network, "symbolic", False):
            raise NetworkSpecError("a symbolic batch has no entries to give values for: take network.at(m) for a "
                                   "concrete m, or substitute into .value")
        names = named_symbols(self.network)
        substitution = _substitution(self.network, names, values)
        missing = [name for name, symbols in names.items() if any(s not in substitution for s in symbols)]
        if missing:
            raise ValuesError(f"missing values for: {', '.join(sorted(missing))}")
        args = [s for matrix in names.values() for s in matrix]
        function = lambdify_safely(args, [self.value], shared=self.shared, modules="numpy")
        with np.errstate(all="ignore"):
            result = np.asarray(function(*[substitution[s] for s in args])[0], dtype=float)
        if not np.all(np.isfinite(result)):
            raise ValuesError(f"the {self.kind} is not finite at these values (a zero batch variance, or overflow)")
        return float(result) if result.ndim == 0 else result


def _setup(network, names: Sequence[str] | None):
    if not getattr(network, "has_loss", False) or getattr(network, "symbolic", False):
        raise NetworkSpecError('higher derivatives need a network with a concrete batch and a loss: build it with '
                               'batch=<an integer> (or None) and loss="mse"')
    names = list(network.parameters) if names is None else list(names)
    for name in names:
        network.parameter(name)  # a clear error for an unknown name
    gradients = network.gradients()
    variables = tuple(s for n in names for s in network.parameters[n])
    gradient = [e for n in names for e in gradients.raw[n]]
    return names, variables, gradient, list(gradients.shared)


class _Tangents:
    """Forward mode over a growing shared list: ``dot[s]`` is the tangent of ``s`` along fixed seeds."""

    def __init__(self, shared: list, seeds: Mapping[Symbol, Expr], base: Sequence | None = None) -> None:
        self.shared = shared  # appended to: every tangent's definition, in evaluation order
        self.dot: dict[Symbol, Expr] = {s: sympy.sympify(v) for s, v in seeds.items() if v != 0}
        # what the next sweep differentiates: the base list, then only this object's own tangents
        self.pending = list(shared if base is None else base)

    def of(self, expr: Expr) -> Expr:
        """``Σ_f ∂expr/∂f · ḟ`` over the symbols with a tangent."""
        return sympy.Add(*[sympy.diff(expr, f) * self.dot[f] for f in expr.free_symbols if f in self.dot])

    def sweep(self) -> None:
        """Give every not yet swept intermediate its tangent (appending the tangents' definitions)."""
        pending, self.pending = self.pending, []
        for symbol, definition in pending:
            value = self.of(definition)
            if value == 0:
                continue
            if value.is_Atom:
                self.dot[symbol] = value
                continue
            tangent = sympy.Dummy(f"{symbol.name}_dot", real=True)
            self.shared.append((tangent, value))
            self.pending.append((tangent, value))
            self.dot[symbol] = tangent


def _direction(variables, names, network, direction: Mapping) -> dict[Symbol, Expr]:
    if not isinstance(direction, Mapping):
        raise ValuesError(f"the direction must be a mapping from parameter names to numbers, got {direction!r}")
    unknown = [repr(k) for k in direction if k not in names]
    if unknown:
        raise ValuesError(f"the direction names {', '.join(unknown)}, not among the parameters: {', '.join(names)}")
    seeds: dict[Symbol, Expr] = {}
    for name in names:
        symbols = list(network.parameters[name])
        array = real_array(f"direction[{name!r}]", direction.get(name, 0)).ravel()
        if array.size == 1 and len(symbols) > 1:
            array = np.full(len(symbols), array[0])
        if array.size != len(symbols):
            raise ValuesError(f"direction[{name!r}] must have {len(symbols)} entries, got {array.size}")
        for symbol, number in zip(symbols, array, strict=True):
            seeds[symbol] = sympy.nsimplify(float(number), rational=True)
    return seeds


def hessian(network, names: Sequence[str] | None = None) -> HigherDerivative:
    """The Hessian ``∂²J/∂θ_a∂θ_b`` over the parameters ``names`` (default: all, in the network's order), by one
    forward tangent sweep per parameter entry over the engine's gradient (forward over reverse). Over a symbolic
    batch (scalar parameters): the engine's index-form gradients, explicit in the parameters, differentiated again
    (entries are sums over the batch; a gradient the kernel proves zero gives a zero row).

    >>> from bnsym import chain
    >>> hessian(chain(2, batch="m", loss="mse")).value[0, 0].doit()
    Sum(2*w2**2*x[j]**2/m, (j, 1, m))

    >>> from bnsym import two_layer
    >>> net = two_layer(activation="identity", bn="pre", batch=3, loss="mse")
    >>> H = hessian(net, ["w1", "b1"])
    >>> values = {"x": [1.0, 2.0, 4.0], "t": [0.0, 1.0, 0.0], "w1": 0.5, "b1": 0.1, "gamma1": 1.5, "beta1": 0.2,
    ...           "w2": -1.0, "b2": 0.3}
    >>> np.abs(H.evaluate(values)[1]).max() < 1e-12   # b1 shifts z1 by a constant, which BN removes
    np.True_
    """
    if getattr(network, "symbolic", False) and getattr(network, "has_loss", False):
        return _index_hessian(network, names)
    names, variables, gradient, shared = _setup(network, names)
    columns, base = [], tuple(shared)
    for variable in variables:
        tangents = _Tangents(shared, {variable: 1}, base)
        tangents.sweep()
        columns.append([tangents.of(g) for g in gradient])
    value = Matrix(len(variables), len(variables), lambda a, b: columns[b][a])
    return HigherDerivative(network, "Hessian", variables, value, tuple(shared))


def _index_hessian(network, names: Sequence[str] | None) -> HigherDerivative:
    """A symbolic batch: each index-form gradient, explicit in the parameters (a sum over the batch), differentiated
    once more; a gradient the kernel proves identically 0 has a zero row. Scalar parameters only."""
    names = list(network.parameters) if names is None else list(names)
    for name in names:
        network.parameter(name)
    gradients = network.index_gradients()
    derivations = [gradients[name] for name in names]
    if any(d.indices for d in derivations):
        raise NetworkSpecError("the Hessian over a symbolic batch is written for scalar parameters (chain, "
                               "two_layer); for matrix parameters use network.at(m) for a concrete batch size")
    variables = tuple(d.parameter for d in derivations)
    rows = [[sympy.S.Zero] * len(variables) if d.is_zero else [sympy.diff(d.explicit(), v) for v in variables]
            for d in derivations]
    return HigherDerivative(network, "Hessian", variables, Matrix(rows), ())


def hvp(network, direction: Mapping, names: Sequence[str] | None = None) -> HigherDerivative:
    """The Hessian-vector product ``H v`` (a column over ``names``), ``v`` given per parameter name (a number
    for every entry, or one value per entry; missing names are 0), by one tangent sweep.

    >>> from bnsym import chain
    >>> hvp(chain(2, loss="mse"), {"w1": 1}).closed_form.expand().T
    Matrix([[2*w2**2*x**2, -2*t*x + 4*w1*w2*x**2]])
    """
    names, variables, gradient, shared = _setup(network, names)
    tangents = _Tangents(shared, _direction(variables, names, network, direction))
    tangents.sweep()
    value = Matrix([tangents.of(g) for g in gradient])
    return HigherDerivative(network, "Hessian-vector product", variables, value, tuple(shared))


def third_directional(network, direction: Mapping, names: Sequence[str] | None = None, *,
                      order: int = 3) -> HigherDerivative:
    """``d^k/dt^k J(θ + t v)`` at ``t = 0`` (``k = order``, 1 to 4): the first from the engine's gradient
    ``⟨∇J, v⟩``, each further order one more tangent sweep over the growing shared list.

    >>> from bnsym import chain
    >>> third_directional(chain(2, loss="mse"), {"w1": 1, "w2": 1}).closed_form.factor()   # J = (w1 w2 x − t)²
    12*x**2*(w1 + w2)
    """
    if isinstance(order, bool) or not isinstance(order, int) or not 1 <= order <= 4:
        raise ValuesError(f"order must be an integer from 1 to 4, got {order!r}")
    names, variables, gradient, shared = _setup(network, names)
    seeds = _direction(variables, names, network, direction)
    tangents = _Tangents(shared, seeds)
    value = sympy.Add(*[g * seeds[v] for g, v in zip(gradient, variables, strict=True)])
    for _ in range(order - 1):
        tangents.sweep()
        value = tangents.of(value)
    return HigherDerivative(network, f"d^{order}/dt^{order} J(θ + t v)", variables, value, tuple(shared))


# -- compiled: JAX's forward mode over the engine's compiled reverse loop ---------------------------------
def _jax_gradient(model, params: Mapping, x, t, names: Sequence[str] | None):
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        raise NetworkSpecError("the compiled higher derivatives need JAX: pip install jax") from None
    jax.config.update("jax_enable_x64", True)
    p, x, t = model.check(params, x, t)
    names = list(model.shapes) if names is None else list(names)
    unknown = [repr(n) for n in names if n not in model.shapes]
    if unknown:
        raise ValuesError(f"unknown parameter(s) {', '.join(unknown)}; the model's are: {', '.join(model.shapes)}")
    sizes = [int(np.prod(model.shapes[n])) for n in names]
    theta = jnp.concatenate([jnp.asarray(p[n], dtype=float).ravel() for n in names])

    def gradient(vector):
        values, k = dict(p), 0
        for n, size in zip(names, sizes, strict=True):
            values[n] = vector[k:k + size].reshape(model.shapes[n])
            k += size
        grads = model._evaluate(values, x, t)[1]
        return jnp.concatenate([jnp.ravel(grads[n]) for n in names])

    return jax, theta, gradient


def compiled_hessian(model, params: Mapping, x, t, names: Sequence[str] | None = None) -> np.ndarray:
    """The Hessian at numbers: ``jax.jacfwd`` over the engine's reverse loop (the layers' own VJP kernels).

    >>> import pytest; _ = pytest.importorskip("jax")
    >>> from bnsym.vectorized import reference_mlp
    >>> compiled_hessian(reference_mlp([1, 1]), {"W1": 2.0, "b1": 0.0}, [[1.0]], [[0.0]])
    array([[2., 2.],
           [2., 2.]])
    """
    jax, theta, gradient = _jax_gradient(model, params, x, t, names)
    return np.asarray(jax.jacfwd(gradient)(theta), dtype=float)


def compiled_hvp(model, params: Mapping, x, t, direction, names: Sequence[str] | None = None) -> np.ndarray:
    """``H v`` at numbers (``direction`` flat, in ``names`` order): one ``jax.jvp`` of the engine's gradient.

    >>> import pytest; _ = pytest.importorskip("jax")
    >>> from bnsym.vectorized import reference_mlp
    >>> compiled_hvp(reference_mlp([1, 1]), {"W1": 2.0, "b1": 0.0}, [[1.0]], [[0.0]], [1.0, 0.0])
    array([2., 2.])
    """
    jax, theta, gradient = _jax_gradient(model, params, x, t, names)
    v = np.asarray(direction, dtype=float).ravel()
    if v.shape != theta.shape:
        raise ValuesError(f"the direction must have {theta.size} entries (the parameters, flat), got {v.size}")
    return np.asarray(jax.jvp(gradient, (theta,), (v,))[1], dtype=float)


def compiled_directional(model, params: Mapping, x, t, direction, names: Sequence[str] | None = None, *,
                         order: int = 3) -> float:
    """``d^k/dt^k J(θ + t v)`` at ``t = 0`` at numbers: nested ``jax.jvp`` over ``⟨∇J, v⟩`` from the engine.

    >>> import pytest; _ = pytest.importorskip("jax")
    >>> from bnsym.vectorized import reference_mlp
    >>> compiled_directional(reference_mlp([1, 1]), {"W1": 2.0, "b1": 0.0}, [[1.0]], [[0.0]], [1.0, 1.0], order=2)
    8.0
    """
    if isinstance(order, bool) or not isinstance(order, int) or not 1 <= order <= 4:
        raise ValuesError(f"order must be an integer from 1 to 4, got {order!r}")
    jax, theta, gradient = _jax_gradient(model, params, x, t, names)
    v = np.asarray(direction, dtype=float).ravel()
    if v.shape != theta.shape:
        raise ValuesError(f"the direction must have {theta.size} entries (the parameters, flat), got {v.size}")

    def along(f):
        return lambda s: jax.jvp(f, (s,), (v,))[1]

    function = lambda s: gradient(s) @ v  # noqa: E731
    for _ in range(order - 1):
        function = along(function)
    return float(function(theta))


@dataclass(frozen=True)
class BlockScaling:
    """``λ_max`` of the Hessian block of one weight feeding BN, and of the full Hessian, with that weight scaled
    by each ``c``: ``block_products`` (``λ_max·c²``) are constant, ``full_products`` are not.

    >>> BlockScaling("W1", (1.0, 2.0), (4.0, 1.0), (5.0, 3.0)).block_products
    (4.0, 4.0)
    """

    weight: str
    scales: tuple[float, ...]
    block_lambda: tuple[float, ...]
    full_lambda: tuple[float, ...]

    @property
    def block_products(self) -> tuple[float, ...]:
        """``λ_max(H_WW(cW))·c²`` per scale (constant by theorem block_critical_rate)."""
        return tuple(lam * c * c for lam, c in zip(self.block_lambda, self.scales, strict=True))

    @property
    def full_products(self) -> tuple[float, ...]:
        """``λ_max(H(cW))·c²`` per scale for the full Hessian (no such law)."""
        return tuple(lam * c * c for lam, c in zip(self.full_lambda, self.scales, strict=True))


def block_vs_full_scaling(scales: Sequence[float] = (1.0, 2.0, 4.0), *, widths: Sequence[int] = (2, 3, 1),
                          batch: int = 8, seed: int = 0, weight: str = "W1") -> BlockScaling:
    """The measured example: the reference MLP with BN before the activation (``ε = 0``), ``weight`` scaled by
    each ``c``; exact Hessians by :func:`compiled_hessian` (JAX over the engine's reverse loop).

    >>> import pytest; _ = pytest.importorskip("jax")
    >>> out = block_vs_full_scaling((1.0, 3.0))
    >>> bool(np.isclose(*out.block_products, rtol=1e-9)), bool(np.isclose(*out.full_products, rtol=1e-2))
    (True, False)
    """
    from .dynamics import lambda_max, reference_data
    from .numeric import init_mlp
    from .vectorized import reference_mlp

    model = reference_mlp(list(widths), bn="pre")
    base = init_mlp(list(widths), bn=True, seed=seed)
    x, t = reference_data(seed=seed, batch=batch, inputs=widths[0])
    if weight not in base:
        raise ValuesError(f"unknown weight {weight!r}; the model's parameters are: {', '.join(base)}")
    block, full = [], []
    for c in scales:
        p = dict(base)
        p[weight] = base[weight] * float(c)
        block.append(lambda_max(compiled_hessian(model, p, x, t, [weight])))
        full.append(lambda_max(compiled_hessian(model, p, x, t)))
    return BlockScaling(weight, tuple(float(c) for c in scales), tuple(block), tuple(full))
