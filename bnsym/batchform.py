"""Networks over a batch of symbolic size ``m``: the index form, and reverse accumulation in it.

Every node of a network is an indexed quantity over the batch (``z1[i]`` for one feature, ``z1[i, r]`` for
several), and every layer states its forward pass and its vector-Jacobian product in that form
(:mod:`bnsym.layers`). :func:`index_graph` collects the forward definitions; :func:`index_gradients` walks the
layers backwards once, defining each node's adjoint ``z̄ = ∂J/∂z`` entry-wise from the next one, and each
parameter's gradient from its layer's output adjoint. Nothing here depends on the value of ``m``: the size of
every form is independent of the batch, and a concrete batch is the same derivation with ``m`` given
(:meth:`IndexDerivation.at` writes it out per entry).

>>> from bnsym import two_layer
>>> g = index_gradients(two_layer(activation="relu", bn="pre", batch="m"))
>>> g["b1"].raw
Sum(zbar1[j], (j, 1, m))
>>> g["b1"].closed_form
0
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any
from collections.abc import Iterator

import sympy
from sympy import Expr, IndexedBase, S, Symbol

from .errors import UnknownParameterError
from .functions import Partial
from .kernel import index as ix
from .layers.base import IndexDefinition, Port, index_symbol
from .unfolding import Unfolder, unfold

__all__ = ["IndexGraph", "index_graph", "IndexGradients", "IndexDerivation", "index_gradients", "unfold",
           "DerivationMapping", "SAMPLE", "FEATURE"]

SAMPLE, FEATURE = index_symbol("i"), index_symbol("r")
_PARAMETER_INDICES = (index_symbol("r"), index_symbol("c"))


def _adjoint_name(node: str) -> str:
    from .network import adjoint_name

    return adjoint_name(node)


@dataclass
class IndexGraph:
    """A network in index form: a port per node (input first), the forward definitions in order, and each
    parameter as a symbol or an ``IndexedBase`` with its index sizes."""

    network: Any
    m: Expr
    ports: list[Port]
    definitions: list[IndexDefinition]
    parameters: dict[str, tuple[Any, tuple]]
    by_layer: list[list[IndexDefinition]] = field(default_factory=list)  # each layer's own definitions

    def parameter_indices(self, name: str) -> tuple:
        """The free indices of ``∂J/∂name``: one per dimension, ``None`` for a dimension of size 1.

        >>> from bnsym import mlp
        >>> g = index_graph(mlp([2, 3, 1], batch="m"))
        >>> g.parameter_indices("W1"), g.parameter_indices("W2"), g.parameter_indices("b2")
        ((r, c), (None, c), (None,))
        """
        _, sizes = self.parameters[name]
        return tuple(None if n == 1 else _PARAMETER_INDICES[k] for k, n in enumerate(sizes))

    def parameter_entry(self, name: str) -> Expr:
        """The generic entry of a parameter (``W1[r, c]``, ``b1[r]``, or the symbol ``w1``).

        >>> from bnsym import mlp
        >>> g = index_graph(mlp([2, 3, 1], batch="m"))
        >>> g.parameter_entry("W1"), g.parameter_entry("b2")
        (W1[r, c], b2)
        """
        base, _ = self.parameters[name]
        used = tuple(k for k in self.parameter_indices(name) if k is not None)
        return base[used] if used else base


def index_graph(network, m: Expr | None = None) -> IndexGraph:
    """The index form of ``network`` over a batch of size ``m`` (default: the network's batch, symbolic or not).

    >>> from bnsym import mlp
    >>> g = index_graph(mlp([2, 3, 1], bn="pre", batch="m"))
    >>> [str(d.lhs) for d in g.definitions][:4]
    ['z1[i, r]', 'mu1[r]', 'sigma1[r]', 'zhat1[i, r]']
    """
    m = network.batch_size if m is None else m
    width = network.input_width
    ports = [Port("x", width, m)]
    by_layer: list[list[IndexDefinition]] = []
    parameters: dict[str, tuple[Any, tuple]] = {}
    for layer in network.layers:
        width = layer.output_width(width)
        port = Port(layer.name, width, m)
        by_layer.append(layer.index_forward(ports[-1], port, SAMPLE, FEATURE))
        ports.append(port)
        parameters.update(layer.index_parameters())
    definitions = [d for own in by_layer for d in own]
    return IndexGraph(network, m, ports, definitions, parameters, by_layer)


class DerivationMapping(Mapping):
    """A mapping from parameter name to its derivation (made on first use), over :attr:`raw`; shared by the
    per-entry :class:`~bnsym.derive.Gradients` and :class:`IndexGradients`, which set :attr:`derivation`."""

    raw: dict
    network: Any
    _derivations: dict

    @property
    def derivation(self) -> type:
        """The class of one parameter's derivation (each subclass names its own)."""
        raise NotImplementedError

    def __getitem__(self, name: str):
        if not isinstance(name, str) or name not in self.raw:
            raise UnknownParameterError(
                f"the network has no parameter {name!r}; its parameters are: {', '.join(self.raw)}")
        if name not in self._derivations:
            self._derivations[name] = self.derivation(self, name)
        return self._derivations[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.raw)

    def __len__(self) -> int:
        return len(self.raw)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} of {self.network!r}: {', '.join(self.raw)}>"


