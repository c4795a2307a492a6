"""The normalization family, part B: weight normalization, eval-mode BN with running statistics and their update,
conv-style (per-channel) BN with the layouts, the per-channel and scale-only affine steps, and the builders'
``norm=`` arguments. Each layer is checked against ``sympy.diff`` of its substituted forward, its index form at a
small concrete batch against the per-entry route, and its NumPy kernel against PyTorch (autograd and torch's own
modules)."""
from __future__ import annotations

import random
import re

import numpy as np
import pytest
import sympy

import bnsym
from bnsym.errors import NetworkSpecError
from bnsym.evaluation import named_symbols
from bnsym.layers import Activation, Linear, Normalize, ScaleShift
from bnsym.layers.convnorm import ChannelNormalize
from bnsym.layers.evalnorm import EvalNormalize, running_update
from bnsym.layers.weightnorm import WeightNormLinear
from bnsym.layouts import from_rows, to_rows
from bnsym.network import Network, _inputs

import networks


# -- helpers -------------------------------------------------------------------------------------------------
def _net(layers, batch, width):
    return Network(layers, _inputs(batch, width), batch=batch, loss="mse")


def _rational_point(symbols, seed):
    rng = random.Random(seed)
    point = {}
    for s in symbols:
        value = sympy.Rational(rng.randint(1, 40), rng.randint(1, 7))
        point[s] = value if s.is_nonnegative or s.is_positive else value * rng.choice((-1, 1))
    return point


def _check_against_diff(net, seed=0):
    """Every closed-form gradient equals sympy.diff of the explicit loss, at an exact rational point."""
    loss = net.loss
    grads = net.gradients()
    assert list(grads) == list(net.parameters)
    for name, derivation in grads.items():
        closed = derivation.closed_form
        closed = closed if isinstance(closed, sympy.MatrixBase) else sympy.Matrix([[closed]])
        for symbol, ours in zip(net.parameters[name], closed, strict=True):
            reference = sympy.diff(loss, symbol)
            point = _rational_point(sorted(ours.free_symbols | reference.free_symbols | loss.free_symbols, key=str),
                                    f"{seed}-{symbol}")
            a, b = sympy.N(ours.xreplace(point), 40), sympy.N(reference.xreplace(point), 40)
            assert abs(a - b) <= sympy.Float(10) ** -30 * (1 + abs(b)), (name, symbol, a, b)


def _written_out_equals_per_entry(net, m):
    per_entry = net.at(m).gradients()
    for name, derivation in net.gradients().items():
        ours = derivation.written_out(m)
        theirs = per_entry[name].compact
        ours = ours if isinstance(ours, sympy.MatrixBase) else sympy.Matrix([[ours]])
        theirs = theirs if isinstance(theirs, sympy.MatrixBase) else sympy.Matrix([[theirs]])
        for entry in ours - theirs:
            assert sympy.simplify(entry) == 0, (name, entry)


# -- sympy.diff of the substituted forward -------------------------------------------------------------------
def test_weight_norm_gradients_equal_diff():
    layers = [WeightNormLinear("z1", direction="v1", magnitude="g1", bias="b1", n_in=2, n_out=2),
              Activation("a1", "tanh"), WeightNormLinear("yhat", direction="v2", magnitude="g2", n_in=2, n_out=1)]
    _check_against_diff(_net(layers, 2, 2))


def test_eval_norm_gradients_equal_diff_and_skip_the_running_statistics():
    layers = [Linear("z1", weight="W1", bias="b1", n_in=1, n_out=2), EvalNormalize("zhat1", features=2, statistic="1"),
              ScaleShift("ztilde1", gamma="gamma1", beta="beta1", features=2), Activation("a1", "sigmoid"),
              Linear("yhat", weight="W2", n_in=2, n_out=1)]
    net = _net(layers, 2, 1)
    _check_against_diff(net)
    running = {"murun1f1", "murun1f2", "varrun1f1", "varrun1f2"}
    assert not running & set(net.gradients())
    assert running <= set(named_symbols(net)), "evaluate must ask for the running statistics"


