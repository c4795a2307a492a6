"""Higher-order derivative checks of a normalization layer, in every AD mode a framework offers.

A first-order check says nothing about second and third derivatives, which frameworks implement with rules of
their own (double backward, forward-mode rules) per mode. :func:`check_higher_order` compares, in float64,

    ``d^k/dt^k ⟨u, f(x + t·dx, γ + t·dγ, β + t·dβ)⟩`` at ``t = 0``, for each ``k`` in ``orders``,

computed by each mode against an exact reference: the layer's forward written here in SymPy on exact
rationals (the float64 point and ``ε`` converted exactly), differentiated ``k`` times in ``t`` and only then
rounded. It shares no code with the framework or with bnsym's engine.

Torch modes (``module=`` or a torch ``forward=``): ``"autograd"`` (``torch.autograd.grad(…, create_graph=True)``
repeated), ``"jvp"`` (``torch.func.jvp`` nested), ``"jacfwd"``, ``"jacrev"`` (nested, contracted with the
direction), ``"hessian"`` (``torch.func.hessian``, then ``jacfwd`` for order 3), ``"fwd_over_rev"``
(``torch.func.jvp`` over ``torch.func.grad``). For a NumPy-style function pass ``routines={name: f}`` with
``f(order, point, direction, cotangent) -> float`` (``point``/``direction`` dicts with ``"x"``, ``"weight"``,
``"bias"``; for ``"weight"``: ``"x"``, ``"v"``, ``"g"``, ``"bias"``). Kinds: ``"batch"`` (training: biased batch
statistics; eval: the running statistics), ``"layer"``, ``"rms"``, ``"group"``, ``"instance"`` (statistics per
sample and channel over the spatial positions of ``(N, C, L…)``) and ``"weight"`` (weight normalization of a
``Linear``, ``dim=0``: ``(x, v, g, b) ↦ x·(g v/‖v‖)ᵀ + b``, one ``g`` per output row, the point includes ``v``, ``g``).

>>> import pytest; torch = pytest.importorskip("torch")
>>> report = check_higher_order("rms", module=torch.nn.RMSNorm(3), orders=(2,), modes=("jvp",))
>>> [(r.order, r.mode, r.ok) for r in report.results]
[(2, 'jvp', True)]
"""
from __future__ import annotations

import copy
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import KitUsageError
from .higher_order_reference import _Layout, _names, _point, exact_directional

__all__ = ["KINDS", "TORCH_MODES", "ModeResult", "HigherOrderReport", "HigherOrderMismatch", "check_higher_order",
           "exact_directional"]

KINDS = ("batch", "layer", "rms", "group", "instance", "weight")
TORCH_MODES = ("autograd", "jvp", "jacfwd", "jacrev", "hessian", "fwd_over_rev")
_FIRST_ONLY_REVERSE = ("hessian", "fwd_over_rev")  # modes that start at order 2
_MODULE_NAMES = {"g": "parametrizations.weight.original0", "v": "parametrizations.weight.original1"}


@dataclass(frozen=True)
class ModeResult:
    """One (order, mode): the exact value, the mode's value (``None`` if it raised) and the error text.

    >>> ModeResult(2, "jvp", 1.0, 1.0, "", 1e-8).ok
    True
    """

    order: int
    mode: str
    expected: float
    got: float | None
    error: str
    tolerance: float

    @property
    def ok(self) -> bool:
        """Whether the mode ran and agrees with the exact value within :attr:`tolerance`."""
        return self.got is not None and abs(self.got - self.expected) <= self.tolerance

    def __str__(self) -> str:
        if self.got is None:
            return f"order {self.order}, mode {self.mode!r}: raised {self.error}"
        return (f"order {self.order}, mode {self.mode!r}: expected {self.expected!r}, got {self.got!r} "
                f"(|difference| {abs(self.got - self.expected):.3g} > tolerance {self.tolerance:.3g})")


@dataclass(frozen=True)
class HigherOrderReport:
    """Every (order, mode) result of one check (all passed when it is returned).

    >>> HigherOrderReport("layer", True, (ModeResult(1, "jvp", 0.5, 0.5, "", 1e-8),)).passed
    [(1, 'jvp')]
    """

    kind: str
    training: bool
    results: tuple[ModeResult, ...]

    @property
    def passed(self) -> list[tuple[int, str]]:
        """``(order, mode)`` pairs that agree with the exact values."""
        return [(r.order, r.mode) for r in self.results if r.ok]