class IndexGradients(DerivationMapping):
    """Every ``∂J/∂p`` of a network in index form (a mapping from parameter name to :class:`IndexDerivation`).

    :attr:`adjoints` defines each node's adjoint from the next one, from the output back; :attr:`raw` gives each
    gradient in the adjoint of its layer's output.
    """

    def __init__(self, graph: IndexGraph, raw: dict[str, Expr], adjoints: list[IndexDefinition], seed: Expr,
                 owner: dict[str, int]) -> None:
        self.graph = graph
        self.network = graph.network
        self.raw = raw
        self.adjoints = adjoints
        self.seed = seed
        self.owner = owner
        self._derivations: dict[str, IndexDerivation] = {}

    def count_ops(self) -> int:
        """Operations in the whole index form (forward definitions, adjoints, gradients): independent of ``m``."""
        forms = [d.value for d in self.graph.definitions] + [d.value for d in self.adjoints] + list(self.raw.values())
        return sum(sympy.count_ops(e) for e in forms)

    @cached_property
    def unfold_adjoints(self) -> Unfolder:
        """:func:`unfold` through :attr:`adjoints`, each resolved once for all the gradients."""
        return Unfolder(self.adjoints)

    @property
    def derivation(self) -> type:
        return IndexDerivation


def index_gradients(network, m: Expr | None = None) -> IndexGradients:
    """Reverse accumulation in index form: one backward sweep gives every parameter's gradient.

    >>> from bnsym import chain
    >>> g = index_gradients(chain(2, batch="m"))
    >>> g["w1"].raw, g.adjoints[0].value
    (Sum(hbar1[j]*x[j], (j, 1, m)), w2*dJ/dyhat[i])
    """
    graph = index_graph(network, m)
    ports, layers = graph.ports, network.layers
    if network.has_loss:
        seed: Expr = S.One
        bar = Port("Jbar", 1, graph.m, S.One)
    else:
        out = ports[-1]
        bar = Port(f"dJ/d{out.name}", out.width, graph.m, IndexedBase(Partial("J", out.name)))
        seed = bar.base
    adjoints: list[IndexDefinition] = []
    raw: dict[str, Expr] = {}
    owner: dict[str, int] = {}
    for k in range(len(layers), 0, -1):
        layer, x, y = layers[k - 1], ports[k - 1], ports[k]
        for name in layer.index_parameters():
            raw[name] = layer.index_parameter_vjp(x, y, bar, name, graph.parameter_indices(name))
            owner[name] = k
        if k == 1:
            break
        value = layer.index_vjp(x, y, bar, SAMPLE, FEATURE)
        previous = Port(_adjoint_name(x.name), x.width, graph.m)
        adjoints.append(IndexDefinition(previous.base, previous.indices(SAMPLE, FEATURE), value,
                                        f"∂J/∂{x.name}"))
        bar = previous
    ordered = {name: raw[name] for name in network.parameters}
    return IndexGradients(graph, ordered, adjoints, seed, {n: owner[n] for n in ordered})


