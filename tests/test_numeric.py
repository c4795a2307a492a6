"""bnsym.numeric: compiled closed forms and per-layer kernels, against sympy.diff and PyTorch autograd."""
from __future__ import annotations

import numpy as np
import pytest
import sympy
from hypothesis import given
from hypothesis import strategies as st

from bnsym import chain, mlp, two_layer
from bnsym.errors import NetworkSpecError, ValuesError
from bnsym.layers import Normalize, ScaleShift, flat
from bnsym.numeric import (
    BatchSum,
    MLPEngine,
    activation_rule,
    batchnorm_rule,
    compile_network,
    init_mlp,
    linear_rule,
    mse_rule,
)

torch = pytest.importorskip("torch")


def _random_values(model, batch, inputs, rng):
    params = {n: rng.uniform(0.3, 1.5, s) * rng.choice([-1, 1], s) for n, s in model.shapes.items()}
    for n in params:
        if n.startswith("gamma"):
            params[n] = rng.uniform(0.5, 2.0, model.shapes[n])
    x = rng.standard_normal((batch or 1, inputs))
    t = rng.standard_normal((batch or 1, model.network.targets.shape[1]))
    return params, x, t


def _autograd(network, params, x, t):
    """PyTorch autograd of the network's explicit loss expression (independent of bnsym's derivation)."""
    from bnsym.numeric import _torch_printer

    names = list(network.parameters)
    args = [list(flat(network.inputs)), list(flat(network.targets))] + [list(flat(network.parameters[n])) for n in names]
    f = sympy.lambdify(args, network.loss, modules="torch", printer=_torch_printer(), cse=True)
    tensors = {n: torch.tensor(np.asarray(params[n], float).ravel(), dtype=torch.float64, requires_grad=True)
               for n in names}
    loss = f(list(torch.tensor(x.ravel())), list(torch.tensor(t.ravel())), *[list(tensors[n]) for n in names])
    loss.backward()
    grads = {}
    for n in names:  # a parameter absent from the explicit loss (a bias before BN) has no grad: it is 0
        grad = tensors[n].grad
        grads[n] = (np.zeros(network.parameters[n].shape) if grad is None
                    else grad.numpy().reshape(network.parameters[n].shape))
    return float(loss.detach()), grads


NETWORKS = [
    ("chain5", lambda: chain(5, loss="mse"), None, 1),
    ("chain3-bn", lambda: chain(3, bn=True, batch=4, loss="mse"), 4, 1),
    ("two-layer", lambda: two_layer(activation="sigmoid", batch=3, loss="mse"), 3, 1),
    ("two-layer-bn-pre", lambda: two_layer(bn="pre", batch=4, inputs=2, eps=sympy.Rational(1, 100), loss="mse"), 4, 2),
    ("two-layer-bn-post", lambda: two_layer(activation="tanh", bn="post", batch=3, loss="mse"), 3, 1),
    ("mlp-bn", lambda: mlp([2, 3, 2], activation="tanh", bn="pre", batch=3, loss="mse"), 3, 2),
]


@pytest.mark.parametrize("name,build,batch,inputs", NETWORKS, ids=[n[0] for n in NETWORKS])
def test_compiled_closed_forms_match_pytorch_autograd(name, build, batch, inputs):
    net = build()
    model = compile_network(net)
    rng = np.random.default_rng(7)
    params, x, t = _random_values(model, batch, inputs, rng)
    loss, grads = model.loss_and_gradients(params, x, t)
    ref_loss, ref_grads = _autograd(net, params, x, t)
    assert loss == pytest.approx(ref_loss, rel=1e-12)
    for n in grads:
        np.testing.assert_allclose(grads[n], ref_grads[n], rtol=1e-9, atol=1e-12)


def test_torch_backend_equals_numpy_backend():
    net = two_layer(bn="pre", batch=3, inputs=2, loss="mse")
    rng = np.random.default_rng(1)
    numpy_model, torch_model = compile_network(net), compile_network(net, backend="torch")
    params, x, t = _random_values(numpy_model, 3, 2, rng)
    loss, grads = numpy_model.loss_and_gradients(params, x, t)
    tloss, tgrads = torch_model.loss_and_gradients(params, x, t)
    assert tloss == pytest.approx(loss, rel=1e-12)
    for n in grads:
        np.testing.assert_allclose(tgrads[n].numpy(), grads[n], rtol=1e-12, atol=1e-14)


def test_compile_errors():
    with pytest.raises(NetworkSpecError, match="loss"):
        compile_network(chain(2))
    with pytest.raises(NetworkSpecError, match="backend"):
        compile_network(chain(2, loss="mse"), backend="jax")
    model = compile_network(chain(2, loss="mse"))
    with pytest.raises(ValuesError, match="w2"):
        model.loss_and_gradients({"w1": 1.0}, [[1.0]], [[0.0]])
    with pytest.raises(ValuesError, match="shape"):
        model.loss_and_gradients({"w1": 1.0, "w2": [1.0, 2.0]}, [[1.0]], [[0.0]])


