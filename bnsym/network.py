"""``Network``: an ordered list of layers over an input batch, with named intermediates (the builders that
make the usual ones live in :mod:`bnsym.builders`).

>>> from bnsym.builders import chain, mlp, two_layer
>>> net = chain(5, names="abcde")
>>> net.output[0]
a*b*c*d*e*x
>>> [node.name for node in net.nodes]
['x', 'h1', 'h2', 'h3', 'h4', 'yhat']
>>> two_layer(activation="relu").output[0]
ReLU(b2 + w2*ReLU(b1 + w1*x))
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast
from collections.abc import Sequence

import sympy
from sympy import Expr, Matrix, Symbol

from .errors import NetworkSpecError, UnknownParameterError
from .functions import Entry
from .layers import Layer, MSELoss, check_name, entry_symbols, flat
from .spec import LIMITS, Limits, check_batch, check_choice, too_large

if TYPE_CHECKING:  # pragma: no cover
    from .derive import Derivation, Gradients

# chain, two_layer and mlp live in bnsym.builders (and stay importable from here)
__all__ = ["Node", "Network", "Limits", "LIMITS", "adjoint_name"]

_LOSSES = ("abstract", "mse")


def adjoint_name(node: str) -> str:
    """Name of the adjoint ``∂J/∂node`` of a node: a bar over its letters (``z1`` → ``zbar1``).

    >>> adjoint_name("z1"), adjoint_name("zhat2"), adjoint_name("yhat")
    ('zbar1', 'zhatbar2', 'yhatbar')
    """
    match = re.match(r"^(.*?)(\d*)$", node)
    assert match is not None  # the pattern matches every string
    return f"{match.group(1)}bar{match.group(2)}"


def _head(symbol: Symbol) -> str:
    """The name of a statistic without its feature index (``mu1[2]`` → ``mu1``: an :class:`Entry`'s head)."""
    return symbol.head if isinstance(symbol, Entry) else symbol.name


@dataclass(frozen=True)
class Node:
    """A named intermediate: its symbols (``samples × features``) and the layer that produced it."""

    name: str
    symbols: Matrix
    layer: Layer | None

    @property
    def label(self) -> Symbol:
        """The symbol naming the whole node, e.g. ``z2`` or ``yhat`` (for ``∂J/∂z2`` in displays)."""
        return Symbol(self.name, real=True)


class Network:
    """A feed-forward graph of layers over an input batch, built with SymPy.

    ``inputs`` are the input symbols (``samples × features``); each layer makes a node whose entries are
    symbols defined in terms of the previous node (:attr:`definitions`), so derivations can speak of
    ``z₁, a₁, …`` while :attr:`output` and :attr:`loss` are fully explicit.

    >>> from bnsym.builders import chain, mlp, two_layer
    >>> net = chain(2)
    >>> net.parameters
    {'w1': Matrix([[w1]]), 'w2': Matrix([[w2]])}
    >>> net.definitions
    [(h1, w1*x), (yhat, h1*w2)]
    """

    def __init__(self, layers: Sequence[Layer], inputs: Matrix | int, *, batch: int | Symbol | None,
                 loss: str = "abstract", description: str = "") -> None:
        check_choice(loss, "loss", _LOSSES)
        if not layers:
            raise NetworkSpecError("a network needs at least one layer")
        self.layers = list(layers)
        self._built_from = (list(layers), loss, description)
        #: a batch of symbolic size: index form only (:meth:`at` gives the entries for a concrete size)
        self.symbolic = isinstance(batch, Symbol)
        self.input_width = inputs if isinstance(inputs, int) else inputs.cols
        self.inputs = None if self.symbolic else inputs
        self.batch = batch
        self.loss_kind = loss
        self.targets: Matrix | None = None
        self.description = description
        self.parameters: dict[str, Matrix] = {}
        self.nodes: list[Node] = [Node("x", inputs if not self.symbolic else None, None)]
        self.definitions: list[tuple[Symbol, Expr]] = []
        #: ``(layer name, d, values)``: the layers' :meth:`~bnsym.layers.Layer.divisors`, checked when evaluating
        self.divisors: list[tuple[str, Symbol, list[Expr]]] = []
        # every name the network uses, and what it names (for the message when a user's name clashes)
        self._taken = {"x": "the input x", "xbar": "the input's adjoint", "t": "the targets t",
                       "J": "the loss J", "Jbar": "the loss's adjoint"}
        if isinstance(batch, Symbol):  # self.symbolic
            self._take(batch.name, "the batch size")
        for layer in self.layers:
            self._add(layer)
        if loss == "mse":
            if not self.symbolic:
                self.targets = entry_symbols("t", batch, self.nodes[-1].symbols.cols)
            loss_layer = MSELoss("J", targets=self.targets)
            self.layers.append(loss_layer)
            self._add(loss_layer)
        self.constants = [] if self.symbolic else self._constants()
        self._explicit: dict[Symbol, Expr] | None = None

    @property
    def couples_batch(self) -> bool:
        """Whether a layer mixes the samples of the batch (batch statistics), so that gradients can cancel
        across it (:func:`bnsym.gradient_zero.prove_zero`).

        >>> from bnsym.builders import chain, mlp, two_layer
        >>> two_layer(bn="pre", batch="m").couples_batch, chain(2).couples_batch
        (True, False)
        """
        return any(layer.couples_batch for layer in self.layers)

    @property
    def batch_size(self) -> Expr:
        """The batch size as a SymPy object: the symbol ``m`` of a symbolic batch, or an integer.

        >>> from bnsym.builders import chain, mlp, two_layer
        >>> two_layer(bn="pre", batch="m").batch_size, two_layer(bn="pre", batch=3).batch_size
        (m, 3)
        """
        if self.batch is None:
            raise NetworkSpecError("this network has no batch (batch=None): build it with batch=m (a symbol "
                                   "name such as 'm', or an integer) for its index form")
        return self.batch if self.symbolic else sympy.Integer(self.batch)

    def at(self, batch: int) -> Network:
        """The same network over a concrete batch of ``batch`` samples (its entries written out).

        >>> from bnsym.builders import chain, mlp, two_layer
        >>> two_layer(bn="pre", batch="m").at(3).inputs.T
        Matrix([[x^(1), x^(2), x^(3)]])
        """
        checked = check_batch(batch, self.couples_batch)
        if isinstance(checked, Symbol) or checked is None:
            raise NetworkSpecError(f"at(batch) takes an integer batch size, got {checked!r}")
        batch = checked
        layers, loss, description = self._built_from
        width, terms = self.input_width, 0
        for layer in self.layers:
            terms += layer.entry_terms(batch, width)
            width = layer.output_width(width)
        if batch > LIMITS.width:
            raise too_large("network", f"a batch of {batch}", batch, "width")
        if terms > LIMITS.terms:
            raise too_large("network", f"about {terms} terms at m = {batch}", terms, "terms")
        return Network([layer.at(batch) for layer in layers], _inputs(batch, self.input_width), batch=batch,
                       loss=loss, description=description)

    def index_gradients(self):
        """Every gradient in index form over the batch (:func:`bnsym.batchform.index_gradients`).

        >>> from bnsym.builders import chain, mlp, two_layer
        >>> two_layer(bn="pre", batch=3).index_gradients()["b1"].closed_form
        0
        """
        from .batchform import index_gradients

        if self.__dict__.get("_index_gradients") is None:
            self._index_gradients = index_gradients(self)
        return self._index_gradients

    def _take(self, name: str, what: str) -> None:
        if name in self._taken:
            raise NetworkSpecError(f"the name {name!r} is used twice in the network: as {self._taken[name]} and "
                                   f"as {what}; choose distinct names")
        self._taken[name] = what

    def _add(self, layer: Layer) -> None:
        if not isinstance(layer, Layer):
            raise NetworkSpecError(f"a network's layers must be bnsym.layers.Layer objects, got {layer!r}")
        for pname, psyms in layer.parameters.items():
            self._take(check_name(pname, "parameter name"), f"a parameter of layer {layer.name!r}")
            self.parameters[pname] = psyms
        if not layer.is_loss:
            self._take(check_name(layer.name, "layer name"), f"the node {layer.name!r}")
            self._take(adjoint_name(layer.name), f"the adjoint ∂J/∂{layer.name}")
        if self.symbolic:  # index form only: the statistics' names are taken, nothing is written out
            for stat in ("mu", "sigma") if layer.couples_batch else ():
                statistic = layer.statistic  # type: ignore[attr-defined]  # a layer that couples the batch names its statistics
                self._take(f"{stat}{statistic}", f"a statistic ({stat}{statistic}) of layer {layer.name!r}")
            self.nodes.append(Node(layer.name, None, layer))
            return
        previous = self.nodes[-1].symbols
        statistics = layer.statistics(previous)
        for head in dict.fromkeys(_head(symbol) for symbol, _ in statistics):
            self._take(head, f"a statistic ({head}) of layer {layer.name!r}")
        self.definitions.extend(statistics)
        self.divisors.extend((layer.name, d, values) for d, values in layer.divisors(previous))
        values = layer.definition(previous)
        if layer.is_loss:
            symbols = Matrix([[Symbol(layer.name, real=True)]])
        else:
            symbols = entry_symbols(layer.name, self.batch, values.cols)
        self.definitions.extend(zip(flat(symbols), flat(values), strict=False))
        self.nodes.append(Node(layer.name, symbols, layer))

    def _constants(self) -> list[Symbol]:
        """Symbols the definitions use besides inputs, targets, parameters and intermediates (a symbolic ε)."""
        known = set(cast(Matrix, self.inputs)) | {s for m in self.parameters.values() for s in m}
        known |= set(self.targets) if self.targets is not None else set()
        known |= {symbol for symbol, _ in self.definitions}
        used = set().union(*(d.free_symbols for _, d in self.definitions)) - known
        if any(not isinstance(symbol, Symbol) for symbol in used):
            raise NetworkSpecError(f"the network's layers use objects it cannot name: {sorted(map(str, used))}")
        constants = sorted(used, key=lambda s: s.name)
        for symbol in constants:
            self._take(check_name(symbol.name, "the name of the symbol"), f"the symbol {symbol.name} (in eps)")
        return constants

    # -- explicit forms ------------------------------------------------------------------------------
    def explicit(self, expr):
        """``expr`` with every named intermediate replaced by its definition, recursively.

        >>> from bnsym.builders import chain, mlp, two_layer
        >>> net = chain(3, names="abc")
        >>> net.explicit(sympy.Symbol("h2", real=True))
        a*b*x
        """
        if self._explicit is None:
            resolved: dict[Symbol, Expr] = {}
            for symbol, definition in self.definitions:
                resolved[symbol] = definition.xreplace(resolved)
            self._explicit = resolved
        return expr.xreplace(self._explicit)

    @property
    def has_loss(self) -> bool:
        """Whether the last layer is a loss (``J`` explicit), rather than ``∂J/∂ŷ`` kept abstract.

        >>> from bnsym.builders import chain, mlp, two_layer
        >>> chain(1).has_loss, chain(1, loss="mse").has_loss
        (False, True)
        """
        return self.layers[-1].is_loss

    @property
    def output_node(self) -> Node:
        """The node holding ``ŷ`` (the one before the loss when the loss is MSE)."""
        return self.nodes[-2] if self.has_loss else self.nodes[-1]

    @property
    def output(self) -> Matrix | Expr:
        """``ŷ`` for every sample, explicit in inputs and parameters (a symbolic batch: the entry ``ŷ[i]`` or
        ``ŷ[i, r]`` in index form).

        >>> from bnsym.builders import chain, mlp, two_layer
        >>> chain(2, batch="m").output
        w1*w2*x[i]
        """
        if self.symbolic:
            from .batchform import SAMPLE, FEATURE, index_graph, unfold

            graph = index_graph(self)
            port = graph.ports[len(self.nodes) - (2 if self.has_loss else 1)]
            return unfold(port.entry(SAMPLE, FEATURE), graph.definitions)
        return self.explicit(self.output_node.symbols)

    @property
    def loss(self) -> Expr | None:
        """The loss ``J`` explicit in inputs, targets and parameters; ``None`` when kept abstract."""
        if not self.has_loss:
            return None
        if self.symbolic:
            from .batchform import index_graph, unfold

            graph = index_graph(self)
            return unfold(graph.definitions[-1].value, graph.definitions)
        return self.explicit(self.nodes[-1].symbols[0, 0])

    def parameter(self, name: str) -> Matrix:
        """The symbols of one parameter, with a clear error for an unknown name.

        >>> from bnsym.builders import chain, mlp, two_layer
        >>> chain(2).parameter("w9")
        Traceback (most recent call last):
        ...
        bnsym.errors.UnknownParameterError: the network has no parameter 'w9'; its parameters are: w1, w2
        """
        if not isinstance(name, str) or name not in self.parameters:
            raise UnknownParameterError(
                f"the network has no parameter {name!r}; its parameters are: {', '.join(self.parameters)}"
            )
        return self.parameters[name]

    def layer_of(self, name: str) -> int:
        """Index (1-based, as in :attr:`nodes`) of the layer that owns parameter ``name``."""
        self.parameter(name)
        for index, layer in enumerate(self.layers, start=1):
            if name in layer.parameters:
                return index
        raise AssertionError("unreachable")  # pragma: no cover

    # -- derivations ---------------------------------------------------------------------------------
    def gradients(self) -> Gradients:
        """``∂J/∂p`` for every parameter at once, by reverse accumulation with shared subexpressions.

        >>> from bnsym.builders import chain, mlp, two_layer
        >>> grads = chain(3, names="abc").gradients()
        >>> list(grads)
        ['a', 'b', 'c']
        """
        from .derive import reverse_accumulate

        if self.symbolic:
            return self.index_gradients()
        return reverse_accumulate(self)

    def gradient(self, name: str) -> Derivation:
        """The :class:`~bnsym.derive.Derivation` of ``∂J/∂name``.

        >>> from bnsym.builders import chain, mlp, two_layer
        >>> chain(5, names="abcde").gradient("a").closed_form
        dJ/dyhat*b*c*d*e*x
        """
        self.parameter(name)
        return self.gradients()[name]

    def hessian(self, names: Sequence[str] | None = None):
        """The exact Hessian of the loss over ``names`` through the engine (:func:`bnsym.hessian.hessian`).

        >>> from bnsym.builders import chain
        >>> chain(1, loss="mse").hessian().closed_form
        Matrix([[2*x**2]])
        """
        from .hessian import hessian

        return hessian(self, names)

    def hvp(self, direction, names: Sequence[str] | None = None):
        """The exact Hessian-vector product ``H v`` (:func:`bnsym.hessian.hvp`).

        >>> from bnsym.builders import chain
        >>> chain(1, loss="mse").hvp({"w1": 3}).closed_form
        Matrix([[6*x**2]])
        """
        from .hessian import hvp

        return hvp(self, direction, names)

    def __repr__(self) -> str:
        return f"<Network {self.description or 'custom'}: {' -> '.join(n.name for n in self.nodes)}>"


def _inputs(batch: int | Symbol | None, features: int) -> Matrix | int:
    """The input symbols (a symbolic batch: only the width; its entries are ``x[i]``, ``x[i, c]``)."""
    return features if isinstance(batch, Symbol) else entry_symbols("x", batch, features)


def __getattr__(name: str):
    """The builders' old home: ``from bnsym.network import chain`` keeps working (they live in
    :mod:`bnsym.builders`, which imports this module)."""
    if name in ("chain", "two_layer", "mlp"):
        from . import builders

        return getattr(builders, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
