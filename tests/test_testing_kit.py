"""Tests of the property-test kit ``bnsym.testing`` (issue 7).

1. The kit's NumPy closed forms against independent routes: exact SymPy differentiation of
   ``bnsym.functions.batch_normalize`` at small m, and PyTorch autograd (``F.batch_norm(training=True)``, float64).
2. ``check_batchnorm`` passes on ``torch.nn.BatchNorm1d`` (several configurations), the kit's reference, a
   user-style NumPy implementation with and without the identically-zero term of ∂ℓ/∂μ, an autograd Function.
3. It fails, naming the property and the likely cause, on each buggy implementation in ``tests/buggy_bn.py``.
4. Misuse raises ``KitUsageError`` (never an ``AssertionError``); the pytest plugin and the missing-hypothesis
   error work.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import sympy
import torch
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from bnsym.errors import BnsymError, KitUsageError, MissingDependencyError
from bnsym.functions import batch_normalize
from bnsym.testing import (
    PROPERTIES,
    BatchNormCheckError,
    BatchNormPropertyError,
    BNCase,
    Tolerance,
    adapt,
    assert_backward,
    assert_forward,
    assert_scale_invariance,
    bn_cases,
    bn_implementations,
    check_batchnorm,
    gammas,
    reference,
    upstream_gradients,
)

from buggy_bn import BUGS, KerasMomentumBN, ManualBN, ManualBNNoMeanTerm, UnbiasedBN, make_numpy_bn

torch.set_num_threads(1)
# the buggy user-style implementations divide by zero on constant batches, as such code does
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

# a smaller derandomized budget for the many failing runs (shrinking dominates their cost)
QUICK = settings(max_examples=15, derandomize=True, database=None, deadline=None,
                 suppress_health_check=list(HealthCheck), report_multiple_bugs=False,
                 phases=(Phase.explicit, Phase.generate, Phase.shrink))


# ---------------------------------------------------------------------------------------------------------------
# 1. the closed forms against SymPy (exact) and PyTorch autograd
# ---------------------------------------------------------------------------------------------------------------
def _sympy_forward_and_gradients(zs, gamma, beta, g, eps):
    """y and (∂ℓ/∂z, ∂ℓ/∂γ, ∂ℓ/∂β) for ℓ = Σ g_i y_i, by sympy.diff of batch_normalize, evaluated exactly."""
    z = sympy.symbols(f"z0:{len(zs)}", real=True)
    c, b = sympy.symbols("gamma beta", real=True)
    y = [c * xh + b for xh in batch_normalize(z, eps)]
    loss = sum(gi * yi for gi, yi in zip(g, y, strict=False))
    point = {**dict(zip(z, zs, strict=False)), c: gamma, b: beta}
    grads = [sympy.diff(loss, v).subs(point) for v in (*z, c, b)]
    to_float = lambda e: float(sympy.N(e, 30))  # noqa: E731
    return ([to_float(yi.subs(point)) for yi in y], [to_float(d) for d in grads[:-2]], to_float(grads[-2]),
            to_float(grads[-1]))


SYMPY_POINTS = [
    # (z, gamma, beta, g, eps): m = 2 (the ill-conditioned case), m = 3, 4; eps = 0 and eps > 0
    ([1, 3], sympy.Rational(3, 2), sympy.Rational(1, 4), [1, -2], 0),
    ([1, 3], sympy.Rational(-5, 4), 0, [sympy.Rational(1, 3), 2], sympy.Rational(1, 10)),
    ([0, 1, 5], sympy.Rational(7, 4), -1, [1, 0, -3], 0),
    ([2, -1, 4], sympy.Rational(1, 3), 2, [sympy.Rational(1, 2), -1, sympy.Rational(5, 2)], sympy.Rational(1, 100)),
    ([0, 2, 3, 7], 3, sympy.Rational(1, 2), [2, -1, 1, sympy.Rational(1, 4)], sympy.Rational(1, 1000)),
]


@pytest.mark.parametrize("point", SYMPY_POINTS)
@pytest.mark.parametrize("backward", [reference.backward, reference.backward_steps], ids=["compact", "steps"])
def test_reference_matches_exact_sympy_derivative(point, backward):
    zs, gamma, beta, g, eps = point
    y_exact, dz_exact, dgamma_exact, dbeta_exact = _sympy_forward_and_gradients(zs, gamma, beta, g, eps)
    x = np.array([[float(v)] for v in zs])
    args = (np.array([[float(v)] for v in g]), x, np.array([float(gamma)]), np.array([float(beta)]), float(eps))
    dx, dgamma, dbeta = backward(*args)
    np.testing.assert_allclose(reference.forward(*args[1:]).ravel(), y_exact, rtol=1e-13, atol=1e-13)
    scale = abs(float(gamma)) * max(abs(float(v)) for v in g) / float(np.sqrt(x.var() + float(eps)))
    np.testing.assert_allclose(dx.ravel(), dz_exact, rtol=1e-12, atol=1e-13 * scale)
    np.testing.assert_allclose([dgamma[0], dbeta[0]], [dgamma_exact, dbeta_exact], rtol=1e-12, atol=1e-13)


def test_sympy_route_sees_the_m2_eps_trap():
    """At m = 2 and ε = 0 the exact ∂ℓ/∂z is 0; with ε > 0 it is O(ε/σ²): the kit's reference agrees in both."""
    _, dz0, _, _ = _sympy_forward_and_gradients([1, 3], 2, 0, [1, -2], 0)
    _, dz1, _, _ = _sympy_forward_and_gradients([1, 3], 2, 0, [1, -2], sympy.Rational(1, 10**6))
    assert dz0 == [0.0, 0.0]
    assert 0 < abs(dz1[0]) < 1e-5
    dx = reference.backward(np.array([[1.0], [-2.0]]), np.array([[1.0], [3.0]]), np.array([2.0]), np.zeros(1), 1e-6)[0]
    np.testing.assert_allclose(dx.ravel(), dz1, rtol=1e-9)


