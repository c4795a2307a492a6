"""Builders: the graphs they make, and clear bnsym errors for bad input."""
from __future__ import annotations

import math

import pytest
import sympy

import bnsym
from bnsym.errors import BnsymError, NetworkSpecError, UnknownParameterError, ValuesError
from bnsym.functions import ReLU, Sigmoid
from bnsym.layers import MSELoss

import networks


def test_chain_graph_and_default_names():
    net = bnsym.chain(3)
    assert list(net.parameters) == ["w1", "w2", "w3"]
    w1, w2, w3 = (net.parameters[n][0] for n in ("w1", "w2", "w3"))
    assert net.output[0] == net.inputs[0] * w1 * w2 * w3
    assert net.loss is None


def test_two_layer_graph_with_bn_before_and_after_the_activation():
    pre = bnsym.two_layer("sigmoid", bn="pre", batch=4)
    assert [n.name for n in pre.nodes] == ["x", "z1", "zhat1", "ztilde1", "a1", "z2", "yhat"]
    assert set(pre.parameters) == {"w1", "b1", "gamma1", "beta1", "w2", "b2"}
    assert pre.output.shape == (4, 1)
    post = bnsym.two_layer("sigmoid", bn="post", batch=4)
    assert [n.name for n in post.nodes] == ["x", "z1", "a1", "ahat1", "atilde1", "z2", "yhat"]
    no_bias = bnsym.two_layer("relu", bias=False)
    assert set(no_bias.parameters) == {"w1", "w2"}
    x, w1, w2 = no_bias.inputs[0], no_bias.parameters["w1"][0], no_bias.parameters["w2"][0]
    assert no_bias.output[0] == ReLU(w2 * ReLU(w1 * x))


def test_bn_output_is_normalized_over_the_batch():
    net = bnsym.two_layer("identity", bn="pre", batch=3, bias=False)
    values = {net.inputs[i]: v for i, v in enumerate([1, 2, 4])}
    values.update({net.parameters["w1"][0]: 3, net.parameters["gamma1"][0]: 1, net.parameters["beta1"][0]: 0,
                   net.parameters["w2"][0]: 1})
    zhat = net.explicit(net.nodes[2].symbols).xreplace(values)
    assert sympy.simplify(sum(zhat)) == 0
    assert sympy.simplify(sum(v**2 for v in zhat)) == 3  # Σ x̂² = m with eps = 0


def test_mse_loss_is_the_batch_mean():
    net = bnsym.two_layer("sigmoid", loss="mse", batch=2)
    y, t = net.output, net.targets
    assert sympy.expand(net.loss - ((y[0] - t[0]) ** 2 + (y[1] - t[1]) ** 2) / 2) == 0
    assert isinstance(net.output[0], Sigmoid)


def test_mlp_shapes():
    net = bnsym.mlp([2, 3, 1], activation="tanh", bn="post", batch=3)
    assert net.parameters["W1"].shape == (3, 2) and net.parameters["W2"].shape == (1, 3)
    assert net.parameters["gamma1"].shape == (1, 3)
    assert net.output.shape == (3, 1)
    assert net.gradient("W1").closed_form.shape == (3, 2)


