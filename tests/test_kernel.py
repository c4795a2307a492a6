"""The proof kernel: the index calculus against explicit sums, checked steps, lemma reuse (bnsym.kernel)."""
import random

import pytest
import sympy
from hypothesis import given, settings, strategies as st
from sympy import KroneckerDelta, Sum

from bnsym.kernel import core as K
from bnsym.kernel.errors import KernelError, StepError
from bnsym.kernel.index import expand_concrete, index_symbol, normalize, rename_apart, substitute
from bnsym.theorems import prove, registry
from bnsym.theorems.batch import Options, context, i, k, m, mu, sigma, xhat, z

j, l, p, q = (index_symbol(x) for x in "jlpq")
g = sympy.IndexedBase("g", real=True)
u = sympy.IndexedBase("u", real=True)


def explicit(expr, size, free_values, seed=0):
    """``expr`` at a concrete batch: ``m = size``, free indices given, every entry a random rational."""
    expr = substitute(expr, {m: sympy.Integer(size), **free_values})
    expr = expand_concrete(expr).doit()
    values = {}
    for e in expr.atoms(sympy.Indexed):  # the same entry gets the same value in every expression
        rng = random.Random(f"{seed}:{e}")
        values[e] = sympy.Rational(rng.randint(-9, 9), rng.randint(1, 5))
    return sympy.nsimplify(expr.xreplace(values))


# -- the index calculus, rule by rule, against the explicit sum ---------------------------------------------------
affine = st.tuples(st.sampled_from([-2, -1, 1, 2]), st.integers(-3, 3))


@st.composite
def summands(draw):
    """A product of a δ with an affine index, samples at shifted indices and a free-index factor."""
    a, b = draw(affine)
    factors = [KroneckerDelta(a * j + b, k)] if draw(st.booleans()) else []
    shift = draw(st.integers(0, 2))
    factors.append(z[j + shift] if draw(st.booleans()) else g[j])
    if draw(st.booleans()):
        factors.append(g[k])
    if draw(st.booleans()):
        factors.append(Sum(g[l] * u[l, j], (l, 1, m)))  # an inner sum
    return sympy.Mul(*factors) + draw(st.integers(-2, 2))


@settings(max_examples=60, deadline=None)
@given(body=summands(), size=st.integers(1, 7), data=st.data())
def test_normalize_equals_the_explicit_sum(body, size, data):
    kv = data.draw(st.integers(1, size))
    total = Sum(body, (j, 1, m))
    reduced = normalize(total, free=(k,), m=m)
    assert explicit(total, size + 3, {k: kv}) == explicit(reduced, size + 3, {k: kv})


def test_the_issues_index_bugs_are_gone():
    # δ with an affine index: the free l must not be left behind
    out = normalize(Sum(KroneckerDelta(l + 1, k) * z[l], (l, 1, m)), free=(k,), m=m)
    assert l not in out.free_symbols
    # a bound index is not captured: Σ_k (Σ_i g_i u_ik) g_k is 71 at this m = 2 draw, not 75
    e = Sum(Sum(g[i] * u[i, k], (i, 1, m)) * g[k], (k, 1, m))
    vals = {g[1]: 1, g[2]: 2, u[1, 1]: 3, u[1, 2]: 4, u[2, 1]: 5, u[2, 2]: 6}
    direct = expand_concrete(substitute(e, {m: 2})).xreplace(vals)
    canon = expand_concrete(substitute(normalize(e, m=m), {m: 2})).xreplace(vals)
    assert direct == canon == 1 * 3 * 1 + 2 * 5 * 1 + 1 * 4 * 2 + 2 * 6 * 2


def test_substitution_never_captures():
    s = Sum(g[j] * g[k], (j, 1, m))
    out = substitute(s, {k: j})
    (var, _, _), = out.limits
    assert var != j and out.function.has(g[j]) and out.function.has(g[var])
    assert rename_apart(s, [j]).limits[0][0] != j


