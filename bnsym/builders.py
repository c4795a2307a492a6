"""The builders: Goodfellow's chain, the two-layer net and MLPs, with batch normalization before or after the
activation, over a concrete or symbolic batch. Each checks its arguments (:mod:`bnsym.spec`) before building.

>>> chain(5, names="abcde").output[0]
a*b*c*d*e*x
>>> two_layer(activation="relu").output[0]
ReLU(b2 + w2*ReLU(b1 + w1*x))
"""
from __future__ import annotations

from collections.abc import Sequence

from sympy import Expr, Symbol

from .errors import NetworkSpecError
from .layers import (ACTIVATIONS, Activation, Layer, Linear, Normalize, ScaleShift, check_eps, check_name)
from .network import Network, _inputs
from .spec import LIMITS, check_batch, check_choice, check_flag, check_int, check_size, too_large

__all__ = ["chain", "two_layer", "mlp"]

_LOSSES = ("abstract", "mse")
_BN_PLACES = (None, "pre", "post")


def _bn_layers(index: int, node: str, *, batch: int | Symbol | None, features: int, eps: Expr,
               affine: bool) -> list[Layer]:
    layers: list[Layer] = [Normalize(f"{node}hat{index}", samples=batch, features=features, eps=eps,
                                     statistic=str(index))]
    if affine:
        layers.append(ScaleShift(f"{node}tilde{index}", gamma=f"gamma{index}", beta=f"beta{index}", features=features))
    return layers


# -- builders ------------------------------------------------------------------------------------------
def chain(depth: int, names: str | Sequence[str] | None = None, *, bn: bool = False,
          batch: int | str | Symbol | None = None,
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
    depth = check_int(depth, "depth", 1)
    bn, affine = check_flag(bn, "bn"), check_flag(affine, "affine")
    if bn and depth < 2:
        raise NetworkSpecError("chain(1, bn=True) would have no BN: BN follows every layer but the last, so a "
                               "chain with BN needs depth >= 2")
    batch = check_batch(batch, bn)
    eps = check_eps(eps)
    check_choice(loss, "loss", _LOSSES)
    if depth > LIMITS.layers:
        raise too_large("chain", f"at least {depth} layers", depth, "layers")
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
    check_size("chain", [1] * (depth + 1), batch, bn=bn, affine=affine, hidden_activation=False,
                output_activation=False, loss=loss)
    layers: list[Layer] = []
    for k, name in enumerate(names, start=1):
        last = k == depth
        layers.append(Linear("yhat" if last else f"h{k}", weight=name, n_in=1, n_out=1))
        if bn and not last:
            layers += _bn_layers(k, "h", batch=batch, features=1, eps=eps, affine=affine)
    kind = "chain" + (" with BN" if bn else "")
    return Network(layers, _inputs(batch, 1), batch=batch, loss=loss, description=f"{kind}, depth {depth}")


def two_layer(activation: str = "relu", *, bn: str | None = None, bias: bool = True,
              batch: int | str | Symbol | None = None,
              eps=0, affine: bool = True, inputs: int = 1, loss: str = "abstract") -> Network:
    """The seed's network ``z₁ = w₁x + b₁, a₁ = g(z₁), z₂ = w₂a₁ + b₂, ŷ = g(z₂)`` (one unit per layer).

    ``bn="pre"`` normalizes ``z₁`` before the activation (Ioffe & Szegedy's placement), ``bn="post"``
    normalizes ``a₁``; either needs ``batch=m`` with ``m ≥ 2``. ``inputs`` > 1 gives the first unit several
    inputs (weights ``w1[1,1], w1[1,2], …``), where BN's ``1/σ`` acts on the gradient's direction too.

    >>> d = two_layer(activation="relu").gradient("w1")
    >>> d.compact
    dJ/dyhat*w2*x*ReLU'(z1)*ReLU'(z2)
    """
    check_choice(activation, "activation", ACTIVATIONS)
    check_choice(bn, "bn placement", _BN_PLACES)
    check_choice(loss, "loss", _LOSSES)
    bias, affine = check_flag(bias, "bias"), check_flag(affine, "affine")
    inputs = check_int(inputs, "inputs", 1)
    batch = check_batch(batch, bn is not None)
    eps = check_eps(eps)
    check_size("two-layer network", [inputs, 1, 1], batch, bn=bn is not None, affine=affine, hidden_activation=True,
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
        batch: int | str | Symbol | None = 1, eps=0, affine: bool = True, output_activation: str = "identity",
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
        raise too_large("MLP", f"at least {len(widths) - 1} layers", len(widths) - 1, "layers")
    widths = [check_int(w, f"layer width {k}", 1) for k, w in enumerate(widths)]
    check_choice(activation, "activation", ACTIVATIONS)
    check_choice(output_activation, "output activation", ACTIVATIONS)
    check_choice(bn, "bn placement", _BN_PLACES)
    check_choice(loss, "loss", _LOSSES)
    bias, affine = check_flag(bias, "bias"), check_flag(affine, "affine")
    depth = len(widths) - 1
    if bn is not None and depth < 2:
        raise NetworkSpecError(f"mlp({widths}, bn={bn!r}) would have no BN: BN goes on the hidden layers and "
                               f"{widths} has none; give at least one hidden width, "
                               f"e.g. [{widths[0]}, 3, {widths[-1]}]")
    batch = check_batch(batch, bn is not None)
    eps = check_eps(eps)
    check_size("MLP", widths, batch, bn=bn is not None, affine=affine, hidden_activation=True,
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
