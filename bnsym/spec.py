"""Checking what a user asks to build, before anything is built: integers, flags, choices, the batch size, and
the builders' size limits (:data:`LIMITS`), so a huge or malformed request fails at once with a
:class:`~bnsym.errors.NetworkSpecError`.

>>> check_int(3, "depth", 1)
3
>>> check_choice("swish", "activation", ("relu", "tanh"))
Traceback (most recent call last):
...
bnsym.errors.NetworkSpecError: unknown activation 'swish'; choose one of 'relu', 'tanh'
"""
from __future__ import annotations

import numbers
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from sympy import Symbol

from .errors import NetworkSpecError
from .layers import NAME_PATTERN, check_name

__all__ = ["Limits", "LIMITS", "check_int", "check_batch", "check_choice", "check_flag", "too_large", "check_size",
           "NORMS", "NormChoice", "check_norm"]


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
    >>> from bnsym import chain
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


def check_int(value, what: str, minimum: int) -> int:
    """``value`` as an ``int`` if it is an integer (not a bool) of at least ``minimum``.

    >>> check_int(2, "depth", 1), check_int(True, "depth", 1)
    Traceback (most recent call last):
    ...
    bnsym.errors.NetworkSpecError: depth must be an integer >= 1, got True
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise NetworkSpecError(f"{what} must be an integer >= {minimum}, got {value!r}")
    if value < minimum:
        raise NetworkSpecError(f"{what} must be an integer >= {minimum}, got {value}")
    return int(value)


#: the names of the index form's indices (samples i, j, k; features r, s, c; the kernel's q, l, t)
_INDEX_NAMES = frozenset("ijklqrsct")


def check_batch(batch, bn: bool) -> int | Symbol | None:
    """The batch size: ``None`` (no batch), an integer, or a symbol for a symbolic batch (a plain name such as
    ``"m"``, which is never parsed, or a positive integer SymPy symbol).

    >>> check_batch("m", True), check_batch(4, True)
    (m, 4)
    >>> check_batch("m+1", True)
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
    batch = check_int(batch, "batch", 1)
    if bn and batch < 2:
        raise NetworkSpecError(
            f"batch normalization needs a batch of m >= 2 samples, got batch={batch}: with one sample the "
            "batch variance is 0 and BN is undefined (eps = 0) or constant"
        )
    return batch


def check_choice(value, what: str, choices: Iterable) -> None:
    """Refuse a ``value`` that is not one of ``choices`` (of the same type: ``1`` is not ``True``).

    >>> check_choice("pre", "bn placement", (None, "pre", "post"))
    """
    choices = tuple(choices)
    if not any(type(value) is type(choice) and value == choice for choice in choices):
        raise NetworkSpecError(f"unknown {what} {value!r}; choose one of {', '.join(map(repr, choices))}")


def check_flag(value, what: str) -> bool:
    """``value`` as a ``bool`` if it is one (NumPy's included); ``1`` or ``"yes"`` are refused.

    >>> check_flag(np.True_, "bias")
    True
    """
    if not isinstance(value, (bool, np.bool_)):
        raise NetworkSpecError(f"{what} must be True or False, got {value!r}")
    return bool(value)


def too_large(what: str, description: str, count: int, limit: str) -> NetworkSpecError:
    """The error for a request over the limit ``limit`` of :data:`LIMITS`, saying how to raise it.

    >>> print(too_large("chain", "300 layers", 300, "layers"))  # doctest: +ELLIPSIS
    this chain would have 300 layers, more than the limit of 256 ...
    """
    return NetworkSpecError(
        f"this {what} would have {description}, more than the limit of {getattr(LIMITS, limit)} (building and "
        f"differentiating it would take too long); raise the limit with bnsym.network.LIMITS.{limit} = {count} "
        "if you mean it"
    )


