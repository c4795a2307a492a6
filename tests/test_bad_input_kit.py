"""Bad input to the property-test kit ``bnsym.testing`` (issue 16, items 8, 9, 10, 12, 14, 17, 18).

The promise: ``check_batchnorm`` passes, or raises its failure (``BatchNormCheckError``, an ``AssertionError``)
naming a property, or raises ``KitUsageError``; never another exception, a hang, a silent skip, or a pass
that hides a wrong implementation. Each numbered item has its own tests; a bounded Hypothesis fuzz test over the
kit's public arguments checks the promise on drawn combinations.
"""
from __future__ import annotations

import time
import unittest

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from bnsym.errors import KitUsageError
from bnsym.testing import (
    PROPERTIES,
    BatchNormCheckError,
    BatchNormPropertyError,
    BNCase,
    CheckReport,
    Tolerance,
    adapt,
    assert_backward,
    assert_forward,
    assert_null_space,
    assert_running_statistics,
    assert_scale_invariance,
    bn_implementations,
    check_batchnorm,
)
from bnsym.testing.arguments import eps_range
from bnsym.testing.strategies import informative_cases

torch.set_num_threads(1)
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

REF = bn_implementations["reference"]
STEPS = bn_implementations["reference_steps"]
# inner budget of the kit for these tests: small, derandomized
SMALL = settings(max_examples=5, derandomize=True, database=None, deadline=None)
ONE = settings(max_examples=1, derandomize=True, database=None, deadline=None)


def _zeros_forward(x, gamma, beta, eps):
    return np.zeros_like(x)


def _zeros_backward(dy, x, gamma, beta, eps):
    return np.zeros_like(x), np.zeros_like(gamma), np.zeros_like(gamma)


def _case(m=3, f=2, **changes) -> BNCase:
    x = np.arange(m * f, dtype=float).reshape(m, f) ** 1.5
    fields = dict(x=x, gamma=np.full(f, 1.5), beta=np.full(f, 0.25), dy=np.linspace(1.0, -2.0, m * f).reshape(m, f),
                  running_mean=np.zeros(f), running_var=np.ones(f))
    fields.update(changes)
    return BNCase(**fields)


# ---------------------------------------------------------------------------------------------------------------
# item 8: a tiny ε is refused with the supported range; inside it the kit's own values stay finite
# ---------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("eps, dtype", [(1e-216, np.float64), (1e-300, np.float64), (5e-324, np.float64),
                                        (1e250, np.float64), (1e-30, np.float32), (1e30, np.float32)])
def test_eps_outside_the_supported_range_is_refused_with_the_range(eps, dtype):
    with pytest.raises(KitUsageError, match=r"outside the range the kit supports .*eps = 0 or .* <= eps <= ") as info:
        check_batchnorm(forward=REF.forward, backward=REF.backward, eps=eps, dtype=dtype, settings=SMALL)
    low, high = eps_range(dtype)
    assert f"{low:.3g}" in str(info.value) and f"{high:.3g}" in str(info.value)