def _torch_bn(case: BNCase, eps: float):
    x = torch.tensor(case.x, requires_grad=True)
    gamma = torch.tensor(case.gamma, requires_grad=True)
    beta = torch.tensor(case.beta, requires_grad=True)
    y = torch.nn.functional.batch_norm(x, None, None, gamma, beta, training=True, eps=eps)
    y.backward(torch.tensor(case.dy))
    return y.detach().numpy(), x.grad.numpy(), gamma.grad.numpy(), beta.grad.numpy()


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=bn_cases(max_m=10), eps=st.sampled_from([1e-5, 1e-3, 0.5]))
def test_reference_matches_torch_autograd(case, eps):
    y, dx, dgamma, dbeta = _torch_bn(case, eps)
    x_scale = np.abs(case.x).max(axis=0) / np.sqrt(case.x.var(axis=0) + eps)
    np.testing.assert_allclose(reference.forward(case.x, case.gamma, case.beta, eps), y, rtol=1e-9,
                               atol=1e-12 * (1 + x_scale.max()))
    ours = reference.backward(case.dy, case.x, case.gamma, case.beta, eps)
    dx_scale = (x_scale * np.abs(case.gamma) * np.abs(case.dy).max(axis=0) / np.sqrt(case.x.var(axis=0) + eps)).max()
    np.testing.assert_allclose(ours[0], dx, rtol=1e-9, atol=1e-12 * (1 + dx_scale))
    np.testing.assert_allclose(ours[1], dgamma, rtol=1e-9, atol=1e-12 * (1 + x_scale.max()))
    np.testing.assert_allclose(ours[2], dbeta, rtol=1e-12, atol=1e-12)