# -- the per-layer rules, against sympy.diff on concrete sizes -------------------------------------------
def _expand_batch_sums(expr, rows: dict, m: int):
    """Replace array-valued symbols by sample ``i`` values and BatchSum(f) by the explicit sum over samples."""

    def at(e, i):
        e = e.replace(lambda a: isinstance(a, BatchSum),
                      lambda a: sympy.Add(*[at(a.args[0], k) for k in range(m)]))
        return e.xreplace({s: vals[i] for s, vals in rows.items()})

    return at


def test_linear_rule_vjps_equal_sympy_diff_on_explicit_matrices():
    """The matrix-calculus VJPs, made explicit at m, n, k = 3, 2, 2, equal diff of the explicit pairing tr(GᵀZ)."""
    rule = linear_rule()
    sizes = dict(zip(sympy.symbols("m n k", integer=True, positive=True), (3, 2, 2)))
    entries = {}

    def explicit(name, rows, cols):
        mat = sympy.Matrix(rows, cols, lambda i, j: sympy.Symbol(f"{name}{i}{j}", real=True))
        entries.update({sympy.MatrixSymbol(name, rows, cols)[i, j]: mat[i, j] for i in range(rows) for j in range(cols)})
        return mat

    A, W, b, G = explicit("A", 3, 2), explicit("W", 2, 2), explicit("b", 1, 2), explicit("G", 3, 2)
    Z = A * W.T + sympy.ones(3, 1) * b
    pairing = sum(G[i, j] * Z[i, j] for i in range(3) for j in range(2))
    for name, target in (("A", A), ("W", W), ("b", b)):
        derived = rule.vjp[name].subs(sizes).as_explicit().xreplace(entries)
        reference = target.applyfunc(lambda s: sympy.diff(pairing, s))
        assert derived.shape == target.shape
        assert sympy.expand(derived - reference) == sympy.zeros(*target.shape)
        assert reference != sympy.zeros(*target.shape)


