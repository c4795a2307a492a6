"""Numbers for any network from its layers' own NumPy kernels: one vectorized route, forward then reverse.

A :class:`VectorizedNetwork` holds a list of layers (:mod:`bnsym.layers`), the loss layer last. It runs the
forward pass as a loop over the layers, keeping what each :meth:`~bnsym.layers.Layer.numpy_forward` saves,
then the reverse pass as a loop calling each :meth:`~bnsym.layers.Layer.numpy_vjp` from the loss back. It
never asks which kind a layer is: every rule is the layer's own (the same layer that states its forward and
its vector-Jacobian product in index form, per entry and through PyTorch). Arrays have shape
``(samples, features)``; parameters are shaped as the layer declares them (``W (n_out, n_in)``, biases,
``γ``, ``β`` as ``1 × width`` rows, as :func:`bnsym.numeric.init_mlp` makes them).

:func:`reference_mlp` builds the sweeps' MLP from :func:`bnsym.mlp`'s layers.

>>> import numpy as np
>>> from bnsym.numeric import init_mlp
>>> net = reference_mlp([2, 8, 1], bn="pre", eps=1e-5)
>>> net.parameter_names()
['W1', 'b1', 'gamma1', 'beta1', 'W2', 'b2']
>>> rng = np.random.default_rng(0)
>>> x, t = rng.standard_normal((16, 2)), rng.standard_normal((16, 1))
>>> loss, grads = net.loss_and_gradients(init_mlp([2, 8, 1], bn=True), x, t)
>>> bool(np.isfinite(loss)), grads["W1"].shape, grads["gamma1"].shape
(True, (8, 2), (1, 8))
"""
from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

import numpy as np

from .errors import NetworkSpecError, ValuesError
from .layers import Layer
from .numeric import real_array

__all__ = ["VectorizedNetwork", "reference_mlp"]

#: Names the route passes to the kernels besides the parameters (MSE reads its targets as ``params["t"]``).
_RESERVED = ("x", "t")


def _shaped(name: str, value, shape: tuple[int, ...]) -> np.ndarray:
    """``value`` as a finite float64 array of ``shape``; a shape differing only by axes of length 1 is
    reshaped (a ``(8,)`` bias for ``(1, 8)``, a number for ``(1, 1)``), never a transposed or other shape."""
    array = real_array(name, value)
    if array.shape == shape:
        return array
    if tuple(d for d in array.shape if d != 1) == tuple(d for d in shape if d != 1):
        return array.reshape(shape)
    raise ValuesError(f"value for {name!r} must have shape {shape}, got shape {array.shape}")


