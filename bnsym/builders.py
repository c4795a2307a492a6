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
from .spec import (LIMITS, NormChoice, check_batch, check_choice, check_flag, check_int, check_norm, check_size,
                   too_large)

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


def _norm_layers(choice: NormChoice, index: int, node: str, *, batch: int | Symbol | None, features: int, eps: Expr,
                 affine: bool) -> list[Layer]:
    """The normalization ``choice`` of hidden node ``node{index}`` (``features`` wide) and its affine step:
    per-feature ``γ, β`` after BN and LayerNorm (torch's elementwise affine), per-channel after conv-style BN,
    GroupNorm and InstanceNorm, a scale ``γ`` only after RMSNorm (``torch.nn.RMSNorm`` has only a weight)."""
    if choice.bn is not None:  # plain BN: exactly the layers bn= has always built
        return _bn_layers(index, node, batch=batch, features=features, eps=eps, affine=affine)
    name, stat, positions = f"{node}hat{index}", str(index), choice.positions
    norm: Layer
    if choice.norm == "batch" and choice.mode == "eval":
        from .layers.evalnorm import EvalNormalize

        norm = EvalNormalize(name, features=features, eps=eps, statistic=stat)
    elif choice.norm == "batch":
        from .layers.convnorm import ChannelNormalize

        norm = ChannelNormalize(name, samples=batch, channels=features // positions, positions=positions, eps=eps,
                                statistic=stat)
    elif choice.norm == "layer":
        from .layers.layernorm import LayerNorm  # type: ignore[import-not-found,unused-ignore]

        norm = LayerNorm(name, features=features, eps=eps, statistic=stat)
    elif choice.norm == "rms":
        from .layers.rmsnorm import RMSNorm  # type: ignore[import-not-found,unused-ignore]

        norm = RMSNorm(name, features=features, eps=eps, statistic=stat)
    elif choice.norm == "group":
        norm = _group_norm()(name, features=features, groups=choice.groups, positions=positions, eps=eps,
                             statistic=stat)
    else:  # instance
        norm = _instance_norm()(name, channels=features // positions, positions=positions, eps=eps, statistic=stat)
    if not affine:
        return [norm]
    shared = 1 if choice.norm == "layer" else positions
    shift = choice.norm != "rms"
    return [norm, ScaleShift(f"{node}tilde{index}", gamma=f"gamma{index}", beta=f"beta{index}" if shift else None,
                             features=features, shift=shift, positions=shared)]


def _group_norm():
    try:
        from .layers.layernorm import GroupNorm  # type: ignore[import-not-found,attr-defined,unused-ignore]
    except ImportError:
        from .layers.groupnorm import GroupNorm  # type: ignore[import-not-found,no-redef,unused-ignore]
    return GroupNorm


def _instance_norm():
    try:
        from .layers.layernorm import InstanceNorm  # type: ignore[import-not-found,attr-defined,unused-ignore]
    except ImportError:
        from .layers.groupnorm import InstanceNorm  # type: ignore[import-not-found,no-redef,unused-ignore]
    return InstanceNorm


def _linear(choice: NormChoice, name: str, *, weight: str, index: int, bias: str | None, n_in: int, n_out: int,
            hidden: bool) -> Layer:
    """A Linear layer, or with weight norm on a hidden layer a :class:`WeightNormLinear` (direction ``weight``,
    magnitude ``g<index>``)."""
    if choice.norm == "weight" and hidden:
        from .layers.weightnorm import WeightNormLinear

        return WeightNormLinear(name, direction=weight, magnitude=f"g{index}", bias=bias, n_in=n_in, n_out=n_out)
    return Linear(name, weight=weight, bias=bias, n_in=n_in, n_out=n_out)


_NORM_WORDS = {"batch": "BN", "layer": "LayerNorm", "rms": "RMSNorm", "group": "GroupNorm",
               "instance": "InstanceNorm"}


def _norm_words(choice: NormChoice, plural: bool) -> str:
    """The description's words for a normalization (plain BN keeps its historical words)."""
    if choice.norm is None:
        return ""
    if choice.norm == "weight":
        return ", weight norm on the hidden layers"
    if choice.bn is not None:
        return ""
    word = _NORM_WORDS[choice.norm] + (" (eval)" if choice.mode == "eval" else "")
    word += f" over {choice.positions} positions" if choice.positions > 1 else ""
    where = "before" if choice.placement == "pre" else "after"
    return f", {word} {where} the activation{'s' if plural else ''}"


# -- builders ------------------------------------------------------------------------------------------
def chain(depth: int, names: str | Sequence[str] | None = None, *, bn: bool = False,
          batch: int | str | Symbol | None = None,
          eps=0, affine: bool = True, loss: str = "abstract", norm: str | None = None, placement: str | None = None,
          mode: str = "train", groups: int | None = None, positions: int = 1) -> Network:
    """Goodfellow's scalar chain ``ŷ = x·w₁·w₂⋯w_L``: ``depth`` one-unit linear layers, no activation.

    ``names`` gives the weights' names (``"abcde"`` or a list); the default is ``w1 … wL``. With
    ``bn=True`` a batch normalization (statistics over ``batch`` samples) follows every layer but the last,
    so the output is ``w_L`` times the normalized ``h_{L−1}`` (Deep Learning §8.7.1). ``norm=`` chooses another
    normalization in the same places (:func:`mlp`; ``bn=True`` is ``norm="batch"``); a chain's nodes have one
    feature, so only ``"batch"``, ``"rms"`` and ``"weight"`` (every weight but the last) apply.

    >>> chain(5, names="abcde").gradient("a").factors[-1].value
    x
    >>> chain(2, norm="batch", mode="eval").output[0]
    w2*(beta1 + gamma1*(-murun1 + w1*x)/sqrt(varrun1))
    >>> chain(0)
    Traceback (most recent call last):
    ...
    bnsym.errors.NetworkSpecError: depth must be an integer >= 1, got 0
    """
    depth = check_int(depth, "depth", 1)
    bn, affine = check_flag(bn, "bn"), check_flag(affine, "affine")
    choice = check_norm("chain", bn=True if bn else None, norm=norm, placement=placement, mode=mode, groups=groups,
                        positions=positions, widths=[1] if depth > 1 else [], activation=False)  # all 1 wide
    if bn and depth < 2:
        raise NetworkSpecError("chain(1, bn=True) would have no BN: BN follows every layer but the last, so a "
                               "chain with BN needs depth >= 2")
    if choice.norm is not None and depth < 2:
        raise NetworkSpecError(f"chain(1, norm={choice.norm!r}) would have no normalization: it follows every layer "
                               "but the last, so the chain needs depth >= 2")
    batch = check_batch(batch, choice.needs_batch)
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
    normalizes = choice.norm not in (None, "weight")
    check_size("chain", [1] * (depth + 1), batch, bn=normalizes, affine=affine, hidden_activation=False,
                output_activation=False, loss=loss)
    layers: list[Layer] = []
    for k, name in enumerate(names, start=1):
        last = k == depth
        layers.append(_linear(choice, "yhat" if last else f"h{k}", weight=name, index=k, bias=None, n_in=1, n_out=1,
                              hidden=not last))
        if normalizes and not last:
            layers += _norm_layers(choice, k, "h", batch=batch, features=1, eps=eps, affine=affine)
    kind = "chain" + (" with BN" if choice.bn else _norm_words(choice, True).replace(", ", " with ", 1)
                      .replace(" before the activations", ""))
    return Network(layers, _inputs(batch, 1), batch=batch, loss=loss, description=f"{kind}, depth {depth}")


def two_layer(activation: str = "relu", *, bn: str | None = None, bias: bool = True,
              batch: int | str | Symbol | None = None,
              eps=0, affine: bool = True, inputs: int = 1, loss: str = "abstract", norm: str | None = None,
              placement: str | None = None, mode: str = "train", groups: int | None = None,
              positions: int = 1) -> Network:
    """The seed's network ``z₁ = w₁x + b₁, a₁ = g(z₁), z₂ = w₂a₁ + b₂, ŷ = g(z₂)`` (one unit per layer).

    ``bn="pre"`` normalizes ``z₁`` before the activation (Ioffe & Szegedy's placement), ``bn="post"``
    normalizes ``a₁``; either needs ``batch=m`` with ``m ≥ 2``. ``inputs`` > 1 gives the first unit several
    inputs (weights ``w1[1,1], w1[1,2], …``), where BN's ``1/σ`` acts on the gradient's direction too.
    ``norm=``/``placement=`` choose another normalization (:func:`mlp`); the hidden layer has one unit, so only
    ``"batch"``, ``"rms"`` and ``"weight"`` apply.

    >>> two_layer("identity", norm="weight", bias=False).output[0]
    g1*w1*w2*x/Abs(w1)
    >>> d = two_layer(activation="relu").gradient("w1")
    >>> d.compact
    dJ/dyhat*w2*x*ReLU'(z1)*ReLU'(z2)
    """
    check_choice(activation, "activation", ACTIVATIONS)
    check_choice(bn, "bn placement", _BN_PLACES)
    check_choice(loss, "loss", _LOSSES)
    bias, affine = check_flag(bias, "bias"), check_flag(affine, "affine")
    inputs = check_int(inputs, "inputs", 1)
    choice = check_norm("two-layer network", bn=bn, norm=norm, placement=placement, mode=mode, groups=groups,
                        positions=positions, widths=[1])
    batch = check_batch(batch, choice.needs_batch)
    eps = check_eps(eps)
    normalizes = choice.norm not in (None, "weight")
    check_size("two-layer network", [inputs, 1, 1], batch, bn=normalizes, affine=affine, hidden_activation=True,
                output_activation=True, loss=loss)
    layers: list[Layer] = [_linear(choice, "z1", weight="w1", index=1, bias="b1" if bias else None, n_in=inputs,
                                   n_out=1, hidden=True)]
    if normalizes and choice.placement == "pre":
        layers += _norm_layers(choice, 1, "z", batch=batch, features=1, eps=eps, affine=affine)
    layers.append(Activation("a1", activation))
    if normalizes and choice.placement == "post":
        layers += _norm_layers(choice, 1, "a", batch=batch, features=1, eps=eps, affine=affine)
    layers.append(Linear("z2", weight="w2", bias="b2" if bias else None, n_in=1, n_out=1))
    layers.append(Activation("yhat", activation))
    where = {None: "", "pre": ", BN before the activation", "post": ", BN after the activation"}[choice.bn] \
        if choice.bn is not None or choice.norm is None else _norm_words(choice, False)
    return Network(layers, _inputs(batch, inputs), batch=batch, loss=loss,
                   description=f"two-layer {activation}{where}")


def mlp(widths: Sequence[int], activation: str = "relu", *, bn: str | None = None, bias: bool = True,
        batch: int | str | Symbol | None = 1, eps=0, affine: bool = True, output_activation: str = "identity",
        loss: str = "abstract", norm: str | None = None, placement: str | None = None, mode: str = "train",
        groups: int | None = None, positions: int = 1) -> Network:
    """A small multilayer perceptron over a batch: ``z_l = W_l a_{l−1} + b_l``, ``a_l = g(z_l)``.

    ``widths = [n_0, n_1, …, n_L]`` are the layer widths (input first). Hidden layers use ``activation``;
    the last uses ``output_activation``. ``bn`` places batch normalization on every hidden layer, before
    (``"pre"``) or after (``"post"``) its activation.

    ``norm=`` chooses the normalization (``bn="pre"`` is ``norm="batch", placement="pre"``): ``"batch"``,
    ``"layer"``, ``"rms"``, ``"group"`` (with ``groups=``), ``"instance"`` (with ``positions=`` ≥ 2) or ``"weight"``
    (the hidden Linear layers become :class:`~bnsym.layers.weightnorm.WeightNormLinear`). ``positions=P`` reads
    each hidden width as ``C·P`` (``C`` channels of ``P`` spatial positions, channel-major:
    :mod:`bnsym.layouts`): BN's statistics are then per channel over ``m·P`` entries. ``mode="eval"`` is BN in
    evaluation mode (running statistics as constants, :class:`~bnsym.layers.evalnorm.EvalNormalize`).
    LayerNorm is followed by a per-feature ``γ, β``, GroupNorm, InstanceNorm and conv-style BN by a per-channel
    one, RMSNorm by a scale ``γ`` only.

    >>> mlp([2, 4, 1], norm="batch", positions=2, batch=2).parameters["gamma1"].shape
    (1, 2)
    >>> mlp([2, 3, 1], norm="group", groups=2)
    Traceback (most recent call last):
    ...
    bnsym.errors.NetworkSpecError: groups=2 must divide the width of every normalized layer (3 = channels × \
positions, with 3 channels); widths [3]
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
    choice = check_norm("MLP", bn=bn, norm=norm, placement=placement, mode=mode, groups=groups, positions=positions,
                        widths=widths[1:-1])
    if choice.norm is not None and bn is None and depth < 2:
        raise NetworkSpecError(f"mlp({widths}, norm={choice.norm!r}) would have no normalization: it goes on the "
                               f"hidden layers and {widths} has none; give at least one hidden width, "
                               f"e.g. [{widths[0]}, 3, {widths[-1]}]")
    if bn is not None and depth < 2:
        raise NetworkSpecError(f"mlp({widths}, bn={bn!r}) would have no BN: BN goes on the hidden layers and "
                               f"{widths} has none; give at least one hidden width, "
                               f"e.g. [{widths[0]}, 3, {widths[-1]}]")
    batch = check_batch(batch, choice.needs_batch)
    eps = check_eps(eps)
    normalizes = choice.norm not in (None, "weight")
    check_size("MLP", widths, batch, bn=normalizes, affine=affine, hidden_activation=True,
                output_activation=output_activation != "identity", loss=loss, positions=choice.positions)
    layers: list[Layer] = []
    for k in range(1, depth + 1):
        last = k == depth
        linear_name = "yhat" if last and output_activation == "identity" else f"z{k}"
        layers.append(_linear(choice, linear_name, weight=f"W{k}", index=k, bias=f"b{k}" if bias else None,
                              n_in=widths[k - 1], n_out=widths[k], hidden=not last))
        if last:
            if output_activation != "identity":
                layers.append(Activation("yhat", output_activation))
            break
        if normalizes and choice.placement == "pre":
            layers += _norm_layers(choice, k, "z", batch=batch, features=widths[k], eps=eps, affine=affine)
        layers.append(Activation(f"a{k}", activation))
        if normalizes and choice.placement == "post":
            layers += _norm_layers(choice, k, "a", batch=batch, features=widths[k], eps=eps, affine=affine)
    where = {None: "", "pre": ", BN before activations", "post": ", BN after activations"}[choice.bn] \
        if choice.bn is not None or choice.norm is None else _norm_words(choice, True)
    return Network(layers, _inputs(batch, widths[0]), batch=batch, loss=loss,
                   description=f"MLP {widths} {activation}{where}")
