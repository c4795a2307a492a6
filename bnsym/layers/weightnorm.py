"""Weight normalization (Salimans & Kingma 2016): ``z = (g_r/‖v_r‖) Σ_s v[r, s] x[i, s] + b_r`` per output row.

The weight of output ``r`` is its direction ``v_r`` (a row of ``v``, ``n_out × n_in``) scaled to length ``g_r``:
PyTorch's ``torch.nn.utils.parametrizations.weight_norm(linear, dim=0)`` (the norm is over every dimension but
0, i.e. over the inputs of each output row). Index form (``i`` a sample, ``r`` an output, ``c``/``s`` inputs),
with ``‖v_r‖ = √(Σ_s v[r, s]²)`` and ``u[i, r] = Σ_s v[r, s] x[i, s]``:

* ``z[i, r] = g_r u[i, r]/‖v_r‖ + b_r``;
* ``x̄[i, c] = Σ_r (g_r/‖v_r‖) v[r, c] z̄[i, r]``;
* ``∂J/∂g_r = Σ_j z̄[j, r] u[j, r]/‖v_r‖``, ``∂J/∂b_r = Σ_j z̄[j, r]``;
* ``∂J/∂v[r, c] = (g_r/‖v_r‖) Σ_j z̄[j, r] x[j, c] − (g_r v[r, c]/‖v_r‖³) Σ_j z̄[j, r] u[j, r]``
  (the component of the plain-weight gradient orthogonal to ``v_r``, scaled by ``g_r/‖v_r‖``).

With one input ``‖v_r‖ = |v_r|``, so the layer is ``g_r sign(v_r) x``: defined only for ``v_r ≠ 0``.

>>> import sympy
>>> x = sympy.Matrix([[sympy.Symbol("x", real=True)]])
>>> WeightNormLinear("z1", direction="v1", magnitude="g1", n_in=1, n_out=1).forward(x)
Matrix([[g1*v1*x/Abs(v1)]])
"""
from __future__ import annotations

import sympy
from sympy import Expr, IndexedBase, Matrix, Sum, Symbol

from ..functions import Entry
from .base import IndexDefinition, Layer, Port, array_module, check_name, index_symbol, parameter_entry

__all__ = ["WeightNormLinear"]

_C, _S, _J = index_symbol("c"), index_symbol("s"), index_symbol("j")


def _row(name: str, size: int) -> Matrix:
    if size == 1:
        return Matrix([[Symbol(name, real=True)]])
    return Matrix(1, size, lambda _, j: Entry(name, str(j + 1), real=True))