@pytest.mark.parametrize("end", ["low", "high"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_correct_textbook_code_passes_at_both_ends_of_the_eps_range(end, dtype):
    """At the ends of the range the kit's expected values are finite and correct code (here the paper's step-by-
    step backward, which computes (σ² + ε)^(-3/2)) passes: the kit never blames the code for its own underflow."""
    eps = eps_range(dtype)[0 if end == "low" else 1]
    report = check_batchnorm(forward=STEPS.forward, backward=STEPS.backward, eps=eps, dtype=dtype, settings=SMALL)
    assert report.passed == ["forward", "backward", "null_space", "scale_invariance"]


def test_null_space_expected_value_is_finite_on_a_constant_batch_with_tiny_eps():
    """The case of the issue: a constant batch at ε ≈ 1e-200 once gave an expected ⟨∂ℓ/∂x, x̂⟩ of NaN (ε/(s·(σ²+ε))
    underflowed) and blamed "ε ignored"; now the reference passes and ε-ignored code is still caught."""
    eps = 1e-200
    case = BNCase(np.zeros((2, 1)), np.array([0.5]), np.array([0.0]), np.array([[1.0], [0.0]]))
    assert_null_space(adapt(forward=REF.forward, backward=REF.backward, eps=eps), case)
    ignored = bn_implementations["eps_ignored"]
    with pytest.raises(BatchNormPropertyError) as info:
        assert_null_space(adapt(forward=ignored.forward, backward=ignored.backward, eps=eps), case)
    assert "expected: [nan]" not in str(info.value)


# ---------------------------------------------------------------------------------------------------------------
# item 9: complex outputs are refused, never cut to their real part
# ---------------------------------------------------------------------------------------------------------------
def _complex_dgamma(dy, x, gamma, beta, eps):
    dx, dgamma, dbeta = REF.backward(dy, x, gamma, beta, eps)
    return dx, dgamma + 2j, dbeta


def _torch_complex(x, gamma, beta, eps):
    return torch.nn.functional.batch_norm(x, None, None, gamma, beta, training=True, eps=eps) * (1 + 1j)


COMPLEX = {
    "forward-plus-5j": dict(forward=lambda x, g, b, e: REF.forward(x, g, b, e) + 5j, backward=REF.backward),
    "forward-complex-zero-imag": dict(forward=lambda x, g, b, e: REF.forward(x, g, b, e).astype(complex),
                                      backward=REF.backward),
    "dx-complex": dict(forward=REF.forward,
                       backward=lambda dy, x, g, b, e: tuple(np.asarray(v) * (1 + 1j)
                                                             for v in REF.backward(dy, x, g, b, e))),
    "dgamma-complex": dict(forward=REF.forward, backward=_complex_dgamma),
    "list-of-complex": dict(forward=lambda x, g, b, e: (REF.forward(x, g, b, e) + 1j).tolist(), backward=REF.backward),
    "torch-complex-tensor": dict(forward=_torch_complex),
    "update-running-complex": dict(forward=REF.forward, backward=REF.backward,
                                   update_running=lambda rm, rv, x, mom: (rm + 1j, rv)),
}


@pytest.mark.parametrize("kwargs", list(COMPLEX.values()), ids=list(COMPLEX))
def test_complex_outputs_are_refused(kwargs):
    with pytest.raises(KitUsageError, match="is complex") as info:
        check_batchnorm(settings=SMALL, **kwargs)
    assert "never drops an imaginary part" in str(info.value)


# ---------------------------------------------------------------------------------------------------------------
# item 10: the first examples are informative whatever the budget
# ---------------------------------------------------------------------------------------------------------------
def test_a_zero_forward_fails_every_property_under_one_example():
    with pytest.raises(BatchNormCheckError) as info:
        check_batchnorm(forward=_zeros_forward, backward=_zeros_backward, settings=ONE)
    assert {f.property for f in info.value.failures} == {"forward", "backward", "null_space", "scale_invariance"}


MISTAKES = [name for name, impl in bn_implementations.items() if not impl.correct]


@pytest.mark.parametrize("name", MISTAKES)
@pytest.mark.parametrize("budget", [ONE, settings(ONE, phases=[Phase.explicit])], ids=["one-example", "explicit-only"])
def test_every_known_mistake_is_caught_with_its_cause_under_the_smallest_budget(name, budget):
    impl = bn_implementations[name]
    with pytest.raises(BatchNormCheckError) as info:
        check_batchnorm(forward=impl.forward, backward=impl.backward, eps=1e-3, update_running=impl.update_running,
                        settings=budget)
    causes = {n for failure in info.value.failures for n, _ in failure.causes}
    assert name in causes, str(info.value)


@pytest.mark.parametrize("kwargs", [
    dict(forward=REF.forward, backward=REF.backward, update_running=REF.update_running, eps=1e-5),
    dict(forward=STEPS.forward, backward=STEPS.backward, eps=0.0),
    dict(module=torch.nn.BatchNorm1d(5)),  # m = 5 would be square: the fixed case uses another m
    dict(module=torch.nn.BatchNorm1d(3, affine=False), dtype=np.float32),
    dict(forward=REF.forward, backward=REF.backward, max_batch=2, features=2),
], ids=["reference", "steps-eps0", "module-5-features", "module-nonaffine-f32", "max-batch-2"])
def test_correct_implementations_pass_on_the_fixed_examples(kwargs):
    report = check_batchnorm(settings=ONE, **kwargs)
    assert report.passed and set(report.passed) <= set(PROPERTIES)
    assert all(report.examples[p] >= 2 for p in report.passed)  # a fixed case and a drawn one at least


@pytest.mark.parametrize("features, eps, max_m", [(None, 0.0, 12), (5, 1e-5, 12), (2, 1e-3, 2), (64, 0.1, 12)])
def test_fixed_examples_avoid_the_traps(features, eps, max_m):
    cases = informative_cases(features=features, eps=eps, max_m=max_m)
    assert len(cases) == (2 if eps > 0 else 1)
    for case in cases:
        assert case.m <= max_m and (case.m != case.features or max_m == 2)
        assert (np.abs(np.abs(case.gamma) - 1) >= 0.125).all() and (np.abs(case.gamma) >= 0.25).all()
        assert (np.sign(case.gamma) > 0).any() == (np.sign(case.gamma) < 0).any() or case.features == 1
        assert (case.beta != 0).all() and (case.dy.max(axis=0) > case.dy.min(axis=0)).all()
        assert (np.abs(case.dy.sum(axis=0)) > 1e-3).all()
    assert (np.abs(cases[0].x.mean(axis=0)) > 0.1).all()
    if eps > 0:  # the second batch has a variance of the order of ε, where ε matters
        assert ((cases[1].x.var(axis=0) > eps / 100) & (cases[1].x.var(axis=0) < eps * 10)).all()


# ---------------------------------------------------------------------------------------------------------------
# item 12: booleans are validated strictly
# ---------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("value", ["no", "False", 0, 1, None, [True]])
def test_running_var_unbiased_must_be_a_bool(value):
    with pytest.raises(KitUsageError, match="running_var_unbiased must be True or False"):
        check_batchnorm(forward=REF.forward, backward=REF.backward, update_running=REF.update_running,
                        running_var_unbiased=value, settings=SMALL)


def test_numpy_bool_is_accepted_and_means_what_it_says():
    biased = bn_implementations["running_var_biased"]
    report = check_batchnorm(forward=biased.forward, backward=biased.backward, update_running=biased.update_running,
                             running_var_unbiased=np.False_, properties=["running_statistics"], settings=SMALL)
    assert report.passed == ["running_statistics"]
    with pytest.raises(BatchNormCheckError):
        check_batchnorm(forward=biased.forward, backward=biased.backward, update_running=biased.update_running,
                        running_var_unbiased=np.True_, properties=["running_statistics"], settings=SMALL)


# ---------------------------------------------------------------------------------------------------------------
# item 14: a per-call deadline and a total budget, reported; a slow implementation is stopped, not waited for
# ---------------------------------------------------------------------------------------------------------------
class Sleepy:
    """A correct forward that sleeps ``seconds`` from its ``after``-th call on; counts its calls."""

    def __init__(self, seconds: float, after: int = 0):
        self.seconds, self.after, self.calls = seconds, after, 0

    def __call__(self, x, gamma, beta, eps):
        self.calls += 1
        if self.calls > self.after:
            time.sleep(self.seconds)
        return REF.forward(x, gamma, beta, eps)


def test_a_slow_first_call_stops_the_check_at_once():
    slow = Sleepy(0.3)
    with pytest.raises(BatchNormCheckError) as info:
        check_batchnorm(forward=slow, backward=REF.backward, call_deadline=0.1, time_budget=60)
    text = str(info.value)
    assert [f.property for f in info.value.failures] == ["forward"]
    assert "forward on x of shape (3, 2) took" in text and "over the per-call deadline of 0.1 s" in text
    assert "time limits: 0.1 s per call, 60 s in total" in text
    assert "not checked (a time limit was reached): backward, null_space, scale_invariance" in text
    assert slow.calls == 1  # never called again after the slow call


def test_a_slow_call_during_hypothesis_stops_without_shrinking():
    slow = Sleepy(0.3, after=12)
    with pytest.raises(BatchNormCheckError) as info:
        check_batchnorm(forward=slow, backward=REF.backward, call_deadline=0.1, properties=["forward", "backward"])
    failure = info.value.failures[0]
    assert failure.property == "forward" and "over the per-call deadline of 0.1 s" in str(failure)
    assert "not shrunk: the batch of the call that reached the time limit" in str(failure)
    assert [n for n, _ in failure.causes] == ["time_limit"]
    assert slow.calls == 13  # the slow call was the last one: Hypothesis did not shrink with it


def test_the_total_budget_stops_a_check_of_many_slowish_calls():
    slow = Sleepy(0.02)
    with pytest.raises(BatchNormCheckError) as info:
        check_batchnorm(forward=slow, backward=REF.backward, call_deadline=1.0, time_budget=0.3)
    assert "over its total time budget of 0.3 s" in str(info.value)
    assert slow.calls <= 0.3 / 0.02 + 2


def test_the_limits_and_the_time_used_are_in_the_summary():
    report = check_batchnorm(forward=REF.forward, backward=REF.backward, settings=SMALL)
    assert report.limits.startswith("time limits: 2 s per call, 120 s in total; used ")
    assert "calls of the implementation" in report.limits and report.limits in str(report)


def test_a_deadline_in_the_users_settings_is_applied_to_each_call():
    slow = Sleepy(0.2)
    with pytest.raises(BatchNormCheckError) as info:
        check_batchnorm(forward=slow, backward=REF.backward, settings=settings(max_examples=3, deadline=50))
    assert "0.05 s per call (the deadline of your settings)" in str(info.value)
    assert slow.calls == 1
    # a longer user deadline does not loosen the kit's own
    report = check_batchnorm(forward=REF.forward, backward=REF.backward, settings=settings(SMALL, deadline=10_000))
    assert "2 s per call, 120 s in total" in report.limits


@pytest.mark.parametrize("name", ["call_deadline", "time_budget"])
@pytest.mark.parametrize("value", [0, -1.0, float("inf"), float("nan"), "2", True, None])
def test_time_limits_must_be_positive_numbers(name, value):
    with pytest.raises(KitUsageError, match=name):
        check_batchnorm(forward=REF.forward, backward=REF.backward, settings=SMALL, **{name: value})


# ---------------------------------------------------------------------------------------------------------------
# item 17: every other argument is validated; settings without generation still check, never skip
# ---------------------------------------------------------------------------------------------------------------
BAD_ARGUMENTS = {
    "features=-1": dict(features=-1),
    "features=0": dict(features=0),
    "features=2.5": dict(features=2.5),
    "features='3'": dict(features="3"),
    "features=True": dict(features=True),
    "features=10**4": dict(features=10**4),
    "momentum='0.1'": dict(momentum="0.1", update_running=REF.update_running),
    "momentum=nan": dict(momentum=float("nan"), update_running=REF.update_running),
    "momentum=1.5": dict(momentum=1.5, update_running=REF.update_running),
    "momentum=True": dict(momentum=True, update_running=REF.update_running),
    "convention=5": dict(momentum_convention=5),
    "convention=list": dict(momentum_convention=["pytorch"]),
    "eps='1e-5'": dict(eps="1e-5"),
    "eps=1j": dict(eps=1j),
    "eps=nan": dict(eps=float("nan")),
    "max_batch='3'": dict(max_batch="3"),
    "max_batch=10**6": dict(max_batch=10**6),
    "max_batch=1": dict(max_batch=1),
    "properties=5": dict(properties=5),
    "properties=[]": dict(properties=[]),
    "properties=[None]": dict(properties=[None]),
    "profile=list": dict(profile=["ci"], settings=None),
    "dtype=float16": dict(dtype=np.float16),
    "dtype='nope'": dict(dtype="nope"),
    "settings=dict": dict(settings={"max_examples": 1}),
}


@pytest.mark.parametrize("kwargs", list(BAD_ARGUMENTS.values()), ids=list(BAD_ARGUMENTS))
def test_bad_arguments_raise_kit_usage_error(kwargs):
    kwargs = {"settings": SMALL, **kwargs}
    with pytest.raises(KitUsageError) as info:
        check_batchnorm(forward=REF.forward, backward=REF.backward, **kwargs)
    assert str(info.value)


def test_a_module_with_too_many_features_is_refused():
    with pytest.raises(KitUsageError, match="between 1 and 256, got 1024"):
        check_batchnorm(module=torch.nn.BatchNorm1d(1024), settings=SMALL)


@pytest.mark.parametrize("kwargs", [dict(rtol="1e-3"), dict(atol=True), dict(factor=None), dict(rtol=float("nan")),
                                    dict(factor=-2.0), dict(atol=[1e-3])], ids=str)
def test_tolerance_arguments_are_validated(kwargs):
    with pytest.raises(KitUsageError, match=r"Tolerance\("):
        Tolerance(**kwargs)


@pytest.mark.parametrize("phases", [[Phase.explicit], [], [Phase.explain]], ids=["explicit", "none", "explain"])
def test_settings_without_generation_run_the_fixed_examples_instead_of_skipping(phases):
    budget = settings(phases=phases, database=None)
    try:
        report = check_batchnorm(forward=REF.forward, backward=REF.backward, eps=1e-3, settings=budget)
    except unittest.SkipTest:  # pragma: no cover - the bug this test guards against
        pytest.fail("check_batchnorm skipped silently")
    assert report.passed == ["forward", "backward", "null_space", "scale_invariance"]
    assert set(report.examples.values()) == {2}  # the two fixed cases (ε > 0), nothing drawn
    assert "only the kit's fixed informative examples ran" in str(report)
    with pytest.raises(BatchNormCheckError):  # and they still catch a bug
        check_batchnorm(forward=_zeros_forward, backward=_zeros_backward, settings=budget)


def test_check_inside_a_users_given_test_is_refused_clearly():
    @settings(max_examples=1, database=None, deadline=None)
    @given(st.just(0))
    def users_test(_):
        check_batchnorm(forward=REF.forward, backward=REF.backward, settings=SMALL)

    with pytest.raises(KitUsageError, match="Nesting @given"):
        users_test()


# ---------------------------------------------------------------------------------------------------------------
# item 18: a malformed case is refused before the implementation is judged
# ---------------------------------------------------------------------------------------------------------------
MALFORMED = {
    "gamma-shape": _case(gamma=np.ones(3)),
    "beta-shape": _case(beta=np.zeros((2, 1))),
    "dy-shape": _case(dy=np.ones((2, 2))),
    "x-1d": _case(x=np.arange(3.0)),
    "one-sample": _case(m=1),
    "nan-in-x": _case(x=np.array([[0.0, 1.0], [np.nan, 2.0], [3.0, 1.0]])),
    "inf-in-dy": _case(dy=np.array([[np.inf, 1.0], [0.0, 2.0], [3.0, 1.0]])),
    "nan-in-gamma": _case(gamma=np.array([np.nan, 1.0])),
    "string-x": _case(x=np.array([["a", "b"], ["c", "d"], ["e", "f"]])),
    "complex-x": _case(x=np.ones((3, 2)) * (1 + 1j)),
    "none-dy": _case(dy=None),
    "huge-x": _case(x=np.array([[1e300, 0.0], [-1e300, 1.0], [0.0, 2.0]])),
}


@pytest.mark.parametrize("helper", [assert_forward, assert_backward, assert_null_space],
                         ids=["forward", "backward", "null_space"])
@pytest.mark.parametrize("case", list(MALFORMED.values()), ids=list(MALFORMED))
def test_malformed_case_is_refused_not_blamed_on_the_implementation(helper, case):
    impl = adapt(forward=REF.forward, backward=REF.backward, eps=1e-5)
    with pytest.raises(KitUsageError, match="the case is (malformed|outside the range)"):
        helper(impl, case)


@pytest.mark.parametrize("impl, case, words", [
    (adapt(forward=REF.forward, backward=REF.backward, eps=0.0),
     _case(x=np.array([[1.0, 2.0], [1.0, 3.0], [1.0, 5.0]])),
     "constant feature"),
    (adapt(forward=REF.forward, backward=REF.backward, dtype=np.float32), _case(x=np.full((3, 2), 0.1) + np.eye(3, 2)),
     "not representable in float32"),
    (adapt(module=torch.nn.BatchNorm1d(3)), _case(), "it has 2 features"),
], ids=["eps0-constant", "float32-unrepresentable", "features-mismatch"])
def test_case_that_does_not_fit_the_implementation_is_refused(impl, case, words):
    with pytest.raises(KitUsageError, match=words):
        assert_forward(impl, case)


def test_running_case_and_helper_arguments_are_validated():
    impl = adapt(forward=REF.forward, backward=REF.backward, update_running=REF.update_running)
    with pytest.raises(KitUsageError, match="running_var must be >= 0"):
        assert_running_statistics(impl, _case(running_var=np.array([1.0, -1.0])))
    with pytest.raises(KitUsageError, match="running_mean must be a real NumPy array"):
        assert_running_statistics(impl, _case(running_mean=None))
    with pytest.raises(KitUsageError, match="must be a bnsym.testing.BNCase"):
        assert_forward(impl, {"x": np.ones((3, 2))})
    with pytest.raises(KitUsageError, match="must be an adapter"):
        assert_forward(REF.forward, _case())
    with pytest.raises(KitUsageError, match="scale a must be a finite non-zero"):
        assert_scale_invariance(impl, _case(), 0.0)
    assert_forward(impl, _case())  # and a well-formed case still checks the implementation


# ---------------------------------------------------------------------------------------------------------------
# the fuzz test: the promise on drawn combinations of the public arguments
# ---------------------------------------------------------------------------------------------------------------
def _raises(*args):
    raise ValueError("boom")


def _torch_forward(x, gamma, beta, eps):
    return torch.nn.functional.batch_norm(x, None, None, gamma, beta, training=True, eps=eps)


FORWARDS = {  # name: (callable, correct?)
    "reference": (REF.forward, True),
    "as-list": (lambda x, g, b, e: REF.forward(x, g, b, e).tolist(), True),
    "as-tensor": (lambda x, g, b, e: torch.tensor(REF.forward(x, g, b, e)), True),
    "torch-autograd": (_torch_forward, True),
    "unbiased": (bn_implementations["unbiased_variance"].forward, False),
    "zeros": (_zeros_forward, False),
    "none": (lambda x, g, b, e: None, False),
    "nan": (lambda x, g, b, e: np.full_like(x, np.nan), False),
    "complex": (lambda x, g, b, e: REF.forward(x, g, b, e) + 5j, False),
    "raises": (_raises, False),
    "wrong-shape": (lambda x, g, b, e: REF.forward(x, g, b, e).T, False),
    "string": (lambda x, g, b, e: "y", False),
    "scalar": (lambda x, g, b, e: 0.0, False),
    "one-argument": (lambda x: x, False),
    "not-callable": (42, False),
    "slow": (Sleepy(0.05), False),
}
BACKWARDS = {
    "reference": (REF.backward, True),
    "steps": (STEPS.backward, True),
    "as-lists": (lambda dy, x, g, b, e: [np.asarray(v).tolist() for v in REF.backward(dy, x, g, b, e)], True),
    "no-mean-term": (bn_implementations["backward_no_mean_term"].backward, False),
    "zeros": (_zeros_backward, False),
    "dx-only": (lambda dy, x, g, b, e: REF.backward(dy, x, g, b, e)[0], False),
    "pair": (lambda dy, x, g, b, e: REF.backward(dy, x, g, b, e)[:2], False),
    "none": (lambda dy, x, g, b, e: None, False),
    "nan": (lambda dy, x, g, b, e: tuple(np.full_like(np.asarray(v), np.nan) for v in REF.backward(dy, x, g, b, e)),
            False),
    "complex-dgamma": (_complex_dgamma, False),
    "raises": (_raises, False),
    "dx-transposed": (lambda dy, x, g, b, e: (REF.backward(dy, x, g, b, e)[0].T, g, b), False),
    "missing": (None, False),
}
UPDATES = {
    "none": None,
    "pytorch": REF.update_running,
    "keras": bn_implementations["keras_momentum"].update_running,
    "returns-none": lambda rm, rv, x, mom: None,
    "raises": _raises,
    "wrong-arity": lambda rm: rm,
}


@st.composite
def kit_arguments(draw):
    # half of the draws a correct forward/backward, otherwise any (malformed ones included)
    forward = draw(st.sampled_from([k for k, v in FORWARDS.items() if v[1]]) | st.sampled_from(list(FORWARDS)))
    backward = draw(st.sampled_from([k for k, v in BACKWARDS.items() if v[1]]) | st.sampled_from(list(BACKWARDS)))
    kwargs = dict(forward=FORWARDS[forward][0])
    if BACKWARDS[backward][0] is not None:
        kwargs["backward"] = BACKWARDS[backward][0]
    if draw(st.integers(0, 9)) == 9:  # now and then a module instead
        kwargs = dict(module=torch.nn.BatchNorm1d(draw(st.integers(1, 3)), eps=draw(st.sampled_from([1e-5, 0.5]))))
        forward = backward = "module"
    options = {  # name: (valid values, invalid values)
        "eps": ([1e-5, 1e-3, 0.0, 0.5, 1e-150],
                [1e-216, 1e-300, 1e250, -1.0, float("nan"), float("inf"), "1e-5", True]),
        "dtype": ([np.float64, np.float32, "float32"], [np.float16, int, "nope"]),
        "features": ([1, 2, 3], [-1, 0, 2.5, "3", True, 10**4]),
        "momentum": ([0.1, 0.0, 1.0, 0.9], [1.5, "0.1", float("nan"), True]),
        "momentum_convention": (["pytorch", "keras"], ["tf", 5]),
        "running_var_unbiased": ([True, False, np.False_], ["no", 1, None]),
        "update_running": (["none", "pytorch", "keras"], ["returns-none", "raises", "wrong-arity"]),
        "properties": ([["forward"], ["backward", "null_space"], "scale_invariance", ["forward", "running_statistics"],
                        list(PROPERTIES)], [[], ["nope"], 5]),
        "max_batch": ([2, 4, 12], [1, 10**6, 3.0]),
        "tolerance": ([dict(), dict(factor=100.0), dict(rtol=1e-6, atol=1e-9)], [dict(rtol="1e-3"), dict(factor=-1.0),
                                                                                 "tight"]),
        "call_deadline": ([1.0], [0.0, "2", -1.0]),
        "time_budget": ([30.0], [0.0, "x"]),
    }
    for name, (valid, invalid) in options.items():
        pick = draw(st.integers(0, 15))  # mostly the default or a valid value, now and then an invalid one
        if pick == 15:
            kwargs[name] = draw(st.sampled_from(invalid))
        elif pick >= 8:
            kwargs[name] = draw(st.sampled_from(valid))
    if "update_running" in kwargs:
        kwargs["update_running"] = UPDATES[kwargs["update_running"]]
    if forward == "slow":  # keep it short: the first call exceeds the deadline
        kwargs["call_deadline"] = 0.01
    # shrinking a failure costs most of the time: only now and then (the kit's own tests cover it)
    phases = draw(st.sampled_from([(Phase.explicit, Phase.generate), (Phase.explicit,),
                                   (Phase.explicit, Phase.generate, Phase.shrink)]))
    kwargs["settings"] = settings(max_examples=draw(st.integers(1, 3)), derandomize=True, database=None,
                                  phases=phases, deadline=draw(st.sampled_from([None, 1000])))
    kwargs.setdefault("time_budget", 10.0)  # a bound on each draw (reaching it is a failure naming a property)
    return forward, backward, kwargs


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.nested_given, HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(kit_arguments())
def test_fuzz_the_kit_keeps_its_promise(drawn):
    forward, backward, kwargs = drawn
    tolerance = kwargs.pop("tolerance", None)
    try:
        if isinstance(tolerance, dict):
            kwargs["tolerance"] = Tolerance(**tolerance)
        elif tolerance is not None:
            kwargs["tolerance"] = tolerance
        result = check_batchnorm(**kwargs)
    except BatchNormCheckError as err:  # the kit's failure: every failure names a property
        assert isinstance(err, AssertionError) and err.failures
        for failure in err.failures:
            assert failure.property in PROPERTIES
            assert f"property '{failure.property}' failed" in str(failure)
        assert str(err).startswith("check_batchnorm: ")
    except KitUsageError as err:
        assert str(err)
    else:
        assert isinstance(result, CheckReport) and result.passed
        # never a pass that hides a wrong forward or backward pass
        if "forward" in result.passed and forward != "module":
            assert FORWARDS[forward][1], (forward, kwargs)
        if "backward" in result.passed and backward not in ("module", "missing"):
            assert BACKWARDS[backward][1], (backward, kwargs)


@pytest.mark.parametrize("module", [torch.nn.LayerNorm(3), torch.nn.GroupNorm(1, 3), torch.nn.InstanceNorm1d(3),
                                    torch.nn.RMSNorm(3)], ids=lambda m: type(m).__name__)
def test_a_normalization_module_of_another_kind_is_misuse_not_a_failed_property(module):
    """check_batchnorm on a LayerNorm is misuse: the kit says which check_normalization kind to call instead of
    reporting five failed properties (BatchNorm2d/3d and wrappers are checked: tests/test_testing_kit_family.py)."""
    with pytest.raises(KitUsageError, match=rf"{type(module).__name__} .*check_normalization\('"):
        check_batchnorm(module=module)
