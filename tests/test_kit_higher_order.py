"""bnsym.testing.higher_order: correct implementations pass in every mode; a wrong second derivative fails naming
the order and the mode; the exact reference agrees with an independent route (mpmath's numerical derivatives at
high precision); misuse is a KitUsageError."""
from __future__ import annotations

import pytest

from bnsym.errors import KitUsageError
from bnsym.testing.higher_order import (TORCH_MODES, HigherOrderMismatch, _Layout, _point, check_higher_order,
                                        exact_directional)

EPS = 1e-5


def _composite(torch, kind, training=True, groups=2):
    def forward(x, w, b, *stats):
        if kind == "batch" and not training:
            mean, var = stats
        elif kind == "group":
            n, c = x.shape
            g = x.reshape(n, groups, c // groups)
            mu = g.mean(-1, keepdim=True)
            y = ((g - mu) / torch.sqrt(((g - mu) ** 2).mean(-1, keepdim=True) + EPS)).reshape(n, c)
            return y * w + b
        else:
            dim = 0 if kind == "batch" else -1
            mean = x.mean(dim, keepdim=True) if kind != "rms" else 0.0
            var = ((x - mean) ** 2).mean(dim, keepdim=True)
        y = (x - mean) / torch.sqrt(var + EPS)
        return y * w if b is None else y * w + b

    return forward


@pytest.mark.parametrize("kind,training,features", [("batch", True, 3), ("batch", False, 3), ("layer", True, 3),
                                                    ("rms", True, 3), ("group", True, 4)])
def test_a_correct_composite_implementation_passes_every_mode(torch, kind, training, features):
    report = check_higher_order(kind, forward=_composite(torch, kind, training), training=training, eps=EPS,
                                features=features)
    modes = {mode for _, mode in report.passed}
    assert modes == set(TORCH_MODES)
    assert {order for order, _ in report.passed} == {1, 2, 3}


def test_a_backward_that_detaches_sigma_fails_at_order_two_naming_the_mode(torch):
    class DetachedLayerNorm(torch.autograd.Function):
        """Forward and first-order backward right; the backward uses σ and x̂ as constants, so its own
        derivative (the second derivative of the layer) misses their dependence on x."""

        @staticmethod
        def forward(ctx, x):
            mu = x.mean(-1, keepdim=True)
            sigma = torch.sqrt(((x - mu) ** 2).mean(-1, keepdim=True) + EPS)
            xhat = (x - mu) / sigma
            ctx.save_for_backward(xhat.detach(), sigma.detach())
            return xhat

        @staticmethod
        def backward(ctx, g):
            xhat, sigma = ctx.saved_tensors
            return (g - g.mean(-1, keepdim=True) - xhat * (g * xhat).mean(-1, keepdim=True)) / sigma

    def forward(x, w, b):
        return DetachedLayerNorm.apply(x) * w + b

    assert check_higher_order("layer", forward=forward, orders=(1,), modes=("autograd",), features=3).passed
    with pytest.raises(HigherOrderMismatch) as failure:
        check_higher_order("layer", forward=forward, orders=(1, 2), modes=("autograd",), features=3)
    assert "order 2, mode 'autograd'" in str(failure.value)
    assert [(f.order, f.mode) for f in failure.value.failures] == [(2, "autograd")]
    assert isinstance(failure.value, AssertionError)


def test_numpy_style_routines_are_checked_by_name():
    import mpmath  # a SymPy dependency

    def routine(order, point, direction, cotangent):  # mpmath's numerical derivative of the layer norm
        def phi(s):
            total = mpmath.mpf(0)
            for i in range(point["x"].shape[0]):
                row = [mpmath.mpf(point["x"][i, j]) + s * mpmath.mpf(direction["x"][i, j]) for j in range(3)]
                mu = sum(row) / 3
                sigma = mpmath.sqrt(sum((a - mu) ** 2 for a in row) / 3 + mpmath.mpf(EPS))
                for j in range(3):
                    w = mpmath.mpf(point["weight"][j]) + s * mpmath.mpf(direction["weight"][j])
                    b = mpmath.mpf(point["bias"][j]) + s * mpmath.mpf(direction["bias"][j])
                    total += mpmath.mpf(cotangent[i, j]) * ((row[j] - mu) / sigma * w + b)
            return total

        with mpmath.workdps(40):
            return float(mpmath.diff(phi, 0, order))

    report = check_higher_order("layer", routines={"mpmath": routine, "wrong": lambda *a: 0.5}, modes=("mpmath",),
                                features=3, batch=2)
    assert report.passed == [(1, "mpmath"), (2, "mpmath"), (3, "mpmath")]
    with pytest.raises(HigherOrderMismatch, match="mode 'wrong'"):
        check_higher_order("layer", routines={"wrong": lambda *a: 0.5}, features=3, batch=2, orders=(2,))


def test_the_exact_reference_agrees_with_mpmath_in_eval_mode_batch_norm():
    import mpmath  # a SymPy dependency
    layout = _Layout("batch", (4, 2), EPS, 1, True, True)
    point, direction, u = _point(layout, 3, False)
    exact = exact_directional(layout, point, direction, u, (1, 2, 3), False)

    def phi(s):
        total = mpmath.mpf(0)
        for i in range(4):
            for j in range(2):
                x = mpmath.mpf(point["x"][i, j]) + s * mpmath.mpf(direction["x"][i, j])
                w = mpmath.mpf(point["weight"][j]) + s * mpmath.mpf(direction["weight"][j])
                b = mpmath.mpf(point["bias"][j]) + s * mpmath.mpf(direction["bias"][j])
                y = (x - mpmath.mpf(point["running_mean"][j])) / mpmath.sqrt(mpmath.mpf(point["running_var"][j]) + EPS)
                total += mpmath.mpf(u[i, j]) * (y * w + b)
        return total

    with mpmath.workdps(40):
        for k in (1, 2, 3):
            assert exact[k] == pytest.approx(float(mpmath.diff(phi, 0, k)), rel=1e-12, abs=1e-14)


def test_misuse_is_a_kit_usage_error(torch):
    with pytest.raises(KitUsageError, match="kind"):
        check_higher_order("spectral", module=torch.nn.LayerNorm(3))
    with pytest.raises(KitUsageError, match="exactly one"):
        check_higher_order("layer", module=torch.nn.LayerNorm(3), forward=lambda *a: a[0])
    with pytest.raises(KitUsageError, match="LayerNorm"):
        check_higher_order("layer", module=torch.nn.BatchNorm1d(3))
    with pytest.raises(KitUsageError, match="orders"):
        check_higher_order("layer", module=torch.nn.LayerNorm(3), orders=(0, 2))
    with pytest.raises(KitUsageError, match="mode"):
        check_higher_order("layer", module=torch.nn.LayerNorm(3), modes=("finite_differences",))
    with pytest.raises(KitUsageError, match="groups"):
        check_higher_order("group", forward=lambda *a: a[0], groups=3, features=4)


# -- instance and weight normalization ----------------------------------------------------------------------
def _instance(torch):
    def forward(x, w, b):
        mu = x.mean(-1, keepdim=True)
        y = (x - mu) / torch.sqrt(((x - mu) ** 2).mean(-1, keepdim=True) + EPS)
        return y * w[:, None] + b[:, None]

    return forward


def _weight_norm(torch):
    def forward(x, v, g, b):
        return x @ (g * v / torch.sqrt((v**2).sum(1, keepdim=True))).T + b

    return forward


@pytest.mark.parametrize("kind,build", [("instance", _instance), ("weight", _weight_norm)])
def test_a_correct_composite_instance_or_weight_norm_passes_every_mode(torch, kind, build):
    report = check_higher_order(kind, forward=build(torch), eps=EPS, features=4)
    assert {mode for _, mode in report.passed} == set(TORCH_MODES)
    assert {order for order, _ in report.passed} == {1, 2, 3}


def _finite_difference(torch, kind, module, order, h=1e-4):
    """An independent route to order ``k``: central differences (float64) of torch's autograd order ``k − 1``
    (the second difference of order 1 for ``k = 3``), which the check finds right at order 1."""
    from bnsym.testing.higher_order import _module_layout, _torch_runner

    layout, net = _module_layout(torch, module, kind)
    point, direction, u = _point(layout, 0, True)
    run = _torch_runner(torch, layout, net, None, True)

    def first(s):
        moved = {n: point[n] + s * direction[n] if n in direction else point[n] for n in point}
        return run("autograd", 1, moved, direction, u)

    if order == 2:
        return (first(h) - first(-h)) / (2 * h)
    h = 1e-3
    return (first(h) - 2 * first(0.0) + first(-h)) / h**2


def _torch_modules(torch):
    from torch.nn.utils.parametrizations import weight_norm

    return {"instance": torch.nn.InstanceNorm1d(2, affine=True), "weight": weight_norm(torch.nn.Linear(4, 3))}


@pytest.mark.parametrize("kind", ["instance", "weight"])
def test_torch_instance_and_weight_norm_every_disagreement_is_confirmed_by_finite_differences(torch, kind):
    """Which torch modes pass is recorded, not assumed: order 1 must pass in autograd; every failing (order, mode)
    must be a raise or a value that finite differences of the first order also contradict."""
    module = _torch_modules(torch)[kind]
    assert (1, "autograd") in check_higher_order(kind, module=module, orders=(1,), modes=("autograd",)).passed
    for order in (2, 3):
        try:
            check_higher_order(kind, module=module, orders=(order,))
        except HigherOrderMismatch as failure:
            fd = _finite_difference(torch, kind, module, order)
            for f in failure.failures:
                assert f"order {order}, mode {f.mode!r}" in str(failure)
                assert abs(fd - f.expected) <= 1e-4 * max(1.0, abs(f.expected))
                assert f.got is None or abs(fd - f.got) > 100 * abs(fd - f.expected)


def test_a_weight_norm_backward_that_detaches_the_norm_fails_at_order_two(torch):
    class DetachedNorm(torch.autograd.Function):
        """w = g v/‖v‖ with the right first-order backward, but ‖v‖ and v̂ saved as constants."""

        @staticmethod
        def forward(ctx, v, g):
            norm = v.norm(dim=1, keepdim=True)
            ctx.save_for_backward((v / norm).detach(), norm.detach(), g.detach())
            return g * v / norm

        @staticmethod
        def backward(ctx, grad):
            vhat, norm, g = ctx.saved_tensors
            dg = (grad * vhat).sum(1, keepdim=True)
            return (g / norm) * (grad - dg * vhat), dg

    def forward(x, v, g, b):
        return x @ DetachedNorm.apply(v, g).T + b

    assert check_higher_order("weight", forward=forward, orders=(1,), modes=("autograd",)).passed
    with pytest.raises(HigherOrderMismatch) as failure:
        check_higher_order("weight", forward=forward, orders=(1, 2), modes=("autograd",))
    assert "order 2, mode 'autograd'" in str(failure.value)
    assert [(f.order, f.mode) for f in failure.value.failures] == [(2, "autograd")]


def test_instance_and_weight_misuse_is_a_kit_usage_error(torch):
    from torch.nn.utils.parametrizations import weight_norm

    with pytest.raises(KitUsageError, match="weight_norm"):
        check_higher_order("weight", module=torch.nn.Linear(3, 2))
    with pytest.raises(KitUsageError, match="dim=0"):
        check_higher_order("weight", module=weight_norm(torch.nn.Linear(3, 2), dim=1))
    with pytest.raises(KitUsageError, match="InstanceNorm1d"):
        check_higher_order("instance", module=torch.nn.LayerNorm(3))
    with pytest.raises(KitUsageError, match="running statistics"):
        check_higher_order("instance", module=torch.nn.InstanceNorm1d(2, track_running_stats=True), training=False)
    with pytest.raises(KitUsageError, match="outputs"):
        check_higher_order("weight", forward=_weight_norm(torch), outputs=0)