class WeightNormLinear(Layer):
    """``z = (g/‖v‖) ⊙ (v a) + b``: a linear layer whose weight rows are ``g_r v_r/‖v_r‖`` (``dim=0``).

    ``direction`` names ``v`` (``n_out × n_in``), ``magnitude`` names ``g`` (``n_out``), ``bias`` an optional
    ``b`` (``n_out``).

    >>> wn = WeightNormLinear("z1", direction="v1", magnitude="g1", n_in=2, n_out=1)
    >>> x = sympy.Matrix([[3, 4]])
    >>> wn.forward(x).subs({wn.parameters["v1"][0]: 3, wn.parameters["v1"][1]: 4})
    Matrix([[5*g1]])
    """

    kind = "weight_norm_linear"
    latex_name = r"\mathrm{WN}"
    affine = True  # affine in its input (not in its parameters)

    def __init__(self, name: str, *, direction: str, magnitude: str, n_in: int, n_out: int,
                 bias: str | None = None) -> None:
        super().__init__(name)
        self.direction, self.magnitude, self.bias = (check_name(direction, "direction name"),
                                                     check_name(magnitude, "magnitude name"), bias)
        self.n_in, self.n_out = n_in, n_out
        if n_in == 1 and n_out == 1:
            self.parameters[direction] = Matrix([[Symbol(direction, real=True)]])
        else:
            self.parameters[direction] = Matrix(n_out, n_in, lambda j, k: Entry(direction, f"{j + 1},{k + 1}",
                                                                                real=True))
        self.parameters[magnitude] = _row(magnitude, n_out)
        if bias is not None:
            self.parameters[check_name(bias, "bias name")] = _row(bias, n_out)

    def output_width(self, width: int) -> int:
        return self.n_out

    def entry_terms(self, m: int, width: int) -> int:
        return m * self.n_in * self.n_out + self.n_in * self.n_out

    # -- per entry -------------------------------------------------------------------------------------
    def weight(self) -> Matrix:
        """The effective weight ``W[r, c] = g_r v[r, c]/‖v_r‖`` (``n_out × n_in``).

        >>> WeightNormLinear("z1", direction="v", magnitude="g", n_in=1, n_out=1).weight()
        Matrix([[g*v/Abs(v)]])
        """
        v, g = self.parameters[self.direction], self.parameters[self.magnitude]
        norms = [sympy.sqrt(sympy.Add(*[v[r, c] ** 2 for c in range(self.n_in)])) for r in range(self.n_out)]
        return Matrix(self.n_out, self.n_in, lambda r, c: g[r] * v[r, c] / norms[r])

    def forward(self, x: Matrix) -> Matrix:
        W = self.weight()
        b = self.parameters[self.bias] if self.bias is not None else None
        entries = []
        for i in range(x.rows):
            for r in range(self.n_out):
                value = sympy.Add(*[W[r, c] * x[i, c] for c in range(self.n_in)])
                entries.append(value + b[r] if b is not None else value)
        return Matrix(x.rows, self.n_out, entries)

    # -- index form ------------------------------------------------------------------------------------
    @staticmethod
    def _base(name: str, size: int):
        return Symbol(name, real=True) if size == 1 else IndexedBase(name, real=True)

    def index_parameters(self) -> dict:
        out: dict[str, tuple] = {
            self.direction: (self._base(self.direction, self.n_out * self.n_in), (self.n_out, self.n_in)),
            self.magnitude: (self._base(self.magnitude, self.n_out), (self.n_out,)),
        }
        if self.bias is not None:
            out[self.bias] = (self._base(self.bias, self.n_out), (self.n_out,))
        return out

    def _v(self, r, c) -> Expr:
        base = self.index_parameters()[self.direction][0]
        return parameter_entry(base, r if self.n_out > 1 else None, c if self.n_in > 1 else None)

    def _g(self, r) -> Expr:
        return parameter_entry(self.index_parameters()[self.magnitude][0], r if self.n_out > 1 else None)

    def _sum_inputs(self, term: Expr, index) -> Expr:
        return Sum(term, (index, 1, self.n_in)) if self.n_in > 1 else term

    def norm(self, r) -> Expr:
        """``‖v_r‖ = √(Σ_s v[r, s]²)`` in index form.

        >>> WeightNormLinear("z1", direction="v", magnitude="g", n_in=2, n_out=3).norm(index_symbol("r"))
        sqrt(Sum(v[r, s]**2, (s, 1, 2)))
        """
        return sympy.sqrt(self._sum_inputs(self._v(r, _S) ** 2, _S))

    def _u(self, x: Port, i, r) -> Expr:
        return self._sum_inputs(self._v(r, _S) * x.entry(i, _S), _S)

    def index_forward(self, x: Port, y: Port, i, r) -> list[IndexDefinition]:
        value = self._g(r) * self._u(x, i, r) / self.norm(r)
        if self.bias is not None:
            value += parameter_entry(self.index_parameters()[self.bias][0], r if self.n_out > 1 else None)
        return [IndexDefinition(y.base, y.indices(i, r), value, "weight-normalized affine map")]

    def index_vjp(self, x: Port, y: Port, ybar: Port, i, c) -> Expr:
        q = index_symbol("q")
        term = self._g(q) * self._v(q, c) * ybar.entry(i, q) / self.norm(q)
        return Sum(term, (q, 1, self.n_out)) if self.n_out > 1 else term

    def index_parameter_vjp(self, x: Port, y: Port, ybar: Port, name: str, indices: tuple) -> Expr:
        r = indices[0]
        if name == self.bias:
            return Sum(ybar.entry(_J, r), (_J, 1, y.m))
        along = Sum(ybar.entry(_J, r) * self._u(x, _J, r), (_J, 1, y.m))
        if name == self.magnitude:
            return along / self.norm(r)
        c = indices[1]
        plain = Sum(ybar.entry(_J, r) * x.entry(_J, c), (_J, 1, y.m))
        return self._g(r) * plain / self.norm(r) - self._g(r) * self._v(r, c) * along / self.norm(r) ** 3

    # -- numerics --------------------------------------------------------------------------------------
    def _arrays(self, params: dict):
        v = params[self.direction].reshape(self.n_out, self.n_in)
        g = params[self.magnitude].reshape(self.n_out, 1)
        return v, g

    def numpy_forward(self, x, params: dict):
        xp = array_module(x)
        v, g = self._arrays(params)
        norm = xp.sqrt(xp.add.reduce(v * v, axis=1, keepdims=True))
        W = g * v / norm
        out = x @ W.T
        if self.bias is not None:
            out = out + params[self.bias].reshape(1, self.n_out)
        return out, (x, W, norm)

    def numpy_vjp(self, saved, g_out, params: dict):
        x, W, norm = saved
        xp = array_module(g_out)
        v, g = self._arrays(params)
        plain = g_out.T @ x  # ∂J/∂W
        along = xp.add.reduce(plain * v, axis=1, keepdims=True)  # Σ_c ∂J/∂W[r, c] v[r, c]
        grads = {self.magnitude: (along / norm).reshape(params[self.magnitude].shape),
                 self.direction: (g / norm * plain - g * along / norm**3 * v).reshape(params[self.direction].shape)}
        if self.bias is not None:
            grads[self.bias] = xp.add.reduce(g_out, axis=0).reshape(params[self.bias].shape)
        return g_out @ W, grads

    def numpy_undefined(self, x, saved) -> str | None:
        """Weight normalization is undefined when a direction row is zero (``‖v_r‖ = 0``).

        >>> import numpy as np
        >>> wn = WeightNormLinear("z1", direction="v", magnitude="g", n_in=2, n_out=2)
        >>> params = {"v": np.array([[1.0, 0.0], [0.0, 0.0]]), "g": np.ones(2)}
        >>> x = np.ones((1, 2))
        >>> with np.errstate(invalid="ignore"):
        ...     saved = wn.numpy_forward(x, params)[1]
        >>> print(wn.numpy_undefined(x, saved))
        weight normalization 'z1' is undefined: row 2 of its direction is zero (‖v_r‖ = 0)
        """
        import numpy as np

        norm = np.asarray(saved[2]).reshape(-1)
        zero = [str(r + 1) for r in range(norm.size) if not norm[r] > 0]
        if not zero:
            return None
        rows = ("row " if len(zero) == 1 else "rows ") + ", ".join(zero)
        return (f"weight normalization {self.name!r} is undefined: {rows} of its direction "
                f"{'is' if len(zero) == 1 else 'are'} zero (‖v_r‖ = 0)")

    def torch_forward(self, x, params: dict):
        import torch

        v = params[self.direction].reshape(self.n_out, self.n_in)
        g = params[self.magnitude].reshape(self.n_out, 1)
        b = params[self.bias].reshape(self.n_out) if self.bias is not None else None
        return torch.nn.functional.linear(x, g * v / torch.linalg.vector_norm(v, dim=1, keepdim=True), b)
