"""The affine layer ``z = W a + b``: forward and vector-Jacobian product, per entry, in index form, NumPy, torch.

Index form (``i`` a sample, ``r`` an output feature, ``c`` an input feature):
``z[i, r] = Σ_c W[r, c] a[i, c] + b[r]``; ``ā[i, c] = Σ_r W[r, c] z̄[i, r]``; ``∂J/∂W[r, c] = Σ_i z̄[i, r] a[i, c]``;
``∂J/∂b[r] = Σ_i z̄[i, r]``. A dimension of size 1 carries no index (so a one-unit weight is a plain ``w``).

>>> import sympy
>>> from bnsym.layers.base import Port, index_symbol
>>> m = sympy.Symbol("m", integer=True, positive=True)
>>> lin = Linear("z1", weight="W1", bias="b1", n_in=2, n_out=3)
>>> lin.index_forward(Port("x", 2, m), Port("z1", 3, m), index_symbol("i"), index_symbol("r"))[0].value
b1[r] + Sum(W1[r, c]*x[i, c], (c, 1, 2))
"""
from __future__ import annotations

import sympy
from sympy import Expr, IndexedBase, Matrix, Sum, Symbol

from ..functions import Entry
from .base import IndexDefinition, Layer, Port, array_module, index_symbol, parameter_entry

__all__ = ["Linear"]

_C = index_symbol("c")  # the input feature summed over
_J = index_symbol("j")  # a sample summed over