def test_running_update_matches_torch_buffers():
    rng = np.random.default_rng(7)
    x = rng.normal(size=(5, 3))
    module = torch.nn.BatchNorm1d(3, momentum=0.3).double()
    with torch.no_grad():
        module.running_mean.copy_(torch.tensor([0.5, -1.0, 2.0]))
        module.running_var.copy_(torch.tensor([1.5, 0.25, 3.0]))
        module(torch.tensor(x))
    mean, var = reference.running_update(np.array([0.5, -1.0, 2.0]), np.array([1.5, 0.25, 3.0]), x, 0.3)
    np.testing.assert_allclose(mean, module.running_mean.numpy(), rtol=1e-12)
    np.testing.assert_allclose(var, module.running_var.numpy(), rtol=1e-12)
    y_eval = module.eval()(torch.tensor(x)).detach().numpy()
    np.testing.assert_allclose(reference.inference_forward(x, mean, var, np.ones(3), np.zeros(3), 1e-5), y_eval,
                               rtol=1e-12)


# ---------------------------------------------------------------------------------------------------------------
# 2. correct implementations pass
# ---------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "module",
    [
        torch.nn.BatchNorm1d(3),
        torch.nn.BatchNorm1d(2, affine=False, momentum=None),
        torch.nn.BatchNorm1d(4, eps=1e-3, track_running_stats=False),
    ],
    ids=["default", "non-affine-cumulative", "no-running-stats"],
)
def test_torch_batchnorm1d_passes(module):
    # the default profile (what users run) on the default module; a smaller budget on the variants
    report = check_batchnorm(module=module, settings=None if module.affine and module.track_running_stats else QUICK)
    expected = set(PROPERTIES) - ({"running_statistics"} if not module.track_running_stats else set())
    assert set(report.passed) == expected
    assert module.weight is None or torch.equal(module.weight, torch.ones_like(module.weight))  # not modified


def test_torch_batchnorm1d_passes_in_float32():
    assert check_batchnorm(module=torch.nn.BatchNorm1d(2), dtype=np.float32, settings=QUICK).passed


@pytest.mark.parametrize("zero_term", [True, False], ids=["with-zero-term", "without-zero-term"])
def test_user_numpy_implementation_passes_with_and_without_the_zero_term(zero_term):
    forward, backward, update = make_numpy_bn(zero_term=zero_term)
    report = check_batchnorm(forward=forward, backward=backward, eps=1e-5, update_running=update)
    assert report.passed == list(PROPERTIES)


@pytest.mark.parametrize("name", [n for n, impl in bn_implementations.items() if impl.correct])
def test_kit_reference_implementations_pass(name):
    impl = bn_implementations[name]
    report = check_batchnorm(forward=impl.forward, backward=impl.backward, eps=1e-3,
                             update_running=impl.update_running, settings=QUICK)
    assert report.passed == list(PROPERTIES)


def test_autograd_function_and_eps_zero_pass():
    assert check_batchnorm(forward=ManualBN, settings=QUICK).passed
    forward, backward, _ = make_numpy_bn()
    report = check_batchnorm(forward=forward, backward=backward, eps=0.0, settings=QUICK)
    assert "null_space" in report.passed and "scale_invariance" in report.passed


# ---------------------------------------------------------------------------------------------------------------
# 3. buggy implementations fail with the property and the likely cause
# ---------------------------------------------------------------------------------------------------------------
EXPECTED = {
    # bug: (a property that must fail, words the likely cause must contain, registry entry named)
    "unbiased_variance": ("forward", "unbiased variance", "unbiased_variance"),
    "eps_outside_sqrt": ("forward", "outside the square root", "eps_outside_sqrt"),
    "no_mean_term": ("backward", "mean term was dropped", "backward_no_mean_term"),
    "no_xhat_term": ("backward", "x̂·Σ(g x̂) term was dropped", "backward_no_xhat_term"),
    "dgamma_wrong_axis": ("backward", "γ gradient summed over the wrong axis", "dgamma_wrong_axis"),
    "keras_momentum": ("running_statistics", "other momentum convention", "keras_momentum"),
}


def _failure(**kwargs) -> BatchNormCheckError:
    with pytest.raises(BatchNormCheckError) as info:
        check_batchnorm(settings=QUICK, **kwargs)
    assert isinstance(info.value, AssertionError)
    return info.value


