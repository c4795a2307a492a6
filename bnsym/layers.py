"""One class per layer kind. A layer knows its parameters, its forward expression and its local partials.

A layer maps the symbols of its input node (a SymPy ``Matrix`` of shape ``(samples, features)``) to
expressions for its output node. Its local partials default to ``sympy.diff`` of that forward expression
(``Function.fdiff`` supplies the activations' derivatives); a layer overrides them only where a closed form
reads better, as :class:`Normalize` does with the BN Jacobian ``(δ_ik − 1/m − x̂_i x̂_k/m)/σ``.

>>> import sympy
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
from typing import Callable

import sympy
from sympy import Expr, Matrix, S, Symbol

from .errors import NetworkSpecError
from .functions import Entry, ReLU, Sigmoid, batch_mean

__all__ = [
    "ACTIVATIONS",
    "Layer",
    "Linear",
    "Activation",
    "Normalize",
    "ScaleShift",
    "MSELoss",
    "Entry",
    "NAME_PATTERN",
    "check_name",
    "check_eps",
    "entry_symbols",
    "sparse_vjp",
    "flat",
]

#: Activations by name: each maps a SymPy expression to its image; derivatives come from ``fdiff``.
ACTIVATIONS: dict[str, Callable[[Expr], Expr]] = {
    "relu": ReLU,
    "sigmoid": Sigmoid,
    "tanh": sympy.tanh,
    "identity": lambda z: z,
}


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
                row.append(Entry(f"{base}{sample}[{j + 1}]", **assumptions))
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


class Layer:
    """Base class: a named output node, parameters, a forward expression, local partials.

    Subclasses implement :meth:`forward`; they may override :meth:`jacobian_entries` and
    :meth:`parameter_entries` (the nonzero local partials) with closed forms, and :meth:`statistics` with
    named subexpressions (such as a batch's standard deviation) that their closed forms refer to.
    """

    kind = "layer"

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

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, parameters={list(self.parameters)})"


class Linear(Layer):
    """``z = W a + b`` for each sample (weights ``(n_out, n_in)``, an optional bias ``(n_out,)``).

    Scalar parameters (one unit in, one out) are single symbols named ``weight``/``bias``; wider ones
    are matrices of symbols ``W1[j,k]``/``b1[j]``.

    >>> lin = Linear("z1", weight="w1", bias="b1", n_in=1, n_out=1)
    >>> lin.forward(sympy.Matrix([[sympy.Symbol("x", real=True)]]))
    Matrix([[b1 + w1*x]])
    """

    kind = "linear"

    def __init__(self, name: str, *, weight: str, n_in: int, n_out: int, bias: str | None = None) -> None:
        super().__init__(name)
        self.weight, self.bias = weight, bias
        if n_in == 1 and n_out == 1:
            self.parameters[weight] = Matrix([[Symbol(weight, real=True)]])
        else:
            self.parameters[weight] = Matrix(
                n_out, n_in, lambda j, k: Entry(f"{weight}[{j + 1},{k + 1}]", real=True)
            )
        if bias is not None:
            self.parameters[bias] = (
                Matrix([[Symbol(bias, real=True)]])
                if n_out == 1
                else Matrix(1, n_out, lambda _, j: Entry(f"{bias}[{j + 1}]", real=True))
            )

    def forward(self, x: Matrix) -> Matrix:
        out = x * self.parameters[self.weight].T
        if self.bias is not None:
            out = out + Matrix.ones(x.rows, 1) * self.parameters[self.bias]
        return out

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


class Activation(Layer):
    """``a = g(z)`` entrywise, for ``g`` one of :data:`ACTIVATIONS`.

    >>> z = sympy.Symbol("z1", real=True)
    >>> Activation("a1", "relu").jacobian(sympy.Matrix([[z]]), sympy.Matrix([[sympy.Symbol("a1")]]))
    Matrix([[ReLU'(z1)]])
    """

    kind = "activation"

    def __init__(self, name: str, activation: str) -> None:
        super().__init__(name)
        if activation not in ACTIVATIONS:
            raise NetworkSpecError(
                f"unknown activation {activation!r}; choose one of {', '.join(sorted(ACTIVATIONS))}"
            )
        self.activation = activation

    def forward(self, x: Matrix) -> Matrix:
        return x.applyfunc(ACTIVATIONS[self.activation])

    def jacobian_entries(self, x: Matrix, y: Matrix) -> dict[tuple[int, int], Expr]:
        g = ACTIVATIONS[self.activation]
        d = sympy.Dummy(real=True)
        derivative = sympy.diff(g(d), d)
        return {(k, k): derivative.xreplace({d: v}) for k, v in enumerate(x)}


class Normalize(Layer):
    """Batch normalization's normalizing step ``x̂_i = (z_i − μ)/σ`` per feature over the batch.

    ``μ`` is the batch mean, ``σ = sqrt(σ²_B + ε)`` with the **biased** batch variance (Ioffe & Szegedy
    2015, Alg. 1); both are named statistics (``mu1``, ``sigma1``). The local partial is the closed form
    ``∂x̂_i/∂z_k = (δ_ik − 1/m − x̂_i x̂_k/m)/σ`` (docs/math.md §2), in the output symbols ``x̂`` and ``σ``.

    >>> z = sympy.Matrix(sympy.symbols("z1:3", real=True))
    >>> bn = Normalize("zhat1", samples=2, features=1, eps=0)
    >>> bn.forward(sympy.Matrix([[1], [3]])).T
    Matrix([[-1, 1]])
    """

    kind = "normalize"

    def __init__(self, name: str, *, samples: int, features: int, eps: Expr | float = 0,
                 statistic: str | None = None) -> None:
        super().__init__(name)
        if samples < 2:
            raise NetworkSpecError(
                f"batch normalization needs a batch of m >= 2 samples (got m = {samples}): "
                "pass batch=m with m >= 2"
            )
        self.samples, self.features = samples, features
        self.eps = check_eps(eps)
        index = statistic or name.split("hat")[-1]
        self.mu = entry_symbols(f"mu{index}", None, features)
        self.sigma = entry_symbols(f"sigma{index}", None, features, positive=True)

    def statistics(self, x: Matrix) -> list[tuple[Symbol, Expr]]:
        named = []
        for j in range(x.cols):
            column = list(x[:, j])
            named.append((self.mu[j], batch_mean(column)))
            variance = sympy.Add(*[(v - self.mu[j]) ** 2 for v in column]) / len(column)
            named.append((self.sigma[j], sympy.sqrt(variance + self.eps)))
        return named

    def definition(self, x: Matrix) -> Matrix:
        return Matrix(x.rows, x.cols, lambda i, j: (x[i, j] - self.mu[j]) / self.sigma[j])

    def divisors(self, x: Matrix) -> list[tuple[Symbol, list[Expr]]]:
        """Each feature's ``σ`` next to its batch values (a numerically constant batch makes ``1/σ`` noise).

        >>> Normalize("zhat1", samples=2, features=1).divisors(sympy.Matrix(sympy.symbols("z1:3")))
        [(sigma1, [z1, z2])]
        """
        return [(self.sigma[j], list(x[:, j])) for j in range(x.cols)]

    def forward(self, x: Matrix) -> Matrix:
        resolved: dict[Symbol, Expr] = {}
        for symbol, value in self.statistics(x):  # μ, then σ in terms of μ
            resolved[symbol] = value.xreplace(resolved)
        return self.definition(x).xreplace(resolved)

    def vjp(self, x: Matrix, y: Matrix, upstream: Matrix) -> Matrix:
        """The projection form (docs/math.md §4): ``z̄_k = (ḡ_k − (Σ_i ḡ_i + x̂_k Σ_i ḡ_i x̂_i)/m)/σ``
        (SymPy merges ``ḡ_k − Σ_i ḡ_i/m`` into one sum).

        >>> bn = Normalize("zhat1", samples=2, features=1)
        >>> g = sympy.Matrix(sympy.symbols("g1:3", real=True))
        >>> bn.vjp(sympy.Matrix(sympy.symbols("z1:3")), sympy.Matrix(sympy.symbols("h1:3")), g)[0]
        (g1/2 - g2/2 - h1*(g1*h1 + g2*h2)/2)/sigma1
        """
        m, n = x.shape
        out = sympy.zeros(m, n)
        for j in range(n):
            g = upstream[:, j]
            total = sympy.Add(*g)
            along = sympy.Add(*[g[i] * y[i, j] for i in range(m)])
            for k in range(m):
                out[k, j] = (g[k] - total / m - y[k, j] * along / m) / self.sigma[j]
        return out

    def jacobian_entries(self, x: Matrix, y: Matrix) -> dict[tuple[int, int], Expr]:
        m, n = x.shape
        entries = {}
        for j in range(n):
            for i in range(m):
                for k in range(m):
                    delta = 1 if i == k else 0
                    entries[(i * n + j, k * n + j)] = (delta - sympy.Rational(1, m) - y[i, j] * y[k, j] / m) / self.sigma[j]
        return entries


class ScaleShift(Layer):
    """Batch normalization's learnable affine step ``y = γ x̂ + β`` per feature.

    >>> ss = ScaleShift("ztilde1", gamma="gamma1", beta="beta1", features=1)
    >>> ss.forward(sympy.Matrix([[sympy.Symbol("zhat1", real=True)]]))
    Matrix([[beta1 + gamma1*zhat1]])
    """

    kind = "scale_shift"

    def __init__(self, name: str, *, gamma: str, beta: str, features: int) -> None:
        super().__init__(name)
        self.gamma, self.beta = gamma, beta
        self.parameters[gamma] = entry_symbols(gamma, None, features)
        self.parameters[beta] = entry_symbols(beta, None, features)

    def forward(self, x: Matrix) -> Matrix:
        gamma, beta = self.parameters[self.gamma], self.parameters[self.beta]
        return Matrix(x.rows, x.cols, lambda i, j: gamma[j] * x[i, j] + beta[j])


class MSELoss(Layer):
    """Mean squared error ``J = (1/m) Σ_i ‖ŷ_i − t_i‖²`` against target symbols ``t``.

    >>> y = sympy.Matrix([[sympy.Symbol("yhat", real=True)]])
    >>> MSELoss("J", targets=sympy.Matrix([[sympy.Symbol("t", real=True)]])).forward(y)
    Matrix([[(-t + yhat)**2]])
    """

    kind = "loss"

    def __init__(self, name: str, *, targets: Matrix) -> None:
        super().__init__(name)
        self.targets = targets

    def forward(self, x: Matrix) -> Matrix:
        residuals = x - self.targets
        return Matrix([[sympy.Add(*[r**2 for r in residuals]) / x.rows]])