@pytest.mark.parametrize("activation", ["relu", "sigmoid", "tanh", "identity"])
def test_activation_kernel_matches_autograd(activation):
    kern = activation_rule(activation).kernels
    z = np.random.default_rng(0).standard_normal((5, 3))
    g = np.random.default_rng(1).standard_normal((5, 3))
    zt = torch.tensor(z, requires_grad=True)
    fn = {"relu": torch.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh, "identity": lambda v: v * 1}[activation]
    out = fn(zt)
    out.backward(torch.tensor(g))
    np.testing.assert_allclose(kern["forward"](z)[0], out.detach().numpy(), rtol=1e-14)
    np.testing.assert_allclose(kern["vjp"](g, z)[0], zt.grad.numpy(), rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("eps", [sympy.Integer(0), sympy.Rational(1, 10)])
def test_batchnorm_rule_equals_sympy_diff_of_the_expanded_forward(eps):
    """m = 3: the derived backward vs diff of Σ_k g_k y_k built from the core's Normalize/ScaleShift layers."""
    m = 3
    rule = batchnorm_rule()
    S = rule.symbols
    z = sympy.symbols("z1:4", real=True)
    g = sympy.symbols("g1:4", real=True)
    norm = Normalize("zhat1", samples=m, features=1, eps=eps)
    scale = ScaleShift("ztilde1", gamma="gamma1", beta="beta1", features=1)
    y = scale.forward(norm.forward(sympy.Matrix(z)))
    gamma, beta = scale.parameters["gamma1"][0], scale.parameters["beta1"][0]
    pairing = sum(g[k] * y[k, 0] for k in range(m))
    mu = sum(z) / m
    var = sum((v - mu) ** 2 for v in z) / m
    point = {z[0]: sympy.Rational(3, 2), z[1]: sympy.Rational(-1, 3), z[2]: sympy.Rational(7, 5),
             g[0]: sympy.Rational(2, 3), g[1]: sympy.Rational(-5, 4), g[2]: sympy.Rational(1, 7),
             gamma: sympy.Rational(9, 7), beta: sympy.Rational(1, 3)}
    at = _expand_batch_sums(None, {S["z"]: z, S["g"]: g}, m)
    common = {S["mu"]: mu, S["v"]: var, S["gamma"]: gamma, S["epsilon"]: eps, S["m"]: m}
    for i in range(m):
        derived = at(rule.vjp["z"], i).xreplace(common)
        reference = sympy.diff(pairing, z[i])
        difference = (derived - reference).xreplace(point)
        assert abs(sympy.N(difference, 50)) < sympy.Float("1e-40")
        assert abs(sympy.N(reference.xreplace(point), 50)) > 1e-3  # a non-trivial value was compared
    derived_gamma = at(rule.vjp["gamma"], 0).xreplace(common)
    assert abs(sympy.N((derived_gamma - sympy.diff(pairing, gamma)).xreplace(point), 50)) < 1e-40


@given(m=st.integers(2, 12), n=st.integers(1, 4), seed=st.integers(0, 2**16), eps=st.sampled_from([0.0, 1e-3, 0.5]))
def test_batchnorm_kernel_matches_compact_form_and_torch(m, n, seed, eps):
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((m, n)) * rng.uniform(0.5, 3) + rng.uniform(-2, 2)
    g = rng.standard_normal((m, n))
    gamma, beta = rng.uniform(0.5, 2.0, (1, n)), rng.standard_normal((1, n))
    kern = batchnorm_rule().kernels
    y, mu, v = kern["forward"](z, gamma, beta, eps, m)
    dz, dgamma, dbeta = kern["vjp"](g, z, mu, v, gamma, eps, m)
    s = np.sqrt(v + eps)
    xhat = (z - mu) / s
    # the compact form for eps = 0; for eps > 0 the x̂-term carries (z − μ)²/(σ² + ε)
    compact = gamma / (m * s) * (m * g - g.sum(0) - (z - mu) / s * (g * (z - mu) / s).sum(0))
    np.testing.assert_allclose(dz, compact, rtol=1e-9, atol=1e-9 * np.abs(g).max() * gamma.max() / s.min())
    zt = torch.tensor(z, requires_grad=True)
    gt, bt = torch.tensor(gamma[0], requires_grad=True), torch.tensor(beta[0], requires_grad=True)
    if eps > 0:
        out = torch.nn.functional.batch_norm(zt, None, None, gt, bt, training=True, eps=eps)
    else:  # PyTorch refuses eps = 0: autograd of the formula instead
        mean = zt.mean(0)
        out = gt * (zt - mean) / torch.sqrt(((zt - mean) ** 2).mean(0)) + bt
    out.backward(torch.tensor(g))
    np.testing.assert_allclose(y, out.detach().numpy(), rtol=1e-9, atol=1e-12)
    scale = np.abs(zt.grad.numpy()).max() + 1e-12
    np.testing.assert_allclose(dz, zt.grad.numpy(), rtol=1e-7, atol=1e-9 * scale + 1e-12)
    np.testing.assert_allclose(dgamma[0], gt.grad.numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(dbeta[0], bt.grad.numpy(), rtol=1e-12, atol=1e-12)
    assert xhat.shape == z.shape


def test_mse_rule_is_the_derivative_of_its_forward():
    rule = mse_rule()
    yhat, t, m = rule.arguments["vjp"]
    assert sympy.simplify(rule.vjp["yhat"] - sympy.diff(rule.forward["J"], yhat)) == 0
    assert rule.vjp["yhat"].xreplace({yhat: 3, t: 1, m: 2}) == 2  # 2(ŷ − t)/m, a non-zero value


def test_engine_equals_the_networks_own_closed_forms():
    """The kernel engine and compile_network(mlp(...)) agree: same network, two routes from the symbolic layer."""
    widths = [2, 3, 3, 1]
    net = mlp(widths, bn="pre", batch=4, eps=0, loss="mse")
    model = compile_network(net)
    engine = MLPEngine(widths, bn=True, eps=0.0)
    params = init_mlp(widths, bn=True, seed=1)
    params["gamma1"] = params["gamma1"] * 1.3
    params["beta2"] = params["beta2"] + 0.2
    params["b1"] = params["b1"] + 0.1
    rng = np.random.default_rng(0)
    x, t = rng.standard_normal((4, 2)), rng.standard_normal((4, 1))
    loss, grads = model.loss_and_gradients(params, x, t)
    eloss, egrads = engine.loss_and_gradients(params, x, t)
    assert eloss == pytest.approx(loss, rel=1e-12)
    assert set(egrads) == set(grads)
    for n in grads:
        np.testing.assert_allclose(egrads[n], grads[n], rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize("bn", [False, True])
def test_engine_matches_pytorch_autograd(bn):
    widths = [2, 8, 8, 8, 1]
    engine = MLPEngine(widths, bn=bn, eps=1e-5)
    params = init_mlp(widths, bn=bn, seed=3)
    rng = np.random.default_rng(5)
    x, t = rng.standard_normal((32, 2)), rng.standard_normal((32, 1))
    loss, grads = engine.loss_and_gradients(params, x, t)
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


def test_engine_rejects_bad_specs():
    with pytest.raises(NetworkSpecError):
        MLPEngine([2])
    with pytest.raises(NetworkSpecError):
        MLPEngine([2, 3, 1], bn=True, eps=-1.0)
    with pytest.raises(NetworkSpecError, match="activation"):
        MLPEngine([2, 3, 1], activation="swish")
