"""``check_batchnorm(module=...)`` runs a module in its own dtype and never changes it (no eps rewriting, no
conversion, not even on a copy): float32 (torch's default), float64, float16 and bfloat16 modules pass, their
state, eps, dtype and training flag are the same afterwards, and a float32 module only ever sees float32 inputs."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import settings as Settings

from bnsym.errors import KitUsageError
from tests.tools import need_module

torch = need_module("torch")
testing = need_module("bnsym.testing")
from bnsym.testing import PROPERTIES, BatchNormCheckError, adapt, check_batchnorm  # noqa: E402
from tests.buggy_bn import UnbiasedBN  # noqa: E402

QUICK = Settings(max_examples=4, derandomize=True, database=None, deadline=None)


def _snapshot(module) -> tuple:
    state = {k: v.detach().clone() for k, v in module.state_dict().items()}
    return state, module.eps, module.weight.dtype if module.weight is not None else None, module.training


def _unchanged(module, before: tuple) -> None:
    state, eps, dtype, training = before
    after = module.state_dict()
    assert set(after) == set(state)
    assert all(torch.equal(after[k], v) and after[k].dtype == v.dtype for k, v in state.items())
    assert module.eps == eps and module.training == training
    assert dtype is None or module.weight.dtype == dtype


class Float32Only(torch.nn.BatchNorm1d):
    """A BatchNorm1d that fails loudly when it is run in any dtype but float32 (or converted)."""

    def forward(self, x):
        assert x.dtype == torch.float32, f"run in {x.dtype}"
        assert self.weight.dtype == torch.float32 and self.running_mean.dtype == torch.float32
        return super().forward(x)


@pytest.mark.parametrize("dtype", [None, torch.float64, torch.float16, torch.bfloat16],
                         ids=["float32-default", "float64", "float16", "bfloat16"])
def test_a_module_passes_in_its_own_dtype_and_is_unchanged(dtype):
    module = torch.nn.BatchNorm1d(3) if dtype is None else torch.nn.BatchNorm1d(3, dtype=dtype)
    before = _snapshot(module)
    report = check_batchnorm(module=module, settings=None if dtype is None else QUICK)
    assert set(report.passed) == set(PROPERTIES)
    assert ("float32" if dtype is None else str(dtype).removeprefix("torch.")) in report.implementation
    _unchanged(module, before)


def test_a_module_in_eval_mode_is_checked_in_training_mode_and_stays_in_eval_mode():
    module = torch.nn.BatchNorm1d(2, eps=1e-3, momentum=0.3).eval()
    before = _snapshot(module)
    assert set(check_batchnorm(module=module, settings=QUICK).passed) == set(PROPERTIES)
    _unchanged(module, before)


def test_a_float32_module_is_never_run_in_float64():
    module = Float32Only(3, eps=1e-3)
    before = _snapshot(module)
    report = check_batchnorm(module=module, settings=QUICK)
    assert set(report.passed) == set(PROPERTIES)  # the module's asserts would have failed every property
    _unchanged(module, before)


def test_the_adapter_reads_eps_and_dtype_and_never_sets_them():
    module = Float32Only(2, eps=0.25)
    impl = adapt(module=module)
    assert impl.eps == 0.25 and impl.dtype == np.float32 and not impl.can_set_eps
    x = np.array([[0.0, 1.0], [2.0, -1.0], [4.0, 0.5]])
    y = impl.forward(x, np.ones(2), np.zeros(2))
    expected = (x - x.mean(0)) / np.sqrt(x.var(0) + 0.25)
    np.testing.assert_allclose(y, expected, rtol=1e-6)
    with pytest.raises(KitUsageError, match="its own eps"):
        impl.forward(x, np.ones(2), np.zeros(2), 0.5)
    assert module.eps == 0.25


@pytest.mark.parametrize("kwargs, words", [
    (dict(module=torch.nn.BatchNorm1d(2), dtype=np.float64), "never converts"),
    (dict(module=torch.nn.BatchNorm1d(2, dtype=torch.float16), dtype=np.float32), "never converts"),
    (dict(module=torch.nn.BatchNorm1d(2, dtype=torch.bfloat16), momentum_convention="keras"), "momentum_convention"),
], ids=["float32-as-float64", "float16-as-float32", "bfloat16-keras"])
def test_a_dtype_or_option_the_module_does_not_have_is_misuse(kwargs, words):
    with pytest.raises(KitUsageError, match=words):
        check_batchnorm(settings=QUICK, **kwargs)


def test_a_hand_written_buggy_module_still_fails_in_float32():
    module = UnbiasedBN(2)
    before = {k: v.detach().clone() for k, v in module.state_dict().items()}
    with pytest.raises(BatchNormCheckError) as info:
        check_batchnorm(module=module, settings=QUICK)
    assert "forward" in {f.property for f in info.value.failures}
    assert all(torch.equal(module.state_dict()[k], v) for k, v in before.items())
