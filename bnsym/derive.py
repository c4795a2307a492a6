"""The chain-rule engine: reverse accumulation over a network's named graph.

For every parameter it yields a :class:`Derivation`: the local factors in chain-rule order (for display),
the gradient in terms of the named intermediates (:attr:`Derivation.compact`) and fully explicit
(:attr:`Derivation.closed_form`). The engine is generic: it asks each layer for its local partials and
never looks at which kind of layer it has. All gradients share one list of subexpressions (the forward
nodes and the adjoints ``z̄ = ∂J/∂z``), so their cost grows linearly with depth.

>>> from bnsym import chain
>>> grads = chain(3, names="abc").gradients()
>>> grads["a"].compact
dJ/dyhat*b*c*x
>>> [str(f) for f in grads["a"].factors]
['∂J/∂yhat = dJ/dyhat', '∂yhat/∂h2 = c', '∂h2/∂h1 = b', '∂h1/∂a = x']
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import sympy
from sympy import Expr, Matrix, Symbol

from .batchform import DerivationMapping
from .functions import Partial
from .budget import tree_size
from .evaluation import named_symbols
from .layers import entry_symbols, flat, sparse_vjp
from .network import Network, adjoint_name
from .numeric import lambdify_safely

__all__ = ["Factor", "Derivation", "Gradients", "reverse_accumulate", "adjoint_name", "named_symbols",
           "upstream_symbols", "tree_size"]


def _scalar_or_matrix(matrix: Matrix):
    return matrix[0, 0] if matrix.shape == (1, 1) else matrix


@dataclass(frozen=True)
class Factor:
    """One local partial ``∂of/∂wrt`` of the chain rule, with its value (an expression or a Jacobian).

    Matrix values are Jacobians of the flattened nodes (samples first, then features).

    >>> str(Factor(sympy.Symbol("z2"), sympy.Symbol("a1"), sympy.Symbol("w2")))
    '∂z2/∂a1 = w2'
    """

    of: Symbol
    wrt: Symbol
    value: Any

    def __str__(self) -> str:
        return f"∂{self.of}/∂{self.wrt} = {self.value}"


class Gradients(DerivationMapping):
    """All ``∂J/∂p`` of a network, sharing subexpressions (a mapping from parameter name to Derivation).

    :attr:`shared` lists ``(symbol, definition)`` pairs in evaluation order: the forward nodes, then the
    adjoints ``∂J/∂node`` from the output back. :attr:`raw` gives each gradient in those symbols.

    >>> from bnsym import chain
    >>> g = chain(2).gradients()
    >>> g.raw["w1"]
    Matrix([[hbar1*x]])
    >>> g.count_ops() <= 3 * 2 + 1
    True
    """

    def __init__(self, network: Network, raw: dict[str, Matrix], adjoints: list[tuple[Symbol, Expr]],
                 seed: Matrix) -> None:
        self.network = network
        self.raw = raw
        self.adjoints = adjoints
        self.seed = seed
        self._derivations: dict[str, Derivation] = {}

    @property
    def shared(self) -> list[tuple[Symbol, Expr]]:
        """Forward definitions then adjoint definitions: one shared-subexpression list for every gradient."""
        return list(self.network.definitions) + list(self.adjoints)

    @cached_property
    def resolved_adjoints(self) -> dict[Symbol, Expr]:
        """Each adjoint symbol as an expression of the named forward intermediates only."""
        resolved: dict[Symbol, Expr] = {}
        for symbol, definition in self.adjoints:
            resolved[symbol] = definition.xreplace(resolved)
        return resolved

    def count_ops(self) -> int:
        """Operations in the shared representation (forward + adjoints + gradients): the cost of all gradients."""
        total = sum(sympy.count_ops(d) for _, d in self.shared)
        return total + sum(sympy.count_ops(e) for m in self.raw.values() for e in m)

    def cse(self) -> tuple[list[tuple[Symbol, Expr]], list[Matrix]]:
        """``(replacements, gradients)`` in the shape :func:`sympy.cse` returns: usable as ``lambdify(cse=...)``."""
        return self.shared, [self.raw[name] for name in self.raw]

    @cached_property
    def _compiled(self):
        """``(names, function)``: the gradients, then ``[d, *values]`` for each of the network's divisors."""
        names = named_symbols(self.network)
        args = [s for matrix in names.values() for s in matrix]
        outputs = [self.raw[name] for name in self.raw]
        outputs += [[d, *values] for _, d, values in self.network.divisors]
        return names, self.lambdify(args, outputs, modules="numpy")

    @property
    def numeric(self):
        """All gradients as one NumPy function of the network's named inputs, evaluated through the shared
        subexpressions (never the fully substituted closed forms, which grow exponentially with stacked BN).

        Returns ``(names, function)``: ``names`` maps each input name (see :func:`named_symbols`) to its
        symbols; ``function(*flat_values)`` returns one array per parameter, in :attr:`raw` order.

        >>> from bnsym import chain
        >>> names, f = chain(2).gradients().numeric
        >>> list(names), [float(g[0, 0]) for g in f(2.0, 3.0, 5.0, 1.0)]   # w1, w2, x, dJ/dyhat
        (['w1', 'w2', 'x', 'dJ/dyhat'], [15.0, 10.0])
        """
        names, compiled = self._compiled
        count = len(self.raw)
        return names, lambda *values: compiled(*values)[:count]

    def lambdify(self, args: list, outputs: list, **options: Any):
        """``sympy.lambdify`` of ``outputs`` that first evaluates :attr:`shared` in order (given as its ``cse``).

        ``args`` (symbols, or lists of symbols) and ``outputs`` (expressions or matrices, possibly in nested
        lists) may use the network's symbols and the shared ones. Every symbol is renamed to a generated name
        first (:func:`bnsym.numeric.lambdify_safely`), so no symbol's name reaches the generated code, and
        misuse (an argument that is not a symbol, an output that is not an expression, a symbol that is
        neither an argument nor shared) is a :class:`~bnsym.errors.ValuesError`. The keywords ``modules``,
        ``printer``, ``use_imps`` and ``docstring_limit`` go to ``sympy.lambdify``.

        Every symbol the shared list uses must be among ``args`` (see :func:`named_symbols`).

        >>> from bnsym import chain
        >>> g = chain(2).gradients()
        >>> args = [s for matrix in named_symbols(g.network).values() for s in matrix]   # w1, w2, x, dJ/dyhat
        >>> f = g.lambdify(args, [g.network.nodes[-1].symbols[0, 0]])   # ŷ, through the shared list
        >>> f(3.0, 5.0, 2.0, 1.0)
        [30.0]
        """
        return lambdify_safely(args, outputs, shared=self.shared, **options)

    def evaluate(self, values: Mapping) -> dict[str, Any]:
        """Every gradient at ``values`` (see :meth:`Derivation.evaluate`), as a dict name → float or array.

        >>> from bnsym import chain
        >>> chain(2).gradients().evaluate({"x": 1.0, "w1": 2.0, "w2": 3.0, "dJ/dyhat": 1.0})
        {'w1': 3.0, 'w2': 2.0}
        """
        from .evaluation import evaluate_gradients

        return evaluate_gradients(self, values)

    @property
    def derivation(self) -> type:
        return Derivation