def check_size(what: str, widths: Sequence[int], batch: int | None, *, bn: bool, affine: bool,
                hidden_activation: bool, output_activation: bool, loss: str, positions: int = 1) -> None:
    """Refuse, before building, a network beyond :data:`LIMITS` (counted as :class:`Limits` describes).

    >>> check_size("mlp", [2, 1000, 1], 2000, bn=False, affine=False, hidden_activation=True,
    ...            output_activation=False, loss="mse")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    bnsym.errors.NetworkSpecError: this mlp would have a batch or layer width of 2000, more than the limit of 1000 ...
    """
    depth = len(widths) - 1
    if depth > LIMITS.layers:
        raise too_large(what, f"at least {depth} layers", depth, "layers")
    m = 1 if batch is None or isinstance(batch, Symbol) else batch  # a symbolic batch: forms independent of m
    widest = max(m, *widths)
    if widest > LIMITS.width:
        raise too_large(what, f"a batch or layer width of {widest}", widest, "width")
    layers, terms = 0, 0
    for k in range(1, depth + 1):
        n = widths[k]
        layers, terms = layers + 1, terms + m * widths[k - 1] * n
        if k < depth:
            if bn:
                layers, terms = layers + 1 + affine, terms + (m * m * positions + 40) * n + affine * m * n
            if hidden_activation:
                layers, terms = layers + 1, terms + m * n
        elif output_activation:
            layers, terms = layers + 1, terms + m * n
    if loss == "mse":
        layers, terms = layers + 1, terms + m * widths[-1]
    if layers > LIMITS.layers:
        raise too_large(what, f"{layers} layers", layers, "layers")
    if terms > LIMITS.terms and not isinstance(batch, Symbol):  # a symbolic batch writes out no entries
        hint = "; a BN step costs about m² per feature" if bn else ""
        raise too_large(what, f"about {terms} terms (batch m = {m}{hint})", terms, "terms")


#: the normalizations the builders place on hidden layers (``None``: none)
NORMS = (None, "batch", "layer", "rms", "group", "instance", "weight")
_PLACES = (None, "pre", "post")
_MODES = ("train", "eval")


@dataclass(frozen=True, slots=True)
class NormChoice:
    """A builder's normalization, checked: ``norm`` (one of :data:`NORMS`), ``placement`` (``"pre"``/``"post"``:
    before or after the activation; ``None`` for ``norm=None`` and weight norm), ``mode`` (``"eval"``: BN with
    running statistics), ``groups`` (GroupNorm) and ``positions`` (spatial positions per channel).

    >>> NormChoice("batch", "pre").bn
    'pre'
    """

    norm: str | None
    placement: str | None
    mode: str = "train"
    groups: int | None = None
    positions: int = 1

    @property
    def bn(self) -> str | None:
        """The old ``bn=`` value this choice equals (``"pre"``/``"post"``), or ``None`` if it is not plain
        training-mode per-feature BN."""
        plain = self.norm == "batch" and self.mode == "train" and self.positions == 1
        return self.placement if plain else None

    @property
    def needs_batch(self) -> bool:
        """Whether the normalization takes statistics over the batch (training-mode BN)."""
        return self.norm == "batch" and self.mode == "train"


