"""What every layer kind shares: names, ``ε``, entry symbols, and the :class:`Layer` interface.

A layer kind (one module each in :mod:`bnsym.layers`) states, side by side, micrograd-style:

* its forward pass **in index form** over a batch of symbolic or concrete size ``m`` (:meth:`Layer.index_forward`:
  named statistics and the output entry ``y[i, r]`` as expressions of the input entries) and its vector-Jacobian
  product in index form (:meth:`Layer.index_vjp`, :meth:`Layer.index_parameter_vjp`);
* the same per entry for a concrete batch (:meth:`Layer.forward`, :meth:`Layer.vjp`, local Jacobians);
* its NumPy kernel (:meth:`Layer.numpy_forward`, :meth:`Layer.numpy_vjp`: arrays of shape ``(m, features)``) and
  its PyTorch forward (:meth:`Layer.torch_forward`), which tests tie to the symbolic forms;
* its LaTeX name (:attr:`Layer.latex_name`).

The engine (:mod:`bnsym.derive`, :mod:`bnsym.batchform`, :mod:`bnsym.numeric`) never asks which kind it has.

>>> import sympy
>>> from bnsym.layers import Linear
>>> x = sympy.Matrix([[sympy.Symbol("x", real=True)]])
>>> lin = Linear("h1", weight="a", n_in=1, n_out=1, bias=None)
>>> lin.forward(x)
Matrix([[a*x]])
>>> lin.parameter_jacobian(x, "a")
Matrix([[x]])
"""
from __future__ import annotations

import decimal
import math
import numbers
import re

import sympy
from sympy import Expr, Matrix, S, Symbol

from dataclasses import dataclass
from typing import Any

from sympy import IndexedBase

from ..errors import NetworkSpecError
from ..functions import Entry

__all__ = [
    "Layer",
    "Port",
    "IndexDefinition",
    "Entry",
    "NAME_PATTERN",
    "check_name",
    "check_eps",
    "entry_symbols",
    "sparse_vjp",
    "flat",
    "index_symbol",
    "parameter_entry",
    "array_module",
]

#: What a user-given name may be (a parameter's, a layer's, a symbolic ε's): a letter, then letters or digits.
#: An allow-list, matched whole (``re.fullmatch``), so no name can carry code, TeX or a newline.
NAME_PATTERN = re.compile(r"[A-Za-z][A-Za-z0-9]*")


def check_name(name, what: str = "name") -> str:
    """``name`` if it is a plain name (:data:`NAME_PATTERN`), else a :class:`~bnsym.errors.NetworkSpecError`.

    >>> check_name("w1")
    'w1'
    >>> check_name("a\\n", "weight name")
    Traceback (most recent call last):
    ...
    bnsym.errors.NetworkSpecError: weight name 'a\\n' must be a letter followed by letters or digits (e.g. 'a' or 'w1')
    """
    if not isinstance(name, str) or NAME_PATTERN.fullmatch(name) is None:
        raise NetworkSpecError(f"{what} {name!r} must be a letter followed by letters or digits (e.g. 'a' or 'w1')")
    return name


def entry_symbols(base: str, samples: int | None, features: int, **assumptions) -> Matrix:
    """The symbols of one node: row ``i`` is sample ``i``, column ``j`` feature ``j``.

    Without a batch (``samples=None``) there is one row and no sample index; a batch index is written
    as a superscript ``(i)``, a feature index (when there are several features) in brackets, ``z1[2]``.

    >>> entry_symbols("z1", None, 1)
    Matrix([[z1]])
    >>> entry_symbols("z1", 2, 1)
    Matrix([
    [z1^(1)],
    [z1^(2)]])
    >>> entry_symbols("z1", None, 2)
    Matrix([[z1[1], z1[2]]])
    """
    assumptions = assumptions or {"real": True}
    rows = []
    for i in range(1 if samples is None else samples):
        sample = "" if samples is None else f"^({i + 1})"
        row = []
        for j in range(features):
            if features == 1:
                row.append(Symbol(f"{base}{sample}", **assumptions))
            else:
                row.append(Entry(f"{base}{sample}", str(j + 1), **assumptions))
        rows.append(row)
    return Matrix(rows)


