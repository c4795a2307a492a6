"""Theorem groups 5–7 cross-checked on the core networks (bnsym.two_layer / bnsym.chain) with Hypothesis draws."""
import numpy as np
import pytest
from hypothesis import assume, given, settings, strategies as st

import bnsym
from bnsym.theorems import prove

M = 4


@pytest.fixture(scope="module")
def net():
    return bnsym.two_layer("sigmoid", bn="pre", batch=M, inputs=2, loss="mse")


@pytest.fixture(scope="module")
def grads(net):
    return {name: net.gradient(name) for name in ("w1", "b1")}


fl = st.floats(-2, 2, allow_nan=False)


@st.composite
def values(draw):
    x = np.array(draw(st.lists(st.lists(fl, min_size=2, max_size=2), min_size=M, max_size=M)))
    w1 = np.array([[draw(st.floats(0.3, 2)), draw(st.floats(-2, -0.3))]])
    z = x @ w1.ravel()
    assume(z.std() > 0.05 * max(1.0, np.abs(z).max()))
    return {"x": x, "w1": w1, "b1": draw(fl), "gamma1": draw(st.floats(0.5, 2)), "beta1": draw(fl),
            "w2": draw(st.floats(0.5, 2)), "b2": draw(fl),
            "t": np.array(draw(st.lists(fl, min_size=M, max_size=M))).reshape(M, 1)}


def test_the_catalogue_states_what_is_checked_here():
    for name in ("weight_orthogonality", "weight_norm_growth", "gradient_scaling", "bias_gradient_zero",
                 "goodfellow_bn", "hessian_block_scaling", "hessian_times_weight"):
        assert prove(name).holds is True
    assert prove("goodfellow_expansion").holds is None  # general L is not proved (checked for L = 1…6)


@settings(max_examples=8)
@given(v=values(), c=st.floats(0.2, 5), eta=st.floats(0.01, 1))
def test_weights_feeding_bn(grads, v, c, eta):
    g = np.asarray(grads["w1"].evaluate(v), dtype=float).reshape(1, 2)
    w = v["w1"]
    scale = max(1.0, np.linalg.norm(w) * np.linalg.norm(g))
    assert abs(np.sum(w * g)) < 1e-9 * scale  # ⟨W, ∇J⟩ = 0
    new = w - eta * g
    assert np.sum(new * new) == pytest.approx(np.sum(w * w) + eta**2 * np.sum(g * g), rel=1e-10, abs=1e-12)
    gc = np.asarray(grads["w1"].evaluate({**v, "w1": c * w}), dtype=float).reshape(1, 2)
    np.testing.assert_allclose(gc, g / c, rtol=1e-7, atol=1e-10 * max(1.0, np.abs(g).max()))


@settings(max_examples=8)
@given(v=values())
def test_bias_before_bn_has_zero_gradient(grads, v):
    assert abs(float(grads["b1"].evaluate(v))) < 1e-9


def test_chain_with_bn_freezes_lower_weights():
    net = bnsym.chain(3, bn=True, batch=3, loss="mse")
    v = {"x": np.array([[0.5], [-1.0], [2.0]]), "w1": 1.3, "w2": -0.7, "w3": 0.9, "gamma1": 1.0, "beta1": 0.0,
         "gamma2": 1.2, "beta2": 0.1, "t": np.array([[0.2], [0.1], [-0.3]])}
    assert abs(float(net.gradient("w1").evaluate(v))) < 1e-9
    assert abs(float(net.gradient("w2").evaluate(v))) < 1e-9
    assert abs(float(net.gradient("w3").evaluate(v))) > 1e-3