def check_norm(what: str, *, bn, norm, placement, mode, groups, positions, widths: Sequence[int],
               activation: bool = True) -> NormChoice:
    """The checked normalization of a builder call: ``bn=`` (the old argument: ``"pre"``/``"post"``, or ``True``
    for the chain) and ``norm=``/``placement=`` must agree; ``widths`` are the widths of the normalized hidden
    layers; ``activation=False`` (the chain) has no activation to place a norm before or after.

    >>> check_norm("MLP", bn="pre", norm=None, placement=None, mode="train", groups=None, positions=1, widths=[4])
    NormChoice(norm='batch', placement='pre', mode='train', groups=None, positions=1)
    >>> check_norm("MLP", bn="pre", norm="layer", placement=None, mode="train", groups=None, positions=1,
    ...            widths=[4])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    bnsym.errors.NetworkSpecError: bn='pre' means norm='batch', placement='pre', but norm='layer' was given; ...
    >>> check_norm("MLP", bn=None, norm="group", placement=None, mode="train", groups=3, positions=1,
    ...            widths=[4])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    bnsym.errors.NetworkSpecError: groups=3 must divide the width of every normalized layer (4 = channels × ...
    """
    check_choice(norm, "norm", NORMS)
    check_choice(placement, "placement", _PLACES)
    check_choice(mode, "mode", _MODES)
    positions = check_int(positions, "positions", 1)
    if bn is not None and bn is not False:
        implied = "pre" if bn is True else bn
        if norm not in (None, "batch") or placement not in (None, implied):
            raise NetworkSpecError(f"bn={bn!r} means norm='batch', placement={implied!r}, but "
                                   + (f"norm={norm!r}" if norm not in (None, "batch") else f"placement={placement!r}")
                                   + " was given; give one of bn= or norm=")
        norm, placement = "batch", implied
    if not activation and placement == "post":
        raise NetworkSpecError(f"this {what} has no activation, so placement='post' means nothing; leave placement "
                               "out")
    if norm is None:
        for name, value, default in (("placement", placement, None), ("mode", mode, "train"), ("groups", groups, None),
                                     ("positions", positions, 1)):
            if value != default:
                raise NetworkSpecError(f"{name}={value!r} needs a normalization: give norm= (one of "
                                       f"{', '.join(map(repr, NORMS[1:]))})")
        return NormChoice(None, None)
    if mode == "eval" and norm != "batch":
        raise NetworkSpecError(f"mode='eval' is batch normalization's evaluation mode; norm={norm!r} normalizes "
                               "each sample alone and has no running statistics")
    if mode == "eval" and positions > 1:
        raise NetworkSpecError("mode='eval' with positions > 1 (per-channel running statistics) is not supported; "
                               "use positions=1")
    if norm == "weight":
        if placement is not None:
            raise NetworkSpecError("norm='weight' reparametrizes the hidden Linear layers' weights: placement "
                                   "means nothing for it; leave placement out")
        if groups is not None or positions != 1:
            raise NetworkSpecError("norm='weight' takes neither groups= nor positions=")
        return NormChoice("weight", None)
    if groups is not None and norm != "group":
        raise NetworkSpecError(f"groups= is GroupNorm's argument; give norm='group' (got norm={norm!r})")
    if norm == "group":
        groups = check_int(groups, "groups", 1) if groups is not None else None
        if groups is None:
            raise NetworkSpecError("norm='group' needs groups= (the number of channel groups)")
    if norm in ("layer", "rms") and positions != 1:
        raise NetworkSpecError(f"norm={norm!r} normalizes all features of a sample: positions= means nothing "
                               "for it; leave it out")
    if norm == "instance" and positions < 2:
        raise NetworkSpecError("norm='instance' normalizes each channel over its spatial positions: it needs "
                               f"positions >= 2 (got positions={positions}); with one position every output is 0")
    for width in widths:
        if width % positions:
            raise NetworkSpecError(f"positions={positions} must divide the width of every normalized layer "
                                   f"(channels × positions); widths {list(widths)}")
        if groups is not None and (width // positions) % groups:
            raise NetworkSpecError(f"groups={groups} must divide the width of every normalized layer "
                                   f"({width} = channels × positions, with {width // positions} channels); "
                                   f"widths {list(widths)}")
        if norm == "layer" and width < 2 or norm == "group" and width // groups < 2 and positions < 2:
            raise NetworkSpecError(f"norm={norm!r} over {'one feature' if norm == 'layer' else 'groups of one'} "
                                   f"is 0 (or undefined with eps = 0) for every sample: widths {list(widths)} "
                                   "need at least 2 features per normalized group")
    return NormChoice(norm, placement or "pre", mode, groups, positions)

