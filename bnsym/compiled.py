"""A toy :class:`~bnsym.network.Network` compiled to numbers from its own closed forms.

:func:`compile_network` lambdifies the loss and the reverse-accumulated gradients with their shared
subexpressions (:meth:`~bnsym.derive.Gradients.cse`) into one NumPy (or PyTorch) function, its derivative rules
from SymPy, never from a hand-written backprop; :class:`CompiledNetwork` calls it with checked values
(:func:`~bnsym.numeric.real_array`) and refuses a numerically constant batch
(:func:`~bnsym.numeric.check_divisors`). Both names are re-exported by :mod:`bnsym.numeric`.

>>> from bnsym import chain
>>> f = compile_network(chain(2, loss="mse"))
>>> f.loss({"w1": 2.0, "w2": 3.0}, x=[[1.0]], t=[[5.0]])
1.0
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from collections.abc import Callable, Mapping

import numpy as np

from .errors import NetworkSpecError, ValuesError
from .layers import flat

__all__ = ["CompiledNetwork", "compile_network"]


def _torch_printer():
    from sympy.printing.pytorch import TorchPrinter

    class _Printer(TorchPrinter):
        """SymPy's PyTorch printer, taught bnsym's activation functions."""

        def _print_ReLU(self, expr):
            return "torch.relu(%s)" % self._print(expr.args[0])

        def _print_ReLUPrime(self, expr):
            return "(%s > 0).double()" % self._print(expr.args[0])

        def _print_Sigmoid(self, expr):
            return "torch.sigmoid(%s)" % self._print(expr.args[0])

    return _Printer({"strict": False})


@dataclass
class CompiledNetwork:
    """A network's loss and gradients as one lambdified function (made by :func:`compile_network`).

    Call :meth:`loss_and_gradients` with parameter values by name and the batch ``x`` (and targets ``t``).
    """

    network: Any
    backend: str
    function: Callable
    parameter_names: list[str]
    shapes: dict[str, tuple[int, int]]

    #: the network's divisors (see :func:`~bnsym.numeric.check_divisors`), computed after the gradients
    divisors: list = field(default_factory=list)

    def _arguments(self, params: Mapping, x, t) -> list:
        conv = _as_tensor if self.backend == "torch" else _as_array
        net = self.network
        if not isinstance(params, Mapping):
            raise ValuesError(f"params must be a mapping from parameter names to values, got {type(params).__name__}")
        unknown = [repr(k) for k in params if k not in self.shapes]
        if unknown:
            raise ValuesError(f"unknown parameter name(s) {', '.join(unknown)}; the parameters are: "
                              f"{', '.join(self.parameter_names)}")
        args = [conv("x", x, net.inputs.shape)]
        args.append(conv("t", t, net.targets.shape))
        for name in self.parameter_names:
            if name not in params:
                raise ValuesError(f"missing value for parameter {name!r}; give values for: "
                                  f"{', '.join(self.parameter_names)}")
            args.append(conv(name, params[name], self.shapes[name]))
        return args

    def loss_and_gradients(self, params: Mapping, x, t) -> tuple[float, dict[str, np.ndarray]]:
        """``(J, {name: ∂J/∂name})`` at the given values; arrays are shaped like the parameters.

        A numerically constant batch under BN is refused (:func:`~bnsym.numeric.check_divisors`); an overflow gives
        infinite or NaN numbers (gradient descent reads them as divergence).

        >>> from bnsym import chain
        >>> compile_network(chain(1, loss="mse")).loss_and_gradients({"w1": 1.0}, x=[[2.0]], t=[[0.0]])[0]
        4.0
        """
        try:
            with np.errstate(all="ignore"):
                loss, *rest = self.function(*self._arguments(params, x, t))
        except (OverflowError, ZeroDivisionError) as exc:
            raise ValuesError(f"the loss or its gradients overflow float64 at these values ({exc})") from None
        grads, computed = rest[:len(self.parameter_names)], rest[len(self.parameter_names):]
        from .numeric import check_divisors  # (numeric re-exports this module: imported when called)

        check_divisors(self.divisors, computed)
        if self.backend == "torch":
            return float(loss), {n: g for n, g in zip(self.parameter_names, grads, strict=False)}
        return float(loss), {n: np.array(g, dtype=float).reshape(self.shapes[n])
                             for n, g in zip(self.parameter_names, grads, strict=False)}

    def loss(self, params: Mapping, x, t) -> float:
        """The loss ``J`` alone.

        >>> from bnsym import chain
        >>> compile_network(chain(1, loss="mse")).loss({"w1": 3.0}, x=[[1.0]], t=[[1.0]])
        4.0
        """
        return self.loss_and_gradients(params, x, t)[0]


def _as_array(name: str, value, shape) -> np.ndarray:
    from .numeric import real_array

    array = real_array(name, value)
    if array.size != shape[0] * shape[1]:
        raise ValuesError(f"value for {name!r} must have shape {tuple(shape)}, got shape {array.shape}")
    return array.reshape(shape)


def _as_tensor(name: str, value, shape):
    import torch

    if isinstance(value, torch.Tensor):
        if value.is_complex() or not value.is_floating_point():
            raise ValuesError(f"value for {name!r} must be a real floating-point tensor, got dtype {value.dtype}")
        if value.numel() != shape[0] * shape[1]:
            raise ValuesError(f"value for {name!r} must have shape {tuple(shape)}, got shape {tuple(value.shape)}")
        return value.reshape(shape)
    return torch.as_tensor(_as_array(name, value, shape), dtype=torch.float64)


def compile_network(network, backend: str = "numpy") -> CompiledNetwork:
    """Lambdify a network's loss and every gradient, sharing its reverse-accumulation subexpressions.

    The function evaluates, in order, the network's forward definitions and the adjoints of
    :meth:`~bnsym.derive.Gradients.cse` (handed to ``lambdify`` as its ``cse``), then returns ``J`` and the
    gradients. ``backend`` is ``"numpy"`` or ``"torch"`` (PyTorch tensors in, out; autograd-ready).
    The network needs ``loss="mse"``.

    >>> from bnsym import two_layer
    >>> f = compile_network(two_layer(loss="mse", batch=2))
    >>> sorted(f.parameter_names)
    ['b1', 'b2', 'w1', 'w2']
    >>> compile_network(two_layer())
    Traceback (most recent call last):
    ...
    bnsym.errors.NetworkSpecError: numeric compilation needs a loss: build the network with loss="mse"
    """
    from .network import Network

    if not isinstance(network, Network):
        raise NetworkSpecError(f"compile_network needs a bnsym Network (from chain, two_layer or mlp), got {network!r}")
    if not network.has_loss:
        raise NetworkSpecError('numeric compilation needs a loss: build the network with loss="mse"')
    if not isinstance(backend, str) or backend not in ("numpy", "torch"):
        raise NetworkSpecError(f"unknown backend {backend!r}; choose 'numpy' or 'torch'")
    if network.constants:
        raise NetworkSpecError(f"compile_network needs numeric constants, but the network has the symbol(s) "
                               f"{', '.join(s.name for s in network.constants)} (a symbolic eps): build it with a "
                               "number for eps")
    gradients = network.gradients()
    names = list(gradients.raw)
    outputs = [network.nodes[-1].symbols[0, 0]] + [list(flat(gradients.raw[n])) for n in names]
    outputs += [[d, *values] for _, d, values in network.divisors]
    args = [list(flat(network.inputs)), list(flat(network.targets))]
    args += [list(flat(network.parameters[n])) for n in names]
    shapes = {n: network.parameters[n].shape for n in names}
    if backend == "torch":
        import torch  # noqa: F401  (a clear ImportError if PyTorch is missing)

        function = gradients.lambdify(args, outputs, modules="torch", printer=_torch_printer())
        function = _torch_matrices(function, shapes, names)
    else:
        function = gradients.lambdify(args, outputs, modules="numpy")
    return CompiledNetwork(network, backend, _unpacking(function, network, names, backend), names, shapes,
                           list(network.divisors))


def _unpacking(function, network, names, backend):
    """Adapt ``function`` (nested lists of scalars) to arrays shaped like the network's matrices."""

    def call(x, t, *params):
        if backend == "torch":
            return function(list(x.reshape(-1)), list(t.reshape(-1)), *[list(p.reshape(-1)) for p in params])
        return function(list(x.ravel()), list(t.ravel()), *[list(p.ravel()) for p in params])

    return call


def _torch_matrices(function, shapes, names):
    import torch

    def call(*args):
        loss, *rest = function(*args)
        out = [_t(loss)]
        for name, g in zip(names, rest, strict=False):
            out.append(torch.stack([_t(e) for e in g]).reshape(shapes[name]))
        return out + rest[len(names):]

    def _t(e):
        return e if isinstance(e, torch.Tensor) else torch.tensor(float(e), dtype=torch.float64)

    return call
