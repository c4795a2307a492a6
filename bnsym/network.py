"""``Network``: an ordered list of layers over an input batch, with named intermediates, and its builders.

>>> net = chain(5, names="abcde")
>>> net.output[0]
a*b*c*d*e*x
>>> [node.name for node in net.nodes]
['x', 'h1', 'h2', 'h3', 'h4', 'yhat']
>>> two_layer(activation="relu").output[0]
ReLU(b2 + w2*ReLU(b1 + w1*x))
"""
from __future__ import annotations

import numbers
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast
from collections.abc import Iterable, Sequence

import numpy as np
import sympy
from sympy import Expr, Matrix, Symbol

from .errors import NetworkSpecError, UnknownParameterError
from .layers import (ACTIVATIONS, NAME_PATTERN, Activation, Layer, Linear, MSELoss, Normalize, ScaleShift,
                     check_eps, check_name, entry_symbols, flat)

if TYPE_CHECKING:  # pragma: no cover
    from .derive import Derivation, Gradients

__all__ = ["Node", "Network", "Limits", "LIMITS", "adjoint_name", "chain", "two_layer", "mlp"]

_LOSSES = ("abstract", "mse")
_BN_PLACES = (None, "pre", "post")


@dataclass(slots=True)
class Limits:
    """The builders' size limits, checked before anything is built, so a huge request fails at once.

    * ``layers`` — layers in the network (each Linear, activation, BN normalize and BN scale-shift step);
    * ``width`` — the largest of the batch size ``m`` and the layer widths: each is the length of a sum in
      the generated code, and Python's compiler overflows on sums of a few thousand terms;
    * ``terms`` — the scalar terms the engine builds, estimated up front: ``m·n_in·n_out`` per Linear,
      ``(m² + 40)·n`` per BN normalize step (its backward sums over the batch for each of the ``m``
      entries, plus a fixed cost for its statistics), ``m·n`` per other layer, for a batch of ``m``
      (1 without a batch) and ``n`` features.

    The defaults keep a builder call with all gradients to a few seconds and their first ``evaluate``
    (which compiles them) to seconds more; time grows about linearly with ``terms``. Raise them for bigger
    networks, e.g. ``bnsym.network.LIMITS.terms = 20_000``.

    >>> LIMITS
    Limits(layers=256, width=1000, terms=4000)
    >>> chain(10**6)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    bnsym.errors.NetworkSpecError: this chain would have at least 1000000 layers, more than the limit of 256 ...
    """

    layers: int = 256
    width: int = 1000
    terms: int = 4000


#: The one place the builders' size limits live (see :class:`Limits`).
LIMITS = Limits()


def adjoint_name(node: str) -> str:
    """Name of the adjoint ``∂J/∂node`` of a node: a bar over its letters (``z1`` → ``zbar1``).

    >>> adjoint_name("z1"), adjoint_name("zhat2"), adjoint_name("yhat")
    ('zbar1', 'zhatbar2', 'yhatbar')
    """
    match = re.match(r"^(.*?)(\d*)$", node)
    assert match is not None  # the pattern matches every string
    return f"{match.group(1)}bar{match.group(2)}"


