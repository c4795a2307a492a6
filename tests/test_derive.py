"""Closed forms checked against ``sympy.diff`` of the fully substituted forward expression, and the facts
a user expects (Goodfellow's chain, the seed's two-layer formula, BN's bias and sign facts)."""
from __future__ import annotations

import numpy as np
import pytest
import sympy

import bnsym
from bnsym.layers import ACTIVATIONS
from bnsym.exact import is_zero
from bnsym.derive import upstream_symbols
from bnsym.functions import Partial, ReLU, ReLUPrime

import networks

EPS = sympy.Rational(1, 100)



def _brute_force(net: bnsym.Network, symbol: sympy.Symbol) -> sympy.Expr:
    """∂J/∂symbol by differentiating the flattened forward expression (the independent route)."""
    if net.loss is not None:
        return sympy.diff(net.loss, symbol)
    upstream = list(upstream_symbols(net))
    return sympy.Add(*[g * sympy.diff(y, symbol) for g, y in zip(upstream, net.output, strict=True)])


# exact symbolic comparison (radical normal form) where it is quick; 50-digit evaluation at random
# rational points for the larger graphs, where the exact normal form takes minutes
EXACT = networks.names("derive", "exact")
NUMERIC = networks.names("derive", without=("exact",))


def _pairs(net):
    grads = net.gradients()
    assert list(grads) == list(net.parameters)
    for name, derivation in grads.items():
        closed = derivation.closed_form
        closed = closed if isinstance(closed, sympy.MatrixBase) else sympy.Matrix([[closed]])
        for symbol, value in zip(net.parameters[name], closed, strict=True):
            yield symbol, value, _brute_force(net, symbol)


@pytest.mark.parametrize("key", EXACT)
def test_closed_forms_equal_diff_of_flattened_forward_exactly(key):
    for symbol, ours, reference in _pairs(networks.build(key)):
        verdict = is_zero(ours - reference)
        assert verdict is True, f"{key}: ∂J/∂{symbol} differs from sympy.diff (verdict {verdict})"


@pytest.mark.parametrize("key", NUMERIC)
def test_closed_forms_equal_diff_of_flattened_forward_to_40_digits(key):
    import mpmath
    import random

    rng = random.Random(key)
    for symbol, ours, reference in _pairs(networks.build(key)):
        free = sorted(ours.free_symbols | reference.free_symbols, key=str)
        f = sympy.lambdify(free, [ours, reference], modules="mpmath")
        with mpmath.workdps(50):
            checked = 0
            while checked < 3:
                point = [mpmath.mpf(rng.randint(-30, 30)) / rng.randint(1, 7) for _ in free]
                try:
                    a, b = f(*point)
                except ZeroDivisionError:  # a degenerate draw (zero weight or constant batch): σ = 0
                    continue
                checked += 1
                assert abs(a - b) <= mpmath.mpf(10) ** -40 * (1 + abs(b)), f"{key}: ∂J/∂{symbol}: {a} != {b}"


@pytest.mark.parametrize("key", ["chain4", "two-layer-relu", "two-layer-tanh-bn-pre-m3", "mlp-2-3-1-relu-m2-mse"])
def test_product_of_factors_equals_compact(key):
    net = networks.build(key)
    for derivation in net.gradients().values():
        difference = sympy.Matrix([[derivation.product()]]) - sympy.Matrix([[derivation.compact]]) \
            if not isinstance(derivation.compact, sympy.MatrixBase) else derivation.product() - derivation.compact
        for entry in difference:
            assert is_zero(entry) is True


def test_goodfellow_chain_gradient_is_product_of_the_other_weights():
    net = bnsym.chain(5, names="abcde")
    a, b, c, d, e = (net.parameters[n][0] for n in "abcde")
    x = net.inputs[0]
    derivation = net.gradient("a")
    assert derivation.closed_form == Partial("dJ/dyhat") * b * c * d * e * x
    assert [f.value for f in derivation.factors] == [Partial("dJ/dyhat"), e, d, c, b, x]
    assert [str(f.of) for f in derivation.factors] == ["J", "yhat", "h4", "h3", "h2", "h1"]


def test_seed_two_layer_formula_comes_out_exactly():
    net = bnsym.two_layer(activation="relu")
    w1, b1, w2, b2 = (net.parameters[n][0] for n in ("w1", "b1", "w2", "b2"))
    x = net.inputs[0]
    z1, z2 = sympy.symbols("z1 z2", real=True)
    derivation = net.gradient("w1")
    assert [f.value for f in derivation.factors] == [Partial("dJ/dyhat"), ReLUPrime(z2), w2, ReLUPrime(z1), x]
    assert [f"{f.of}/{f.wrt}" for f in derivation.factors] == ["J/yhat", "yhat/z2", "z2/a1", "a1/z1", "z1/w1"]
    assert derivation.compact == Partial("dJ/dyhat") * ReLUPrime(z2) * w2 * ReLUPrime(z1) * x
    explicit_z1 = w1 * x + b1
    explicit_z2 = w2 * ReLU(explicit_z1) + b2
    assert derivation.closed_form == Partial("dJ/dyhat") * ReLUPrime(explicit_z2) * w2 * ReLUPrime(explicit_z1) * x
    assert derivation.doit() == derivation.closed_form


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
@pytest.mark.parametrize("eps", [0, EPS])
def test_bias_before_bn_has_gradient_exactly_zero(activation, eps):
    net = bnsym.two_layer(activation=activation, bn="pre", batch=3, eps=eps)
    assert is_zero(net.gradient("b1").closed_form) is True
    assert is_zero(net.gradient("b2").closed_form) is False  # the bias after BN does matter