@pytest.mark.parametrize("call, message", [
    (lambda: bnsym.chain(0), "depth must be an integer >= 1"),
    (lambda: bnsym.chain(2.5), "depth must be an integer"),
    (lambda: bnsym.chain(True), "depth must be an integer"),
    (lambda: bnsym.chain(3, names="ab"), "needs 3 weight names"),
    (lambda: bnsym.chain(2, names=["a", "x"]), "used twice"),
    (lambda: bnsym.chain(2, names=["a", "b\\input"]), "must be a letter followed by"),
    (lambda: bnsym.chain(2, names=["a", "a"]), "used twice"),
    (lambda: bnsym.chain(3, bn=True), "needs a batch"),
    (lambda: bnsym.chain(3, bn=True, batch=1), "m >= 2"),
    (lambda: bnsym.two_layer("softplus"), "unknown activation 'softplus'"),
    (lambda: bnsym.two_layer(bn="middle", batch=3), "unknown bn placement"),
    (lambda: bnsym.two_layer(bn="pre", batch=1), "m >= 2"),
    (lambda: bnsym.two_layer(bn="pre"), "needs a batch"),
    (lambda: bnsym.two_layer(loss="hinge"), "unknown loss"),
    (lambda: bnsym.two_layer(bn="pre", batch=3, eps=-1.0), "eps must be >= 0"),
    (lambda: bnsym.two_layer(bn="pre", batch=3, eps=math.nan), "eps must be"),
    (lambda: bnsym.two_layer(bn="pre", batch=3, eps="0.1"), "eps must be a real number"),
    (lambda: bnsym.mlp([3]), "at least two layer widths"),
    (lambda: bnsym.mlp("2,3"), "at least two layer widths"),
    (lambda: bnsym.mlp([2, 0, 1]), "layer width 1 must be an integer >= 1"),
    (lambda: bnsym.mlp([2, 3, 1], bn="pre", batch=1), "m >= 2"),
])
def test_bad_specifications_raise_bnsym_errors(call, message):
    with pytest.raises(NetworkSpecError, match=message.replace("\\", "\\\\").replace("(", "\\(")):
        call()


def test_unknown_parameter():
    net = bnsym.two_layer()
    with pytest.raises(UnknownParameterError, match="no parameter 'gamma1'.*w1, b1, w2, b2"):
        net.gradient("gamma1")
    with pytest.raises(UnknownParameterError):
        net.gradients()["W1"]
    with pytest.raises(BnsymError):
        net.gradient(3)


@pytest.mark.parametrize("values, message", [
    ({"x": "one", "w1": 1, "b1": 0, "w2": 1, "b2": 0, "dJ/dyhat": 1}, "must be numeric"),
    ({"x": None, "w1": 1, "b1": 0, "w2": 1, "b2": 0, "dJ/dyhat": 1}, "must be numeric"),
    ({"x": sympy.Symbol("q"), "w1": 1, "b1": 0, "w2": 1, "b2": 0, "dJ/dyhat": 1}, "must be numeric"),
    ({"x": float("nan"), "w1": 1, "b1": 0, "w2": 1, "b2": 0, "dJ/dyhat": 1}, "must be finite"),
    ({"x": [1.0, 2.0], "w1": 1, "b1": 0, "w2": 1, "b2": 0, "dJ/dyhat": 1}, "must have shape"),
    ({"w1": 1, "b1": 0, "w2": 1, "b2": 0, "dJ/dyhat": 1}, "missing values for: x"),
    ({"x": 1, "w1": 1, "b1": 0, "w2": 1, "b2": 0, "dJ/dyhat": 1, "w3": 2}, "unknown name 'w3'"),
    ([1, 2, 3], "must be a mapping"),
])
def test_bad_values_raise_values_error(values, message):
    with pytest.raises(ValuesError, match=message):
        bnsym.two_layer().gradient("w1").evaluate(values)


def test_constant_batch_with_eps_zero_is_reported_not_returned_as_nan():
    net = bnsym.two_layer("relu", bn="pre", batch=2)
    values = {"x": [1.0, 1.0], "w1": 1, "b1": 0, "gamma1": 1, "beta1": 0, "w2": 1, "b2": 0, "dJ/dyhat": [1, 1]}
    with pytest.raises(ValuesError, match="constant batch"):
        net.gradient("w2").evaluate(values)


@pytest.mark.parametrize("name", sorted(networks.SPECS))
def test_every_network_the_tests_use_builds_with_the_tags_its_call_implies(name):
    """tests/networks.py: each registered call builds a network whose batch coupling, symbolic batch, loss and
    ε are what the registry's derived tags say, so that a suite selecting by tag gets what it asks for."""
    spec = networks.SPECS[name]
    net = spec.build()
    assert isinstance(net, bnsym.Network)
    assert ("bn" in spec.tags) == net.couples_batch, spec
    assert ("symbolic" in spec.tags) == net.symbolic, spec
    assert ("mse" in spec.tags) == isinstance(net.layers[-1], MSELoss), spec
    eps = {layer.eps for layer in net.layers if hasattr(layer, "eps")}
    assert ("eps" in spec.tags) == (eps - {0} != set()), (spec, eps)
