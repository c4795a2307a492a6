"""``kind="weight"``: weight normalization, ``torch.nn.utils.parametrizations.weight_norm`` on a ``Linear``.

``w = g·v/‖v‖`` row by row (``dim=0``: one ``g`` per output). With ``J = ⟨dy, y⟩``, ``y = x wᵀ + b`` and
``G = ∇_w J = dyᵀ x``: ``∇_g J = ⟨G, v̂⟩`` and ``∇_v J = (g/‖v‖)(G - ⟨G, v̂⟩ v̂)`` per row. Properties:
``forward`` (``y`` against the closed form), ``backward`` (``∇_x``, ``∇_g``, ``∇_v``, ``∇_b``), ``null_space``
(``⟨v, ∇_v J⟩ = 0`` per row) and ``scale_invariance`` (``y`` unchanged and ``∇_v J`` divided by ``|a|`` when
``v → a v``, ``a > 0``; ``w`` changes sign for ``a < 0``). The module is run through
``torch.func.functional_call`` with the kit's ``g``, ``v``, ``b``: it is never changed.

>>> import torch
>>> from torch.nn.utils.parametrizations import weight_norm
>>> check_weight_norm(weight_norm(torch.nn.Linear(3, 2).double())).passed
['forward', 'backward', 'null_space', 'scale_invariance']
"""
from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from ..errors import KitUsageError
from .adapter_base import _torch
from .case import format_array
from .check import CheckReport, _settings
from .norm_adapters import _unit_roundoff, round_to
from .tolerance import Bound, Tolerance

__all__ = ["check_weight_norm", "WeightNormError", "WEIGHT_PROPERTIES"]

WEIGHT_PROPERTIES = ("forward", "backward", "null_space", "scale_invariance")


class WeightNormError(AssertionError):
    """A weight-normalization property failed (``property``, the message holds the case)."""

    def __init__(self, prop: str, text: str) -> None:
        super().__init__(f"property '{prop}' failed (weight normalization):\n{text}")
        self.property = prop


def _parts(module):
    torch = _torch()
    if torch is None or not isinstance(module, torch.nn.Module):
        raise KitUsageError(f"kind='weight' needs module=... (a torch module), got {type(module).__name__}")
    plist = getattr(getattr(module, "parametrizations", None), "weight", None)
    if plist is None or not isinstance(module, torch.nn.Linear):
        raise KitUsageError("kind='weight' checks torch.nn.utils.parametrizations.weight_norm(torch.nn.Linear(...)): "
                            f"{type(module).__name__} has no weight_norm parametrization on a Linear weight")
    if getattr(plist[0], "dim", 0) != 0:
        raise KitUsageError("kind='weight' checks weight_norm(..., dim=0) (one g per output row)")
    return plist


def _reference(x, g, v, b, dy):
    norm = np.linalg.norm(v, axis=1, keepdims=True)
    vhat = v / norm
    w = g * vhat
    y = x @ w.T + (0.0 if b is None else b)
    big_g = dy.T @ x
    dg = (big_g * vhat).sum(axis=1, keepdims=True)
    dv = (g / norm) * (big_g - dg * vhat)
    return y, (dy @ w, dg, dv, None if b is None else dy.sum(axis=0))


def _body(report, check, prop):
    def body(case):
        report.examples[prop] += 1
        check(prop, case)

    return body