def _head(name: str) -> str:
    """The name of a node or statistic without its sample superscript and feature index (``mu1[2]`` → ``mu1``)."""
    return re.split(r"[\^\[]", name, maxsplit=1)[0]


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

    >>> net = chain(2)
    >>> net.parameters
    {'w1': Matrix([[w1]]), 'w2': Matrix([[w2]])}
    >>> net.definitions
    [(h1, w1*x), (yhat, h1*w2)]
    """

    def __init__(self, layers: Sequence[Layer], inputs: Matrix | int, *, batch: int | Symbol | None,
                 loss: str = "abstract", description: str = "") -> None:
        _check_choice(loss, "loss", _LOSSES)
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

        >>> two_layer(bn="pre", batch="m").couples_batch, chain(2).couples_batch
        (True, False)
        """
        return any(layer.couples_batch for layer in self.layers)

    @property
    def batch_size(self) -> Expr:
        """The batch size as a SymPy object: the symbol ``m`` of a symbolic batch, or an integer.

        >>> two_layer(bn="pre", batch="m").batch_size, two_layer(bn="pre", batch=3).batch_size
        (m, 3)
        """
        if self.batch is None:
            raise NetworkSpecError("this network has no batch (batch=None): build it with batch=m (a symbol "
                                   "name such as 'm', or an integer) for its index form")
        return self.batch if self.symbolic else sympy.Integer(self.batch)

    def at(self, batch: int) -> Network:
        """The same network over a concrete batch of ``batch`` samples (its entries written out).

        >>> two_layer(bn="pre", batch="m").at(3).inputs.T
        Matrix([[x^(1), x^(2), x^(3)]])
        """
        checked = _check_batch(batch, self.couples_batch)
        if isinstance(checked, Symbol) or checked is None:
            raise NetworkSpecError(f"at(batch) takes an integer batch size, got {checked!r}")
        batch = checked
        layers, loss, description = self._built_from
        width, terms = self.input_width, 0
        for layer in self.layers:
            terms += layer.entry_terms(batch, width)
            width = layer.output_width(width)
        if batch > LIMITS.width:
            raise _too_large("network", f"a batch of {batch}", batch, "width")
        if terms > LIMITS.terms:
            raise _too_large("network", f"about {terms} terms at m = {batch}", terms, "terms")
        return Network([layer.at(batch) for layer in layers], _inputs(batch, self.input_width), batch=batch,
                       loss=loss, description=description)

    def index_gradients(self):
        """Every gradient in index form over the batch (:func:`bnsym.batchform.index_gradients`).

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
        if not isinstance(layer, MSELoss):
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
        for head in dict.fromkeys(_head(symbol.name) for symbol, _ in statistics):
            self._take(head, f"a statistic ({head}) of layer {layer.name!r}")
        self.definitions.extend(statistics)
        self.divisors.extend((layer.name, d, values) for d, values in layer.divisors(previous))
        values = layer.definition(previous)
        if isinstance(layer, MSELoss):
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

        >>> chain(5, names="abcde").gradient("a").closed_form
        dJ/dyhat*b*c*d*e*x
        """
        self.parameter(name)
        return self.gradients()[name]

    def __repr__(self) -> str:
        return f"<Network {self.description or 'custom'}: {' -> '.join(n.name for n in self.nodes)}>"