@pytest.mark.parametrize("activation", ["relu", "sigmoid"])
def test_bn_on_one_unit_layer_weight_enters_only_through_its_sign(activation):
    net = bnsym.two_layer(activation=activation, bn="pre", batch=3)
    w1 = net.parameters["w1"][0]
    positive, negative = sympy.Symbol("c", positive=True), sympy.Symbol("c", negative=True)
    y = net.output[0]
    assert is_zero(y.xreplace({w1: positive * w1}) - y) is True
    assert is_zero(y.xreplace({w1: negative * w1}) - y) is False
    assert is_zero(net.gradient("w1").closed_form) is True  # eps = 0: dJ/dw1 = 0 exactly


def test_with_eps_the_one_unit_weight_gradient_is_not_zero():
    net = bnsym.two_layer(activation="relu", bn="pre", batch=3, eps=EPS)
    assert is_zero(net.gradient("w1").closed_form) is False


def test_with_two_inputs_the_weights_feeding_bn_have_nonzero_orthogonal_gradient():
    """⟨W, ∇_W J⟩ = 0 for every batch size, by the kernel over the network's own layers (docs/math.md §6; it
    replaces a zero test on the flattened forms at m = 3), while the gradient itself is not 0 (an exact witness)."""
    from bnsym.gradient_zero import prove_orthogonal

    net = bnsym.two_layer(activation="tanh", bn="pre", batch="m", inputs=2)
    assert prove_orthogonal(net.gradient("w1")) is not None
    assert not net.gradient("w1").is_zero
    values = {"w1": [[0.5, -1.2]], "b1": 0.3, "gamma1": 1.5, "beta1": 0.1, "w2": 0.7, "b2": 0.2,
              "x": [[1.0, 0.0], [0.2, 2.0], [-1.0, 0.5]], "dJ/dyhat": [1.0, -0.5, 2.0]}
    gradient = net.at(3).gradient("w1").evaluate(values)
    assert np.max(np.abs(gradient)) > 1e-3
    assert abs(float(np.sum(np.asarray(values["w1"]) * gradient))) < 1e-12  # the proved identity, numerically
    assert prove_orthogonal(bnsym.two_layer(activation="tanh", bn="post", batch="m", inputs=2).gradient("w1")) is None


def test_gradients_share_subexpressions_and_count_ops_is_linear():
    counts = [bnsym.chain(depth).gradients().count_ops() for depth in (8, 16, 32)]
    assert counts[2] - counts[1] == 2 * (counts[1] - counts[0])


def test_relu_derivative_at_zero_is_zero():
    assert ReLUPrime(0) == 0
    f = sympy.lambdify(sympy.Symbol("z"), ReLUPrime(sympy.Symbol("z")), "numpy")
    assert float(f(0.0)) == 0.0


def test_relu_derivative_at_zero_follows_pytorch(torch):
    f = sympy.lambdify(sympy.Symbol("z"), ReLUPrime(sympy.Symbol("z")), "numpy")
    z = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    torch.relu(z).sum().backward()
    assert float(z.grad[0]) == float(f(0.0))


def test_evaluate_gives_numbers_and_arrays():
    net = bnsym.two_layer(activation="relu")
    values = {"x": 2.0, "w1": 1.0, "b1": 0.5, "w2": -3.0, "b2": 10.0, "dJ/dyhat": 1.5}
    assert net.gradient("w1").evaluate(values) == pytest.approx(1.5 * -3.0 * 2.0)
    mlp = bnsym.mlp([2, 2, 1], activation="identity", batch=2, loss="mse")
    numbers = {"x": [[1.0, 2.0], [3.0, -1.0]], "t": [0.5, -0.5], "W1": [[1, 0], [0, 1]], "b1": [0, 0],
               "W2": [[1.0, 1.0]], "b2": [0.0]}
    grad = mlp.gradient("W1").evaluate(numbers)
    assert grad.shape == (2, 2)
    # J = mean((x1 + x2 - t)^2): dJ/dW1_jk = mean(2 r_i x_ik)
    residual = [1 + 2 - 0.5, 3 - 1 + 0.5]
    expected_first_column = sum(2 * r * x for r, x in zip(residual, [1.0, 3.0], strict=True)) / 2
    assert grad[0, 0] == pytest.approx(expected_first_column)
