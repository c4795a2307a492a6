"""``orders=`` in check_normalization and check_batchnorm: the higher orders run through check_higher_order."""
import pytest

from bnsym.errors import KitUsageError
from bnsym.testing.orders import split_orders

from tools import need_module


def test_split_orders_refuses_bad_values():
    assert split_orders((1,)) == (True, ())
    assert split_orders([3, 1, 2]) == (True, (2, 3))
    for bad in ((), (1, 1), (5,), ("2",), (True,), "12", None):
        with pytest.raises(KitUsageError):
            split_orders(bad)


def test_orders_add_every_torch_mode_to_the_report():
    torch = need_module("torch")
    from bnsym.testing import check_normalization
    from bnsym.testing.higher_order import TORCH_MODES

    # torch 2.13's GroupNorm and RMSNorm agree in every mode (its LayerNorm and BatchNorm do not at order 2:
    # see benchmarks/repro_torch_higher_order.py)
    module = torch.nn.GroupNorm(2, 4, dtype=torch.float64)
    report = check_normalization("group", module=module, max_batch=2, orders=(1, 2))
    assert "forward" in report.passed
    assert {f"order 2 ({mode})" for mode in TORCH_MODES} <= set(report.passed)
    only = check_normalization("rms", module=torch.nn.RMSNorm(4, eps=1e-5, dtype=torch.float64), orders=(2,))
    assert only.passed and all(p.startswith("order 2") for p in only.passed)


def test_a_wrong_second_derivative_fails_naming_order_and_mode():
    torch = need_module("torch")
    from bnsym.testing import HigherOrderMismatch, check_batchnorm

    class DetachedSigma(torch.nn.BatchNorm1d):
        """A BN whose first derivative is right only where σ's dependence on x does not matter to order 1: the
        output is right, its backward through σ is cut, so already order 2 of x̂ along x differs."""

        def forward(self, x):
            mu = x.mean(0, keepdim=True)
            sigma = ((x - mu) ** 2).mean(0, keepdim=True).add(self.eps).sqrt().detach()
            return (x - mu) / sigma * self.weight + self.bias

    with pytest.raises((HigherOrderMismatch, AssertionError)) as info:
        check_batchnorm(module=DetachedSigma(3, dtype=torch.float64), orders=(2,))
    assert "order" in str(info.value)


def test_orders_need_a_module_or_routines():
    need_module("torch")
    from bnsym.testing import check_normalization

    with pytest.raises(KitUsageError, match="routines"):
        check_normalization("layer", forward=lambda *a: None, backward=lambda *a: None, orders=(2,),
                            features=4)


def _composite_instance_norm(torch):
    class CompositeInstanceNorm(torch.nn.InstanceNorm1d):
        """Instance norm from mean/var/sqrt ops, whose every AD mode is right to every order."""

        def forward(self, x):
            mu = x.mean(-1, keepdim=True)
            y = (x - mu) / torch.sqrt(((x - mu) ** 2).mean(-1, keepdim=True) + self.eps)
            return y * self.weight[:, None] + self.bias[:, None]

    return CompositeInstanceNorm(2, affine=True, dtype=torch.float64)


def _composite_weight_norm(torch):
    from torch.nn.utils import parametrize
    from torch.nn.utils.parametrizations import _WeightNorm

    class CompositeWeightNorm(_WeightNorm):
        def forward(self, weight_g, weight_v):
            return weight_g * weight_v / weight_v.norm(dim=1, keepdim=True)

    linear = torch.nn.Linear(4, 3, dtype=torch.float64)
    parametrize.register_parametrization(linear, "weight", CompositeWeightNorm(0), unsafe=True)
    return linear


@pytest.mark.parametrize("kind,build", [("instance", _composite_instance_norm), ("weight", _composite_weight_norm)])
def test_instance_and_weight_norm_run_end_to_end_with_orders(kind, build):
    torch = need_module("torch")
    from bnsym.testing import check_normalization
    from bnsym.testing.higher_order import TORCH_MODES

    report = check_normalization(kind, module=build(torch), max_batch=2, orders=(1, 2, 3))
    assert "forward" in report.passed
    assert {f"order {k} ({mode})" for k in (2, 3) for mode in TORCH_MODES} <= set(report.passed)


def test_torch_instance_norm_fails_its_higher_orders_through_check_normalization():
    torch = need_module("torch")
    from bnsym.testing import HigherOrderMismatch, check_normalization

    module = torch.nn.InstanceNorm1d(2, affine=True, dtype=torch.float64)
    try:  # torch 2.13's forward-mode second derivative of instance norm is wrong (tests/test_kit_higher_order.py)
        report = check_normalization("instance", module=module, max_batch=2, orders=(1, 2))
    except HigherOrderMismatch as failure:
        assert failure.failures and all(f.order == 2 for f in failure.failures)
        assert "order 2, mode" in str(failure)
    else:
        assert "order 2 (jvp)" in report.passed