def flat(matrix: Matrix) -> Matrix:
    """The entries of a matrix as a column, row by row (sample-major).

    >>> flat(sympy.Matrix([[1, 2], [3, 4]])).T
    Matrix([[1, 2, 3, 4]])
    """
    return matrix.reshape(len(matrix), 1)


def _sparse_jacobian(values: Matrix, wrt: Matrix) -> dict[tuple[int, int], Expr]:
    index = {symbol: k for k, symbol in enumerate(wrt)}
    entries = {}
    for j, value in enumerate(values):
        for symbol in value.free_symbols & index.keys():
            partial = value.diff(symbol)
            if partial != 0:
                entries[(j, index[symbol])] = partial
    return entries


def check_eps(eps) -> Expr:
    """BN's ``ε`` as an exact SymPy value: a finite real number ``>= 0`` (floats and ``Decimal`` values by their
    decimal value) or a nonnegative SymPy expression whose symbols have plain names (:func:`check_name`);
    such a symbolic ε then needs a value wherever the network is evaluated.

    >>> check_eps(1e-5), check_eps(0)
    (1/100000, 0)
    >>> check_eps(-1.0)
    Traceback (most recent call last):
    ...
    bnsym.errors.NetworkSpecError: eps must be >= 0 (declare a symbol with nonnegative=True), got -1.0
    >>> check_eps(float("inf"))
    Traceback (most recent call last):
    ...
    bnsym.errors.NetworkSpecError: eps must be a finite real number >= 0, got inf
    """
    if isinstance(eps, bool) or not isinstance(eps, (numbers.Real, decimal.Decimal, sympy.Basic)):
        raise NetworkSpecError(f"eps must be a real number >= 0 (or a nonnegative SymPy symbol), got {eps!r}")
    not_finite = NetworkSpecError(f"eps must be a finite real number >= 0, got {eps!r}")
    if isinstance(eps, decimal.Decimal):
        if not eps.is_finite():
            raise not_finite
        value = sympy.Rational(str(eps))
    elif isinstance(eps, numbers.Integral):
        value = sympy.Integer(int(eps))
    elif isinstance(eps, numbers.Rational):
        value = sympy.Rational(int(eps.numerator), int(eps.denominator))
    elif isinstance(eps, numbers.Real):  # float, NumPy floats: by their shortest decimal form
        if not math.isfinite(float(eps)):
            raise not_finite
        value = sympy.Rational(str(eps))
    else:
        if not isinstance(eps, Expr):
            raise NetworkSpecError(f"eps must be a real number >= 0 (or a nonnegative SymPy expression), got {eps!r}")
        if eps.has(S.NaN, S.Infinity, S.NegativeInfinity, S.ComplexInfinity) or eps.is_finite is False:
            raise not_finite
        if eps.is_number and eps.is_extended_real is not True:
            raise NetworkSpecError(f"eps must be a real number >= 0, got {eps!r}")
        value = sympy.Rational(str(eps)) if isinstance(eps, sympy.Float) else eps
        for symbol in sorted(value.free_symbols, key=str):
            check_name(getattr(symbol, "name", str(symbol)), "the name of eps's symbol")
    if value.is_nonnegative is not True:
        raise NetworkSpecError(f"eps must be >= 0 (declare a symbol with nonnegative=True), got {eps!r}")
    return value


