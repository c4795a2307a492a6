"""bnsym.hessian: the engine's second and third derivatives against sympy.hessian / sympy.diff of the flattened
forward (small sizes), against JAX over the engine's compiled loop, and against PyTorch autograd on a forward
written here by hand."""
from __future__ import annotations

import numpy as np
import pytest
import sympy
from tools import need_module

from bnsym import chain, two_layer
from bnsym.dynamics import symbolic_hessian
from bnsym.errors import NetworkSpecError, UnknownParameterError, ValuesError
from bnsym.hessian import (block_vs_full_scaling, compiled_directional, compiled_hessian, compiled_hvp, hessian,
                           hvp, third_directional)
from bnsym.vectorized import VectorizedNetwork

X = [0.5, -1.0, 2.0]
T = [1.0, 0.0, -0.5]
P = {"w1": 0.7, "b1": 0.1, "gamma1": 1.3, "beta1": -0.2, "w2": -0.9, "b2": 0.4}


def _net(activation: str = "sigmoid"):
    return two_layer(activation=activation, bn="pre", batch=3, loss="mse")


def _values():
    return {"x": X, "t": T, **P}


@pytest.mark.parametrize("activation", ["sigmoid", "identity"])
def test_hessian_matches_sympy_hessian_of_the_flattened_loss(activation):
    net = _net(activation)
    H = hessian(net).evaluate(_values())
    _, reference = symbolic_hessian(net)
    expected = reference(_values())
    assert H.shape == (6, 6)
    np.testing.assert_allclose(H, expected, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(H, H.T, atol=1e-12)


def test_hessian_closed_form_equals_sympy_hessian_exactly_on_a_chain():
    net = chain(3, loss="mse")
    H, _ = symbolic_hessian(net)
    assert sympy.simplify(hessian(net).closed_form - H) == sympy.zeros(3, 3)


def test_hvp_and_third_directional_match_sympy_diff_along_the_line():
    net = _net()
    direction = {"w1": 1.0, "gamma1": -0.5, "w2": 2.0, "b2": 0.25}
    variables = [net.parameters[n][0, 0] for n in net.parameters]
    v = [direction.get(n, 0.0) for n in net.parameters]
    t = sympy.Symbol("t", real=True)
    line = net.loss.xreplace({s: s + sympy.nsimplify(c) * t for s, c in zip(variables, v, strict=True)})
    numbers = {s: sympy.nsimplify(x) for s, x in zip(net.inputs, X, strict=True)}
    numbers.update({s: sympy.nsimplify(x) for s, x in zip(net.targets, T, strict=True)})
    numbers.update({net.parameters[n][0, 0]: sympy.nsimplify(P[n]) for n in P})
    for order in (1, 2, 3):
        exact = float(sympy.diff(line, t, order).subs(t, 0).xreplace(numbers).evalf(30))
        got = third_directional(net, direction, order=order).evaluate(_values())
        assert got == pytest.approx(exact, rel=1e-10, abs=1e-12)
    H = hessian(net).evaluate(_values())
    np.testing.assert_allclose(hvp(net, direction).evaluate(_values())[:, 0], H @ np.array(v), rtol=1e-10, atol=1e-12)


def test_compiled_routes_agree_with_the_symbolic_ones():
    need_module("jax", "pip install jax")
    net = _net()
    model = VectorizedNetwork.from_network(net)
    params = {n: np.array([[value]]) for n, value in P.items()}
    x, t = np.array(X).reshape(3, 1), np.array(T).reshape(3, 1)
    H = hessian(net).evaluate(_values())
    np.testing.assert_allclose(compiled_hessian(model, params, x, t), H, rtol=1e-10, atol=1e-12)
    v = np.array([1.0, 0.0, -0.5, 0.0, 2.0, 0.25])
    np.testing.assert_allclose(compiled_hvp(model, params, x, t, v), H @ v, rtol=1e-10, atol=1e-12)
    direction = dict(zip(P, v, strict=True))
    exact = third_directional(net, direction).evaluate(_values())
    assert compiled_directional(model, params, x, t, v) == pytest.approx(exact, rel=1e-10)


def test_hessian_matches_torch_autograd_on_a_hand_written_forward(torch):
    def loss(theta):
        w1, b1, g1, be1, w2, b2 = theta
        x, t = torch.tensor(X, dtype=torch.float64), torch.tensor(T, dtype=torch.float64)
        z = w1 * x + b1
        zhat = (z - z.mean()) / torch.sqrt(((z - z.mean()) ** 2).mean())
        yhat = torch.sigmoid(w2 * torch.sigmoid(g1 * zhat + be1) + b2)
        return ((yhat - t) ** 2).mean()

    theta = torch.tensor(list(P.values()), dtype=torch.float64)
    expected = torch.autograd.functional.hessian(loss, theta).numpy()
    np.testing.assert_allclose(hessian(_net()).evaluate(_values()), expected, rtol=1e-10, atol=1e-12)


def test_block_hessian_scales_as_one_over_c_squared_but_the_full_hessian_does_not():
    need_module("jax", "pip install jax")
    out = block_vs_full_scaling((0.5, 1.0, 3.0))
    assert np.ptp(out.block_products) <= 1e-8 * max(out.block_products)
    assert np.ptp(out.full_products) > 1e-2 * max(out.full_products)


def test_bad_requests_are_bnsym_errors():
    with pytest.raises(NetworkSpecError, match="loss"):
        hessian(chain(2))
    with pytest.raises(UnknownParameterError):
        hessian(chain(2, loss="mse"), ["w9"])
    with pytest.raises(ValuesError, match="not among the parameters"):
        hvp(chain(2, loss="mse"), {"w9": 1.0})
    with pytest.raises(ValuesError, match="order"):
        third_directional(chain(2, loss="mse"), {"w1": 1.0}, order=7)
    with pytest.raises(ValuesError, match="missing"):
        hessian(chain(2, loss="mse")).evaluate({"x": 1.0})


def test_the_weight_block_satisfies_the_theorems_h_w_equals_minus_gradient_and_one_over_c_squared():
    from bnsym import mlp

    net = mlp([2, 2, 1], bn="pre", batch=3, loss="mse", activation="sigmoid")
    rng = np.random.default_rng(4)
    values = {"x": rng.standard_normal((3, 2)), "t": rng.standard_normal((3, 1)),
              "W1": rng.standard_normal((2, 2)),
              "b1": rng.standard_normal((1, 2)), "gamma1": rng.uniform(0.5, 2, (1, 2)),
              "beta1": rng.standard_normal((1, 2)), "W2": rng.standard_normal((1, 2)),
              "b2": rng.standard_normal((1, 1))}
    block = hessian(net, ["W1"])
    H = block.evaluate(values)
    w = values["W1"].ravel()
    np.testing.assert_allclose(H @ w, -net.gradient("W1").evaluate(values).ravel(), rtol=1e-9, atol=1e-12)
    scaled = dict(values, W1=3.0 * values["W1"])
    np.testing.assert_allclose(block.evaluate(scaled), H / 9.0, rtol=1e-9, atol=1e-12)
    full, full_scaled = hessian(net).evaluate(values), hessian(net).evaluate(scaled)
    assert not np.allclose(full_scaled, full / 9.0, rtol=1e-3)   # the full Hessian has no such law


def test_symbolic_batch_hessian_at_m_3_equals_the_concrete_one():
    net = two_layer(activation="sigmoid", bn="pre", batch="m", loss="mse")
    H = hessian(net)
    assert H.value[1, :] == sympy.zeros(1, 6)  # ∂J/∂b1 ≡ 0 (kernel proof): its row vanishes for every m
    m = sympy.Symbol("m", integer=True, positive=True)
    x, t = sympy.IndexedBase("x", real=True), sympy.IndexedBase("t", real=True)
    numbers = {net.parameters[n][0, 0]: sympy.nsimplify(P[n]) for n in P}
    values = hessian(_net()).evaluate(_values())
    for a, b in [(0, 0), (0, 4), (2, 3), (4, 5), (5, 5)]:
        entry = H.value[a, b].xreplace({m: 3}).doit()
        entry = entry.xreplace({**{x[k + 1]: sympy.nsimplify(X[k]) for k in range(3)},
                                **{t[k + 1]: sympy.nsimplify(T[k]) for k in range(3)}, **numbers})
        assert float(entry.evalf(30)) == pytest.approx(values[a, b], rel=1e-10, abs=1e-12)
    with pytest.raises(NetworkSpecError, match="symbolic batch"):
        H.evaluate(_values())
