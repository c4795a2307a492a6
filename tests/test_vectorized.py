"""bnsym.vectorized: the layers' own NumPy kernels composed by one forward and one reverse loop, against the
symbolic engine (the same network's reverse accumulation, evaluated) and PyTorch autograd (the layers' torch
forms); and bad input."""
from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import sympy
from hypothesis import assume, given
from hypothesis import strategies as st

import bnsym
from bnsym import dynamics
from bnsym.errors import NetworkSpecError, ValuesError
from bnsym.layers import Activation, Linear, MSELoss, Normalize, ScaleShift
from bnsym.numeric import compile_network, init_mlp
from bnsym.vectorized import VectorizedNetwork, reference_mlp


def _values(net: VectorizedNetwork, m: int, seed: int):
    """Random parameters (γ away from 0), a batch and targets for ``net``."""
    rng = np.random.default_rng(seed)
    params = {n: rng.uniform(0.3, 1.5, s) * rng.choice([-1.0, 1.0], s) for n, s in net.shapes.items()}
    x = rng.standard_normal((m, net.inputs))
    t = rng.standard_normal((m, net.outputs))
    return params, x, t


def _torch_reference(net: VectorizedNetwork, params, x, t):
    """Loss and gradients by PyTorch autograd through every layer's own ``torch_forward``."""
    torch = pytest.importorskip("torch")
    tensors = {n: torch.tensor(v, dtype=torch.float64, requires_grad=True) for n, v in params.items()}
    values = {**tensors, "t": torch.tensor(t, dtype=torch.float64)}
    h = torch.tensor(x, dtype=torch.float64)
    for layer in net.layers:
        h = layer.torch_forward(h, values)
    h.backward()
    grads = {n: (v.grad.numpy() if v.grad is not None else np.zeros(v.shape)) for n, v in tensors.items()}
    return float(h.detach()), grads


def _close(ours, reference, rtol):
    scale = max(1.0, float(np.max(np.abs(reference))))
    np.testing.assert_allclose(ours, reference, rtol=rtol, atol=rtol * scale)


# -- against the symbolic engine of the same network ------------------------------------------------------
NETWORKS = [  # widths, activation, bn, output activation, eps, batch, seed (one where a ReLU output is alive)
    ([2, 3, 1], "relu", None, "identity", 0.0, 3, 0),
    ([2, 3, 2], "tanh", "pre", "identity", 0.0, 4, 1),
    ([1, 2, 2, 1], "sigmoid", "post", "sigmoid", 0.1, 3, 2),
    ([2, 2, 1], "relu", "pre", "tanh", 1e-3, 3, 3),
    ([3, 2, 2], "tanh", None, "sigmoid", 0.0, 2, 4),
    ([2, 2, 2, 1], "relu", "post", "relu", 0.5, 3, 0),
]


@pytest.mark.parametrize("widths,activation,bn,out,eps,m,seed", NETWORKS,
                         ids=[f"{n[0]}-{n[1]}-{n[2]}-{n[3]}" for n in NETWORKS])
def test_gradients_equal_the_symbolic_engine(widths, activation, bn, out, eps, m, seed):
    """loss_and_gradients == net.gradients().evaluate(values) (reverse accumulation of the symbolic layers)."""
    net = bnsym.mlp(widths, activation, bn=bn, batch=m, eps=eps, output_activation=out, loss="mse")
    route = VectorizedNetwork.from_network(net)
    params, x, t = _values(route, m, seed)
    loss, grads = route.loss_and_gradients(params, x, t)
    symbolic = net.gradients().evaluate({"x": x, "t": t, **params})
    assert list(grads) == list(net.parameters) == list(symbolic)
    for name, value in symbolic.items():
        assert grads[name].shape == net.parameters[name].shape
        _close(grads[name], np.reshape(value, grads[name].shape), 1e-10)
    assert any(np.max(np.abs(g)) > 1e-3 for g in grads.values())  # something non-trivial was compared
    assert loss == pytest.approx(compile_network(net).loss(params, x, t), rel=1e-12)
    # reference_mlp builds the same layers (at another symbolic batch: the kernels do not depend on it)
    same = reference_mlp(widths, activation, bn=bn, eps=eps, output_activation=out)
    again_loss, again = same.loss_and_gradients(params, x, t)
    assert again_loss == loss and all(np.array_equal(again[n], grads[n]) for n in grads)


