"""One check factory for every layer kind (MyGrad-style): each kind's backward against sympy.diff of its own
forward, its index form written out against its per-entry form, its NumPy kernel and its PyTorch forward against
the symbolic forms, all at small concrete batches; BN's VJP against its Jacobian through the proof kernel."""
import numpy as np
import pytest
import sympy
from sympy import Matrix

from bnsym.layers import (ACTIVATIONS, Activation, GroupNorm, InstanceNorm, LayerNorm, Linear, MSELoss, Normalize, Port,
                          RMSNorm, ScaleShift, entry_symbols, expand_entries, index_symbol)

M = 3
KINDS = {
    "linear-2-3": lambda: Linear("y", weight="W", bias="b", n_in=2, n_out=3),
    "linear-1-1": lambda: Linear("y", weight="w", bias="b", n_in=1, n_out=1),
    "linear-3-1-nobias": lambda: Linear("y", weight="W", n_in=3, n_out=1),
    **{f"activation-{name}": (lambda name=name: Activation("y", name)) for name in ACTIVATIONS},
    "normalize-1": lambda: Normalize("yhat1", samples=M, features=1),
    "normalize-2-eps": lambda: Normalize("yhat1", samples=M, features=2, eps=sympy.Rational(1, 10)),
    "scale-shift-2": lambda: ScaleShift("y", gamma="gamma1", beta="beta1", features=2),
    "layer-norm-3": lambda: LayerNorm("yhat1", features=3, statistic="1"),
    "group-norm-4-2-eps": lambda: GroupNorm("yhat1", features=4, groups=2, eps=sympy.Rational(1, 10), statistic="1"),
    "instance-norm-2x2": lambda: InstanceNorm("yhat1", channels=2, positions=2, statistic="1"),
    "rms-norm-2-eps": lambda: RMSNorm("yhat1", features=2, eps=sympy.Rational(1, 10), statistic="1"),
}
WIDTH_IN = {"linear-2-3": 2, "linear-1-1": 1, "linear-3-1-nobias": 3, "normalize-2-eps": 2, "scale-shift-2": 2,
            "layer-norm-3": 3, "group-norm-4-2-eps": 4, "instance-norm-2x2": 4, "rms-norm-2-eps": 2}


def _setup(key):
    layer = KINDS[key]()
    n = WIDTH_IN.get(key, 1)
    X = entry_symbols("x", M, n)
    Y = layer.forward(X)
    return layer, n, X, Y


def _numbers(layer, X, rng):
    values = {s: float(v) for s, v in zip(X, rng.standard_normal(len(X)), strict=True)}
    params = {}
    for name, symbols in layer.parameters.items():
        array = rng.standard_normal(symbols.shape) + (2.0 if name.startswith("gamma") else 0.0)
        params[name] = array
        values.update({s: float(v) for s, v in zip(symbols, array.flat, strict=True)})
    return values, params


def _statistics(layer, X):
    resolved = {}
    for symbol, value in layer.statistics(X):
        resolved[symbol] = value.xreplace(resolved)
    return resolved


@pytest.mark.parametrize("key", sorted(KINDS))
def test_vjp_is_sympy_diff_of_the_forward(key):
    layer, n, X, Y = _setup(key)
    G = entry_symbols("g", M, Y.cols)
    pairing = sum(g * y for g, y in zip(G, Y, strict=True))
    names = entry_symbols(layer.name, M, Y.cols)
    vjp = layer.vjp(X, names, G)
    rng = np.random.default_rng(1)
    values, _ = _numbers(layer, X, rng)
    values.update({g: float(v) for g, v in zip(G, rng.standard_normal(len(G)), strict=True)})
    named = {**_statistics(layer, X), **dict(zip(names, layer.definition(X), strict=True))}
    for x, got in zip(X, vjp, strict=True):
        expected = sympy.diff(pairing, x).xreplace(values)
        value = got.xreplace(named).xreplace(_statistics(layer, X)).xreplace(values)
        assert abs(complex(sympy.N(expected - value, 30))) < 1e-12


@pytest.mark.parametrize("key", sorted(KINDS))
def test_index_form_written_out_is_the_per_entry_form(key):
    layer, n, X, Y = _setup(key)
    m = sympy.Symbol("m", integer=True, positive=True)
    i, r = index_symbol("i"), index_symbol("r")
    px, py = Port("x", n, m), Port(layer.name, Y.cols, m)
    definitions = layer.index_forward(px, py, i, r)
    stats = layer.at(M).statistic_entries()  # the per-entry symbols of the statistics the index form names
    params = {base: Matrix(layer.parameters[name]).reshape(1, len(layer.parameters[name]))
              if len(size) == 1 or 1 in size else layer.parameters[name]
              for name, (base, size) in layer.index_parameters().items() if isinstance(base, sympy.IndexedBase)}
    entries = {px.base: X, **stats, **params}
    definition = layer.definition(X)
    for a in range(M):
        for b in range(Y.cols):
            got = expand_entries(definitions[-1].value, M, entries, {i: a + 1, r: b + 1})
            assert sympy.expand(got - definition[a, b]) == 0