class IndexDerivation:
    """``∂J/∂p`` in index form: the backward steps, a compact form and a closed form, for every batch size.

    * :attr:`raw` — the gradient in the adjoint of its layer's output (``Σ_j z̄1[j] x[j]``);
    * :attr:`steps` — the adjoint definitions from the output down to that layer (each ``z̄[i] = …``);
    * :attr:`compact` — the gradient in the named forward intermediates (``z1, ẑ1, σ1, …``);
    * :attr:`closed_form` — ``0`` when the kernel proves the gradient identically zero (:attr:`proof`), else the
      compact form (the fully explicit form is :meth:`explicit`);
    * :meth:`at` — the same derivation at a concrete batch, written out per entry.
    """

    def __init__(self, gradients: IndexGradients, name: str) -> None:
        self.gradients = gradients
        self.network = gradients.network
        self.graph = gradients.graph
        self.parameter_name = name
        self.parameter = self.graph.parameter_entry(name)
        self.indices = tuple(k for k in self.graph.parameter_indices(name) if k is not None)
        self.loss_symbol = Symbol("J", real=True)

    @property
    def m(self) -> Expr:
        """The batch size (a symbol, or an integer)."""
        return self.graph.m

    @property
    def raw(self) -> Expr:
        """The gradient in the adjoint of its layer's output."""
        return self.gradients.raw[self.parameter_name]

    @cached_property
    def steps(self) -> list[IndexDefinition]:
        """The adjoint definitions the gradient goes through, from the loss down to its layer's output.

        >>> from bnsym import chain
        >>> [str(d.lhs) for d in chain(3, batch="m").gradient("w1").steps]
        ['hbar2[i]', 'hbar1[i]']
        """
        k = self.gradients.owner[self.parameter_name]
        return list(self.gradients.adjoints[:len(self.network.layers) - k])

    @cached_property
    def compact(self) -> Expr:
        """The gradient with every adjoint unfolded: in the named forward intermediates.

        >>> from bnsym import chain
        >>> chain(2, batch="m").gradient("w1").compact
        Sum(w2*dJ/dyhat[j]*x[j], (j, 1, m))
        """
        return self.gradients.unfold_adjoints(self.raw)

    def explicit(self) -> Expr:
        """The gradient explicit in inputs, targets and parameters (every definition unfolded).

        >>> from bnsym import chain
        >>> chain(2, batch="m").gradient("w2").explicit()
        Sum(w1*dJ/dyhat[j]*x[j], (j, 1, m))
        """
        return unfold(self.compact, self.graph.definitions)

    @cached_property
    def proof(self):
        """A kernel proof that the gradient is identically 0, or ``None`` when none was found
        (:func:`bnsym.gradient_zero.prove_zero`)."""
        from .gradient_zero import prove_zero

        return prove_zero(self)

    @property
    def is_zero(self) -> bool:
        """Whether the kernel proved the gradient identically 0 (for every batch size, under :attr:`proof`'s
        conditions)."""
        return self.proof is not None

    @property
    def closed_form(self) -> Expr:
        """``0`` when proved zero, else :attr:`compact` (in index notation over the batch)."""
        return S.Zero if self.is_zero else self.compact

    def at(self, batch: int):
        """The same derivation at a concrete batch of ``batch`` samples: the per-entry
        :class:`~bnsym.derive.Derivation` of the network built with ``batch=batch``."""
        return self.network.at(batch).gradient(self.parameter_name)

    def written_out(self, batch: int) -> Expr | sympy.Matrix:
        """:attr:`compact` at a concrete batch of ``batch`` samples, written out per entry in the symbols of
        :meth:`at`'s network (``x^(1)``, ``z1^(2)[1]``, ``W1[1,2]`` …): one expression, or a matrix shaped like the
        parameter. Tests check it equals the per-entry route's compact form exactly.

        >>> from bnsym import chain
        >>> chain(2, batch="m").gradients()["w1"].written_out(2)
        dJ/dyhat^(1)*w2*x^(1) + dJ/dyhat^(2)*w2*x^(2)
        """
        from .layers.batchnorm import _written_out

        network = self.network.at(batch)
        lookup = _entry_lookup(network, self.graph)
        generic = _written_out(self.compact.xreplace({self.m: _BATCH}) if self.m.is_Symbol else self.compact,
                               sympy.Integer(batch))
        shape = network.parameters[self.parameter_name].shape
        out = sympy.zeros(*shape)
        for a in range(shape[0]):
            for b in range(shape[1]):
                position = (a, b) if len(self.indices) == 2 else ((b,) if shape[0] == 1 else (a,))
                values = dict(zip(self.indices, [v + 1 for v, n in zip(position, shape, strict=False)], strict=False))
                entry = ix.substitute(generic, values) if values else generic
                out[a, b] = entry.replace(lambda e: isinstance(e, sympy.Indexed), lookup)
        return out[0, 0] if shape == (1, 1) else out

    def doit(self) -> Expr:
        """The closed form (SymPy's ``doit`` idiom)."""
        return self.closed_form

    def _repr_latex_(self) -> str:
        from .latex import repr_latex

        return repr_latex(self)

    def __str__(self) -> str:
        from .pretty_index import derivation_text

        return derivation_text(self)

    def __repr__(self) -> str:
        return f"<IndexDerivation ∂J/∂{self.parameter_name} of {self.network!r}>"