def sparse_vjp(upstream: Matrix, entries: dict[tuple[int, int], Expr], shape: tuple[int, int]) -> Matrix:
    """``vec(upstream)ᵀ · J`` for a sparse Jacobian ``J`` (``{(j, k): ∂y_j/∂x_k}``), shaped ``shape`` row-major.

    >>> g = sympy.Matrix([[sympy.Symbol("g")]])
    >>> sparse_vjp(g, {(0, 0): 2, (0, 1): 3}, (1, 2))
    Matrix([[2*g, 3*g]])
    """
    flat_upstream = list(upstream)
    terms: dict[int, list] = {}
    for (j, k), partial in entries.items():
        if flat_upstream[j] != 0:
            terms.setdefault(k, []).append(flat_upstream[j] * partial)
    return Matrix(shape[0], shape[1], [sympy.Add(*terms.get(k, [])) for k in range(shape[0] * shape[1])])


def _dense(entries: dict[tuple[int, int], Expr], rows: int, cols: int) -> Matrix:
    matrix = sympy.zeros(rows, cols)
    for (j, k), value in entries.items():
        matrix[j, k] = value
    return matrix


def array_module(x):
    """The array library of ``x``: NumPy, or ``jax.numpy`` for a JAX array (so a layer's kernel, written once,
    also runs under ``jax.jit``; :meth:`bnsym.vectorized.VectorizedNetwork.jitted`).

    >>> import numpy as np
    >>> array_module(np.zeros(2)) is np, array_module(1.0) is np
    (True, True)
    """
    if type(x).__module__.startswith(("jax", "jaxlib")):
        import jax.numpy as jnp

        return jnp
    import numpy

    return numpy


def index_symbol(name: str) -> Symbol:
    """An index of the index form: a positive integer symbol (samples ``i, j, k``; features ``r, s, c``).

    >>> index_symbol("i").is_integer
    True
    """
    return Symbol(name, integer=True, positive=True)


@dataclass(frozen=True)
class Port:
    """A node over the batch in index form: entry ``base[i]`` (one feature) or ``base[i, r]``.

    ``m`` is the batch size (a symbol or an integer), ``width`` the number of features (an integer).

    >>> import sympy
    >>> m = sympy.Symbol("m", integer=True, positive=True)
    >>> i, r = index_symbol("i"), index_symbol("r")
    >>> Port("z1", 1, m).entry(i, r), Port("z1", 3, m).entry(i, r)
    (z1[i], z1[i, r])
    """

    name: str
    width: int
    m: Expr
    base: IndexedBase = None  # type: ignore[assignment]  # None: made from the name by __post_init__

    def __post_init__(self) -> None:
        if self.base is None:
            object.__setattr__(self, "base", IndexedBase(self.name, real=True))

    def entry(self, i, r=None) -> Expr:
        """The entry of sample ``i``, feature ``r`` (``r`` ignored for a one-feature node)."""
        return self.base[i] if self.width == 1 else self.base[i, r]

    def indices(self, i, r) -> tuple:
        """The indices an entry of this node takes: ``(i,)`` or ``(i, r)``."""
        return (i,) if self.width == 1 else (i, r)


@dataclass(frozen=True)
class IndexDefinition:
    """``target[indices] := value`` (``indices`` empty: ``target := value``), for every value of the indices.

    ``target`` is a symbol (a statistic of a one-feature node), or an ``IndexedBase`` (a node, or a per-feature
    statistic); ``text`` says what it is.
    """

    target: Any
    indices: tuple
    value: Expr
    text: str = ""

    @property
    def lhs(self) -> Expr:
        """The defined entry, e.g. ``z1[i]`` or ``mu1``."""
        return self.target[self.indices] if self.indices else self.target


def parameter_entry(symbol, *indices):
    """The entry of a parameter given as a symbol (a scalar) or an ``IndexedBase`` with as many indices as given
    non-``None`` ones (a one-unit dimension has none).

    >>> W = IndexedBase("W1", real=True)
    >>> parameter_entry(Symbol("w"), None, None), parameter_entry(W, index_symbol("r"), None)
    (w, W1[r])
    """
    used = tuple(k for k in indices if k is not None)
    return symbol[used] if used else symbol