# -- validation helpers ----------------------------------------------------------------------------------
def _check_int(value, what: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise NetworkSpecError(f"{what} must be an integer >= {minimum}, got {value!r}")
    if value < minimum:
        raise NetworkSpecError(f"{what} must be an integer >= {minimum}, got {value}")
    return int(value)


#: the names of the index form's indices (samples i, j, k; features r, s, c; the kernel's q, l, t)
_INDEX_NAMES = frozenset("ijklqrsct")


def _check_batch(batch, bn: bool) -> int | Symbol | None:
    """The batch size: ``None`` (no batch), an integer, or a symbol for a symbolic batch (a plain name such as
    ``"m"``, which is never parsed, or a positive integer SymPy symbol).

    >>> _check_batch("m", True), _check_batch(4, True)
    (m, 4)
    >>> _check_batch("m+1", True)
    Traceback (most recent call last):
    ...
    bnsym.errors.NetworkSpecError: batch must be an integer, or a name for a symbolic batch size (a letter followed by
    letters or digits, e.g. 'm'), got 'm+1'
    """
    if isinstance(batch, Symbol) or isinstance(batch, str) and NAME_PATTERN.fullmatch(batch):
        name = batch if isinstance(batch, str) else batch.name
        if name in _INDEX_NAMES or name.startswith("_"):
            raise NetworkSpecError(f"the batch size cannot be called {name!r}: {', '.join(sorted(_INDEX_NAMES))} "
                                   "name the "
                                   "indices of sums over the batch and the features; choose another name, e.g. 'm'")
    if isinstance(batch, str):
        if NAME_PATTERN.fullmatch(batch) is None:
            raise NetworkSpecError("batch must be an integer, or a name for a symbolic batch size (a letter followed "
                                   f"by letters or digits, e.g. 'm'), got {batch!r}")
        return Symbol(batch, integer=True, positive=True)
    if isinstance(batch, Symbol):
        if not (batch.is_integer and batch.is_positive):
            raise NetworkSpecError(f"a symbolic batch size must be a positive integer symbol (Symbol({batch.name!r}, "
                                   f"integer=True, positive=True)) or a name such as {batch.name!r}, got {batch!r}")
        check_name(batch.name, "the name of the batch size")
        return batch
    if batch is None:
        if bn:
            raise NetworkSpecError(
                "batch normalization needs a batch: pass batch=m with m >= 2 (the statistics are over m samples)"
            )
        return None
    batch = _check_int(batch, "batch", 1)
    if bn and batch < 2:
        raise NetworkSpecError(
            f"batch normalization needs a batch of m >= 2 samples, got batch={batch}: with one sample the "
            "batch variance is 0 and BN is undefined (eps = 0) or constant"
        )
    return batch


def _check_choice(value, what: str, choices: Iterable) -> None:
    choices = tuple(choices)
    if not any(type(value) is type(choice) and value == choice for choice in choices):
        raise NetworkSpecError(f"unknown {what} {value!r}; choose one of {', '.join(map(repr, choices))}")


def _check_flag(value, what: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise NetworkSpecError(f"{what} must be True or False, got {value!r}")
    return bool(value)


def _too_large(what: str, description: str, count: int, limit: str) -> NetworkSpecError:
    return NetworkSpecError(
        f"this {what} would have {description}, more than the limit of {getattr(LIMITS, limit)} (building and "
        f"differentiating it would take too long); raise the limit with bnsym.network.LIMITS.{limit} = {count} "
        "if you mean it"
    )


def _check_size(what: str, widths: Sequence[int], batch: int | None, *, bn: bool, affine: bool,
                hidden_activation: bool, output_activation: bool, loss: str) -> None:
    """Refuse, before building, a network beyond :data:`LIMITS` (counted as :class:`Limits` describes)."""
    depth = len(widths) - 1
    if depth > LIMITS.layers:
        raise _too_large(what, f"at least {depth} layers", depth, "layers")
    m = 1 if batch is None or isinstance(batch, Symbol) else batch  # a symbolic batch: forms independent of m
    widest = max(m, *widths)
    if widest > LIMITS.width:
        raise _too_large(what, f"a batch or layer width of {widest}", widest, "width")
    layers, terms = 0, 0
    for k in range(1, depth + 1):
        n = widths[k]
        layers, terms = layers + 1, terms + m * widths[k - 1] * n
        if k < depth:
            if bn:
                layers, terms = layers + 1 + affine, terms + (m * m + 40) * n + affine * m * n
            if hidden_activation:
                layers, terms = layers + 1, terms + m * n
        elif output_activation:
            layers, terms = layers + 1, terms + m * n
    if loss == "mse":
        layers, terms = layers + 1, terms + m * widths[-1]
    if layers > LIMITS.layers:
        raise _too_large(what, f"{layers} layers", layers, "layers")
    if terms > LIMITS.terms and not isinstance(batch, Symbol):  # a symbolic batch writes out no entries
        hint = "; a BN step costs about m² per feature" if bn else ""
        raise _too_large(what, f"about {terms} terms (batch m = {m}{hint})", terms, "terms")


def _inputs(batch: int | Symbol | None, features: int) -> Matrix | int:
    """The input symbols (a symbolic batch: only the width; its entries are ``x[i]``, ``x[i, c]``)."""
    return features if isinstance(batch, Symbol) else entry_symbols("x", batch, features)


def _bn_layers(index: int, node: str, *, batch: int | Symbol | None, features: int, eps: Expr,
               affine: bool) -> list[Layer]:
    layers: list[Layer] = [Normalize(f"{node}hat{index}", samples=batch, features=features, eps=eps,
                                     statistic=str(index))]
    if affine:
        layers.append(ScaleShift(f"{node}tilde{index}", gamma=f"gamma{index}", beta=f"beta{index}", features=features))
    return layers


# -- builders ------------------------------------------------------------------------------------------
def chain(depth: int, names: str | Sequence[str] | None = None, *, bn: bool = False, batch: int | None = None,
          eps=0, affine: bool = True, loss: str = "abstract") -> Network:
    """Goodfellow's scalar chain ``ŷ = x·w₁·w₂⋯w_L``: ``depth`` one-unit linear layers, no activation.

    ``names`` gives the weights' names (``"abcde"`` or a list); the default is ``w1 … wL``. With
    ``bn=True`` a batch normalization (statistics over ``batch`` samples) follows every layer but the last,
    so the output is ``w_L`` times the normalized ``h_{L−1}`` (Deep Learning §8.7.1).

    >>> chain(5, names="abcde").gradient("a").factors[-1].value
    x
    >>> chain(0)
    Traceback (most recent call last):
    ...
    bnsym.errors.NetworkSpecError: depth must be an integer >= 1, got 0
    """
    depth = _check_int(depth, "depth", 1)
    bn, affine = _check_flag(bn, "bn"), _check_flag(affine, "affine")
    if bn and depth < 2:
        raise NetworkSpecError("chain(1, bn=True) would have no BN: BN follows every layer but the last, so a "
                               "chain with BN needs depth >= 2")
    batch = _check_batch(batch, bn)
    eps = check_eps(eps)
    _check_choice(loss, "loss", _LOSSES)
    if depth > LIMITS.layers:
        raise _too_large("chain", f"at least {depth} layers", depth, "layers")
    if names is None:
        names = [f"w{k}" for k in range(1, depth + 1)]
    elif isinstance(names, str):
        names = list(names)
    elif isinstance(names, (list, tuple)):
        names = list(names)
    else:
        raise NetworkSpecError(f"names must be a string (one letter per weight) or a list of names, got {names!r}")
    if len(names) != depth:
        raise NetworkSpecError(f"chain of depth {depth} needs {depth} weight names, got {len(names)}: {names!r}")
    for name in names:
        check_name(name, "weight name")
    _check_size("chain", [1] * (depth + 1), batch, bn=bn, affine=affine, hidden_activation=False,
                output_activation=False, loss=loss)
    layers: list[Layer] = []
    for k, name in enumerate(names, start=1):
        last = k == depth
        layers.append(Linear("yhat" if last else f"h{k}", weight=name, n_in=1, n_out=1))
        if bn and not last:
            layers += _bn_layers(k, "h", batch=batch, features=1, eps=eps, affine=affine)
    kind = "chain" + (" with BN" if bn else "")
    return Network(layers, _inputs(batch, 1), batch=batch, loss=loss, description=f"{kind}, depth {depth}")


def two_layer(activation: str = "relu", *, bn: str | None = None, bias: bool = True, batch: int | None = None,
              eps=0, affine: bool = True, inputs: int = 1, loss: str = "abstract") -> Network:
    """The seed's network ``z₁ = w₁x + b₁, a₁ = g(z₁), z₂ = w₂a₁ + b₂, ŷ = g(z₂)`` (one unit per layer).

    ``bn="pre"`` normalizes ``z₁`` before the activation (Ioffe & Szegedy's placement), ``bn="post"``
    normalizes ``a₁``; either needs ``batch=m`` with ``m ≥ 2``. ``inputs`` > 1 gives the first unit several
    inputs (weights ``w1[1,1], w1[1,2], …``), where BN's ``1/σ`` acts on the gradient's direction too.

    >>> d = two_layer(activation="relu").gradient("w1")
    >>> d.compact
    dJ/dyhat*w2*x*ReLU'(z1)*ReLU'(z2)
    """
    _check_choice(activation, "activation", ACTIVATIONS)
    _check_choice(bn, "bn placement", _BN_PLACES)
    _check_choice(loss, "loss", _LOSSES)
    bias, affine = _check_flag(bias, "bias"), _check_flag(affine, "affine")
    inputs = _check_int(inputs, "inputs", 1)
    batch = _check_batch(batch, bn is not None)
    eps = check_eps(eps)
    _check_size("two-layer network", [inputs, 1, 1], batch, bn=bn is not None, affine=affine, hidden_activation=True,
                output_activation=True, loss=loss)
    layers: list[Layer] = [Linear("z1", weight="w1", bias="b1" if bias else None, n_in=inputs, n_out=1)]
    if bn == "pre":
        layers += _bn_layers(1, "z", batch=batch, features=1, eps=eps, affine=affine)
    layers.append(Activation("a1", activation))
    if bn == "post":
        layers += _bn_layers(1, "a", batch=batch, features=1, eps=eps, affine=affine)
    layers.append(Linear("z2", weight="w2", bias="b2" if bias else None, n_in=1, n_out=1))
    layers.append(Activation("yhat", activation))
    where = {None: "", "pre": ", BN before the activation", "post": ", BN after the activation"}[bn]
    return Network(layers, _inputs(batch, inputs), batch=batch, loss=loss,
                   description=f"two-layer {activation}{where}")


def mlp(widths: Sequence[int], activation: str = "relu", *, bn: str | None = None, bias: bool = True,
        batch: int | None = 1, eps=0, affine: bool = True, output_activation: str = "identity",
        loss: str = "abstract") -> Network:
    """A small multilayer perceptron over a batch: ``z_l = W_l a_{l−1} + b_l``, ``a_l = g(z_l)``.

    ``widths = [n_0, n_1, …, n_L]`` are the layer widths (input first). Hidden layers use ``activation``;
    the last uses ``output_activation``. ``bn`` places batch normalization on every hidden layer, before
    (``"pre"``) or after (``"post"``) its activation.

    >>> net = mlp([2, 3, 1], activation="tanh", bn="post", batch=3)
    >>> net.parameters["W1"].shape, net.inputs.shape
    ((3, 2), (3, 2))
    >>> mlp([2, 0, 1])
    Traceback (most recent call last):
    ...
    bnsym.errors.NetworkSpecError: layer width 1 must be an integer >= 1, got 0
    """
    if isinstance(widths, (str, bytes)) or not isinstance(widths, Sequence) or len(widths) < 2:
        raise NetworkSpecError(f"widths must be a list of at least two layer widths [n_0, ..., n_L], got {widths!r}")
    if len(widths) - 1 > LIMITS.layers:
        raise _too_large("MLP", f"at least {len(widths) - 1} layers", len(widths) - 1, "layers")
    widths = [_check_int(w, f"layer width {k}", 1) for k, w in enumerate(widths)]
    _check_choice(activation, "activation", ACTIVATIONS)
    _check_choice(output_activation, "output activation", ACTIVATIONS)
    _check_choice(bn, "bn placement", _BN_PLACES)
    _check_choice(loss, "loss", _LOSSES)
    bias, affine = _check_flag(bias, "bias"), _check_flag(affine, "affine")
    depth = len(widths) - 1
    if bn is not None and depth < 2:
        raise NetworkSpecError(f"mlp({widths}, bn={bn!r}) would have no BN: BN goes on the hidden layers and "
                               f"{widths} has none; give at least one hidden width, "
                               f"e.g. [{widths[0]}, 3, {widths[-1]}]")
    batch = _check_batch(batch, bn is not None)
    eps = check_eps(eps)
    _check_size("MLP", widths, batch, bn=bn is not None, affine=affine, hidden_activation=True,
                output_activation=output_activation != "identity", loss=loss)
    layers: list[Layer] = []
    for k in range(1, depth + 1):
        last = k == depth
        linear_name = "yhat" if last and output_activation == "identity" else f"z{k}"
        layers.append(Linear(linear_name, weight=f"W{k}", bias=f"b{k}" if bias else None,
                             n_in=widths[k - 1], n_out=widths[k]))
        if last:
            if output_activation != "identity":
                layers.append(Activation("yhat", output_activation))
            break
        if bn == "pre":
            layers += _bn_layers(k, "z", batch=batch, features=widths[k], eps=eps, affine=affine)
        layers.append(Activation(f"a{k}", activation))
        if bn == "post":
            layers += _bn_layers(k, "a", batch=batch, features=widths[k], eps=eps, affine=affine)
    where = {None: "", "pre": ", BN before activations", "post": ", BN after activations"}[bn]
    return Network(layers, _inputs(batch, widths[0]), batch=batch, loss=loss,
                   description=f"MLP {widths} {activation}{where}")
