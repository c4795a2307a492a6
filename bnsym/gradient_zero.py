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

__all__ = ["prove_zero", "MAX_LEVELS", "BATCH"]

#: how many backward steps a zero proof unfolds before giving up
MAX_LEVELS = 3
#: the symbolic batch size proofs are made for
BATCH = Symbol("m", integer=True, positive=True)


def _context(graph, adjoints, free) -> tuple[K.Context, list]:
    """The kernel context: forward definitions, the unfolded adjoints' definitions, positivity of each σ."""
    ctx = K.Context(m=graph.m, free=tuple(free), size=graph.m)
    for d in graph.definitions:
        index = d.indices if len(d.indices) > 1 else (d.indices[0] if d.indices else None)
        ctx = ctx.define(d.target, d.value, index=index, text=d.text)
    for d in adjoints:
        index = d.indices if len(d.indices) > 1 else d.indices[0]
        ctx = ctx.define(d.target, d.value, index=index, text=d.text)
    conditions = []
    for layer in graph.network.layers:
        for symbol, radicand, eps in getattr(layer, "positivity", lambda g: [])(graph):
            if eps == 0:
                text = f"the batch of layer {layer.name} is not constant (σ > 0)"
                ctx = ctx.assume_positive(radicand, text)
            else:
                text = f"σ² + ε > 0 in layer {layer.name} (ε > 0)"
                ctx = ctx.assume_positive(radicand, text)
            conditions.append(text)
    return ctx, conditions


def _levels(derivation):
    """``(expression, adjoints unfolded)`` after each backward step through a layer that couples the batch
    (only there can the gradient cancel across samples), unfolding at most :data:`MAX_LEVELS` steps."""
    from .batchform import unfold
    from .network import adjoint_name

    graph = derivation.graph
    producer = {adjoint_name(port.name): layer for port, layer in zip(graph.ports, graph.network.layers)}
    expr, used = derivation.raw, []
    for d in list(reversed(derivation.steps))[:MAX_LEVELS]:  # nearest the parameter first
        expr = unfold(expr, [d])
        used.append(d)
        if getattr(producer.get(str(d.target.label) if hasattr(d.target, "label") else str(d.target)),
                   "couples_batch", False):
            yield expr, list(used)


def prove_zero(derivation):
    """A :class:`~bnsym.theorems.proof.Proof` that the gradient is 0 for every batch size, or ``None``.

    Only networks with a layer that couples the samples of a batch (``Layer.couples_batch``) are tried: without
    one, each sample's contribution is separate and no cancellation across the batch can happen.
    """
    from .batchform import index_gradients
    from .theorems.proof import Condition, Proof, Step

    network = derivation.network
    if not any(getattr(layer, "couples_batch", False) for layer in network.layers):
        return None
    symbolic = derivation if derivation.m == BATCH else index_gradients(network, BATCH)[derivation.parameter_name]
    graph = symbolic.graph
    for expr, used in _levels(symbolic):
        try:
            ctx, conditions = _context(graph, used, symbolic.indices)
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
        return Proof(f"zero_gradient_{name}", f"∂J/∂{name} vanishes", f"∂J/∂{name} = 0", rf"\frac{{\partial J}}{{\partial {sympy.latex(Symbol(name))}}} = 0",
                     f"bnsym: the layers of {network!r}", True,
                     tuple(Condition(c, c) for c in conditions), steps,
                     "general m (symbolic), every step checked by the kernel", "m", facts=(fact,))
    return None