class HigherOrderMismatch(AssertionError):
    """A mode's ``k``-th directional derivative disagrees with the exact one (or the mode raised); the message
    names each failing order and mode, :attr:`failures` holds them.

    >>> str(HigherOrderMismatch("batch", True, [ModeResult(2, "jacrev", 1.0, 2.0, "", 1e-8)])).splitlines()[1]
    "  order 2, mode 'jacrev': expected 1.0, got 2.0 (|difference| 1 > tolerance 1e-08)"
    """

    def __init__(self, kind: str, training: bool, failures: Sequence[ModeResult]) -> None:
        self.kind, self.training, self.failures = kind, training, list(failures)
        lines = [f"{kind} normalization ({'training' if training else 'eval'} mode): {len(self.failures)} "
                 "higher-order derivative(s) disagree with the exact value"]
        super().__init__("\n".join([*lines, *(f"  {f}" for f in self.failures)]))


# -- the torch modes ----------------------------------------------------------------------------------------
def _contract(tensor, v, order: int):
    for _ in range(order):
        tensor = tensor @ v
    return tensor


def _torch_mode(torch, mode: str, phi: Callable, theta, v, order: int) -> float:
    func = torch.func
    if mode == "autograd":
        leaf = theta.clone().requires_grad_(True)
        value = phi(leaf)
        for _ in range(order):
            if not value.requires_grad:  # the previous order is constant in θ: this one is 0
                return 0.0
            (g,) = torch.autograd.grad(value, leaf, create_graph=True, materialize_grads=True)
            value = g @ v
        return float(value.detach())
    if mode == "jvp":
        f = phi
        for _ in range(order):
            f = (lambda h: lambda s: func.jvp(h, (s,), (v,))[1])(f)
        return float(f(theta))
    if mode in ("jacfwd", "jacrev"):
        f = phi
        for _ in range(order):
            f = getattr(func, mode)(f)
        return float(_contract(f(theta), v, order))
    if mode == "hessian":
        f = func.hessian(phi)
        for _ in range(order - 2):
            f = func.jacfwd(f)
        return float(_contract(f(theta), v, order))
    g = lambda s: func.grad(phi)(s) @ v  # noqa: E731  (fwd_over_rev)
    for _ in range(order - 1):
        g = (lambda h: lambda s: func.jvp(h, (s,), (v,))[1])(g)
    return float(g(theta))


_SPATIAL = {1: (3,), 2: (2, 2), 3: (2, 1, 2)}  # instance norm: tiny spatial sizes, 1-d to 3-d


def _weight_norm_layout(torch, module) -> tuple[_Layout, Any]:
    plist = getattr(getattr(module, "parametrizations", None), "weight", None)
    if not isinstance(module, torch.nn.Linear) or plist is None or \
            not isinstance(plist[0], torch.nn.utils.parametrizations._WeightNorm):
        raise KitUsageError("kind 'weight' checks torch.nn.utils.parametrizations.weight_norm(torch.nn.Linear(...)), "
                            f"got {type(module).__name__} without that parametrization")
    if plist[0].dim != 0:
        raise KitUsageError("kind 'weight' checks weight_norm(..., dim=0) (one g per output row), got "
                            f"dim={plist[0].dim}")
    out, inputs = plist.original1.shape
    return _Layout("weight", (2, inputs), 0.0, 1, True, module.bias is not None, out), module


