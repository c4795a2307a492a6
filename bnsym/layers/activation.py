"""Entrywise activations ``a = g(z)``, and the one registry of activations (SymPy, NumPy, PyTorch).

Each :class:`ActivationKind` holds the SymPy function (whose ``fdiff`` gives the derivative the engine uses),
its NumPy value and derivative, and the name of its PyTorch function. The builders, the CLI, the sweeps and
the tests all read :data:`ACTIVATIONS`.

>>> import sympy
>>> z = sympy.Symbol("z", real=True)
>>> ACTIVATIONS["relu"](z), sorted(ACTIVATIONS)
(ReLU(z), ['identity', 'relu', 'sigmoid', 'tanh'])
>>> float(ACTIVATIONS["sigmoid"].numpy_prime(0.0))
0.25
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from collections.abc import Callable

import sympy
from sympy import Expr, Matrix

from ..errors import NetworkSpecError
from ..functions import ReLU, Sigmoid
from .base import IndexDefinition, Layer, Port, array_module

__all__ = ["ActivationKind", "ACTIVATIONS", "Activation", "activation_kind"]


@dataclass(frozen=True)
class ActivationKind:
    """One activation: SymPy function, NumPy value and derivative, PyTorch function name, LaTeX name."""

    name: str
    sympy_function: Callable[[Expr], Expr]
    numpy: Callable[[Any], Any]
    numpy_prime: Callable[[Any], Any]
    torch_name: str | None  # attribute of torch (None: the identity)

    def __call__(self, z: Expr) -> Expr:
        return self.sympy_function(z)

    def derivative(self, z: Expr) -> Expr:
        """``g'(z)`` by ``sympy.diff`` (the functions' ``fdiff``).

        >>> ACTIVATIONS["tanh"].derivative(sympy.Symbol("z"))
        1 - tanh(z)**2
        """
        d = sympy.Dummy(real=True)
        return sympy.diff(self.sympy_function(d), d).xreplace({d: z})

    def torch(self, x):
        """``g(x)`` for a torch tensor."""
        import torch

        return x if self.torch_name is None else getattr(torch, self.torch_name)(x)


def _sigmoid(x):
    return 1.0 / (1.0 + array_module(x).exp(-x))


#: Activations by name (each callable on a SymPy expression, as ``ACTIVATIONS["relu"](z)``).
ACTIVATIONS: dict[str, ActivationKind] = {
    "relu": ActivationKind("relu", ReLU, lambda x: array_module(x).maximum(x, 0.0), lambda x: (x > 0) * 1.0,
                           "relu"),
    "sigmoid": ActivationKind("sigmoid", Sigmoid, _sigmoid, lambda x: _sigmoid(x) * (1.0 - _sigmoid(x)), "sigmoid"),
    "tanh": ActivationKind("tanh", sympy.tanh, lambda x: array_module(x).tanh(x),
                           lambda x: 1.0 - array_module(x).tanh(x) ** 2, "tanh"),
    "identity": ActivationKind("identity", lambda z: z, lambda x: x, lambda x: array_module(x).ones_like(x), None),
}


def activation_kind(name) -> ActivationKind:
    """The registered activation called ``name``, with a clear error for any other value.

    >>> activation_kind("swish")
    Traceback (most recent call last):
    ...
    bnsym.errors.NetworkSpecError: unknown activation 'swish'; choose one of identity, relu, sigmoid, tanh
    """
    if not isinstance(name, str) or name not in ACTIVATIONS:
        raise NetworkSpecError(f"unknown activation {name!r}; choose one of {', '.join(sorted(ACTIVATIONS))}")
    return ACTIVATIONS[name]


class Activation(Layer):
    """``a = g(z)`` entrywise, for ``g`` one of :data:`ACTIVATIONS`; VJP ``ā = ȳ ⊙ g'(z)``.

    >>> z = sympy.Symbol("z1", real=True)
    >>> Activation("a1", "relu").jacobian(sympy.Matrix([[z]]), sympy.Matrix([[sympy.Symbol("a1")]]))
    Matrix([[ReLU'(z1)]])
    """

    kind = "activation"

    def __init__(self, name: str, activation: str) -> None:
        super().__init__(name)
        self.activation = activation_kind(activation).name
        self.affine = self.activation == "identity"
        self.latex_name = {"relu": r"\mathrm{ReLU}", "sigmoid": r"\sigma", "tanh": r"\tanh",
                           "identity": r"\mathrm{id}"}[self.activation]

    @property
    def function(self) -> ActivationKind:
        """The activation's registry entry."""
        return ACTIVATIONS[self.activation]

    # per entry
    def forward(self, x: Matrix) -> Matrix:
        return x.applyfunc(self.function)

    def jacobian_entries(self, x: Matrix, y: Matrix) -> dict[tuple[int, int], Expr]:
        return {(k, k): self.function.derivative(v) for k, v in enumerate(x)}

    # index form
    def index_forward(self, x: Port, y: Port, i, r) -> list[IndexDefinition]:
        return [IndexDefinition(y.base, y.indices(i, r), self.function(x.entry(i, r)), "activation")]

    def index_vjp(self, x: Port, y: Port, ybar: Port, i, r) -> Expr:
        return ybar.entry(i, r) * self.function.derivative(x.entry(i, r))

    # numerics
    def numpy_forward(self, x, params: dict):
        return self.function.numpy(x), x

    def numpy_vjp(self, saved, g, params: dict):
        return g * self.function.numpy_prime(saved), {}

    def torch_forward(self, x, params: dict):
        return self.function.torch(x)
