"""The per-sample normalization layers (LayerNorm, GroupNorm, InstanceNorm, RMSNorm): each route — per entry,
index form over a symbolic batch, NumPy kernel, PyTorch — against the formula, ``sympy.diff`` and torch autograd."""
import random

import numpy as np
import pytest
import sympy

from bnsym.errors import NetworkSpecError, ValuesError
from bnsym.layers import GroupNorm, InstanceNorm, LayerNorm, Linear, MSELoss, RMSNorm, entry_symbols
from bnsym.network import Network
from bnsym.spec import check_batch
from bnsym.vectorized import VectorizedNetwork

EPS = [0, sympy.Rational(1, 10)]

# (label, constructor(eps), features, column groups as lists of columns, centred)
KINDS = {
    "ln3": (lambda eps: LayerNorm("zhat1", features=3, eps=eps, statistic="1"), 3, [[0, 1, 2]], True),
    "ln2": (lambda eps: LayerNorm("zhat1", features=2, eps=eps, statistic="1"), 2, [[0, 1]], True),
    "gn-p1": (lambda eps: GroupNorm("zhat1", features=4, groups=2, eps=eps, statistic="1"), 4, [[0, 1], [2, 3]],
              True),
    "gn-p2": (lambda eps: GroupNorm("zhat1", features=4, groups=1, positions=2, eps=eps, statistic="1"), 4,
              [[0, 1, 2, 3]], True),
    "in-p2": (lambda eps: InstanceNorm("zhat1", channels=2, positions=2, eps=eps, statistic="1"), 4,
              [[0, 1], [2, 3]], True),
    "rms3": (lambda eps: RMSNorm("zhat1", features=3, eps=eps, statistic="1"), 3, [[0, 1, 2]], False),
    "rms2": (lambda eps: RMSNorm("zhat1", features=2, eps=eps, statistic="1"), 2, [[0, 1]], False),
}


def _formula(x: sympy.Matrix, groups, centre: bool, eps) -> sympy.Matrix:
    """The definition, written independently of the layers: per sample and group of columns."""
    out = sympy.zeros(*x.shape)
    for a in range(x.rows):
        for cols in groups:
            values = [x[a, c] for c in cols]
            mean = sum(values) / len(cols) if centre else 0
            scale = sympy.sqrt(sum((v - mean) ** 2 for v in values) / len(cols) + eps)
            for c in cols:
                out[a, c] = (x[a, c] - mean) / scale
    return out


def _rationals(rng: random.Random, n: int) -> list:
    """``n`` distinct nonzero rationals."""
    return [sympy.Rational(k, 7) for k in rng.sample([k for k in range(-60, 61) if k], n)]


def _close(a, b, digits: int = 25) -> bool:
    return abs(sympy.N(a - b, 40)) < sympy.Float(10) ** -digits


@pytest.mark.parametrize("eps", EPS)
@pytest.mark.parametrize("key", list(KINDS))
@pytest.mark.parametrize("m", [2, 3])
def test_per_entry_forward_equals_the_formula(key, eps, m):
    make, n, groups, centre = KINDS[key]
    layer = make(eps)
    x = entry_symbols("z", m, n)
    got, want = layer.forward(x), _formula(x, groups, centre, eps)
    rng = random.Random(f"{key}{m}{eps}")
    for _ in range(2):
        point = dict(zip(x, _rationals(rng, len(x)), strict=True))
        for a, b in zip(got, want, strict=True):
            assert _close(a.xreplace(point), b.xreplace(point))


def _network(norm, batch, n_in: int = 2):
    batch = check_batch(batch, False)
    layers = [Linear("z1", weight="W1", bias="b1", n_in=n_in, n_out=norm.features), norm,
              Linear("yhat", weight="W2", bias="b2", n_in=norm.features, n_out=1)]
    inputs = n_in if isinstance(batch, sympy.Symbol) else entry_symbols("x", batch, n_in)
    return Network(layers, inputs, batch=batch, loss="mse")


def _as_matrix(value) -> sympy.Matrix:
    return value if isinstance(value, sympy.MatrixBase) else sympy.Matrix([[value]])


@pytest.mark.parametrize("eps", EPS)
@pytest.mark.parametrize("key", ["ln3", "gn-p1", "in-p2", "rms2"])
def test_gradients_of_a_tiny_network_equal_sympy_diff_of_the_loss(key, eps):
    make, *_ = KINDS[key]
    net = _network(make(eps), 2)
    loss = net.explicit(sympy.Symbol("J", real=True))
    symbols = list(net.inputs) + list(net.targets) + [s for p in net.parameters.values() for s in p]
    rng = random.Random(key)
    point = dict(zip(symbols, _rationals(rng, len(symbols)), strict=True))
    gradients = net.gradients()
    for name, symbols_of in net.parameters.items():
        compact = _as_matrix(gradients[name].compact)
        assert compact.shape == symbols_of.shape
        for entry, symbol in zip(compact, symbols_of, strict=True):
            want = sympy.diff(loss, symbol).xreplace(point)
            assert _close(net.explicit(entry).xreplace(point), want), (name, symbol)