@pytest.mark.parametrize("index", [k, l, j])
def test_statistics_partials_for_every_index(index):
    ctx = context(Options(), free=(index,))
    K.equal(ctx, sympy.Derivative(mu, z[index]), 1 / m, "∂μ/∂z")
    K.equal(ctx, sympy.Derivative(sigma**2, z[index]), 2 * (z[index] - mu) / m, "∂σ²/∂z")
    with pytest.raises(StepError):
        K.equal(ctx, sympy.Derivative(mu, z[index]), 1, "wrong")


# -- the kernel refuses what is false --------------------------------------------------------------------------
def test_facts_come_only_from_the_kernel():
    with pytest.raises(KernelError):
        K.Fact("eq", sympy.Integer(1), sympy.Integer(2), "forged", context(Options()))


@pytest.mark.parametrize("lhs, rhs", [
    (Sum(xhat[j], (j, 1, m)), 1),
    (Sum(xhat[j] ** 2, (j, 1, m)), m - 1),
    (sympy.Derivative(xhat[i], z[k]), (KroneckerDelta(i, k) - 1 / (m - 1) - xhat[i] * xhat[k] / m) / sigma),
])
def test_false_steps_are_refused(lhs, rhs):
    ctx = context(Options())
    with pytest.raises(StepError):
        K.equal(ctx, lhs, rhs, "false")


def test_jx_is_zero_only_at_eps_zero():
    J = (KroneckerDelta(i, l) - 1 / m - xhat[i] * xhat[l] / m) / sympy.sqrt(sigma**2 + Options(eps="any").eps_symbol)
    K.equal(context(Options()), Sum(J * xhat[l], (l, 1, m)), 0, "ε = 0")
    with pytest.raises(StepError):
        K.equal(context(Options(eps="positive")), Sum(J * xhat[l], (l, 1, m)), 0, "ε > 0")


def test_a_witness_must_separate_and_be_admissible():
    ctx = context(Options(batch=3), free=())
    values = {z[1]: 0, z[2]: 1, z[3]: 3}
    K.unequal(ctx, xhat[1], 0, values, "x̂_1 ≠ 0")
    with pytest.raises(StepError):
        K.unequal(ctx, Sum(xhat[j], (j, 1, 3)), 0, values, "Σ x̂ = 0 everywhere")
    with pytest.raises(StepError):  # a constant batch violates σ > 0
        K.unequal(ctx, xhat[1], 1, {z[1]: 1, z[2]: 1, z[3]: 1}, "degenerate")


def test_derivative_with_respect_to_a_defined_quantity_is_refused():
    ctx = context(Options(), free=(i, k), linear=True)
    with pytest.raises(KernelError, match="defined"):
        K.equal(ctx, sympy.Derivative(xhat[i], z[k]), 0, "meaningless")


# -- lemmas are reused: a wrong lemma breaks every proof that needs it -----------------------------------------
MUTATIONS = {
    "bn_jacobian": ("bnsym.theorems.units.jacobian", "jacobian_closed_form",
                    lambda real: (lambda opts, row=i, col=k: real(opts, row, col) * (1 + 1 / m)),
                    ["bn_jacobian", "bn_jacobian_null_space", "backward_compact", "backward_formulas",
                     "scale_invariance_input_grad", "scale_invariance_weight_grad", "weight_orthogonality",
                     "gradient_norm_identity"]),
    "backward_compact": ("bnsym.theorems.units.backward", "compact_gradient",
                         lambda real: (lambda opts, k_=k: -real(opts, k_)),
                         ["backward_compact", "gradient_norm_identity", "gradient_norm_bound"]),
}


@pytest.mark.parametrize("lemma", sorted(MUTATIONS))
def test_mutating_a_lemma_breaks_its_dependents(lemma, monkeypatch):
    module_name, attr, mutate, dependents = MUTATIONS[lemma]
    module = __import__(module_name, fromlist=[attr])
    real = getattr(module, attr)
    registry.clear_cache()
    try:
        monkeypatch.setattr(module, attr, mutate(real))
        if lemma == "bn_jacobian":  # the dependents import the name from the same module
            from bnsym.theorems.units import jacobian as jmod
            monkeypatch.setattr(jmod, "jacobian_closed_form", mutate(real))
        for name in dependents:
            assert prove(name).holds is not True, name
    finally:
        monkeypatch.undo()
        registry.clear_cache()
    for name in dependents:
        assert prove(name).holds is True, name