@pytest.mark.parametrize("bug", BUGS)
def test_buggy_numpy_implementation_fails_with_property_and_cause(bug):
    forward, backward, update = make_numpy_bn(bug)
    err = _failure(forward=forward, backward=backward, eps=1e-5, update_running=update)
    prop, words, entry = EXPECTED[bug]
    failed = {f.property: f for f in err.failures}
    assert prop in failed, str(err)
    message = str(failed[prop])
    assert f"property '{prop}' failed" in message
    assert words in message and f"bn_implementations['{entry}']" in message, message
    assert "expected" in message and "actual" in message and re.search(r"\n\s+x\s+= \[\[", message)
    assert entry in [name for name, _ in failed[prop].causes]


def test_dgamma_wrong_axis_is_caught_on_square_batches_too():
    """With m = features the wrong-axis sum has the right shape: the values and the cause still give it away."""
    forward, backward, _ = make_numpy_bn("dgamma_wrong_axis")
    case = BNCase(np.array([[0.0, 1.0], [2.0, -1.0]]), np.array([1.5, -0.5]), np.array([0.0, 1.0]),
                  np.array([[1.0, -2.0], [0.5, 1.0]]))
    with pytest.raises(BatchNormPropertyError, match=r"(?s)∂ℓ/∂γ expected.*summed over the wrong axis") as info:
        assert_backward(adapt(forward=forward, backward=backward, eps=1e-5), case)
    assert "wrong shape" not in str(info.value)


@pytest.mark.parametrize(
    "kwargs, prop, words",
    [
        (dict(module=KerasMomentumBN(3)), "running_statistics", "other momentum convention"),
        (dict(module=UnbiasedBN(2)), "forward", "unbiased variance"),
        (dict(forward=ManualBNNoMeanTerm), "backward", "mean term was dropped"),
    ],
    ids=["keras-momentum-module", "unbiased-module", "function-no-mean-term"],
)
def test_buggy_torch_implementations_fail(kwargs, prop, words):
    err = _failure(**kwargs)
    failed = {f.property: str(f) for f in err.failures}
    assert prop in failed and words in failed[prop], str(err)


def test_failure_is_shrunk_and_reproducible():
    forward, backward, _ = make_numpy_bn("no_mean_term")
    first, second = (str(_failure(forward=forward, backward=backward, properties=["backward"])) for _ in range(2))
    assert first == second  # derandomized: same minimal batch every run
    assert "minimal one found by Hypothesis shrinking" in first
    assert "m = 2 samples, 1 feature" in first  # shrunk to the smallest batch that still fails


def test_mistakes_in_the_registry_are_diagnosed_as_themselves():
    case = BNCase(np.array([[0.0, 1.0, 4.0], [2.0, -1.0, 4.5], [3.0, 0.5, 4.25]]), np.array([1.5, -0.5, 2.0]),
                  np.array([0.0, 1.0, -1.0]), np.array([[1.0, -2.0, 0.5], [0.5, 1.0, -1.0], [-1.0, 0.25, 2.0]]))
    for name, impl in bn_implementations.items():
        check = assert_forward if name in ("unbiased_variance", "eps_outside_sqrt", "eps_ignored",
                                           "statistics_wrong_axis") else assert_backward
        if impl.correct or name in ("keras_momentum", "running_var_biased"):
            continue
        with pytest.raises(BatchNormPropertyError) as info:
            check(adapt(forward=impl.forward, backward=impl.backward, eps=0.01), case)
        assert name in [n for n, _ in info.value.causes], (name, str(info.value))


# ---------------------------------------------------------------------------------------------------------------
# scale invariance is theorem-specific: ε/a², not plain equality
# ---------------------------------------------------------------------------------------------------------------
def test_scale_invariance_compares_against_eps_over_a_squared():
    ref = bn_implementations["reference"]
    impl = adapt(forward=ref.forward, backward=ref.backward, eps=1e-2)
    case = BNCase(np.array([[0.0], [0.05], [0.2]]), np.array([1.5]), np.array([0.25]), np.array([[1.0], [-1.0], [0.5]]))
    for a in (4.0, -0.25):
        assert_scale_invariance(impl, case, a)  # holds exactly with ε → ε/a²
        # ...while the naive identity BN_ε(a x) = BN_ε(x) is visibly false for this nearly-ε-sized variance
        naive_gap = np.abs(ref.forward(a * case.x, case.gamma, case.beta, 1e-2) - ref.forward(case.x, case.gamma,
                                                                                            case.beta, 1e-2))
        assert naive_gap.max() > 1e-2
    bad = bn_implementations["eps_outside_sqrt"]
    with pytest.raises(BatchNormPropertyError, match="scale_invariance"):
        assert_scale_invariance(adapt(forward=bad.forward, backward=bad.backward, eps=1e-2), case, 4.0)


