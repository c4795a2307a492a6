"""check_normalization: every kind on torch's own modules (in their own dtype, never changed), the catalogue of
known mistakes (each caught, its cause named), an honest diagnosis, and misuse as KitUsageError."""
from __future__ import annotations

import copy

import numpy as np
import pytest
from hypothesis import Phase
from hypothesis import settings as Settings

from bnsym.errors import KitUsageError
from tests.tools import need_module

torch = need_module("torch")
testing = need_module("bnsym.testing")
from bnsym.testing import (  # noqa: E402
    NormalizationCheckError,
    check_batchnorm,
    check_normalization,
    implementations_of,
    mistakes,
)
from bnsym.testing import norm_properties, normalization  # noqa: E402
from torch.nn.utils.parametrizations import weight_norm  # noqa: E402

QUICK = Settings(max_examples=4, derandomize=True, database=None, deadline=None,
                 phases=(Phase.explicit, Phase.generate, Phase.shrink))

MODULES = {
    "BatchNorm1d": ("batch", lambda: torch.nn.BatchNorm1d(3), {}),
    "BatchNorm1d-NCL": ("batch", lambda: torch.nn.BatchNorm1d(2), {"layout": "NCL"}),
    "BatchNorm2d": ("batch", lambda: torch.nn.BatchNorm2d(3), {}),
    "BatchNorm3d": ("batch", lambda: torch.nn.BatchNorm3d(2, momentum=None), {}),
    "LayerNorm": ("layer", lambda: torch.nn.LayerNorm((2, 3)), {}),
    "LayerNorm-nobias": ("layer", lambda: torch.nn.LayerNorm(3, bias=False), {}),
    "RMSNorm": ("rms", lambda: torch.nn.RMSNorm(4), {}),
    "GroupNorm": ("group", lambda: torch.nn.GroupNorm(2, 4), {}),
    "InstanceNorm1d": ("instance", lambda: torch.nn.InstanceNorm1d(3, affine=True), {}),
    "InstanceNorm2d": ("instance", lambda: torch.nn.InstanceNorm2d(2), {}),
    "BatchNorm2d-eval": ("batch", lambda: torch.nn.BatchNorm2d(3).eval(), {}),
    "weight_norm": ("weight", lambda: weight_norm(torch.nn.Linear(3, 2)), {}),
}


@pytest.mark.parametrize("name", list(MODULES))
def test_torch_modules_of_every_kind_pass_every_property_that_applies(name):
    kind, make, kwargs = MODULES[name]
    report = check_normalization(kind, module=make(), settings=QUICK, **kwargs)
    expected = {"weight": ["forward", "backward", "null_space", "scale_invariance"]}.get(kind)
    if name.endswith("eval"):
        expected = ["forward", "backward", "no_scale_invariance"]
    elif kind == "batch":
        expected = ["forward", "backward", "null_space", "scale_invariance", "running_statistics"]
    elif expected is None:
        expected = ["forward", "backward", "null_space", "scale_invariance"]
    assert report.passed == expected
    assert all(report.examples[p] > 0 for p in expected)


@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16"])
@pytest.mark.parametrize("name", ["BatchNorm2d", "LayerNorm", "GroupNorm", "RMSNorm"])
def test_modules_run_in_their_own_dtype(name, dtype):
    kind, make, kwargs = MODULES[name]
    module = make().to(getattr(torch, dtype))
    report = check_normalization(kind, module=module, settings=QUICK, **kwargs)
    assert dtype in report.implementation and "forward" in report.passed


class Wrapped(torch.nn.Module):
    """A correct (N, C) batch norm built on BatchNorm2d: (N, C) -> (N, C, 1, 1) and back."""

    def __init__(self, c):
        super().__init__()
        self.bn = torch.nn.BatchNorm2d(c)

    def forward(self, x):
        return self.bn(x[:, :, None, None])[:, :, 0, 0]


def _state(module):
    return ({k: v.clone() for k, v in module.state_dict().items()}, module.training,
            [t.dtype for t in module.state_dict().values()], [getattr(m, "eps", None) for m in module.modules()])


def _same(before, after):
    return (before[0].keys() == after[0].keys() and all(torch.equal(before[0][k], after[0][k]) for k in before[0])
            and before[1:] == after[1:])