def check_weight_norm(module: Any, *, forward: Any = None, tolerance: Tolerance | None = None, profile=None,
                      settings=None, max_batch: int = 4, properties=None) -> CheckReport:
    """Check a weight-normalized ``Linear`` (see the module docstring); raise :class:`WeightNormError` or return
    a :class:`~bnsym.testing.check.CheckReport`.

    >>> check_weight_norm(object())
    Traceback (most recent call last):
    ...
    bnsym.errors.KitUsageError: kind='weight' needs module=... (a torch module), got object
    """
    __tracebackhide__ = True
    if forward is not None:
        raise KitUsageError("kind='weight' is checked on a module (module=weight_norm(torch.nn.Linear(...)))")
    _parts(module)
    torch = _torch()
    tol = Tolerance() if tolerance is None else tolerance
    hyp, _, _ = _settings(profile, settings)
    wanted = list(WEIGHT_PROPERTIES if properties is None else ([properties] if isinstance(properties, str)
                                                                else properties))
    for p in wanted:
        if p not in WEIGHT_PROPERTIES:
            raise KitUsageError(f"unknown property {p!r} for kind='weight'; choose from {list(WEIGHT_PROPERTIES)}")
    weight = module.parametrizations.weight
    dt = weight.original1.dtype
    dtype = str(dt).removeprefix("torch.")
    out_f, in_f = weight.original1.shape
    has_bias = module.bias is not None
    u = _unit_roundoff(dtype)
    def r(a):
        return (round_to(a, dtype))

    def run(x, g, v, b, dy):
        def t(a, grad=True):
            return (torch.tensor(np.asarray(a, np.float64), dtype=dt, requires_grad=grad))
        xt, gt, vt = t(x), t(g), t(v)
        params = {"parametrizations.weight.original0": gt, "parametrizations.weight.original1": vt}
        if has_bias:
            params["bias"] = t(b)
        y = torch.func.functional_call(module, params, (xt,))
        wrt = [xt, gt, vt, *([params["bias"]] if has_bias else [])]
        grads = torch.autograd.grad(y, wrt, t(dy, False))
        as_np = [gr.detach().to(torch.float64).numpy() for gr in grads]
        return y.detach().to(torch.float64).numpy(), (*as_np[:3], as_np[3] if has_bias else None)

    @st.composite
    def cases(draw):
        n = draw(st.integers(1, max_batch))
        def arr(shape, lo, hi):
            return (r(np.array(draw(st.lists(st.floats(lo, hi), min_size=int(np.prod(shape)),
                                                                       max_size=int(np.prod(shape))))).reshape(shape)))
        v = arr((out_f, in_f), -3, 3)
        assume_ok = (np.linalg.norm(v, axis=1) > 0.1).all()
        v = v if assume_ok else v + r(np.eye(out_f, in_f))
        return (arr((n, in_f), -3, 3), arr((out_f, 1), 0.25, 3), v, arr((out_f,), -1, 1) if has_bias else None,
                arr((n, out_f), -2, 2), draw(st.sampled_from([2.0, 0.5, 4.0, -2.0])))

    def check(prop, case):
        __tracebackhide__ = True
        x, g, v, b, dy, a = case
        y, grads = run(x, g, v, b, dy)
        ey, egrads = _reference(x, g, v, b, dy)
        c = tol.factor * max(in_f, x.shape[0]) * u
        scale = float(1.0 + np.abs(x).sum(axis=1).max() * np.abs(g).max() + np.abs(dy).sum() * np.abs(x).max()) * (
            1.0 + np.abs(g).max() / np.linalg.norm(v, axis=1).min())
        bnd = Bound(np.asarray(c * scale if tol.atol is None else tol.atol), c if tol.rtol is None else tol.rtol)
        if prop == "forward":
            pairs = [("y", y, ey)]
        elif prop == "backward":
            pairs = [(k, gr, e) for k, gr, e in zip(("∇_x", "∇_g", "∇_v", "∇_b"), grads, egrads, strict=True)
                     if e is not None]
        elif prop == "null_space":
            pairs = [("⟨v, ∇_v J⟩ per row", (v * grads[2]).sum(axis=1), np.zeros(out_f))]
        else:
            y2, grads2 = run(x, g, r(v * a), b, dy)
            w_sign = np.sign(a)
            ey2 = x @ (w_sign * g * v / np.linalg.norm(v, axis=1, keepdims=True)).T + (0.0 if b is None else b)
            pairs = [("y(a v)", y2, ey2 if a < 0 else y), ("|a|·∇_v J(a v)", abs(a) * grads2[2], grads[2])]
        bad = [f"{k} expected: {format_array(e)}\n   actual: {format_array(act)}" for k, act, e in pairs
               if np.shape(act) != np.shape(e) or not bnd.scaled(2).holds(act, e).all()]
        if bad:
            raise WeightNormError(prop, "\n".join([f"x = {format_array(x)}, g = {format_array(g)}, v = "
                                                   f"{format_array(v)}, a = {a!r}", *bad]))

    report = CheckReport(f"<weight_norm {type(module).__name__}({in_f}, {out_f}) ({dtype})>")
    failures = []
    for prop in wanted:
        report.examples[prop] = 0

        try:
            hyp(given(cases())(_body(report, check, prop)))()
            report.passed.append(prop)
        except WeightNormError as err:
            failures.append(err)
    if failures:
        raise AssertionError("check_normalization('weight'): " + "\n\n".join(map(str, failures)))
    return report