@pytest.mark.parametrize("key", sorted(KINDS))
def test_numpy_kernel_matches_the_symbolic_forms(key):
    layer, n, X, Y = _setup(key)
    rng = np.random.default_rng(2)
    values, params = _numbers(layer, X, rng)
    x = np.array([[values[s] for s in row] for row in X.tolist()])
    y, saved = layer.numpy_forward(x, params)
    expected = np.array(Y.xreplace(values).evalf(), dtype=float)
    assert np.allclose(y, expected, rtol=1e-12, atol=1e-12)
    g = rng.standard_normal(y.shape)
    gx, grads = layer.numpy_vjp(saved, g, params)
    G = entry_symbols("g", M, Y.cols)
    pairing = sum(gs * ys for gs, ys in zip(G, Y, strict=True))
    gv = {s: float(v) for s, v in zip(G, g.flat, strict=True)}
    dx = np.array([[float(sympy.diff(pairing, s).xreplace(values).xreplace(gv)) for s in row] for row in X.tolist()])
    assert np.allclose(gx, dx, rtol=1e-10, atol=1e-10)
    for name, symbols in layer.parameters.items():
        dp = np.array([float(sympy.diff(pairing, s).xreplace(values).xreplace(gv)) for s in symbols])
        assert np.allclose(np.ravel(grads[name]), dp, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("key", sorted(KINDS))
def test_torch_forward_matches_the_numpy_kernel(key, torch):
    layer, n, X, Y = _setup(key)
    rng = np.random.default_rng(3)
    _, params = _numbers(layer, X, rng)
    x = rng.standard_normal((M, n))
    expected, _ = layer.numpy_forward(x, params)
    got = layer.torch_forward(torch.tensor(x), {k: torch.tensor(v) for k, v in params.items()})
    assert np.allclose(got.numpy(), expected, rtol=1e-12, atol=1e-12)


def test_mse_loss_forms():
    loss = MSELoss("J", targets=entry_symbols("t", M, 2))
    Yh = entry_symbols("yhat", M, 2)
    rng = np.random.default_rng(4)
    y, t = rng.standard_normal((M, 2)), rng.standard_normal((M, 2))
    value, saved = loss.numpy_forward(y, {"t": t})
    subs = {**dict(zip(Yh, y.flat, strict=True)), **dict(zip(loss.targets, t.flat, strict=True))}
    assert np.isclose(value, float(loss.forward(Yh)[0, 0].xreplace(subs)))
    g, _ = loss.numpy_vjp(saved, 1.0, {"t": t})
    assert np.allclose(g, 2 * (y - t) / M)


def test_bn_vjp_is_the_transposed_jacobian_for_every_batch_size():
    """Σ_i ḡ_i ∂x̂_i/∂z_k equals the layer's VJP entry k, checked by the kernel for symbolic m."""
    from bnsym.kernel import core as K

    m = sympy.Symbol("m", integer=True, positive=True)
    i, k, r = index_symbol("i"), index_symbol("k"), index_symbol("r")
    layer = Normalize("yhat1", samples=m, features=1)
    y, g = Port("yhat1", 1, m), Port("g", 1, m)
    transposed = sympy.Sum(g.entry(i) * layer.index_jacobian(y, i, k, r), (i, 1, m))
    fact = K.equal(K.Context(m=m, free=(k,)), transposed, layer.index_vjp(Port("z1", 1, m), y, g, k, r),
                   "δ-sifting, sums over the batch")
    assert fact.kind == "eq"
    with pytest.raises(K.StepError):  # and the kernel is not fooled by a wrong VJP (the 1/m term dropped)
        K.equal(K.Context(m=m, free=(k,)), transposed, (g.entry(k) - y.entry(k) * sympy.Sum(
            g.entry(i) * y.entry(i), (i, 1, m)) / m) / layer.sigma_of(r), "wrong")


@pytest.mark.parametrize("eps", [0.0, 1e-3])
def test_the_kits_independent_reference_agrees_with_the_bn_layers(eps):
    """The kit's NumPy reference shares no code with the engine on purpose (an oracle); this ties the two."""
    from bnsym.testing import reference

    rng = np.random.default_rng(5)
    x, dy = rng.standard_normal((6, 3)), rng.standard_normal((6, 3))
    gamma, beta = rng.standard_normal(3) + 2.0, rng.standard_normal(3)
    normalize = Normalize("yhat1", samples=6, features=3, eps=sympy.Rational(str(eps)))
    scale = ScaleShift("y1", gamma="gamma1", beta="beta1", features=3)
    params = {"gamma1": gamma.reshape(1, 3), "beta1": beta.reshape(1, 3)}
    xhat, saved_n = normalize.numpy_forward(x, {})
    y, saved_s = scale.numpy_forward(xhat, params)
    assert np.allclose(y, reference.forward(x, gamma, beta, eps), rtol=1e-12, atol=1e-12)
    g, grads = scale.numpy_vjp(saved_s, dy, params)
    dx, _ = normalize.numpy_vjp(saved_n, g, {})
    ref_dx, ref_dgamma, ref_dbeta = reference.backward(dy, x, gamma, beta, eps)
    assert np.allclose(dx, ref_dx, rtol=1e-10, atol=1e-12)
    assert np.allclose(grads["gamma1"].ravel(), np.ravel(ref_dgamma)) and np.allclose(grads["beta1"].ravel(),
                                                                                       np.ravel(ref_dbeta))