# -- against PyTorch autograd, on random networks ---------------------------------------------------------
@given(widths=st.lists(st.integers(1, 4), min_size=2, max_size=5), m=st.integers(2, 6),
       activation=st.sampled_from(["relu", "tanh", "sigmoid", "identity"]), bn=st.sampled_from([None, "pre", "post"]),
       out=st.sampled_from(["identity", "relu", "tanh", "sigmoid"]), eps=st.sampled_from([1e-5, 1e-2, 0.5]),
       seed=st.integers(0, 2**16))
def test_gradients_equal_pytorch_autograd(widths, m, activation, bn, out, eps, seed):
    assume(bn is None or len(widths) > 2)
    pytest.importorskip("torch")
    route = reference_mlp(widths, activation, bn=bn, eps=eps, output_activation=out)
    params, x, t = _values(route, m, seed)
    loss, grads = route.loss_and_gradients(params, x, t)
    ref_loss, ref_grads = _torch_reference(route, params, x, t)
    assert loss == pytest.approx(ref_loss, rel=1e-10, abs=1e-12)
    assert set(grads) == set(ref_grads) == set(route.parameter_names())
    for name in grads:
        _close(grads[name], ref_grads[name], 1e-8)


def test_reference_mlp_at_width_16_matches_pytorch_with_bn_before_and_after():
    widths = [2, 16, 16, 16, 1]
    for bn in ("pre", "post"):
        route = reference_mlp(widths, "tanh", bn=bn, eps=1e-5)
        params = init_mlp(widths, bn=True, seed=3)
        params["gamma2"] = params["gamma2"] * 1.5
        rng = np.random.default_rng(5)
        x, t = rng.standard_normal((64, 2)), rng.standard_normal((64, 1))
        loss, grads = route.loss_and_gradients(params, x, t)
        ref_loss, ref_grads = _torch_reference(route, params, x, t)
        assert loss == pytest.approx(ref_loss, rel=1e-12)
        for name in grads:
            _close(grads[name], ref_grads[name], 1e-10)


@pytest.mark.parametrize("bn", [None, "pre"])
def test_reference_mlp_matches_pytorch_ops_written_out(bn):
    """Independent of the layers' torch forms: the MLP written in torch ops, F.batch_norm for BN."""
    torch = pytest.importorskip("torch")
    widths = [2, 8, 8, 8, 1]
    route = reference_mlp(widths, bn=bn, eps=1e-5)
    params = init_mlp(widths, bn=bn is not None, seed=3)
    rng = np.random.default_rng(5)
    x, t = rng.standard_normal((32, 2)), rng.standard_normal((32, 1))
    loss, grads = route.loss_and_gradients(params, x, t)
    tp = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    a = torch.tensor(x)
    for l in range(1, len(widths)):
        z = a @ tp[f"W{l}"].T + tp[f"b{l}"]
        if l == len(widths) - 1:
            break
        if bn:
            z = torch.nn.functional.batch_norm(z, None, None, tp[f"gamma{l}"][0], tp[f"beta{l}"][0], training=True,
                                               eps=1e-5)
        a = torch.relu(z)
    ref = ((z - torch.tensor(t)) ** 2).mean()
    ref.backward()
    assert loss == pytest.approx(float(ref.detach()), rel=1e-12)
    for k in params:
        np.testing.assert_allclose(grads[k], tp[k].grad.numpy(), rtol=1e-9, atol=1e-12)


