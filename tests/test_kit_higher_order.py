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