def reverse_accumulate(network: Network) -> Gradients:
    """Reverse accumulation: one backward sweep over the layers gives every parameter's gradient.

    Each node's adjoint gets its own symbols (``z̄ = ∂J/∂z``), defined from the adjoint of the node after
    it through that layer's local Jacobian; each parameter's gradient is its layer's output adjoint times
    the layer's parameter Jacobian.

    >>> from bnsym import two_layer
    >>> g = reverse_accumulate(two_layer())
    >>> g.adjoints[0]
    (zbar2, dJ/dyhat*ReLU'(z2))
    """
    nodes = network.nodes
    seed = Matrix([[sympy.Integer(1)]]) if network.has_loss else upstream_symbols(network)
    bar = seed
    adjoints: list[tuple[Symbol, Expr]] = []
    raw: dict[str, Matrix] = {}
    for k in range(len(nodes) - 1, 0, -1):
        layer = nodes[k].layer
        assert layer is not None  # only the input node has no layer, and k >= 1
        x, y = nodes[k - 1].symbols, nodes[k].symbols
        for name in layer.parameters:
            shape = network.parameters[name].shape
            raw[name] = sparse_vjp(bar, layer.parameter_entries(x, name), shape)
        if k == 1:
            break
        values = layer.vjp(x, y, bar)
        symbols = entry_symbols(adjoint_name(nodes[k - 1].name), network.batch, x.cols)
        bar = sympy.zeros(*x.shape)
        for i in range(x.rows):
            for j in range(x.cols):
                value = values[i, j]
                if value.is_Atom:
                    bar[i, j] = value
                else:
                    adjoints.append((symbols[i, j], value))
                    bar[i, j] = symbols[i, j]
    ordered = {name: raw[name] for name in network.parameters}
    return Gradients(network, ordered, adjoints, seed)