def _module_layout(torch, module, kind: str, training: bool = True) -> tuple[_Layout, Callable]:
    nn = torch.nn
    if kind == "weight":
        return _weight_norm_layout(torch, module)
    expected: Any = {"batch": nn.BatchNorm1d, "layer": nn.LayerNorm, "group": nn.GroupNorm, "rms": nn.RMSNorm,
                     "instance": (nn.InstanceNorm1d, nn.InstanceNorm2d, nn.InstanceNorm3d)}[kind]
    if not isinstance(module, expected):
        names = " or ".join(f"torch.nn.{e.__name__}" for e in (expected if isinstance(expected, tuple) else
                                                               (expected,)))
        raise KitUsageError(f"kind {kind!r} checks a {names} module, got {type(module).__name__}; pass "
                            "forward=... for another implementation")
    weight, bias = getattr(module, "weight", None) is not None, getattr(module, "bias", None) is not None
    if kind == "batch":
        features, groups = module.num_features, 1
    elif kind == "instance":
        if module.track_running_stats and not training:
            raise KitUsageError("an InstanceNorm with track_running_stats=True normalizes with its running statistics "
                                "in eval mode; the check takes the per-sample statistics: pass training=True")
        features, groups = module.num_features, 1
    elif kind == "group":
        features, groups = module.num_channels, module.num_groups
    else:
        if len(module.normalized_shape) != 1:
            raise KitUsageError(f"the check takes a {expected.__name__} over one trailing dimension, got "
                                f"normalized_shape={tuple(module.normalized_shape)}")
        features, groups = module.normalized_shape[0], 1
    eps = module.eps if module.eps is not None else torch.finfo(torch.float64).eps
    rows = 2 if kind in ("layer", "rms", "group", "instance") else 4
    shape: tuple[int, ...] = (rows, features)
    if kind == "instance":
        rank = next(d for d, cls in enumerate(expected, 1) if isinstance(module, cls))
        shape += _SPATIAL[rank]
    return _Layout(kind, shape, float(eps), groups, weight, bias), module


def check_higher_order(kind: str, *, module: Any = None, forward: Callable | None = None,
                       routines: Mapping[str, Callable] | None = None, orders: Sequence[int] = (1, 2, 3),
                       modes: Sequence[str] | None = None, training: bool = True, eps: float = 1e-5,
                       groups: int = 2, features: int = 4, batch: int = 4, outputs: int = 3, seed: int = 0,
                       rtol: float = 1e-8) -> HigherOrderReport:
    """Check each order's directional derivative in each mode against the exact one (see the module doc).

    Give one of ``module`` (a ``torch.nn`` BatchNorm1d, LayerNorm, GroupNorm, RMSNorm, InstanceNorm1d/2d/3d or a
    ``weight_norm``-parametrized Linear; its ``eps`` and groups are read from it, the point's parameters replace
    its own, a copy runs in float64, and in eval mode the copy's running statistics are set to the point's),
    ``forward`` (a torch function ``forward(x, weight, bias)``, plus ``running_mean, running_var`` for
    ``kind="batch"`` in eval mode; ``bias`` is ``None`` for ``"rms"``; ``x`` is ``(2, features, 3)`` for
    ``"instance"``; ``forward(x, v, g, bias)`` for ``"weight"``, ``x`` of ``(2, features)``, ``v`` of
    ``(outputs, features)``, ``g`` of ``(outputs, 1)``), or ``routines`` (NumPy-style, one per mode). A
    disagreement, or a mode that raises, is a :class:`HigherOrderMismatch` naming the order and the mode; misuse
    a :class:`~bnsym.errors.KitUsageError`. Tolerance: ``|got − exact| ≤ rtol·max(1, |exact|)``.

    >>> import pytest; torch = pytest.importorskip("torch")
    >>> f = lambda x, w, b: torch.nn.functional.group_norm(x, 2, w, b, 1e-5)
    >>> check_higher_order("group", forward=f, features=4, orders=(3,), modes=("jacrev",)).passed
    [(3, 'jacrev')]
    """
    if kind not in KINDS:
        raise KitUsageError(f"kind must be one of {', '.join(map(repr, KINDS))}, got {kind!r}")
    if sum(item is not None for item in (module, forward, routines)) != 1:
        raise KitUsageError("give exactly one of module=, forward= (a torch function) or routines= (NumPy-style)")
    if isinstance(orders, (str, bytes)) or not isinstance(orders, Sequence) or not orders or any(
            isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= 4 for k in orders):
        raise KitUsageError(f"orders must be a non-empty sequence of integers from 1 to 4, got {orders!r}")
    if not isinstance(training, bool):
        raise KitUsageError(f"training must be True or False, got {training!r}")
    if not (isinstance(rtol, float) and 0 < rtol < 1):
        raise KitUsageError(f"rtol must be a float in (0, 1), got {rtol!r}")
    if kind == "weight" and (isinstance(outputs, bool) or not isinstance(outputs, int) or outputs < 1):
        raise KitUsageError(f"outputs must be a positive integer, got {outputs!r}")
    if kind == "group" and (not isinstance(groups, int) or groups < 1 or features % groups):
        raise KitUsageError(f"groups must be a positive integer dividing features={features}, got {groups!r}")
    if routines is not None:
        if not isinstance(routines, Mapping) or not routines or not all(callable(f) for f in routines.values()):
            raise KitUsageError("routines must be a non-empty mapping from mode names to callables "
                                "f(order, point, direction, cotangent) -> float")
        available: tuple[str, ...] = tuple(routines)
    else:
        available = TORCH_MODES
    chosen = available if modes is None else tuple(modes)
    unknown = [m for m in chosen if m not in available]
    if unknown or not chosen:
        raise KitUsageError(f"unknown mode(s) {unknown or chosen!r}; this check offers: {', '.join(available)}")
    if routines is not None:
        layout = _given_layout(kind, batch, features, eps, groups, outputs)
        return _run(layout, training, seed, orders, chosen, rtol, lambda m, k, p, d, u: routines[m](k, p, d, u))
    try:
        import torch
    except ImportError:
        raise KitUsageError("module= and forward= need PyTorch (pip install torch); pass routines= otherwise") from None
    if module is not None:
        layout, module = _module_layout(torch, module, kind, training)
    else:
        if not callable(forward):
            raise KitUsageError(f"forward must be callable, got {type(forward).__name__}")
        layout = _given_layout(kind, batch if kind == "batch" else 2, features, eps, groups, outputs)
    return _run(layout, training, seed, orders, chosen, rtol, _torch_runner(torch, layout, module, forward, training))