def test_channel_norm_and_per_channel_affine_gradients_equal_diff():
    layers = [Linear("z1", weight="W1", bias="b1", n_in=1, n_out=4),
              ChannelNormalize("zhat1", samples=2, channels=2, positions=2, eps=sympy.Rational(1, 10), statistic="1"),
              ScaleShift("ztilde1", gamma="gamma1", beta="beta1", features=4, positions=2),
              Linear("yhat", weight="W2", n_in=4, n_out=1)]
    net = _net(layers, 2, 1)
    assert net.parameters["gamma1"].shape == (1, 2)
    _check_against_diff(net)


def test_scale_only_affine_gradients_equal_diff():
    layers = [Linear("z1", weight="W1", n_in=1, n_out=2), Activation("a1", "tanh"),
              ScaleShift("atilde1", gamma="gamma1", features=2, shift=False), Linear("yhat", weight="W2", n_in=2,
                                                                                      n_out=1)]
    net = _net(layers, 2, 1)
    assert list(net.parameters) == ["W1", "gamma1", "W2"]
    _check_against_diff(net)


# -- index form over a symbolic m, written out at small m, equals the per-entry route ---------------------------
@pytest.mark.parametrize("build", [
    lambda: bnsym.two_layer("tanh", norm="weight", batch="m", inputs=2, loss="mse"),
    lambda: bnsym.chain(3, norm="batch", mode="eval", batch="m"),
    lambda: bnsym.mlp([1, 2, 1], "tanh", norm="batch", mode="eval", batch="m", loss="mse"),
    lambda: bnsym.mlp([1, 4, 1], "identity", norm="batch", positions=2, batch="m", eps=sympy.Rational(1, 10)),
    lambda: bnsym.mlp([1, 4, 1], "identity", norm="batch", positions=2, placement="post", batch="m", affine=False),
], ids=["weight", "eval-chain", "eval-mlp", "channel-bn", "channel-bn-post-noaffine"])
def test_index_form_written_out_equals_per_entry(build):
    _written_out_equals_per_entry(build(), 2)


def test_channel_norm_index_form_does_not_depend_on_m():
    net = bnsym.mlp([1, 4, 1], norm="batch", positions=2, batch="m")
    from bnsym.batchform import index_gradients

    sizes = {index_gradients(net, sympy.Integer(m)).count_ops() for m in (8, 64)}
    assert max(sizes) <= index_gradients(net).count_ops() + 8