class Derivation:
    """``∂J/∂p`` for one parameter ``p``: the chain-rule factors, the compact and the closed form.

    * :attr:`factors` — local partials in chain-rule order, ``∂J/∂ŷ, ∂ŷ/∂z₂, …, ∂z₁/∂p``;
    * :attr:`compact` — the gradient in the named intermediates (``z₁, a₁, …``; :attr:`definitions`);
    * :attr:`closed_form` — the same, explicit in inputs, parameters (and ``∂J/∂ŷ`` if the loss is abstract);
    * :meth:`evaluate` — numbers.

    >>> from bnsym import two_layer
    >>> d = two_layer(activation="relu").gradient("w1")
    >>> [f"∂{f.of}/∂{f.wrt}" for f in d.factors]
    ['∂J/∂yhat', '∂yhat/∂z2', '∂z2/∂a1', '∂a1/∂z1', '∂z1/∂w1']
    >>> d.closed_form
    dJ/dyhat*w2*x*ReLU'(b1 + w1*x)*ReLU'(b2 + w2*ReLU(b1 + w1*x))
    >>> d.evaluate({"x": 2.0, "w1": 1.0, "b1": 0.5, "w2": -3.0, "b2": 10.0, "dJ/dyhat": 1.0})
    -6.0
    """

    def __init__(self, gradients: Gradients, name: str) -> None:
        self.gradients = gradients
        self.network = gradients.network
        self.parameter_name = name
        self.parameter = _scalar_or_matrix(self.network.parameters[name])
        self.loss_symbol = Symbol("J", real=True)

    @property
    def definitions(self) -> list[tuple[Symbol, Expr]]:
        """The named intermediates (symbol, definition in terms of the previous node) the compact form uses."""
        return list(self.network.definitions)

    @cached_property
    def factors(self) -> list[Factor]:
        """The local partials in chain-rule order; their product is the gradient."""
        net = self.network
        k = net.layer_of(self.parameter_name)
        factors: list[Factor] = []
        if not net.has_loss:
            factors.append(Factor(self.loss_symbol, net.nodes[-1].label,
                                  _scalar_or_matrix(flat(self.gradients.seed).T)))
        for j in range(len(net.nodes) - 1, k, -1):
            node, previous = net.nodes[j], net.nodes[j - 1]
            jac = node.layer.jacobian(previous.symbols, node.symbols)
            factors.append(Factor(self.loss_symbol if node.layer.is_loss else node.label, previous.label,
                                  _scalar_or_matrix(jac)))
        node = net.nodes[k]
        jac = node.layer.parameter_jacobian(net.nodes[k - 1].symbols, self.parameter_name)
        factors.append(Factor(self.loss_symbol if node.layer.is_loss else node.label,
                              Symbol(self.parameter_name, real=True), _scalar_or_matrix(jac)))
        return factors

    def product(self):
        """The chain-rule product of :attr:`factors`, multiplied out (equals :attr:`compact`).

        >>> from bnsym import chain
        >>> d = chain(3, names="abc").gradient("b")
        >>> from bnsym.exact import is_zero
        >>> is_zero(d.product() - d.compact)
        True
        """
        result = Matrix([[1]])
        for factor in self.factors:
            value = factor.value if isinstance(factor.value, sympy.MatrixBase) else Matrix([[factor.value]])
            result = result * value
        shape = self.network.parameters[self.parameter_name].shape
        return _scalar_or_matrix(result.reshape(*shape))

    @cached_property
    def compact(self):
        """The gradient in terms of the named intermediates (``z₁, a₁, x̂₁, σ₁ …``)."""
        raw = self.gradients.raw[self.parameter_name]
        return _scalar_or_matrix(raw.xreplace(self.gradients.resolved_adjoints))

    @cached_property
    def index(self):
        """The same gradient in index form over the batch (:class:`bnsym.batchform.IndexDerivation`), for a
        network with a batch; ``None`` without one."""
        return None if self.network.batch is None else self.network.index_gradients()[self.parameter_name]

    @cached_property
    def proof(self):
        """The kernel's proof that this gradient is identically 0 (made for every batch size, so for this one
        too; :func:`bnsym.gradient_zero.prove_zero`), or ``None``."""
        return self.index.proof if self.network.batch is not None and self.network.couples_batch else None

    @cached_property
    def closed_form(self):
        """The gradient explicit in inputs and parameters (and ``∂J/∂ŷ`` when the loss is abstract); exactly ``0``
        (a zero matrix for a matrix parameter) when :attr:`proof` shows it vanishes."""
        if self.proof is not None:
            shape = self.network.parameters[self.parameter_name].shape
            return sympy.S.Zero if shape == (1, 1) else sympy.zeros(*shape)
        return self.network.explicit(self.compact)

    def doit(self):
        """The chain-rule product evaluated: the closed form (SymPy's ``doit`` idiom)."""
        return self.closed_form

    def evaluate(self, values: Mapping) -> Any:
        """Numeric value of the gradient at ``values`` (a float, or an array shaped like the parameter).

        ``values`` maps names to numbers or arrays: parameters by name (``"w1"``, ``"W1"``), ``"x"`` for
        the inputs (shape ``samples × features``), ``"t"`` for MSE targets, ``"dJ/dyhat"`` for an abstract
        loss's upstream gradient, a symbolic ``ε`` by its name (its value is required); the network's own
        SymPy symbols may also be keys. Unknown keys, complex, boolean, non-finite or too large values are a
        :class:`~bnsym.errors.ValuesError`, and so is a batch that BN cannot normalize in float64 (see
        :data:`bnsym.numeric.NEGLIGIBLE`) and a float64 overflow.

        >>> from bnsym import chain
        >>> chain(2).gradient("w1").evaluate({"x": 1.0, "w1": 2.0})
        Traceback (most recent call last):
        ...
        bnsym.errors.ValuesError: missing values for: dJ/dyhat, w2
        """
        return self.gradients.evaluate(values)[self.parameter_name]

    def _repr_latex_(self) -> str:
        """The derivation typeset in a notebook (``$$\\begin{aligned}…\\end{aligned}$$``)."""
        from .latex import repr_latex

        return repr_latex(self)

    def __str__(self) -> str:
        """The derivation as text (:func:`bnsym.pretty.derivation_text`: budgeted, never a hang)."""
        from .pretty import derivation_text

        return derivation_text(self)

    def __repr__(self) -> str:
        return f"<Derivation ∂J/∂{self.parameter_name} of {self.network!r}>"


def upstream_symbols(network: Network) -> Matrix:
    """The abstract upstream gradient ``∂J/∂ŷ`` of a network whose loss is kept abstract, one per output entry.

    >>> from bnsym import two_layer
    >>> upstream_symbols(two_layer(batch=2)).T
    Matrix([[dJ/dyhat^(1), dJ/dyhat^(2)]])
    """
    return network.nodes[-1].symbols.applyfunc(lambda s: Partial("J", s.name))