def _given_layout(kind: str, rows: int, features: int, eps: float, groups: int, outputs: int) -> _Layout:
    shape: tuple[int, ...] = (rows, features, *((3,) if kind == "instance" else ()))
    if kind == "weight":
        return _Layout(kind, shape, 0.0, 1, True, True, outputs)
    return _Layout(kind, shape, float(eps), groups, True, kind != "rms")


def _torch_runner(torch, layout: _Layout, module, forward, training: bool):
    def run(mode, order, point, direction, cotangent):
        names = _names(layout)
        sizes = [point[n].size for n in names]
        theta = torch.tensor(np.concatenate([point[n].ravel() for n in names]), dtype=torch.float64)
        v = torch.tensor(np.concatenate([direction[n].ravel() for n in names]), dtype=torch.float64)
        u = torch.tensor(cotangent, dtype=torch.float64)
        stats = [torch.tensor(point[n], dtype=torch.float64) for n in ("running_mean", "running_var") if n in point]
        net = None
        if module is not None:
            net = copy.deepcopy(module).double().train(training)
            if layout.kind in ("batch", "instance") and training:  # the output ignores the running statistics;
                torch.func.replace_all_batch_norm_modules_(net)  # torch.func refuses their in-place update (its fix)
            if layout.kind == "batch" and not training:
                net.running_mean.copy_(stats[0])
                net.running_var.copy_(stats[1])

        def phi(s):
            parts = {n: p.reshape(point[n].shape) for n, p in zip(names, torch.split(s, sizes), strict=True)}
            x = parts.pop("x")
            if net is not None:
                params = {_MODULE_NAMES.get(n, n): p for n, p in parts.items()}
                y = torch.func.functional_call(net, params, (x,))
            elif layout.kind == "weight":
                y = forward(x, parts["v"], parts["g"], parts.get("bias"))
            else:
                y = forward(x, parts.get("weight"), parts.get("bias"), *stats)
            return (u * y).sum()

        return _torch_mode(torch, mode, phi, theta, v, order)

    return run


def _run(layout: _Layout, training: bool, seed: int, orders, modes, rtol: float, runner) -> HigherOrderReport:
    point, direction, cotangent = _point(layout, seed, training)
    exact = exact_directional(layout, point, direction, cotangent, sorted(set(orders)), training)
    results = []
    for order in sorted(set(orders)):
        for mode in modes:
            if mode in _FIRST_ONLY_REVERSE and order < 2:
                continue
            got, error = None, ""
            try:
                value = float(runner(mode, order, point, direction, cotangent))
                got = value if math.isfinite(value) else None
                error = "" if got is not None else f"a non-finite value {value}"
            except KitUsageError:
                raise
            except Exception as exc:  # the code under test raised: a failure of that (order, mode)
                error = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            results.append(ModeResult(order, mode, exact[order], got, error, rtol * max(1.0, abs(exact[order]))))
    failures = [r for r in results if not r.ok]
    if failures:
        raise HigherOrderMismatch(layout.kind, training, failures)
    return HigherOrderReport(layout.kind, training, tuple(results))
