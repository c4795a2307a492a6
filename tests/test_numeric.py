"""bnsym.numeric: a network's compiled closed forms, against PyTorch autograd and the vectorized route; init_mlp."""
from __future__ import annotations

import numpy as np
import pytest
import sympy

from bnsym import chain, mlp, two_layer
from bnsym.errors import NetworkSpecError, ValuesError
from bnsym.layers import flat
from bnsym.numeric import compile_network, flatten, init_mlp, unflatten
from bnsym.vectorized import reference_mlp

import networks


def _random_values(model, batch, inputs, rng):
    params = {n: rng.uniform(0.3, 1.5, s) * rng.choice([-1, 1], s) for n, s in model.shapes.items()}
    for n in params:
        if n.startswith("gamma"):
            params[n] = rng.uniform(0.5, 2.0, model.shapes[n])
    x = rng.standard_normal((batch or 1, inputs))
    t = rng.standard_normal((batch or 1, model.network.targets.shape[1]))
    return params, x, t


def _autograd(torch, network, params, x, t):
    """PyTorch autograd of the network's explicit loss expression (independent of bnsym's derivation)."""
    from bnsym.compiled import _torch_printer

    names = list(network.parameters)
    args = [list(flat(network.inputs)), list(flat(network.targets))]
    args += [list(flat(network.parameters[n])) for n in names]
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




@pytest.mark.parametrize("name", networks.names("autograd"))
def test_compiled_closed_forms_match_pytorch_autograd(name, torch):
    net = networks.build(name)
    model = compile_network(net)
    rng = np.random.default_rng(7)
    params, x, t = _random_values(model, net.batch, net.input_width, rng)
    loss, grads = model.loss_and_gradients(params, x, t)
    ref_loss, ref_grads = _autograd(torch, net, params, x, t)
    assert loss == pytest.approx(ref_loss, rel=1e-12)
    for n in grads:
        np.testing.assert_allclose(grads[n], ref_grads[n], rtol=1e-9, atol=1e-12)


def test_torch_backend_equals_numpy_backend(torch):
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


# -- the two numeric routes agree; the reference MLP's initialization ----------------------------------------
@pytest.mark.parametrize("bn", ["pre", "post"])
def test_compiled_closed_forms_equal_the_vectorized_route(bn):
    """compile_network(mlp(...)) and the layers' kernels: the same network, two routes from the symbolic layers."""
    widths = [2, 3, 3, 1]
    net = mlp(widths, bn=bn, batch=4, eps=0, loss="mse")
    model = compile_network(net)
    route = reference_mlp(widths, bn=bn, eps=0.0)
    params = init_mlp(widths, bn=True, seed=1)
    params["gamma1"] = params["gamma1"] * 1.3
    params["beta2"] = params["beta2"] + 0.2
    params["b1"] = params["b1"] + 0.1
    rng = np.random.default_rng(0)
    x, t = rng.standard_normal((4, 2)), rng.standard_normal((4, 1))
    loss, grads = model.loss_and_gradients(params, x, t)
    vloss, vgrads = route.loss_and_gradients(params, x, t)
    assert vloss == pytest.approx(loss, rel=1e-12)
    assert list(vgrads) == list(grads) == route.parameter_names()
    for n in grads:
        np.testing.assert_allclose(vgrads[n], grads[n], rtol=1e-8, atol=1e-12)


def test_init_mlp_is_seeded_and_shaped_like_the_networks_parameters():
    widths = [3, 5, 4, 2]
    params = init_mlp(widths, bn=True, seed=4, scale=0.5)
    route = reference_mlp(widths, bn="pre")
    assert list(params) == route.parameter_names()
    assert {n: v.shape for n, v in params.items()} == route.shapes
    again = init_mlp(widths, bn=True, seed=4, scale=0.5)
    assert all(np.array_equal(params[n], again[n]) for n in params)
    assert not np.array_equal(params["W1"], init_mlp(widths, bn=True, seed=5, scale=0.5)["W1"])
    assert np.all(params["gamma1"] == 1.0) and np.all(params["b2"] == 0.0)
    assert set(init_mlp(widths, bn=False)) == {"W1", "b1", "W2", "b2", "W3", "b3"}
    vector = flatten(params)
    assert vector.size == sum(v.size for v in params.values())
    back = unflatten(vector, params)
    assert all(np.array_equal(back[n], params[n]) for n in params)