# ---------------------------------------------------------------------------------------------------------------
# strategies avoid the traps of docs/math.md §10
# ---------------------------------------------------------------------------------------------------------------
@settings(max_examples=40, deadline=None)
@given(gamma=gammas(4), g=upstream_gradients((2, 3)))
def test_strategies_avoid_gamma_one_and_constant_upstream(gamma, g):
    assert (np.abs(gamma) >= 0.25).all() and (np.abs(np.abs(gamma) - 1) >= 0.125).all()
    assert (g.max(axis=0) > g.min(axis=0)).all()


@settings(max_examples=40, deadline=None)
@given(case=bn_cases(allow_constant=False, dtype=np.float32))
def test_eps_zero_batches_are_normalizable_and_representable(case):
    assert case.m >= 2 and (case.x.var(axis=0) > 0).all()
    assert np.array_equal(case.x.astype(np.float32).astype(np.float64), case.x)


# ---------------------------------------------------------------------------------------------------------------
# 4. misuse raises KitUsageError, not AssertionError
# ---------------------------------------------------------------------------------------------------------------
def _ref():
    return bn_implementations["reference"]


MISUSE = {
    "nothing": dict(),
    "module-and-functions": dict(module=torch.nn.BatchNorm1d(2), forward=lambda x, g, b, e: x),
    "forward-signature": dict(forward=lambda x: x, backward=lambda dy, x, g, b, e: (dy, g, b)),
    "backward-signature": dict(forward=lambda x, g, b, e: x, backward=lambda dy: dy),
    "forward-shape": dict(forward=lambda x, g, b, e: x[:1], backward=lambda dy, x, g, b, e: (dy, g, b)),
    "backward-not-tuple": dict(forward=lambda x, g, b, e: x, backward=lambda dy, x, g, b, e: dy),
    "backward-two-values": dict(forward=lambda x, g, b, e: x, backward=lambda dy, x, g, b, e: (dy, g)),
    "dx-shape": dict(forward=lambda x, g, b, e: x, backward=lambda dy, x, g, b, e: (dy.T, g, b)),
    "non-numeric": dict(forward=lambda x, g, b, e: "y", backward=lambda dy, x, g, b, e: (dy, g, b)),
    "module-not-torch": dict(module=object()),
    "module-in-forward": dict(forward=torch.nn.BatchNorm1d(2)),
    "eps-negative": dict(forward=lambda x, g, b, e: x, backward=lambda dy, x, g, b, e: (dy, g, b), eps=-1.0),
    "eps-mismatch": dict(module=torch.nn.BatchNorm1d(2), eps=0.1),
    "features-mismatch": dict(module=torch.nn.BatchNorm1d(2), features=3),
    "unknown-property": dict(module=torch.nn.BatchNorm1d(2), properties=["smoothness"]),
    "inapplicable-property": dict(module=torch.nn.BatchNorm1d(2, track_running_stats=False),
                                  properties=["running_statistics"]),
    "unknown-profile": dict(module=torch.nn.BatchNorm1d(2), profile="fast"),
    "bad-dtype": dict(module=torch.nn.BatchNorm1d(2), dtype=np.int64),
    "bad-tolerance": dict(module=torch.nn.BatchNorm1d(2), tolerance=1e-3),
    "bad-convention": dict(module=torch.nn.BatchNorm1d(2), momentum_convention="tf"),
}