class VectorizedNetwork:
    """A network run by its layers' NumPy kernels; ``layers`` ends with the loss layer (a scalar output).

    ``inputs`` is the number of input features, when known (:meth:`from_network` knows it); with it the
    batch's and the targets' widths are checked before any kernel runs.

    >>> from bnsym.layers import Linear, MSELoss
    >>> net = VectorizedNetwork([Linear("yhat", weight="w", n_in=1, n_out=1), MSELoss("J")], inputs=1)
    >>> net.loss_and_gradients({"w": 2.0}, [[1.0], [2.0]], [[0.0], [0.0]])   # J = ((2·1)² + (2·2)²)/2
    (10.0, {'w': array([[10.]])})
    >>> VectorizedNetwork([])
    Traceback (most recent call last):
    ...
    bnsym.errors.NetworkSpecError: a VectorizedNetwork needs a list of layers ending with a loss layer, got []
    """

    def __init__(self, layers: Sequence[Layer], *, inputs: int | None = None) -> None:
        if isinstance(layers, (str, bytes)) or not isinstance(layers, Sequence) or not layers:
            raise NetworkSpecError("a VectorizedNetwork needs a list of layers ending with a loss layer, "
                                   f"got {layers!r}")
        for layer in layers:
            if not isinstance(layer, Layer):
                raise NetworkSpecError("a VectorizedNetwork's layers must be bnsym.layers.Layer objects, "
                                       f"got {layer!r}")
        if inputs is not None and (isinstance(inputs, bool) or not isinstance(inputs, numbers.Integral) or inputs < 1):
            raise NetworkSpecError(f"inputs must be a positive integer (the number of input features), got {inputs!r}")
        self.layers: list[Layer] = list(layers)
        self.inputs = None if inputs is None else int(inputs)
        self.shapes: dict[str, tuple[int, ...]] = {}
        for layer in self.layers:
            for name, symbols in layer.parameters.items():
                if name in self.shapes or name in _RESERVED:
                    what = "used twice" if name in self.shapes else "reserved for the inputs or the targets"
                    raise NetworkSpecError(f"parameter name {name!r} of layer {layer.name!r} is {what}; "
                                           "choose distinct names")
                self.shapes[name] = tuple(symbols.shape)
        #: the width of the targets (the node before the loss), when ``inputs`` is known
        self.outputs: int | None = None
        if self.inputs is not None:
            width = self.inputs
            for layer in self.layers[:-1]:
                width = layer.output_width(width)
            self.outputs = width
        self._at: dict[int, list[Layer]] = {}

    @classmethod
    def from_network(cls, network) -> VectorizedNetwork:
        """The route for a built :class:`~bnsym.network.Network` with ``loss="mse"`` (its layers, its input width).

        >>> import bnsym
        >>> VectorizedNetwork.from_network(bnsym.two_layer(bn="post", batch=2, loss="mse")).parameter_names()
        ['w1', 'b1', 'gamma1', 'beta1', 'w2', 'b2']
        >>> VectorizedNetwork.from_network(bnsym.two_layer())
        Traceback (most recent call last):
        ...
        bnsym.errors.NetworkSpecError: the vectorized route needs a loss: build the network with loss="mse"
        """
        from .network import Network

        if not isinstance(network, Network):
            raise NetworkSpecError("from_network needs a bnsym Network (from chain, two_layer or mlp), "
                                   f"got {network!r}")
        if not network.has_loss:
            raise NetworkSpecError('the vectorized route needs a loss: build the network with loss="mse"')
        if network.constants:
            raise NetworkSpecError(f"the vectorized route needs numeric constants, but the network has the symbol(s) "
                                   f"{', '.join(s.name for s in network.constants)} (a symbolic eps): build it with "
                                   "a number for eps")
        return cls(network.layers, inputs=network.input_width)

    def parameter_names(self) -> list[str]:
        """The parameters' names, in layer order.

        >>> reference_mlp([2, 3, 1], bn="post").parameter_names()
        ['W1', 'b1', 'gamma1', 'beta1', 'W2', 'b2']
        """
        return list(self.shapes)

    # -- checked values ------------------------------------------------------------------------------
    def check(self, params: Mapping, x, t=None) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray | None]:
        """``(params, x, t)`` as finite float64 arrays of the right shapes, or a :class:`~bnsym.errors.ValuesError`.

        Every parameter is needed and no other name is taken; ``x`` is ``samples × inputs``, ``t`` (when
        given) ``samples × outputs``, and every layer must accept a batch of that many samples (BN needs two).

        >>> net = reference_mlp([2, 3, 1], bn="pre")
        >>> net.check({"W1": np.zeros((2, 3))}, [[1.0, 2.0]])
        Traceback (most recent call last):
        ...
        bnsym.errors.ValuesError: missing value(s) for b1, gamma1, beta1, W2, b2; give values for: W1, b1, gamma1,
        beta1, W2, b2
        """
        if not isinstance(params, Mapping):
            raise ValuesError(f"params must be a mapping from parameter names to values, got {type(params).__name__}")
        names = ", ".join(self.shapes)
        unknown = [repr(k) for k in params if k not in self.shapes]
        if unknown:
            raise ValuesError(f"unknown parameter name(s) {', '.join(unknown)}; the parameters are: {names}")
        missing = [k for k in self.shapes if k not in params]
        if missing:
            raise ValuesError(f"missing value(s) for {', '.join(missing)}; give values for: {names}")
        checked = {k: _shaped(k, params[k], shape) for k, shape in self.shapes.items()}
        x = real_array("x", x)
        if x.ndim != 2 or x.shape[0] < 1 or self.inputs is not None and x.shape[1] != self.inputs:
            width = "inputs" if self.inputs is None else self.inputs
            raise ValuesError(f"x must be a samples × {width} array with at least one sample, got shape {x.shape}")
        self._layers_at(x.shape[0])
        if t is not None and self.outputs is not None:
            t = _shaped("t", t, (x.shape[0], self.outputs))
        elif t is not None:
            t = real_array("t", t)
            if t.ndim != 2 or t.shape[0] != x.shape[0]:
                raise ValuesError(f"t must be a samples × outputs array with the {x.shape[0]} samples of x, "
                                  f"got shape {t.shape}")
        return checked, x, t

    def _layers_at(self, m: int) -> list[Layer]:
        """The layers for a batch of ``m`` samples (:meth:`~bnsym.layers.Layer.at`, computed once per ``m``)."""
        layers = self._at.get(m)
        if layers is None:
            try:
                layers = [layer.at(m) for layer in self.layers]
            except NetworkSpecError as exc:
                raise ValuesError(f"x has {m} sample(s), a batch the network's layers cannot take: {exc}") from None
            self._at[m] = layers
        return layers

    # -- the two loops -------------------------------------------------------------------------------
    def _forward(self, layers: list[Layer], values: dict, x: np.ndarray,
                 checked: bool = False) -> tuple[Any, list]:
        saved = []
        for layer in layers:
            x_in = x
            x, keep = layer.numpy_forward(x, values)
            if checked and (reason := layer.numpy_undefined(x_in, keep)) is not None:
                raise ValuesError(reason)
            saved.append(keep)
        return x, saved

    def _evaluate(self, params: Mapping, x: np.ndarray, t: np.ndarray,
                  checked: bool = False) -> tuple[Any, dict[str, np.ndarray]]:
        layers = self._layers_at(x.shape[0])
        values = dict(params)
        values["t"] = t
        loss, saved = self._forward(layers, values, x, checked)
        if checked:
            self._checked_loss(loss)
        g: Any = 1.0
        grads: dict[str, np.ndarray] = {}
        for layer, keep in zip(reversed(layers), reversed(saved), strict=False):
            g, parameter_grads = layer.numpy_vjp(keep, g, values)
            grads.update(parameter_grads)
        return loss, {name: grads[name] for name in self.shapes}

    def run(self, params: Mapping, x: np.ndarray, t: np.ndarray) -> tuple[float, dict[str, np.ndarray]]:
        """``(J, {name: ∂J/∂name})`` on values already checked (:meth:`check`): the forward loop, then the
        reverse loop of VJPs from ``∂J/∂J = 1``. For repeated steps (gradient descent), without re-checking.

        >>> net = reference_mlp([1, 1])
        >>> p, x, t = net.check({"W1": 2.0, "b1": 0.0}, [[1.0]], [[0.0]])
        >>> net.run(p, x, t)   # J = (2x)², ∂J/∂W = 2·2x·x, ∂J/∂b = 2·2x
        (4.0, {'W1': array([[4.]]), 'b1': array([[4.]])})
        """
        loss, grads = self._evaluate(params, x, t)
        return float(loss), grads

    def jitted(self, learning_rate: float | None = None):
        """The same two loops over the same layer kernels, compiled once by ``jax.jit`` (JAX must be installed;
        it runs in float64, so this turns on JAX's ``jax_enable_x64``). Returns ``step(params, x, t)`` giving
        ``(J, grads)``, or with ``learning_rate`` the updated parameters ``(J, new_params)`` (one compiled
        gradient-descent step), on JAX arrays. Values are not checked: pass arrays from :meth:`check`.

        >>> import pytest; jax = pytest.importorskip("jax")
        >>> net = reference_mlp([1, 1])
        >>> p, x, t = net.check({"W1": 2.0, "b1": 0.0}, [[1.0]], [[0.0]])
        >>> loss, grads = net.jitted()(p, x, t)
        >>> float(loss), grads["W1"].tolist()
        (4.0, [[4.0]])
        """
        try:
            import jax
        except ImportError:
            raise NetworkSpecError("the jitted route needs JAX: pip install jax") from None
        jax.config.update("jax_enable_x64", True)

        def gradients(params, x, t):
            return self._evaluate(params, x, t)

        if learning_rate is None:
            return jax.jit(gradients)
        rate = float(learning_rate)

        def step(params, x, t):
            loss, grads = self._evaluate(params, x, t)
            return loss, {name: params[name] - rate * grads[name] for name in grads}

        return jax.jit(step)

    def _checked_loss(self, loss) -> None:
        """Refuse a last layer that is no loss (its output is not a scalar)."""
        if np.ndim(loss) != 0:
            raise NetworkSpecError(f"the last layer ({self.layers[-1].name!r}) must be a loss (a scalar output), "
                                   f"but it gives an array of shape {np.shape(loss)}")

    def _guarded(self, call):
        try:
            with np.errstate(all="ignore"):
                return call()
        except (TypeError, ValueError) as exc:  # a kernel refusing the values (e.g. a layer's own shape rule)
            if isinstance(exc, (ValuesError, NetworkSpecError)):
                raise
            raise ValuesError(f"the layers' NumPy kernels cannot evaluate these values: {exc}") from None

    # -- checked entry points --------------------------------------------------------------------------
    def loss_and_gradients(self, params: Mapping, x, t) -> tuple[float, dict[str, np.ndarray]]:
        """``(J, {name: ∂J/∂name})`` at checked values; each gradient is shaped like its parameter.

        An overflow gives infinite or NaN numbers (gradient descent reads them as divergence). A batch on which
        a layer is undefined (a constant feature under BN with ``ε = 0``: ``σ = 0``) is a
        :class:`~bnsym.errors.ValuesError` here; the unchecked :meth:`run` gives NaN there.

        >>> net = reference_mlp([1, 1])
        >>> net.loss_and_gradients({"W1": [[2.0]], "b1": [[0.0]]}, [[1.0]], [[0.0]])[0]
        4.0
        >>> net.loss_and_gradients({"W1": [[2.0]], "b1": [[0.0]]}, [[1.0]], [[float("nan")]])
        Traceback (most recent call last):
        ...
        bnsym.errors.ValuesError: value for 't' must be finite (and within float64's range), got [[nan]]
        """
        params, x, t = self.check(params, x, t)

        def both():
            loss, grads = self._evaluate(params, x, t, checked=True)
            return float(loss), grads

        return self._guarded(both)

    def loss(self, params: Mapping, x, t) -> float:
        """The loss alone (the forward loop only).

        >>> reference_mlp([1, 1]).loss({"W1": [[2.0]], "b1": [[0.0]]}, [[1.0], [2.0]], [[0.0], [0.0]])  # (4 + 16)/2
        10.0
        """
        params, x, t = self.check(params, x, t)

        def forward():
            loss = self._forward(self._layers_at(x.shape[0]), {**params, "t": t}, x, checked=True)[0]
            self._checked_loss(loss)
            return float(loss)

        return self._guarded(forward)

    def output(self, params: Mapping, x) -> np.ndarray:
        """The network's output ``ŷ`` (every layer but the loss), ``samples × outputs``.

        >>> reference_mlp([1, 1], output_activation="relu").output({"W1": [[-1.0]], "b1": [[0.5]]}, [[0.0], [2.0]])
        array([[0.5],
               [0. ]])
        """
        params, x, _ = self.check(params, x)
        return self._guarded(lambda: self._forward(self._layers_at(x.shape[0])[:-1], dict(params), x, checked=True)[0])

    def __repr__(self) -> str:
        return f"VectorizedNetwork({' -> '.join(layer.name for layer in self.layers)})"


