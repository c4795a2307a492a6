"""Issue 16 for the proof engine: prove()'s and check()'s arguments, fuzzed. The promise: a Proof (holds True,
False or None) or a BnsymError, never another exception, a hang or a wrong "proved"."""
import decimal
import math

import numpy as np
import sympy
from hypothesis import HealthCheck, given, settings, strategies as st

from bnsym.errors import BnsymError
from bnsym.theorems import Proof, check, prove

CHEAP = ["bn_jacobian", "backward_compact", "gradient_norm_bound", "bias_gradient_zero", "scale_invariance_forward"]
junk = st.one_of(st.none(), st.booleans(), st.text(max_size=8), st.integers(-10**30, 10**30),
                 st.floats(allow_nan=True, allow_infinity=True), st.lists(st.integers(), max_size=3),
                 st.complex_numbers(max_magnitude=1e3), st.just(sympy.oo), st.just(sympy.nan), st.just(sympy.I))
eps = st.one_of(st.just(0), st.just("positive"), st.floats(0, 1) | st.floats(allow_nan=True, allow_infinity=True),
                st.fractions(0, 1, max_denominator=100), st.decimals(allow_nan=True, allow_infinity=True), junk)
batch = st.one_of(st.just("m"), st.integers(-3, 12), st.just(10**9), junk)
assume = st.one_of(st.none(), st.dictionaries(st.sampled_from(["a", "c", "eps", "batch", "coefficient", "zz"]),
                                              st.sampled_from(["positive", "negative", "constant", "1/m",
                                                               "1/sqrt(m)", "zero", 0]), max_size=2), junk)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(CHEAP) | st.text(max_size=6), batch=batch, assume=assume, eps=eps,
       width=st.one_of(st.none(), st.integers(-2, 2000), junk))
def test_fuzz_prove_keeps_its_promise(name, batch, assume, eps, width):
    try:
        p = prove(name, batch=batch, assume=assume, eps=eps, width=width)
    except BnsymError:
        return
    assert isinstance(p, Proof) and p.holds in (True, False, None)
    if p.holds is True:  # a verdict only through kernel facts, under its stated conditions
        assert any(s.checked for s in p.steps)
        if isinstance(eps, float) and not math.isfinite(eps):
            raise AssertionError("a non-finite ε was accepted")
    if p.holds is False:
        assert p.replacement and any(s.checked and s.fact.kind in ("ne", "gt") for s in p.steps)


arrays = st.lists(st.lists(st.floats(-5, 5) | st.floats(allow_nan=True, allow_infinity=True), min_size=0,
                           max_size=3), min_size=0, max_size=5)


@settings(max_examples=40, deadline=None)
@given(u=arrays | junk, W=st.lists(st.floats(-3, 3), max_size=3) | junk,
       extra=st.dictionaries(st.sampled_from(["a", "c", "gamma", "eps", "g", "zz"]), junk | st.floats(-2, 2),
                             max_size=2))
def test_fuzz_check_keeps_its_promise(u, W, extra):
    try:
        value = check("bn_jacobian", {"u": u, "W": W, **extra})
    except BnsymError:
        return
    assert isinstance(value, float) and (math.isnan(value) is False)


def test_decimal_and_numpy_eps_are_exact():
    assert prove("bias_gradient_zero", eps=decimal.Decimal("0.001")).holds is True
    assert prove("bias_gradient_zero", eps=np.float64(0.001)).holds is True