@pytest.mark.parametrize("how", ["check_normalization", "check_batchnorm"])
def test_a_correct_wrapper_around_batchnorm2d_passes_and_is_left_unchanged(how):
    module = Wrapped(3)
    with torch.no_grad():
        module.bn.running_mean.fill_(0.5)
    before = _state(module)
    if how == "check_normalization":
        report = check_normalization("batch", module=module, layout="NC", settings=QUICK)
    else:
        report = check_batchnorm(module=module, settings=QUICK)
    assert "scale_invariance" in report.passed and "running_statistics" in report.passed
    assert _same(before, _state(module))


@pytest.mark.parametrize("module", [torch.nn.BatchNorm2d(2), torch.nn.BatchNorm3d(2)], ids=lambda m: type(m).__name__)
def test_check_batchnorm_takes_batchnorm2d_and_3d_in_their_own_layout(module):
    assert "running_statistics" in check_batchnorm(module=module, settings=QUICK).passed


@pytest.mark.parametrize("name", ["BatchNorm2d", "BatchNorm2d-eval", "LayerNorm", "RMSNorm"])
def test_the_check_changes_no_attribute_of_the_module(name):
    kind, make, kwargs = MODULES[name]
    module = make().to(torch.float32)
    before = _state(module)
    check_normalization(kind, module=module, settings=QUICK, **kwargs)
    if kind == "batch":  # the other mode runs on the kit's copy
        check_normalization(kind, module=module, training=not module.training, settings=QUICK, **kwargs)
    assert _same(before, _state(module))


GEOMETRY = {"batch": dict(features=3, layout="NCHW"), "layer": dict(normalized_shape=4),
            "rms": dict(normalized_shape=4), "group": dict(features=4, groups=2, layout="NCL"),
            "instance": dict(features=3, layout="NCL")}
CATALOGUE = [(kind, name) for kind in GEOMETRY
             for name in implementations_of(kind, groups=GEOMETRY[kind].get("groups", 1)) if name != "reference"]


@pytest.mark.parametrize(("kind", "name"), CATALOGUE, ids=[f"{k}-{n}" for k, n in CATALOGUE])
def test_each_known_mistake_is_caught_and_named(kind, name):
    geometry = GEOMETRY[kind]
    impl = implementations_of(kind, groups=geometry.get("groups", 1))[name]
    with pytest.raises(NormalizationCheckError) as info:
        check_normalization(kind, forward=impl.forward, backward=impl.backward, settings=QUICK, **geometry)
    named = {n for failure in info.value.failures for n, _ in failure.causes}
    assert name in named, str(info.value)
    assert mistakes(kind)[name].cause in str(info.value)


@pytest.mark.parametrize("kind", list(GEOMETRY))
def test_the_reference_of_every_kind_passes(kind):
    geometry = GEOMETRY[kind]
    impl = implementations_of(kind, groups=geometry.get("groups", 1))["reference"]
    assert check_normalization(kind, forward=impl.forward, backward=impl.backward, settings=QUICK, **geometry).passed


def test_channels_last_functions_are_checked_in_their_layout():
    ref = implementations_of("batch")["reference"]

    def nhwc(x, gamma, beta, eps):
        return np.moveaxis(ref.forward(np.moveaxis(x, -1, 1), gamma, beta, eps), 1, -1)

    def nhwc_backward(dy, x, gamma, beta, eps):
        dx, dg, db = ref.backward(np.moveaxis(dy, -1, 1), np.moveaxis(x, -1, 1), gamma, beta, eps)
        return np.moveaxis(dx, 1, -1), dg, db

    assert check_normalization("batch", forward=nhwc, backward=nhwc_backward, features=3, layout="NHWC",
                               settings=QUICK).passed
    with pytest.raises(KitUsageError, match="pass the layout"):  # the wrong layout is misuse, said as such
        check_normalization("batch", forward=nhwc, backward=nhwc_backward, features=3, layout="NCHW",
                            settings=QUICK)


class EvalWithBatchStatistics(torch.nn.BatchNorm1d):
    """Eval mode that (wrongly) normalizes with the batch statistics."""

    def forward(self, x):
        return torch.nn.functional.batch_norm(x, None, None, self.weight, self.bias, True, 0.0, self.eps)


def test_eval_mode_with_batch_statistics_is_caught_as_scale_invariant():
    with pytest.raises(NormalizationCheckError) as info:
        check_normalization("batch", module=EvalWithBatchStatistics(3).eval(), settings=QUICK)
    failed = {f.property for f in info.value.failures}
    assert {"forward", "no_scale_invariance"} <= failed
    assert "eval_batch_statistics" in {n for f in info.value.failures for n, _ in f.causes}