class Layer:
    """Base class: a named output node, parameters, a forward expression, local partials.

    Subclasses implement :meth:`forward`; they may override :meth:`jacobian_entries` and
    :meth:`parameter_entries` (the nonzero local partials) with closed forms, and :meth:`statistics` with
    named subexpressions (such as a batch's standard deviation) that their closed forms refer to.
    """

    kind = "layer"
    #: the layer is a loss: its output is the scalar ``J`` (the backward sweep starts from ``∂J/∂J = 1``)
    is_loss = False

    def __init__(self, name: str) -> None:
        self.name = name
        self.parameters: dict[str, Matrix] = {}

    def forward(self, x: Matrix) -> Matrix:
        """The output node's entries as expressions of the input node ``x`` and the parameters."""
        raise NotImplementedError

    def statistics(self, x: Matrix) -> list[tuple[Symbol, Expr]]:
        """Named subexpressions (symbol, definition in terms of ``x`` and earlier statistics), in order."""
        return []

    def definition(self, x: Matrix) -> Matrix:
        """The output in terms of ``x`` and the named :meth:`statistics` (default: :meth:`forward`)."""
        return self.forward(x)

    def statistic_entries(self) -> dict:
        """``{IndexedBase: 1 × features matrix}``: the per-entry symbols of the layer's per-feature statistics as
        the index form names them (default: none)."""
        return {}

    def divisors(self, x: Matrix) -> list[tuple[Symbol, list[Expr]]]:
        """``(d, values)`` pairs: the layer divides by ``d``, which numerically must not be negligible next to
        ``max |values|`` (float64 rounding leaves a mathematically zero ``d`` tiny but nonzero). Default: none."""
        return []

    def jacobian_entries(self, x: Matrix, y: Matrix) -> dict[tuple[int, int], Expr]:
        """The nonzero ``∂ vec(y)_j/∂ vec(x)_k`` as ``{(j, k): partial}`` (default: ``sympy.diff``)."""
        return _sparse_jacobian(self.forward(x), x)

    def parameter_entries(self, x: Matrix, name: str) -> dict[tuple[int, int], Expr]:
        """The nonzero ``∂ vec(y)_j/∂ vec(p)_k`` for the parameter called ``name``."""
        return _sparse_jacobian(self.forward(x), self.parameters[name])

    def vjp(self, x: Matrix, y: Matrix, upstream: Matrix) -> Matrix:
        """``∂J/∂x`` from ``upstream = ∂J/∂y`` (a vector-Jacobian product; default: through the sparse Jacobian)."""
        return sparse_vjp(upstream, self.jacobian_entries(x, y), x.shape)

    def jacobian(self, x: Matrix, y: Matrix) -> Matrix:
        """``∂ vec(y)/∂ vec(x)`` as a dense matrix (samples first, then features), for display."""
        return _dense(self.jacobian_entries(x, y), len(y), len(x))

    def parameter_jacobian(self, x: Matrix, name: str) -> Matrix:
        """``∂ vec(y)/∂ vec(p)`` as a dense matrix, for display."""
        rows = x.rows * self.output_shape(x)[1]
        return _dense(self.parameter_entries(x, name), rows, len(self.parameters[name]))

    def output_shape(self, x: Matrix) -> tuple[int, int]:
        """Shape of the output node for an input node ``x``."""
        return self.forward(x).shape

    # -- index form over a batch of size m (symbolic or concrete) -----------------------------------------
    #: how the layer's output is named in LaTeX and text (``\\mathrm{BN}`` for batch normalization)
    latex_name: str = ""
    #: whether an output entry depends on other samples of the batch (batch statistics); only then can a
    #: gradient cancel across the batch (:func:`bnsym.gradient_zero.prove_zero`)
    couples_batch: bool = False
    #: whether the output is an affine function of the input (so a cancellation across the batch can pass it)
    affine: bool = False
    #: whether the layer is batch normalization's normalizing step, which a derivation names as an operator of
    #: its input (``\\hat{z}_{1} = \\operatorname{BN}(z_{1})``, :attr:`bnsym.latex.Notation.bn`)
    normalizes_batch: bool = False
    #: whether the layer is another normalizing step (LayerNorm, RMSNorm, per-channel or eval-mode BN, …), which a
    #: derivation names as the operator :attr:`latex_name` of its input (``\hat{z}_{1} = \mathrm{LN}(z_{1})``)
    normalizes: bool = False

    @property
    def _eps_float(self) -> float:
        """``float(self.eps)`` of a layer with an ``ε``, computed once (the NumPy kernels read it every call)."""
        value = self.__dict__.get("_eps_value")
        if value is None:
            value = self.__dict__["_eps_value"] = float(self.eps)  # type: ignore[attr-defined]
        return value

    def output_width(self, width: int) -> int:
        """Features of the output for an input of ``width`` features (default: the same)."""
        return width

    def index_parameters(self) -> dict[str, tuple[Any, tuple]]:
        """``{name: (symbol or IndexedBase, index sizes)}``: each parameter in index form (default: none).

        A dimension of size 1 has no index, so a scalar parameter is a plain symbol."""
        return {}

    def index_forward(self, x: Port, y: Port, i, r) -> list[IndexDefinition]:
        """The definitions of the output entry ``y[i, r]`` (last) and of any statistics it uses (first)."""
        raise NotImplementedError(f"{type(self).__name__} has no index form")

    def index_vjp(self, x: Port, y: Port, ybar: Port, i, r) -> Expr:
        """The entry ``x̄[i, r] = Σ ȳ · ∂y/∂x[i, r]`` in terms of the output adjoint ``ybar`` (and ``x``, ``y``)."""
        raise NotImplementedError(f"{type(self).__name__} has no index form")

    def index_parameter_vjp(self, x: Port, y: Port, ybar: Port, name: str, indices: tuple) -> Expr:
        """``∂J/∂p[indices]`` for the parameter ``name``, in terms of ``ybar`` (and ``x``, ``y``)."""
        raise NotImplementedError(f"{type(self).__name__} has no parameters")

    # -- numerics (arrays of shape (m, features)) -------------------------------------------------------
    def numpy_forward(self, x, params: dict) -> tuple[Any, Any]:
        """``(y, saved)``: the output array and what :meth:`numpy_vjp` needs."""
        raise NotImplementedError(f"{type(self).__name__} has no NumPy kernel")

    def numpy_vjp(self, saved, g, params: dict) -> tuple[Any, dict]:
        """``(x̄, {name: ∂J/∂p})`` from the output adjoint ``g``."""
        raise NotImplementedError(f"{type(self).__name__} has no NumPy kernel")

    def numpy_undefined(self, x, saved) -> str | None:
        """Why the layer's output is undefined at the input array ``x`` (``saved``: from :meth:`numpy_forward`),
        or ``None`` (the default: defined everywhere). The checked entry points of
        :class:`bnsym.vectorized.VectorizedNetwork` raise :class:`~bnsym.errors.ValuesError` with this reason."""
        return None

    def torch_forward(self, x, params: dict):
        """The output for a torch tensor ``x`` (``params``: torch tensors by name), by PyTorch's own ops."""
        raise NotImplementedError(f"{type(self).__name__} has no PyTorch form")

    def entry_terms(self, m: int, width: int) -> int:
        """About how many scalar terms the per-entry forms cost for a batch of ``m`` and ``width`` input features
        (the builders' size limit, :class:`bnsym.network.Limits`; default ``m`` per output feature)."""
        return m * self.output_width(width)

    def at(self, batch) -> Layer:
        """This layer for a batch of size ``batch`` (only batch statistics depend on it; default: itself)."""
        return self

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, parameters={list(self.parameters)})"