def test_output_and_loss_are_the_forward_pass():
    torch = pytest.importorskip("torch")
    route = reference_mlp([2, 3, 2], "sigmoid", bn="post", eps=0.01, output_activation="tanh")
    params, x, t = _values(route, 5, seed=1)
    h = torch.tensor(x)
    for layer in route.layers[:-1]:
        h = layer.torch_forward(h, {n: torch.tensor(v) for n, v in params.items()})
    np.testing.assert_allclose(route.output(params, x), h.numpy(), rtol=1e-13)
    assert route.output(params, x).shape == (5, 2)
    assert route.loss(params, x, t) == pytest.approx(float(np.sum((h.numpy() - t) ** 2) / 5), rel=1e-13)
    assert route.loss(params, x, t) == route.loss_and_gradients(params, x, t)[0]


def test_layers_by_hand_and_unchecked_run_agree():
    """A network given as a list of layers (no input width known), and run() on check()ed values."""
    layers = [Linear("z1", weight="W1", bias="b1", n_in=2, n_out=3),
              Normalize("zhat1", samples=2, features=3, eps=1e-3),
              ScaleShift("ztilde1", gamma="g1", beta="c1", features=3), Activation("a1", "tanh"),
              Linear("yhat", weight="W2", n_in=3, n_out=1), MSELoss("J")]
    route = VectorizedNetwork(layers)
    assert route.parameter_names() == ["W1", "b1", "g1", "c1", "W2"] and route.outputs is None
    rng = np.random.default_rng(2)
    params = {n: rng.standard_normal(s) for n, s in route.shapes.items()}
    x, t = rng.standard_normal((7, 2)), rng.standard_normal((7, 1))
    loss, grads = route.loss_and_gradients(params, x, t)
    again_loss, again = route.run(*route.check(params, x, t))
    assert again_loss == loss and all(np.array_equal(again[n], grads[n]) for n in grads)
    ref_loss, ref_grads = _torch_reference(route, params, x, t)
    assert loss == pytest.approx(ref_loss, rel=1e-12)
    assert float(np.max(np.abs(grads["b1"]))) < 1e-12  # the bias before BN drops out
    for name in grads:
        _close(grads[name], ref_grads[name], 1e-10)


def test_gradient_descent_checks_once_then_reads_overflow_as_divergence():
    route = reference_mlp([2, 4, 1])
    x, t = dynamics.reference_data(batch=8)
    params = init_mlp([2, 4, 1], bn=False, seed=0)

    class Checked:  # the same network through the checked entry point at every step
        loss_and_gradients = staticmethod(route.loss_and_gradients)

    fast, checked = (dynamics.gradient_descent(m, params, x, t, lr=0.05, steps=20) for m in (route, Checked()))
    assert fast.loss == checked.loss and fast.loss[-1] < fast.loss[0]
    # a huge rate: the loss overflows to inf, which reads as divergence, not an error
    blown = dynamics.gradient_descent(route, params, x, t, lr=1e300, steps=5, bound=1e308)
    assert blown.diverged and len(blown.loss) == 2 and not np.isfinite(blown.loss[-1])
    assert max(float(np.max(np.abs(v))) for v in blown.final.values()) > 1e290
    assert route.loss(blown.final, x, t) == blown.loss[-1] == np.inf