@pytest.mark.parametrize("kwargs", list(MISUSE.values()), ids=list(MISUSE))
def test_misuse_raises_kit_usage_error(kwargs):
    with pytest.raises(KitUsageError) as info:
        check_batchnorm(settings=QUICK, **kwargs)
    assert isinstance(info.value, BnsymError) and not isinstance(info.value, AssertionError)
    assert str(info.value)


def test_numpy_forward_without_backward_is_misuse():
    ref = _ref()
    with pytest.raises(KitUsageError, match="backward=... "):
        check_batchnorm(forward=ref.forward, settings=QUICK)


def test_crash_of_the_implementation_is_a_property_failure_not_misuse():
    def forward(x, gamma, beta, eps):
        if x.shape[0] > 3:
            raise ValueError("only small batches")
        return _ref().forward(x, gamma, beta, eps)

    err = _failure(forward=forward, backward=_ref().backward, properties=["forward"])
    assert "the implementation raised ValueError: only small batches" in str(err)
    assert "m = 4 samples" in str(err)  # shrunk to the smallest batch that crashes


def test_nondeterministic_implementation_is_reported_as_flaky():
    calls = {"n": 0}

    def forward(x, gamma, beta, eps):  # wrong once, right ever after
        calls["n"] += 1
        return _ref().forward(x, gamma, beta, eps) + (1e-3 if calls["n"] == 5 else 0.0)

    err = _failure(forward=forward, backward=_ref().backward, properties=["forward"])
    assert "flaky" in str(err) and "nondeterministic" in str(err)


def test_tolerance_override_and_validation():
    with pytest.raises(KitUsageError):
        Tolerance(rtol=-1.0)
    ref = bn_implementations["unbiased_variance"]
    # a tolerance loose enough to hide the m/(m - 1) factor (docs/math.md §10) makes the forward pass:
    report = check_batchnorm(forward=ref.forward, backward=ref.backward, properties=["forward"],
                             tolerance=Tolerance(rtol=0.5, atol=10.0), settings=QUICK)
    assert report.passed == ["forward"]


# ---------------------------------------------------------------------------------------------------------------
# the pytest plugin and the missing-hypothesis error
# ---------------------------------------------------------------------------------------------------------------
def test_pytest_plugin_fixtures_and_profile(tmp_path):
    (tmp_path / "test_user_bn.py").write_text(textwrap.dedent("""
        def test_reference(bn_check, bn_implementations):
            ref = bn_implementations["reference"]
            report = bn_check(forward=ref.forward, backward=ref.backward, eps=1e-5, properties=["forward"])
            assert report.passed == ["forward"]

        def test_profile():
            from bnsym.testing.check import _default
            assert _default["profile"] == "thorough"
    """))
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("PYTEST_ADDOPTS", None)
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--bnsym-profile=thorough",
         "--rootdir", str(tmp_path), str(tmp_path)],
        capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "2 passed" in proc.stdout


def test_missing_hypothesis_gives_a_clear_bnsym_error():
    code = textwrap.dedent("""
        import sys
        sys.modules["hypothesis"] = None          # as if not installed
        import bnsym.testing                      # importable: the pytest plugin must never break a run
        import bnsym.testing.plugin
        try:
            from bnsym.testing import check_batchnorm
        except ImportError as exc:
            from bnsym.errors import MissingDependencyError
            assert isinstance(exc, MissingDependencyError), type(exc)
            print("MESSAGE:", exc)
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "pip install 'bnsym[testing]'" in proc.stdout
    assert issubclass(MissingDependencyError, ImportError)


# ---------------------------------------------------------------------------------------------------------------
# the documentation's copy-paste example works as printed
# ---------------------------------------------------------------------------------------------------------------
def test_docs_copy_paste_example_runs():
    from pathlib import Path

    text = (Path(__file__).resolve().parent.parent / "docs" / "testing.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    example = next(b for b in blocks if "def test_my_bn()" in b)
    own = next(b for b in blocks if "bn_cases(features=4)" in b)
    namespace: dict = {}
    exec(compile(example, "docs/testing.md", "exec"), namespace)
    namespace["test_my_bn"]()
    exec(compile(own, "docs/testing.md", "exec"), namespace)
    namespace["test_my_bn_on_four_features"]()
