"""Exact zeros of gradients: a kernel proof that ``∂J/∂p`` vanishes identically, over the network's own layers.

A gradient that BN makes vanish (the bias before BN, Ioffe & Szegedy 2015 §3.2; the weight of a one-unit layer
before BN with ``ε = 0``) does so for *every* upstream gradient: the sum over the batch of BN's backward pass is
0 whatever ``ḡ`` is. :func:`prove_zero` therefore unfolds the gradient's backward steps one at a time (the
gradient in ``z̄₁``, then in the adjoint after it, …), keeps the adjoint it has reached as an arbitrary indexed
quantity, and asks the kernel (:func:`bnsym.kernel.core.equal`) whether the result is 0 in a context holding the
network's forward definitions (each layer's :meth:`~bnsym.layers.base.Layer.index_forward`, for a symbolic batch
size ``m``). An identity proved for an arbitrary adjoint holds for the actual one, so the proof is sound; it is
made for every ``m`` and holds for a concrete batch too. The hypotheses are the ones the kernel needs: each BN
layer's batch is not constant (``σ > 0``) unless its ``ε > 0``.

>>> from bnsym import two_layer
>>> p = two_layer(bn="pre", batch="m").gradients()["b1"].proof
>>> p.holds, p.statement
(True, '∂J/∂b1 = 0')
>>> [c.text for c in p.conditions]
['the batch of layer zhat1 is not constant (σ > 0)']
"""
from __future__ import annotations

import sympy
from sympy import S, Symbol

from .kernel import core as K
from .kernel.errors import KernelError, StepError

__all__ = ["prove_zero", "prove_orthogonal", "MAX_LEVELS", "BATCH"]

#: how many backward steps a zero proof unfolds before giving up
MAX_LEVELS = 3
#: the symbolic batch size proofs are made for
BATCH = Symbol("m", integer=True, positive=True)


def _define(ctx: K.Context, d) -> K.Context:
    """``ctx`` with the index definition ``d`` (the kernel takes one index, a tuple, or none)."""
    index = d.indices if len(d.indices) > 1 else (d.indices[0] if d.indices else None)
    return ctx.define(d.target, d.value, index=index, text=d.text)


def _context(graph, adjoints, free, layers) -> tuple[K.Context, list]:
    """The kernel context: the forward definitions of ``layers`` (indices into the network's layers; every other
    quantity stays an arbitrary indexed symbol, which is sound), the unfolded adjoints' definitions, and the
    positivity each of those layers needs (its batch's ``σ > 0``)."""
    ctx = K.Context(m=graph.m, free=tuple(free), size=graph.m)
    for n in layers:
        for d in graph.by_layer[n]:
            ctx = _define(ctx, d)
    for d in adjoints:
        ctx = _define(ctx, d)
    conditions = []
    for n in layers:
        layer = graph.network.layers[n]
        for _symbol, radicand, eps in getattr(layer, "positivity", lambda g: [])(graph):
            text = (f"the batch of layer {layer.name} is not constant (σ > 0)" if eps == 0
                    else f"σ² + ε > 0 in layer {layer.name} (ε > 0)")
            ctx = ctx.assume_positive(radicand, text)
            conditions.append(text)
    return ctx, conditions


def _levels(derivation):
    """``(expression, adjoints unfolded, layers involved)`` after each backward step through a layer that couples
    the batch (only there can the gradient cancel across samples), as long as every layer in between is affine
    (a nonlinearity between the parameter and the batch statistics stops the search: no cancellation is
    structural there), unfolding at most :data:`MAX_LEVELS` steps."""
    from .batchform import unfold

    graph = derivation.graph
    layers = graph.network.layers
    k = derivation.gradients.owner[derivation.parameter_name]  # 1-based: the parameter's layer
    expr, used = derivation.raw, []
    for step, d in enumerate(list(reversed(derivation.steps))[:MAX_LEVELS]):  # nearest the parameter first
        n = k + step  # 0-based index of the layer whose backward pass defines this adjoint
        expr = unfold(expr, [d])
        used.append(d)
        if layers[n].couples_batch:
            yield expr, list(used), range(k - 1, n + 1)
        elif not layers[n].affine:
            return


def prove_zero(derivation):
    """A :class:`~bnsym.theorems.proof.Proof` that the gradient is 0 for every batch size, or ``None``.

    Only networks with a layer that couples the samples of a batch (``Layer.couples_batch``) are tried: without
    one, each sample's contribution is separate and no cancellation across the batch can happen.
    """
    from .batchform import index_gradients
    from .theorems.proof import Condition, Proof, Step

    network = derivation.network
    if not network.couples_batch:
        return None
    symbolic = derivation if derivation.m == BATCH else index_gradients(network, BATCH)[derivation.parameter_name]
    graph = symbolic.graph
    for expr, used, involved in _levels(symbolic):
        try:
            ctx, conditions = _context(graph, used, symbolic.indices, involved)
            unfolded = K.equal(ctx, symbolic.raw, expr, "the backward steps (definitions of the adjoints)")
            vanishes = K.equal(ctx, expr, S.Zero, "definitions of the batch statistics, sums over the batch")
            fact = K.chain(unfolded, vanishes)
        except (StepError, KernelError):
            continue
        name = derivation.parameter_name
        steps = (
            Step(sympy.Eq(symbolic.raw, expr, evaluate=False), "the backward pass: " + ", ".join(
                f"{d.target} from the next adjoint" for d in used), True, unfolded.rule, unfolded),
            Step(sympy.Eq(expr, 0, evaluate=False), "unfold μ, σ, x̂ and sum over the batch (kernel)", True,
                 vanishes.rule, vanishes),
        )
        return Proof(f"zero_gradient_{name}", f"∂J/∂{name} vanishes", f"∂J/∂{name} = 0",
                     rf"\frac{{\partial J}}{{\partial {sympy.latex(Symbol(name))}}} = 0",
                     f"bnsym: the layers of {network!r}", True,
                     tuple(Condition(c, c) for c in conditions), steps,
                     "general m (symbolic), every step checked by the kernel", "m", facts=(fact,))
    return None


def prove_orthogonal(derivation):
    """The kernel fact ``⟨p, ∂J/∂p⟩ = Σ p[r, c] ∂J/∂p[r, c] = 0`` for a parameter ``p`` feeding batch statistics
    (scale invariance, Ioffe & Szegedy 2015 §3.3; docs/math.md §6), for every batch size, over the network's own
    layers; ``None`` when the kernel does not establish it.

    >>> from bnsym import two_layer
    >>> fact = prove_orthogonal(two_layer("tanh", bn="pre", batch="m", inputs=2).gradient("w1"))
    >>> fact.kind, fact.rhs
    ('eq', 0)
    """
    from .batchform import index_gradients

    symbolic = derivation if derivation.m == BATCH else index_gradients(derivation.network, BATCH)[
        derivation.parameter_name]
    graph = symbolic.graph
    _, sizes = graph.parameters[symbolic.parameter_name]
    indices = graph.parameter_indices(symbolic.parameter_name)
    limits = [(k, 1, n) for k, n in zip(indices, sizes, strict=False) if k is not None]
    entry = graph.parameter_entry(symbolic.parameter_name)
    for expr, used, involved in _levels(symbolic):
        try:
            ctx, _conditions = _context(graph, used, (), involved)
            inner = sympy.Sum(entry * expr, *limits) if limits else entry * expr
            return K.equal(ctx, inner, S.Zero, "⟨W, ∇_W J⟩ = 0: definitions of the batch statistics, sums")
        except (StepError, KernelError):
            continue
    return None