class PerArrayMean(torch.nn.Module):
    """A batch norm that subtracts one mean for the whole array (not one per feature): no catalogue entry."""

    def __init__(self, c):
        super().__init__()
        self.weight, self.bias = torch.nn.Parameter(torch.ones(c)), torch.nn.Parameter(torch.zeros(c))
        self.eps = 1e-5

    def forward(self, x):
        c = x - x.mean()
        return self.weight * c / torch.sqrt(x.var(0, unbiased=False) + self.eps) + self.bias


def test_a_mistake_outside_the_catalogue_is_not_given_a_wrong_name():
    module = PerArrayMean(3).double()
    with pytest.raises(NormalizationCheckError) as info:
        check_normalization("batch", module=module, settings=QUICK)
    text = str(info.value)
    assert "ε ignored" not in text and "mean term was dropped" not in text
    assert "no known mistake explains" in text
    with pytest.raises(AssertionError) as old:
        check_batchnorm(module=module, settings=QUICK)
    assert "ε ignored" not in str(old.value) and "mean term was dropped" not in str(old.value)


MISUSE = {
    "torch-module-channels-last": (dict(kind="batch", module=torch.nn.BatchNorm2d(3), layout="NHWC"), "channels-first"),
    "kind-mismatch": (dict(kind="batch", module=torch.nn.LayerNorm(3)), "pass kind='layer'"),
    "unknown-kind": (dict(kind="batchnorm", module=torch.nn.BatchNorm1d(3)), "unknown kind"),
    "orders": (dict(kind="batch", module=torch.nn.BatchNorm1d(3), orders=(1, 5)), "orders"),
    "no-eps": (dict(kind="batch", module=torch.nn.Linear(3, 3), features=3), "pass eps="),
    "eps-mismatch": (dict(kind="layer", module=torch.nn.LayerNorm(3), eps=0.1), "module uses eps"),
    "dtype-of-module": (dict(kind="layer", module=torch.nn.LayerNorm(3), dtype="float16"), "never converts"),
    "weight-plain-linear": (dict(kind="weight", module=torch.nn.Linear(3, 2)), "weight_norm"),
    "two-norms": (dict(kind="batch", module=torch.nn.Sequential(torch.nn.BatchNorm1d(2), torch.nn.BatchNorm1d(2))),
                  "2 normalization modules"),
    "layer-without-shape": (dict(kind="layer", forward=lambda x, g, b, e: x, backward=lambda *a: a),
                            "normalized_shape"),
    "instance-without-space": (dict(kind="instance", module=torch.nn.InstanceNorm1d(2), layout="NC"), "layout"),
}


@pytest.mark.parametrize("name", list(MISUSE))
def test_misuse_is_a_kit_usage_error_saying_what_to_pass(name):
    kwargs, match = MISUSE[name]
    kind = kwargs.pop("kind")
    with pytest.raises(KitUsageError, match=match):
        check_normalization(kind, settings=QUICK, **kwargs)


def test_the_kit_frames_that_raise_are_hidden_from_pytest_tracebacks():
    for fn in (norm_properties._fail, norm_properties.prop_forward, norm_properties.run_property,
               normalization.check_normalization):
        assert "__tracebackhide__" in fn.__code__.co_varnames, fn


def test_a_copy_keeps_the_check_independent_of_the_module_mode():
    module = torch.nn.BatchNorm1d(2).eval()
    before = copy.deepcopy(module.state_dict())
    report = check_normalization("batch", module=module, training=True, settings=QUICK)
    assert "running_statistics" in report.passed and not module.training
    assert all(torch.equal(before[k], module.state_dict()[k]) for k in before)


def test_pytest_shows_the_failure_message_not_the_kits_source(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    (tmp_path / "test_user.py").write_text(
        "from bnsym.testing import check_normalization, implementations_of\n"
        "def test_mine():\n"
        "    bad = implementations_of('layer')['wrong_axis']\n"
        "    check_normalization('layer', forward=bad.forward, backward=bad.backward, normalized_shape=3)\n")
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
                          capture_output=True, text=True, cwd=tmp_path, timeout=300,
                          env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"})
    out = done.stdout
    assert done.returncode == 1 and "likely cause: LayerNorm statistics over the wrong axis" in out
    assert "def check_normalization" not in out and "def prop_forward" not in out and "_run(" not in out