class Linear(Layer):
    """``z = W a + b`` for each sample (weights ``(n_out, n_in)``, an optional bias ``(n_out,)``).

    Scalar parameters (one unit in, one out) are single symbols named ``weight``/``bias``; wider ones
    are matrices of symbols ``W1[j,k]``/``b1[j]``.

    >>> lin = Linear("z1", weight="w1", bias="b1", n_in=1, n_out=1)
    >>> lin.forward(sympy.Matrix([[sympy.Symbol("x", real=True)]]))
    Matrix([[b1 + w1*x]])
    """

    kind = "linear"
    latex_name = r"\mathrm{Linear}"
    affine = True

    def __init__(self, name: str, *, weight: str, n_in: int, n_out: int, bias: str | None = None) -> None:
        super().__init__(name)
        self.weight, self.bias = weight, bias
        self.n_in, self.n_out = n_in, n_out
        if n_in == 1 and n_out == 1:
            self.parameters[weight] = Matrix([[Symbol(weight, real=True)]])
        else:
            self.parameters[weight] = Matrix(
                n_out, n_in, lambda j, k: Entry(weight, f"{j + 1},{k + 1}", real=True)
            )
        if bias is not None:
            self.parameters[bias] = (
                Matrix([[Symbol(bias, real=True)]])
                if n_out == 1
                else Matrix(1, n_out, lambda _, j: Entry(bias, str(j + 1), real=True))
            )

    def output_width(self, width: int) -> int:
        return self.n_out

    def entry_terms(self, m: int, width: int) -> int:
        return m * self.n_in * self.n_out

    # -- per entry -------------------------------------------------------------------------------------
    def forward(self, x: Matrix) -> Matrix:
        W = self.parameters[self.weight]
        b = self.parameters[self.bias] if self.bias is not None else None
        rows = x.tolist()
        weights = W.tolist()
        entries = []
        for row in rows:  # written out entry by entry: SymPy's matrix product goes through a slower domain
            for j, w in enumerate(weights):
                value = sympy.Add(*[a * c for a, c in zip(row, w, strict=False)])
                entries.append(value + b[j] if b is not None else value)
        return Matrix(x.rows, self.n_out, entries)

    def jacobian_entries(self, x: Matrix, y: Matrix) -> dict[tuple[int, int], Expr]:
        """``∂z[i,j]/∂x[i,k] = W[j,k]`` (closed form: differentiating each sum would cost ``O(n_in²)``)."""
        W = self.parameters[self.weight]
        n_out, n_in = W.shape
        return {(i * n_out + j, i * n_in + k): W[j, k]
                for i in range(x.rows) for j in range(n_out) for k in range(n_in) if W[j, k] != 0}

    def parameter_entries(self, x: Matrix, name: str) -> dict[tuple[int, int], Expr]:
        """``∂z[i,j]/∂W[j,k] = x[i,k]`` and ``∂z[i,j]/∂b[j] = 1``.

        >>> lin = Linear("z1", weight="W1", bias="b1", n_in=2, n_out=1)
        >>> lin.parameter_entries(sympy.Matrix([[3, 4]]), "W1"), lin.parameter_entries(sympy.Matrix([[3, 4]]), "b1")
        ({(0, 0): 3, (0, 1): 4}, {(0, 0): 1})
        """
        n_out, n_in = self.parameters[self.weight].shape
        if name == self.bias:
            return {(i * n_out + j, j): sympy.Integer(1) for i in range(x.rows) for j in range(n_out)}
        return {(i * n_out + j, j * n_in + k): x[i, k]
                for i in range(x.rows) for j in range(n_out) for k in range(n_in) if x[i, k] != 0}

    # -- index form ------------------------------------------------------------------------------------
    def index_parameters(self) -> dict:
        weight = self._base(self.weight, self.n_out * self.n_in)
        out: dict[str, tuple] = {self.weight: (weight, (self.n_out, self.n_in))}
        if self.bias is not None:
            out[self.bias] = (self._base(self.bias, self.n_out), (self.n_out,))
        return out

    @staticmethod
    def _base(name: str, size: int):
        return Symbol(name, real=True) if size == 1 else IndexedBase(name, real=True)

    def _w(self, r, c) -> Expr:
        base = self.index_parameters()[self.weight][0]
        return parameter_entry(base, r if self.n_out > 1 else None, c if self.n_in > 1 else None)

    def index_forward(self, x: Port, y: Port, i, r) -> list[IndexDefinition]:
        value = self._w(r, _C) * x.entry(i, _C)
        value = Sum(value, (_C, 1, self.n_in)) if self.n_in > 1 else value
        if self.bias is not None:
            value += parameter_entry(self.index_parameters()[self.bias][0], r if self.n_out > 1 else None)
        return [IndexDefinition(y.base, y.indices(i, r), value, "affine map")]

    def index_vjp(self, x: Port, y: Port, ybar: Port, i, c) -> Expr:
        s = index_symbol("s")
        term = self._w(s, c) * ybar.entry(i, s)
        return Sum(term, (s, 1, self.n_out)) if self.n_out > 1 else term

    def index_parameter_vjp(self, x: Port, y: Port, ybar: Port, name: str, indices: tuple) -> Expr:
        if name == self.bias:
            (r,) = indices
            return Sum(ybar.entry(_J, r), (_J, 1, y.m))
        r, c = indices
        return Sum(ybar.entry(_J, r) * x.entry(_J, c), (_J, 1, y.m))

    # -- numerics --------------------------------------------------------------------------------------
    def numpy_forward(self, x, params: dict):
        W = params[self.weight]
        out = x @ (W.T if W.ndim == 2 else W.reshape(self.n_out, self.n_in).T)
        if self.bias is not None:
            out = out + params[self.bias].reshape(1, self.n_out)
        return out, x

    def numpy_vjp(self, saved, g, params: dict):
        W = params[self.weight]
        W = W if W.ndim == 2 else W.reshape(self.n_out, self.n_in)
        grads = {self.weight: (g.T @ saved).reshape(params[self.weight].shape)}
        if self.bias is not None:
            grads[self.bias] = array_module(g).add.reduce(g, axis=0).reshape(params[self.bias].shape)
        return g @ W, grads

    def torch_forward(self, x, params: dict):
        import torch

        W = params[self.weight].reshape(self.n_out, self.n_in)
        b = params[self.bias].reshape(self.n_out) if self.bias is not None else None
        return torch.nn.functional.linear(x, W, b)