# -- NumPy kernels against PyTorch ---------------------------------------------------------------------------
def _numpy_vs_autograd(torch, layer, x, params, seed=0):
    """The layer's NumPy forward and VJP equal torch autograd of its torch_forward."""
    rng = np.random.default_rng(seed)
    y, saved = layer.numpy_forward(x, params)
    g = rng.normal(size=y.shape)
    xbar, grads = layer.numpy_vjp(saved, g, params)
    tx = torch.tensor(x, requires_grad=True)
    tp = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    ty = layer.torch_forward(tx, tp)
    np.testing.assert_allclose(ty.detach().numpy(), y, rtol=1e-10, atol=1e-12)
    (ty * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(tx.grad.numpy(), xbar, rtol=1e-9, atol=1e-12)
    for name in layer.parameters:
        np.testing.assert_allclose(tp[name].grad.numpy(), grads[name], rtol=1e-9, atol=1e-12)
    return y, xbar, grads, g


def test_weight_norm_numpy_matches_torch_parametrization(torch):
    rng = np.random.default_rng(1)
    layer = WeightNormLinear("z1", direction="v", magnitude="g", bias="b", n_in=3, n_out=2)
    params = {"v": rng.normal(size=(2, 3)), "g": rng.normal(size=(1, 2)), "b": rng.normal(size=(1, 2))}
    x = rng.normal(size=(4, 3))
    y, xbar, grads, g = _numpy_vs_autograd(torch, layer, x, params)
    module = torch.nn.utils.parametrizations.weight_norm(torch.nn.Linear(3, 2).double(), dim=0)
    with torch.no_grad():
        module.parametrizations.weight.original0.copy_(torch.tensor(params["g"].reshape(2, 1)))
        module.parametrizations.weight.original1.copy_(torch.tensor(params["v"]))
        module.bias.copy_(torch.tensor(params["b"].reshape(2)))
    tx = torch.tensor(x, requires_grad=True)
    out = module(tx)
    np.testing.assert_allclose(out.detach().numpy(), y, rtol=1e-10)
    (out * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(module.parametrizations.weight.original0.grad.numpy().reshape(1, 2), grads["g"],
                               rtol=1e-9)
    np.testing.assert_allclose(module.parametrizations.weight.original1.grad.numpy(), grads["v"], rtol=1e-9)
    np.testing.assert_allclose(tx.grad.numpy(), xbar, rtol=1e-9)


def test_eval_norm_numpy_matches_torch_batch_norm_eval(torch):
    rng = np.random.default_rng(2)
    mean, var = rng.normal(size=3), rng.uniform(0.5, 2.0, size=3)
    layer = EvalNormalize("y", features=3, eps=1e-5, running_mean=list(mean), running_var=list(var))
    x = rng.normal(size=(4, 3))
    y, xbar, _, g = _numpy_vs_autograd(torch, layer, x, {})
    tx = torch.tensor(x, requires_grad=True)
    out = torch.nn.functional.batch_norm(tx, torch.tensor(mean), torch.tensor(var), training=False, eps=1e-5)
    np.testing.assert_allclose(out.detach().numpy(), y, rtol=1e-10)
    (out * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(tx.grad.numpy(), xbar, rtol=1e-9)


@pytest.mark.parametrize("eps", [0.0, 1e-3])
def test_channel_norm_numpy_matches_torch_batch_norm_2d_through_layouts(torch, eps):
    rng = np.random.default_rng(3)
    images = rng.normal(size=(2, 3, 2, 2))  # N, C, H, W
    layer = ChannelNormalize("y", samples=2, channels=3, positions=4, eps=eps)
    rows = to_rows(images, "NCHW")
    y, xbar, _, g = _numpy_vs_autograd(torch, layer, rows, {})
    if eps == 0:  # BatchNorm2d refuses eps = 0 in training; the autograd check above covers it
        return
    module = torch.nn.BatchNorm2d(3, eps=eps, affine=False).double().train()
    timages = torch.tensor(images, requires_grad=True)
    out = module(timages)
    np.testing.assert_allclose(from_rows(y, "NCHW", spatial=(2, 2)), out.detach().numpy(), rtol=1e-8, atol=1e-10)
    (out * torch.tensor(from_rows(g, "NCHW", spatial=(2, 2)))).sum().backward()
    np.testing.assert_allclose(to_rows(timages.grad.numpy(), "NCHW"), xbar, rtol=1e-7, atol=1e-9)
    # channels last: the same activation in NHWC gives the same grid
    np.testing.assert_array_equal(to_rows(np.moveaxis(images, 1, -1), "NHWC"), rows)
    np.testing.assert_array_equal(to_rows(torch.tensor(images), "NCHW").numpy(), rows)


def test_per_channel_and_scale_only_affine_numpy_match_autograd(torch):
    rng = np.random.default_rng(4)
    x = rng.normal(size=(3, 6))
    shared = ScaleShift("y", gamma="g", beta="b", features=6, positions=3)
    _numpy_vs_autograd(torch, shared, x, {"g": rng.normal(size=(1, 2)), "b": rng.normal(size=(1, 2))})
    scale = ScaleShift("y", gamma="g", features=6, shift=False)
    _numpy_vs_autograd(torch, scale, x, {"g": rng.normal(size=(1, 6))})


def test_layouts_round_trip_every_layout(torch):
    rng = np.random.default_rng(5)
    for layout, shape, spatial in [("NC", (2, 3), ()), ("NCL", (2, 3, 4), (4,)), ("NLC", (2, 4, 3), (4,)),
                                   ("NCHW", (2, 3, 2, 5), (2, 5)), ("NHWC", (2, 2, 5, 3), (2, 5))]:
        a = rng.normal(size=shape)
        rows = to_rows(a, layout)
        assert rows.shape == (2, a.size // 2)
        np.testing.assert_array_equal(from_rows(rows, layout, spatial=spatial), a)
        np.testing.assert_array_equal(from_rows(to_rows(torch.tensor(a), layout), layout, spatial).numpy(), a)
    with pytest.raises(NetworkSpecError, match="unknown layout"):
        to_rows(np.zeros((2, 2)), "CHW")


# -- running statistics --------------------------------------------------------------------------------------
def test_running_update_matches_torch_batch_norm_1d_after_one_step(torch):
    rng = np.random.default_rng(6)
    batch = rng.normal(size=(5, 3))
    module = torch.nn.BatchNorm1d(3, momentum=0.1).double().train()
    start_mean, start_var = module.running_mean.numpy().copy(), module.running_var.numpy().copy()
    module(torch.tensor(batch))
    mean, var = running_update(start_mean, start_var, batch, momentum=0.1)
    np.testing.assert_allclose(mean, module.running_mean.numpy(), rtol=1e-12)
    np.testing.assert_allclose(var, module.running_var.numpy(), rtol=1e-12)


def test_running_update_keras_convention_and_symbolic_values_agree():
    rng = np.random.default_rng(7)
    batch = rng.normal(size=(4, 2))
    old_mean, old_var = rng.normal(size=2), rng.uniform(0.5, 2, size=2)
    mean, var = running_update(old_mean, old_var, batch, momentum=0.99, convention="keras")
    np.testing.assert_allclose(mean, 0.99 * old_mean + 0.01 * batch.mean(axis=0))
    np.testing.assert_allclose(var, 0.99 * old_var + 0.01 * batch.var(axis=0))  # Keras: the biased variance
    for convention in ("pytorch", "keras"):
        numeric = running_update(old_mean, old_var, batch, momentum=0.25, convention=convention)
        exact = running_update(sympy.Matrix(old_mean.reshape(1, -1)), sympy.Matrix(old_var.reshape(1, -1)),
                               sympy.Matrix(batch), momentum=sympy.Rational(1, 4), convention=convention)
        for ours, theirs in zip(exact, numeric, strict=True):
            np.testing.assert_allclose(np.array(ours, dtype=float).reshape(-1), theirs, rtol=1e-12)
    with pytest.raises(NetworkSpecError, match="convention"):
        running_update(old_mean, old_var, batch, convention="jax")
    with pytest.raises(NetworkSpecError, match="m >= 2"):
        running_update(old_mean, old_var, batch[:1])


# -- eval mode is affine, without BN's scale invariance -------------------------------------------------------
def test_eval_mode_is_affine_and_not_scale_invariant():
    rng = np.random.default_rng(8)
    layer = EvalNormalize("y", features=2, running_mean=[0.5, -1], running_var=[2, sympy.Rational(1, 3)])
    z, w = rng.normal(size=(3, 2)), rng.normal(size=(3, 2))
    f = lambda a: layer.numpy_forward(a, {})[0]  # noqa: E731
    np.testing.assert_allclose(f(0.3 * z + 0.7 * w), 0.3 * f(z) + 0.7 * f(w), rtol=1e-12)
    assert not np.allclose(f(2.0 * z), f(z)), "eval-mode BN must not be scale invariant"
    train = Normalize("y", samples=3, features=2)
    np.testing.assert_allclose(train.numpy_forward(2.0 * z, {})[0], train.numpy_forward(z, {})[0], rtol=1e-12)
    # per entry too: BN_eval(a z) at a concrete batch differs from BN_eval(z) for a = 2
    exact = layer.forward(sympy.Matrix(3, 2, [sympy.Rational(k + 1, 3) for k in range(6)]))
    doubled = layer.forward(sympy.Matrix(3, 2, [2 * sympy.Rational(k + 1, 3) for k in range(6)]))
    assert sympy.simplify(exact - doubled) != sympy.zeros(3, 2)


def test_eval_norm_refuses_bad_running_statistics():
    with pytest.raises(NetworkSpecError, match="both"):
        EvalNormalize("y", features=1, running_mean=0)
    with pytest.raises(NetworkSpecError, match=">= 0"):
        EvalNormalize("y", features=1, running_mean=0, running_var=-1)
    with pytest.raises(NetworkSpecError, match="2 value"):
        EvalNormalize("y", features=2, running_mean=[0, 1, 2], running_var=[1, 1])
    with pytest.raises(NetworkSpecError, match="numbers for the running statistics"):
        EvalNormalize("y", features=1).numpy_forward(np.zeros((2, 1)), {})


# -- the builders -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("call,old", [
    (lambda: bnsym.two_layer("relu", norm="batch", placement="pre", batch=3), lambda: bnsym.two_layer("relu", bn="pre",
                                                                                                       batch=3)),
    (lambda: bnsym.two_layer("tanh", norm="batch", placement="post", batch=2),
     lambda: bnsym.two_layer("tanh", bn="post", batch=2)),
    (lambda: bnsym.two_layer("tanh", bn="post", norm="batch", placement="post", batch=2),
     lambda: bnsym.two_layer("tanh", bn="post", batch=2)),
    (lambda: bnsym.mlp([2, 3, 1], "tanh", norm="batch", batch=3), lambda: bnsym.mlp([2, 3, 1], "tanh", bn="pre",
                                                                                    batch=3)),
    (lambda: bnsym.chain(3, norm="batch", batch=2), lambda: bnsym.chain(3, bn=True, batch=2)),
])
def test_norm_batch_builds_exactly_what_bn_builds(call, old):
    new, reference = call(), old()
    assert repr(new) == repr(reference) and new.description == reference.description
    assert [type(layer) for layer in new.layers] == [type(layer) for layer in reference.layers]
    assert new.definitions == reference.definitions


@pytest.mark.parametrize("call,message", [
    (lambda: bnsym.two_layer(bn="pre", norm="layer", batch=2), "give one of bn= or norm="),
    (lambda: bnsym.two_layer(bn="pre", placement="post", batch=2), "give one of bn= or norm="),
    (lambda: bnsym.chain(3, bn=True, norm="rms"), "give one of bn= or norm="),
    (lambda: bnsym.mlp([2, 4, 1], norm="instance"), "positions >= 2"),
    (lambda: bnsym.mlp([2, 4, 1], norm="instance", positions=1), "positions >= 2"),
    (lambda: bnsym.mlp([2, 3, 1], norm="group", groups=2), "must divide"),
    (lambda: bnsym.mlp([2, 4, 1], norm="group"), "needs groups="),
    (lambda: bnsym.mlp([2, 4, 1], norm="layer", groups=2), "GroupNorm's argument"),
    (lambda: bnsym.mlp([2, 4, 1], norm="batch", positions=3, batch=2), "must divide"),
    (lambda: bnsym.mlp([2, 4, 1], norm="layer", positions=2), "means nothing"),
    (lambda: bnsym.mlp([2, 4, 1], norm="weight", placement="post"), "placement"),
    (lambda: bnsym.mlp([2, 4, 1], norm="weight", positions=2), "neither groups= nor positions="),
    (lambda: bnsym.mlp([2, 4, 1], norm="layer", mode="eval"), "running statistics"),
    (lambda: bnsym.mlp([2, 4, 1], norm="batch", mode="eval", positions=2), "not supported"),
    (lambda: bnsym.mlp([2, 4, 1], norm="batch", mode="test", batch=2), "unknown mode"),
    (lambda: bnsym.mlp([2, 4, 1], norm="batchnorm", batch=2), "unknown norm"),
    (lambda: bnsym.mlp([2, 4, 1], placement="pre"), "needs a normalization"),
    (lambda: bnsym.mlp([2, 4, 1], positions=2), "needs a normalization"),
    (lambda: bnsym.mlp([2, 1], norm="rms"), "no normalization"),
    (lambda: bnsym.mlp([2, 4, 1], norm="batch"), "needs a batch of m >= 2"),
    (lambda: bnsym.two_layer(norm="layer"), "one feature"),
    (lambda: bnsym.chain(3, norm="batch", placement="post", batch=2), "no activation"),
    (lambda: bnsym.chain(1, norm="weight"), "depth >= 2"),
    (lambda: bnsym.mlp([2, 4, 1], norm="batch", positions=0, batch=2), "positions must be an integer >= 1"),
])
def test_builder_refuses_invalid_normalization_arguments(call, message):
    with pytest.raises(NetworkSpecError, match=re.escape(message)):
        call()


def test_weight_norm_replaces_the_hidden_linear_layers():
    net = bnsym.mlp([2, 3, 3, 1], "tanh", norm="weight", batch=2, loss="mse")
    kinds = [type(layer).__name__ for layer in net.layers]
    assert kinds.count("WeightNormLinear") == 2 and kinds.count("Linear") == 1
    assert {"W1", "g1", "W2", "g2", "W3"} <= set(net.parameters) and net.parameters["g1"].shape == (1, 3)
    chain = bnsym.chain(3, norm="weight")
    assert [type(layer).__name__ for layer in chain.layers] == ["WeightNormLinear", "WeightNormLinear", "Linear"]


def test_builder_eval_and_channel_kinds_run_through_the_vectorized_route():
    from bnsym.vectorized import VectorizedNetwork

    net = bnsym.mlp([2, 4, 1], "tanh", norm="batch", positions=2, batch=3, eps=1e-3, loss="mse")
    assert [type(layer).__name__ for layer in net.layers][1:3] == ["ChannelNormalize", "ScaleShift"]
    route = VectorizedNetwork.from_network(net)
    rng = np.random.default_rng(9)
    params = {name: rng.normal(size=shape) for name, shape in route.shapes.items()}
    x, t = rng.normal(size=(3, 2)), rng.normal(size=(3, 1))
    loss, grads = route.loss_and_gradients(params, x, t)
    values = {**params, "x": x, "t": t}
    reference = net.gradients()
    names, function = reference.numeric
    flat = [v for name in names for v in np.asarray(values[name]).reshape(-1)]
    for (name, ours), theirs in zip(grads.items(), function(*flat), strict=True):
        np.testing.assert_allclose(np.asarray(theirs, dtype=float).reshape(ours.shape), ours, rtol=1e-8,
                                   err_msg=name)
    with pytest.raises(NetworkSpecError, match="numeric constants"):
        VectorizedNetwork.from_network(bnsym.mlp([2, 2, 1], norm="batch", mode="eval", loss="mse"))


def test_builders_with_the_sample_norms():
    pytest.importorskip("bnsym.layers.layernorm")
    ln = bnsym.mlp([2, 4, 1], norm="layer", placement="post")
    assert [type(layer).__name__ for layer in ln.layers][2:4] == ["LayerNorm", "ScaleShift"]
    assert ln.parameters["gamma1"].shape == (1, 4)
    gn = bnsym.mlp([2, 4, 1], norm="group", groups=2, positions=2)
    assert gn.parameters["gamma1"].shape == (1, 2)
    inn = bnsym.mlp([2, 4, 1], norm="instance", positions=2)
    assert inn.parameters["gamma1"].shape == (1, 2)


def test_builders_with_rms_norm_have_a_scale_only():
    pytest.importorskip("bnsym.layers.rmsnorm")
    net = bnsym.mlp([2, 3, 1], norm="rms")
    assert "gamma1" in net.parameters and "beta1" not in net.parameters


# -- the registry's new networks build and are what their names say --------------------------------------------
def test_registered_family_b_networks_build():
    for name in ("two-layer-tanh-weight-m3-mse", "chain3-batch-eval", "mlp-1-4-1-tanh-batch-pre-m2-p2",
                 "mlp-2-2-1-sigmoid-weight-m-mse"):
        net = networks.build(name)
        assert net.gradients()


def test_per_channel_bn_removes_only_the_channel_mean_of_the_bias():
    """Per-channel BN subtracts each channel's mean over m·P entries, so ∂J/∂b summed over a channel's columns is
    0, while a single column's ∂J/∂b is not (contrast: per-feature BN makes every ∂J/∂b_r zero)."""
    from bnsym.vectorized import VectorizedNetwork

    route = VectorizedNetwork.from_network(bnsym.mlp([1, 4, 1], "tanh", norm="batch", positions=2, batch=3,
                                                     eps=1e-3, loss="mse"))
    rng = np.random.default_rng(10)
    params = {name: rng.normal(size=shape) for name, shape in route.shapes.items()}
    _, grads = route.loss_and_gradients(params, rng.normal(size=(3, 1)), rng.normal(size=(3, 1)))
    per_channel = grads["b1"].reshape(2, 2).sum(axis=1)
    np.testing.assert_allclose(per_channel, 0, atol=1e-12)
    assert np.abs(grads["b1"]).max() > 1e-6


def test_symbolic_eval_network_gradients_leave_out_the_running_statistics():
    net = bnsym.mlp([1, 2, 1], norm="batch", mode="eval", batch="m")
    assert set(net.gradients()) == set(net.parameters) == {"W1", "b1", "gamma1", "beta1", "W2", "b2"}
    assert "murun1" in str(net.output)