# -- bad input --------------------------------------------------------------------------------------------
def test_bad_networks_raise_network_spec_errors():
    with pytest.raises(NetworkSpecError, match="list of layers"):
        VectorizedNetwork("Linear")
    with pytest.raises(NetworkSpecError, match="Layer objects"):
        VectorizedNetwork([Linear("z1", weight="W1", n_in=1, n_out=1), "relu"])
    twice = [Linear("z1", weight="W", n_in=1, n_out=1), Linear("z2", weight="W", n_in=1, n_out=1), MSELoss("J")]
    with pytest.raises(NetworkSpecError, match="used twice"):
        VectorizedNetwork(twice)
    with pytest.raises(NetworkSpecError, match="reserved"):
        VectorizedNetwork([Linear("z1", weight="t", n_in=1, n_out=1), MSELoss("J")])
    with pytest.raises(NetworkSpecError, match="inputs"):
        VectorizedNetwork([MSELoss("J")], inputs=0)
    with pytest.raises(NetworkSpecError, match="loss"):
        VectorizedNetwork.from_network(bnsym.mlp([2, 3, 1], batch=2))
    with pytest.raises(NetworkSpecError, match="Network"):
        VectorizedNetwork.from_network([Linear("z1", weight="W1", n_in=1, n_out=1)])
    eps = sympy.Symbol("epsilon", nonnegative=True)
    with pytest.raises(NetworkSpecError, match="symbolic eps"):
        VectorizedNetwork.from_network(bnsym.mlp([1, 2, 1], bn="pre", batch=2, eps=eps, loss="mse"))
    no_loss = VectorizedNetwork([Linear("yhat", weight="W1", n_in=1, n_out=1)], inputs=1)
    with pytest.raises(NetworkSpecError, match="must be a loss"):
        no_loss.loss_and_gradients({"W1": 1.0}, [[1.0]], [[0.0]])


@pytest.mark.parametrize("kwargs,match", [
    (dict(widths=[2]), "at least two"),
    (dict(widths=[2, 0, 1]), "width"),
    (dict(widths=[2, 1.5, 1]), "width"),
    (dict(widths="21"), "widths"),
    (dict(widths=[2, 3, 1], activation="swish"), "unknown activation"),
    (dict(widths=[2, 3, 1], output_activation="softmax"), "unknown output activation"),
    (dict(widths=[2, 3, 1], bn="middle"), "bn placement"),
    (dict(widths=[2, 1], bn=True), "no BN"),
    (dict(widths=[2, 3, 1], bn="pre", eps=-1e-5), "eps must be >= 0"),
    (dict(widths=[2, 3, 1], bn="pre", eps=float("nan")), "finite"),
    (dict(widths=[2, 3, 1], bn="pre", eps=float("inf")), "finite"),
    (dict(widths=[2, 3, 1], bn="pre", eps=[0.1]), "eps"),
])
def test_reference_mlp_rejects_bad_specs(kwargs, match):
    widths = kwargs.pop("widths")
    with pytest.raises(NetworkSpecError, match=match):
        reference_mlp(widths, **kwargs)


def test_bad_values_raise_values_errors():
    route = reference_mlp([2, 3, 1], bn="pre", eps=1e-5)
    params, x, t = _values(route, 4, seed=0)
    bad = [
        ("not a mapping", [1.0], x, t, "mapping"),
        ("missing", {k: v for k, v in params.items() if k != "W2"}, x, t, "missing value.*W2"),
        ("unknown", {**params, "W9": 1.0}, x, t, "unknown parameter name.*W9"),
        ("transposed", {**params, "W1": params["W1"].T}, x, t, r"'W1' must have shape \(3, 2\)"),
        ("NaN parameter", {**params, "b2": [[float("nan")]]}, x, t, "finite"),
        ("complex", {**params, "b2": [[1 + 2j]]}, x, t, "complex"),
        ("string", {**params, "b2": "1"}, x, t, "numeric"),
        ("x infinite", params, np.where(x > 0, np.inf, x), t, "'x' must be finite"),
        ("x 1-D", params, x[:, 0], t, "samples × 2"),
        ("x too wide", params, np.hstack([x, x]), t, "samples × 2"),
        ("x empty", params, np.zeros((0, 2)), np.zeros((0, 1)), "at least one sample"),
        ("t too short", params, x, t[:2], r"'t' must have shape \(4, 1\)"),
        ("t boolean", params, x, True, "numeric"),
        ("one sample under BN", params, x[:1], t[:1], "1 sample.*m >= 2"),
    ]
    for what, p, xx, tt, match in bad:
        with pytest.raises(ValuesError, match=match):
            route.loss_and_gradients(p, xx, tt)
        if what not in ("t too short", "t boolean"):
            with pytest.raises(ValuesError, match=match):
                route.output(p, xx)
    # shapes that differ only by axes of length 1 are accepted, never a transposed matrix
    flat_bias = {**params, "gamma1": params["gamma1"].ravel(), "b2": float(params["b2"][0, 0])}
    assert route.loss(flat_bias, x, t[:, 0]) == route.loss(params, x, t)