_BATCH = Symbol("m", integer=True, positive=True)


def _entry_lookup(network, graph: IndexGraph):
    """A function mapping an entry ``B[i, r]`` (integer indices) to the per-entry network's symbol for it: the
    entry ``(i, r)`` of the matrix that holds ``B`` per entry (a node, the targets, the upstream gradient, a
    parameter, a layer's statistic), found by what ``B`` is, never by building a name."""
    from .derive import upstream_symbols

    matrices: dict = {node.name: node.symbols for node in network.nodes if node.symbols is not None}
    if network.targets is not None:
        matrices["t"] = network.targets
    upstream = None if network.has_loss else upstream_symbols(network)
    sizes = {name: size for name, (_, size) in graph.parameters.items()}
    statistics = {base: matrix for layer in network.layers for base, matrix in layer.statistic_entries().items()}

    def lookup(e):
        label, idx = e.base.label, [int(v) for v in e.indices]
        if isinstance(label, Partial) and upstream is not None:
            matrix, position = upstream, idx
        elif str(label) in matrices and not isinstance(label, Partial):
            matrix, position = matrices[str(label)], idx
        elif str(label) in sizes:  # a parameter: the index form leaves out the dimensions of size 1
            it = iter(idx)
            position = [next(it) if n > 1 else 1 for n in sizes[str(label)]]
            matrix = network.parameters[str(label)]
        elif e.base in statistics:  # a per-feature (or per-sample) statistic: a row; two indices: a matrix
            matrix, position = statistics[e.base], idx if len(idx) == 2 else [1, idx[0]]
        else:
            raise KeyError(f"no per-entry symbol for {e}")
        row, col = (position[0], position[1]) if len(position) == 2 else \
            ((1, position[0]) if matrix.rows == 1 else (position[0], 1))
        return matrix[row - 1, col - 1]

    return lookup