@pytest.mark.parametrize("key,m", [("ln3", 2), ("ln3", 3), ("ln2", 3), ("gn-p1", 2), ("gn-p2", 2), ("in-p2", 2),
                                   ("rms3", 2), ("rms2", 3)])
def test_index_form_over_a_symbolic_batch_written_out_equals_the_per_entry_route(key, m):
    make, *_ = KINDS[key]
    for eps in EPS:
        net = _network(make(eps), "m")
        per_entry = net.at(m).gradients()
        for name, derivation in net.gradients().items():
            difference = _as_matrix(derivation.written_out(m)) - _as_matrix(per_entry[name].compact)
            assert all(sympy.expand(e) == 0 for e in difference), (key, name)


@pytest.mark.parametrize("eps", [0.0, 0.1])
@pytest.mark.parametrize("key", list(KINDS))
def test_numpy_kernel_equals_torch_autograd_in_float64(torch, key, eps):
    make, n, *_ = KINDS[key]
    layer = make(eps)
    rng = np.random.default_rng(len(key))
    x, g = rng.standard_normal((3, n)), rng.standard_normal((3, n))
    y, saved = layer.numpy_forward(x, {})
    xbar, grads = layer.numpy_vjp(saved, g, {})
    tx = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    ty = layer.torch_forward(tx, {})
    (ty * torch.tensor(g)).sum().backward()
    assert grads == {}
    np.testing.assert_allclose(y, ty.detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(xbar, tx.grad.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("key", ["ln3", "gn-p2", "rms3"])
def test_vectorized_network_equals_torch_autograd(torch, key):
    make, n, *_ = KINDS[key]
    net = VectorizedNetwork.from_network(_network(make(sympy.Rational(1, 10)), 3))
    rng = np.random.default_rng(7)
    params = {name: rng.standard_normal(shape) for name, shape in net.shapes.items()}
    assert list(params) == ["W1", "b1", "W2", "b2"] and params["W1"].shape == (n, 2)
    x, t = rng.standard_normal((3, 2)), rng.standard_normal((3, 1))
    loss, grads = net.loss_and_gradients(params, x, t)
    tensors = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    out = torch.tensor(x)
    for layer in net.layers:
        out = layer.torch_forward(out, {**tensors, "t": torch.tensor(t)})
    out.backward()
    assert loss == pytest.approx(float(out.detach()), rel=1e-12)
    for name, tensor in tensors.items():
        np.testing.assert_allclose(grads[name], tensor.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_numpy_undefined_names_the_degenerate_sample_only_when_eps_is_zero():
    x = np.array([[1.0, 2.0, 3.0, 5.0], [2.0, 2.0, 4.0, 6.0]])
    ln = LayerNorm("zhat1", features=4)
    assert ln.numpy_undefined(x, ln.numpy_forward(x, {})[1]) is None
    gn = GroupNorm("zhat1", features=4, groups=2)
    with np.errstate(invalid="ignore"):
        reason = gn.numpy_undefined(x, gn.numpy_forward(x, {})[1])
    assert reason is not None and "sample 2 (group 1)" in reason and "ε = 0" in reason
    zero = np.array([[1.0, -1.0], [0.0, 0.0]])
    rms = RMSNorm("zhat1", features=2)
    with np.errstate(invalid="ignore"):
        reason = rms.numpy_undefined(zero, rms.numpy_forward(zero, {})[1])
    assert reason is not None and "sample 2" in reason and "ν = 0" in reason
    soft = RMSNorm("zhat1", features=2, eps=0.1)
    assert soft.numpy_undefined(zero, soft.numpy_forward(zero, {})[1]) is None
    net = VectorizedNetwork([LayerNorm("zhat1", features=2), MSELoss("J")], inputs=2)
    with pytest.raises(ValuesError, match="sample 1 is constant"), np.errstate(invalid="ignore"):
        net.loss_and_gradients({}, [[3.0, 3.0], [1.0, 2.0]], [[0.0, 0.0], [0.0, 0.0]])


@pytest.mark.parametrize("build,match", [
    (lambda: LayerNorm("zhat1", features=1), "at least 2 features"),
    (lambda: LayerNorm("zhat1", features=0, eps=0.1), "positive integer"),
    (lambda: LayerNorm("zhat1", features=True, eps=0.1), "positive integer"),
    (lambda: LayerNorm("zhat1", features=3, eps=-1), "eps must be >= 0"),
    (lambda: RMSNorm("zhat1", features=2.5), "positive integer"),
    (lambda: GroupNorm("zhat1", features=6, groups=4), "4 groups do not divide the 6 channels"),
    (lambda: GroupNorm("zhat1", features=6, groups=2, positions=4), "channels · positions"),
    (lambda: GroupNorm("zhat1", features=2, groups=2), "at least 2 features per group"),
    (lambda: GroupNorm("zhat1", features=4, groups=0), "groups must be a positive integer"),
    (lambda: InstanceNorm("zhat1", channels=3, positions=1, eps=0.1), "positions >= 2"),
    (lambda: InstanceNorm("zhat1", channels=0, positions=2), "channels must be a positive integer"),
])
def test_bad_arguments_are_refused_clearly(build, match):
    with pytest.raises(NetworkSpecError, match=match):
        build()


def test_kinds_and_names_follow_the_contract():
    layers = [LayerNorm("a", features=2), GroupNorm("b", features=4, groups=2), InstanceNorm("c", channels=2,
              positions=2), RMSNorm("d", features=2)]
    assert [layer.kind for layer in layers] == ["layer_norm", "group_norm", "instance_norm", "rms_norm"]
    assert [layer.latex_name for layer in layers] == [r"\mathrm{LN}", r"\mathrm{GN}", r"\mathrm{IN}",
                                                      r"\mathrm{RMSNorm}"]
    assert not any(layer.couples_batch for layer in layers)
    assert all(layer.at(3).batch == 3 and layer.batch is None for layer in layers)


def _per_sample(values, m: int) -> sympy.Matrix:
    return sympy.Matrix(m, 1, values)


@pytest.mark.parametrize("m,n", [(2, 3), (3, 2)])
def test_layer_norm_is_invariant_to_a_per_sample_affine_map_up_to_its_sign(m, n):
    rng = random.Random(m * n)
    z = sympy.Matrix(m, n, _rationals(rng, m * n))
    while any(len(set(z.row(a))) < 2 for a in range(m)):
        z = sympy.Matrix(m, n, _rationals(rng, m * n))
    a, b = _per_sample(_rationals(rng, m), m), _per_sample(_rationals(rng, m), m)
    ln = LayerNorm("zhat1", features=n)
    moved = sympy.Matrix(m, n, lambda i, j: a[i] * z[i, j] + b[i])
    want = sympy.Matrix(m, n, lambda i, j: sympy.sign(a[i]) * ln.forward(z)[i, j])
    assert all(_close(p, q) for p, q in zip(ln.forward(moved), want, strict=True))


@pytest.mark.parametrize("m,n", [(2, 3), (3, 2)])
def test_rms_norm_is_invariant_to_scaling_up_to_its_sign_but_not_to_a_shift(m, n):
    rng = random.Random(10 * m + n)
    z = sympy.Matrix(m, n, _rationals(rng, m * n))
    a = _per_sample(_rationals(rng, m), m)
    rms = RMSNorm("y1", features=n)
    scaled = sympy.Matrix(m, n, lambda i, j: a[i] * z[i, j])
    want = sympy.Matrix(m, n, lambda i, j: sympy.sign(a[i]) * rms.forward(z)[i, j])
    assert all(_close(p, q) for p, q in zip(rms.forward(scaled), want, strict=True))
    shifted = z + sympy.ones(m, n)
    assert not all(_close(p, q) for p, q in zip(rms.forward(shifted), rms.forward(z), strict=True))


@pytest.mark.parametrize("key", ["ln3", "gn-p1", "rms2"])
def test_local_jacobian_equals_sympy_diff_of_the_forward(key):
    make, n, *_ = KINDS[key]
    layer = make(sympy.Rational(1, 10))
    x = entry_symbols("z", 2, n)
    y = layer.forward(x)
    rng = random.Random(key)
    point = dict(zip(x, _rationals(rng, len(x)), strict=True))
    statistics = {}
    for symbol, value in layer.statistics(x):
        statistics[symbol] = value.xreplace(statistics)
    closed = layer.jacobian(x, y).xreplace(statistics)  # in the outputs and the statistics
    want = y.reshape(len(y), 1).jacobian(x.reshape(len(x), 1))
    assert all(_close(p.xreplace(point), q.xreplace(point)) for p, q in zip(closed, want, strict=True))


@pytest.mark.parametrize("key", ["ln3", "gn-p2", "rms3"])
def test_per_entry_numeric_route_equals_the_vectorized_one(key):
    make, *_ = KINDS[key]
    net = _network(make(0), 3)
    vectorized = VectorizedNetwork.from_network(net)
    rng = np.random.default_rng(3)
    params = {name: rng.standard_normal(shape) for name, shape in vectorized.shapes.items()}
    x, t = rng.standard_normal((3, 2)), rng.standard_normal((3, 1))
    _, grads = vectorized.loss_and_gradients(params, x, t)
    per_entry = net.gradients().evaluate({**params, "x": x, "t": t})
    for name, value in grads.items():
        np.testing.assert_allclose(np.asarray(per_entry[name]).reshape(value.shape), value, rtol=1e-9, atol=1e-12)