def test_kernel_failures_become_values_errors():
    """Without a known input width the kernels meet a wrong one; a symbolic ε cannot be evaluated."""
    route = VectorizedNetwork([Linear("yhat", weight="W1", n_in=2, n_out=1), MSELoss("J")])
    with pytest.raises(ValuesError, match="kernels cannot evaluate"):
        route.loss_and_gradients({"W1": [[1.0, 2.0]]}, [[1.0, 2.0, 3.0]], [[0.0]])
    eps = sympy.Symbol("epsilon", nonnegative=True)
    symbolic = VectorizedNetwork([Normalize("zhat1", samples=2, features=1, eps=eps), MSELoss("J")], inputs=1)
    with pytest.raises(ValuesError, match="kernels cannot evaluate"):
        symbolic.loss({}, [[1.0], [2.0]], [[0.0], [0.0]])


@pytest.mark.parametrize("bn", [None, "pre", "post"])
def test_the_jitted_route_runs_the_same_kernels_to_the_same_numbers(bn):
    """VectorizedNetwork.jitted compiles the same loops over the same layer kernels with JAX (a test extra)."""
    import os

    if importlib.util.find_spec("jax") is None:
        assert not os.environ.get("CI"), "CI installs JAX (the test extra)"
        pytest.skip("JAX is not installed")
    from bnsym.vectorized import reference_mlp

    net = reference_mlp([3, 5, 4, 2], "tanh", bn=bn, eps=1e-5, output_activation="sigmoid")
    rng = np.random.default_rng(0)
    params = init_mlp([3, 5, 4, 2], bn=bn is not None, seed=1)
    x, t = rng.standard_normal((8, 3)), rng.standard_normal((8, 2))
    p, xs, ts = net.check(params, x, t)
    loss, grads = net.run(p, xs, ts)
    jloss, jgrads = net.jitted()(p, xs, ts)
    assert abs(float(jloss) - loss) <= 1e-12 * abs(loss)
    for name, g in grads.items():
        assert np.allclose(np.asarray(jgrads[name]), g, rtol=1e-10, atol=1e-13)
    _, stepped = net.jitted(learning_rate=0.1)(p, xs, ts)
    assert np.allclose(np.asarray(stepped["W1"]), p["W1"] - 0.1 * grads["W1"])


@pytest.mark.parametrize("bn", ["pre", "post"])
def test_a_batch_on_which_bn_is_undefined_is_refused_by_the_checked_routes(bn):
    """ε = 0 and a feature that is constant over the batch: σ = 0, so BN's output is undefined. The checked
    entry points say so (naming the layer and the feature); ε > 0 makes it defined; the unchecked run gives NaN."""
    net = reference_mlp([1, 2, 1], "tanh", bn=bn)
    params, x, t = _values(net, 3, 0)
    x = np.full_like(x, 0.7)  # one input, constant over the samples: every hidden feature is constant too
    undefined = r"batch normalization '\w+' is undefined for this batch: features 1, 2 are constant"
    with pytest.raises(ValuesError, match=undefined):
        net.loss_and_gradients(params, x, t)
    with pytest.raises(ValuesError, match="constant"):
        net.loss(params, x, t)
    with pytest.raises(ValuesError, match="constant"):
        net.output(params, x)
    p, xc, tc = net.check(params, x, t)
    with np.errstate(all="ignore"):
        assert not np.isfinite(net.run(p, xc, tc)[0])
    loss, grads = reference_mlp([1, 2, 1], "tanh", bn=bn, eps=1e-3).loss_and_gradients(params, x, t)
    assert np.isfinite(loss) and all(np.isfinite(g).all() for g in grads.values())
    varied = x + np.arange(3).reshape(3, 1)
    assert np.isfinite(net.loss_and_gradients(params, varied, t)[0])
