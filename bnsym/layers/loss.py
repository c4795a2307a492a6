"""The mean squared error ``J = (1/m) Σ_i ‖ŷ_i − t_i‖²``: per entry, in index form, NumPy, torch.

Index form: ``J := (1/m) Σ_j Σ_c (ŷ[j, c] − t[j, c])²`` and ``ŷ̄[i, r] = (2/m)(ŷ[i, r] − t[i, r])``.
"""
from __future__ import annotations

import sympy
from sympy import Expr, IndexedBase, Matrix, Sum

from .base import IndexDefinition, Layer, Port, array_module, index_symbol

__all__ = ["MSELoss"]

_J, _C = index_symbol("j"), index_symbol("c")


class MSELoss(Layer):
    """Mean squared error ``J = (1/m) Σ_i ‖ŷ_i − t_i‖²`` against target symbols ``t``.

    >>> y = sympy.Matrix([[sympy.Symbol("yhat", real=True)]])
    >>> MSELoss("J", targets=sympy.Matrix([[sympy.Symbol("t", real=True)]])).forward(y)
    Matrix([[(-t + yhat)**2]])
    """

    kind = "loss"
    is_loss = True
    latex_name = r"\mathrm{MSE}"
    #: the targets in index form
    target_base = IndexedBase("t", real=True)

    def __init__(self, name: str, *, targets: Matrix | None = None) -> None:
        super().__init__(name)
        self.targets = targets

    def output_width(self, width: int) -> int:
        return 1

    def forward(self, x: Matrix) -> Matrix:
        residuals = x - self.targets
        return Matrix([[sympy.Add(*[r**2 for r in residuals]) / x.rows]])

    def targets_port(self, x: Port) -> Port:
        """The targets as a node shaped like ``ŷ``."""
        return Port("t", x.width, x.m, self.target_base)

    def index_forward(self, x: Port, y: Port, i, r) -> list[IndexDefinition]:
        t = self.targets_port(x)
        term = (x.entry(_J, _C) - t.entry(_J, _C)) ** 2
        inner = Sum(term, (_C, 1, x.width)) if x.width > 1 else term
        return [IndexDefinition(y.base, (), Sum(inner, (_J, 1, x.m)) / x.m, "mean squared error")]

    def index_vjp(self, x: Port, y: Port, ybar: Port, i, r) -> Expr:
        t = self.targets_port(x)
        return ybar.base * 2 * (x.entry(i, r) - t.entry(i, r)) / x.m

    def numpy_forward(self, x, params: dict):
        t = params["t"]
        return array_module(x).sum((x - t) ** 2) / x.shape[0], (x, t)

    def numpy_vjp(self, saved, g, params: dict):
        x, t = saved
        return g * 2.0 * (x - t) / x.shape[0], {}

    def torch_forward(self, x, params: dict):
        return ((x - params["t"]) ** 2).sum() / x.shape[0]
