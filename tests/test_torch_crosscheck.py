"""Closed-form gradients checked numerically against PyTorch autograd (float64) on Hypothesis-drawn inputs.

PyTorch is an independent engine: the forward pass is rebuilt from the network's layer list with torch ops
(``F.batch_norm(training=True)`` for BN) and differentiated by autograd, never through our derivatives.
``F.batch_norm`` refuses ``eps = 0`` in training mode, so the BN networks here use ``eps = 1e-3``.
"""
from __future__ import annotations

import numpy as np
import pytest
import sympy
from hypothesis import given, strategies as st

from bnsym.layers import Activation, Linear, MSELoss, Normalize, ScaleShift

import networks
from tools import TORCH_HINT, need_module

torch = need_module("torch", TORCH_HINT)  # every test here compares with PyTorch: skip (fail in CI) without it
F = torch.nn.functional

CONFIGS = networks.names("torch")
_COMPILED: dict = {}


#: networks small enough to also lambdify their fully substituted closed forms (stacked BN is not)
CLOSED_FORM_TOO = set(networks.names("torch", "closed-form"))


def _compiled(key):
    if key not in _COMPILED:
        net = networks.build(key)
        grads = net.gradients()
        names, shared = grads.numeric
        closed = None
        if key in CLOSED_FORM_TOO:
            args = [s for matrix in names.values() for s in matrix]
            exprs = [sympy.Matrix(d.closed_form) if isinstance(d.closed_form, sympy.MatrixBase)
                     else sympy.Matrix([[d.closed_form]]) for d in grads.values()]
            closed = sympy.lambdify(args, exprs, modules="numpy", cse=True)
        _COMPILED[key] = (net, names, shared, closed)
    return _COMPILED[key]


_ACT = {"relu": torch.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh, "identity": lambda z: z}


def _torch_loss(net, tensors):
    h = tensors["x"]
    for layer in net.layers:
        if isinstance(layer, Linear):
            h = h @ tensors[layer.weight].T
            if layer.bias is not None:
                h = h + tensors[layer.bias]
        elif isinstance(layer, Normalize):
            h = F.batch_norm(h, None, None, training=True, eps=float(layer.eps))
        elif isinstance(layer, ScaleShift):
            h = h * tensors[layer.gamma] + tensors[layer.beta]
        elif isinstance(layer, Activation):
            h = _ACT[layer.activation](h)
        elif isinstance(layer, MSELoss):
            return ((h - tensors["t"]) ** 2).sum() / h.shape[0]
        else:  # pragma: no cover
            raise AssertionError(f"unknown layer {layer!r}")
    return (h * tensors[f"dJ/d{net.nodes[-1].name}"]).sum()  # abstract loss: dJ/dyhat = the drawn upstream


@pytest.mark.parametrize("key", CONFIGS)
@given(data=st.data())
def test_closed_forms_match_torch_autograd(key, data):
    net, names, shared, closed = _compiled(key)
    values = {}
    for name, symbols in names.items():
        values[name] = np.array(
            data.draw(st.lists(st.floats(-2, 2, allow_nan=False).filter(lambda v: abs(v) > 1e-3),
                               min_size=len(symbols), max_size=len(symbols)), label=name)
        ).reshape(symbols.shape)
    flat_values = [v for name in names for v in values[name].flat]
    routes = {"shared subexpressions": shared(*flat_values)}
    if closed is not None:
        routes["closed form"] = closed(*flat_values)
    tensors = {k: torch.tensor(v, dtype=torch.float64, requires_grad=k in net.parameters) for k, v in values.items()}
    _torch_loss(net, tensors).backward()
    for route, ours in routes.items():
        for (name, _), got in zip(net.parameters.items(), ours, strict=True):
            expected = tensors[name].grad.numpy()
            np.testing.assert_allclose(np.asarray(got, dtype=float).reshape(expected.shape), expected,
                                       rtol=1e-8, atol=1e-9, err_msg=f"{key} ({route}): dJ/d{name}")