def reference_mlp(widths: Sequence[int], activation: str = "relu", *, bn: str | bool | None = None, eps=0.0,
                  output_activation: str = "identity", norm: str | None = None, placement: str | None = None,
                  groups: int | None = None) -> VectorizedNetwork:
    """The MLP ``[Linear → (norm) → activation]* → Linear → output activation`` with MSE, on the vectorized route.

    The layers are :func:`bnsym.mlp`'s over a symbolic batch (``batch="m"``: nothing is written out per entry,
    and the kernels take any batch), named as there: ``W1, b1, gamma1, beta1, …``. ``bn`` is ``None``, ``"pre"``
    (BN before each hidden activation), ``"post"`` (after it); ``True``/``False`` mean ``"pre"``/``None``.
    ``norm=`` (with ``placement=``, and ``groups=`` for ``"group"``) chooses another normalization as in
    :func:`bnsym.mlp`: ``"layer"`` (``γ, β`` per feature), ``"rms"`` (``γ`` only), ``"group"``, or ``"weight"``
    (the hidden layers' weights ``W1, …`` become directions with magnitudes ``g1, …``; no placement).
    Networks are built once per arguments and shared; the builders' layer and width limits apply.

    >>> reference_mlp([2, 4, 1], "tanh", bn=True, eps=1e-5).parameter_names()
    ['W1', 'b1', 'gamma1', 'beta1', 'W2', 'b2']
    >>> reference_mlp([2, 4, 1], norm="rms", eps=1e-5).parameter_names()
    ['W1', 'b1', 'gamma1', 'W2', 'b2']
    >>> reference_mlp([2, 4, 1], norm="weight").parameter_names()
    ['W1', 'g1', 'b1', 'W2', 'b2']
    >>> reference_mlp([2, 3, 1], "swish")
    Traceback (most recent call last):
    ...
    bnsym.errors.NetworkSpecError: unknown activation 'swish'; choose one of 'relu', 'sigmoid', 'tanh', 'identity'
    >>> reference_mlp([2, 3, 1], bn="pre", eps=-1.0)
    Traceback (most recent call last):
    ...
    bnsym.errors.NetworkSpecError: eps must be >= 0 (declare a symbol with nonnegative=True), got -1.0
    """
    if isinstance(bn, (bool, np.bool_)):
        bn = "pre" if bn else None
    plain = (isinstance(widths, Sequence) and not isinstance(widths, (str, bytes))
             and all(isinstance(w, numbers.Integral) and not isinstance(w, (bool, np.bool_)) for w in widths))
    kind = (norm, placement, groups)
    try:
        hash((activation, bn, eps, output_activation, kind))
    except TypeError:
        plain = False
    if plain:
        return _cached_mlp(tuple(int(w) for w in widths), activation, bn, eps, output_activation, kind)
    return _build_mlp(widths, activation, bn, eps, output_activation, kind)  # an invalid request: mlp says why


def _build_mlp(widths, activation, bn, eps, output_activation, kind=(None, None, None)) -> VectorizedNetwork:
    from .network import mlp

    norm, placement, groups = kind
    net = mlp(list(widths) if isinstance(widths, tuple) else widths, activation, bn=bn, batch="m", eps=eps,
              output_activation=output_activation, loss="mse", norm=norm, placement=placement,
              groups=groups)  # a symbolic batch: cheap, and no entries
    return VectorizedNetwork.from_network(net)


@lru_cache(maxsize=128, typed=True)
def _cached_mlp(widths: tuple, activation, bn, eps, output_activation, kind) -> VectorizedNetwork:
    return _build_mlp(widths, activation, bn, eps, output_activation, kind)
