"""Tests of the proof engine (bnsym.theorems): general m, concrete m, failing hypotheses, numeric checks."""
import time

import numpy as np
import pytest
import sympy
from hypothesis import assume, given, strategies as st

from bnsym.errors import BnsymError, ConditionError, TheoremError
from bnsym.theorems import Proof, Step, prove, theorems
from bnsym.theorems.checks import NAMES, bn_numeric, residual

ALL = [t.name for t in theorems()]
NOT_GENERAL = {"goodfellow_expansion"}  # proved for L = 1…6 only: holds=None for general L
REFUTED = {t.name for t in theorems() if t.refuted}  # false as stated: refuted with a witness (holds=False)
TRUE = [n for n in ALL if n not in NOT_GENERAL | REFUTED]


def test_catalogue_is_complete_and_sourced():
    assert set(NAMES) == set(ALL) and len(ALL) == len(set(ALL))
    assert {t.group for t in theorems()} == set(range(1, 13))  # 1–7 BN, 8–12 the normalization family
    for t in theorems():
        assert t.source and t.statement and t.statement_latex and t.hypotheses


@pytest.mark.parametrize("name", TRUE)
def test_general_m_proof_holds_with_checked_steps(name):
    p = prove(name)
    assert isinstance(p, Proof) and p.holds is True and p.batch == "m"
    assert p.steps and all(isinstance(s, Step) and s.reason for s in p.steps)
    checked = [s for s in p.steps if s.checked]
    assert checked and all(s.fact is not None and isinstance(s.expr, sympy.Basic) for s in checked)
    assert "general m" in p.method


def test_goodfellow_expansion_is_not_claimed_for_general_depth():
    p = prove("goodfellow_expansion")
    assert p.holds is None and "L = 1…6" in p.reason
    assert sum(s.checked for s in p.steps) == 12  # every coefficient and the first order, L = 1…6


@pytest.mark.parametrize("name", TRUE)
@pytest.mark.parametrize("batch", [2, 3])
def test_concrete_m_proof_holds(name, batch):
    p = prove(name, batch=batch)
    assert p.holds is True and p.batch == batch and f"m = {batch}" in p.method


def test_large_concrete_batches_are_fast():
    start = time.perf_counter()
    assert prove("bn_jacobian", batch=500).holds is True
    assert prove("scale_invariance_input_grad", batch=10**4).holds is True
    assert time.perf_counter() - start < 120  # a hang guard, not a speed target (benchmarks/bench_proofs.py)
    with pytest.raises(ConditionError, match="limit"):
        prove("bn_jacobian", batch=10**7)


@pytest.mark.parametrize("name", ["scale_invariance_forward", "scale_invariance_input_grad",
                                  "scale_invariance_weight_grad"])
@pytest.mark.parametrize("batch", ["m", 3, 5])
def test_negative_scale_flips_sign(name, batch):
    p = prove(name, batch=batch, assume={"a": "negative"})
    assert p.holds is False and p.replacement and "a < 0" in p.replacement
    assert [c.text for c in p.conditions][0] == "a < 0"
    ne = [s for s in p.steps if s.checked and s.fact.kind == "ne"]
    assert ne and ne[0].fact.context.m == (3 if batch == "m" else batch)  # the witness is a batch of that size
    assert p.counterexample["a"] < 0


@pytest.mark.parametrize("sign, limit", [("positive", 0), ("negative", -2)])
def test_eps_positive_gives_the_exact_deviation_and_its_limit(sign, limit):
    from bnsym.theorems.batch import mu, sigma, z, i

    p = prove("scale_invariance_forward", eps="positive", assume={"a": sign})
    assert p.holds is False and "ε/a²" in p.replacement
    lim = [s.fact for s in p.steps if s.checked and isinstance(s.fact.lhs, sympy.Limit)]
    assert len(lim) == 1
    assert sympy.simplify(lim[0].rhs - limit * (z[i] - mu) / sigma) == 0  # −2x̂ for a < 0 (the fix)


def test_eps_rules_for_other_theorems():
    assert prove("bn_jacobian", eps="positive").holds is True  # every ε ≥ 0
    assert prove("bias_gradient_zero", eps=sympy.Rational(1, 10)).holds is True
    ns = prove("bn_jacobian_null_space", eps="positive")
    assert ns.holds is False and "ε" in ns.replacement
    assert prove("weight_orthogonality", eps="positive").holds is False
    assert prove("gradient_norm_identity", eps="positive").holds is False
    assert prove("gradient_norm_bound", eps="positive").holds is True  # 1/√(σ² + ε) ≤ 1/σ
    assert prove("goodfellow_bn", eps="positive").holds is None  # never True outside its hypotheses
    for name in ("gradient_scaling", "weight_norm_growth", "hessian_block_scaling"):
        assert prove(name, eps="positive").holds is not True


def test_null_space_counterexample_uses_the_eps_asked_for():
    p = prove("bn_jacobian_null_space", eps=0.25)
    assert p.holds is False and p.counterexample["eps"] == 0.25


def test_misprinted_coefficient_is_refuted():
    p = prove("gradient_norm_bound", assume={"coefficient": "1/sqrt(m)"})
    assert p.holds is False
    assert any(s.checked and s.fact.kind == "gt" for s in p.steps)
    assert p.counterexample["exact"] > p.counterexample["claimed_bound"]


def test_degenerate_batches_are_never_true():
    with pytest.raises(ConditionError):
        prove("scale_invariance_input_grad", batch=1)
    p = prove("scale_invariance_input_grad", assume={"batch": "constant"})
    assert p.holds is None and "σ = 0" in p.reason
    b = prove("bias_gradient_zero", eps=sympy.Rational(1, 10), assume={"batch": "constant"})
    assert b.holds is True and all("not constant" not in c.text for c in b.conditions)


def test_conditions_read_as_mathematics():
    p = prove("scale_invariance_input_grad")
    assert str(p.conditions) == "(a > 0, ε = 0, m ≥ 2, batch not constant (σ > 0))"


@pytest.mark.parametrize("kwargs", [dict(batch="eight"), dict(batch=2.5), dict(assume={"b": 1}),
                                    dict(assume={"a": "zero"}), dict(eps="tiny"), dict(eps=[1]),
                                    dict(assume={"coefficient": "1/sqrt(m)"}), dict(eps=1j),
                                    dict(eps=sympy.I), dict(assume=[1])])
def test_bad_options_raise_bnsym_errors(kwargs):
    with pytest.raises(BnsymError):
        prove("scale_invariance_input_grad", **kwargs)


@pytest.mark.parametrize("eps", [float("inf"), float("nan"), np.nan, np.float32("nan"), sympy.oo, sympy.nan,
                                 -sympy.oo, sympy.zoo, __import__("decimal").Decimal("NaN"),
                                 __import__("decimal").Decimal("Infinity"), 1e400])
def test_non_finite_eps_is_refused(eps):
    with pytest.raises(BnsymError):
        prove("scale_invariance_input_grad", eps=eps)


def test_float_eps_is_read_as_its_decimal():
    p = prove("bias_gradient_zero", eps=0.01)
    assert p.holds is True
    eps_values = {v for s in p.steps if s.checked for k, v in s.fact.context.values}
    assert sympy.Rational(1, 100) in eps_values


def test_unknown_theorem_and_negative_eps():
    with pytest.raises(TheoremError, match="known:"):
        prove("no_such_theorem")
    with pytest.raises(ConditionError):
        prove("bn_jacobian", eps=-1)


# -- numeric checks (float64 lambdify(cse=True); mpmath for ill-conditioned draws) ---------------------------------
@st.composite
def draws(draw):
    mm = draw(st.integers(2, 4))
    n = draw(st.integers(1, 2))
    fl = st.floats(-3, 3, allow_nan=False)
    u = np.array(draw(st.lists(st.lists(fl, min_size=n, max_size=n), min_size=mm, max_size=mm)))
    W = np.array(draw(st.lists(st.floats(0.2, 2) | st.floats(-2, -0.2), min_size=n, max_size=n)))
    z = u @ W
    assume(z.std() > 1e-2 * max(1.0, np.abs(z).max()))
    return {"u": u, "W": W, "a": draw(st.floats(0.1, 10)), "c": draw(st.floats(0.1, 10)),
            "gamma": draw(st.floats(0.5, 2)), "beta": draw(st.floats(-1, 1)), "eta": draw(st.floats(0.01, 1)),
            "g": np.array(draw(st.lists(fl, min_size=mm, max_size=mm)))}


@pytest.mark.parametrize("name", ALL)
@given(d=draws())
def test_numeric_check(name, d):
    if name == "block_critical_rate":
        assume(d["u"].shape[1] >= 1)
    assert residual(name, d) < 1e-8


def test_theorem_numeric_field_is_the_check():
    d = {"u": np.array([[0.0], [1.0], [3.0]]), "W": np.array([1.0]), "a": 2.0}
    for t in theorems():
        assert t.numeric is not None
    assert theorems()[0].numeric(d) < 1e-12


def test_numeric_check_detects_failure():
    d = {"u": np.array([[0.0], [1.0], [3.0]]), "W": np.array([1.0]), "a": -2.0}
    assert residual("scale_invariance_forward", d) > 0.5  # a < 0: the sign flips
    d["a"], d["eps"] = 2.0, 0.5
    assert residual("scale_invariance_input_grad", d) > 1e-3  # ε > 0


def test_mpmath_fallback_for_ill_conditioned_batch():
    u = np.array([[1.0], [1.0 + 1e-9], [1.0 - 1e-9]])
    r = bn_numeric(u, np.array([1.0]))
    np.testing.assert_allclose(r["xhat"], [0.0, np.sqrt(1.5), -np.sqrt(1.5)], rtol=1e-6, atol=1e-6)


# -- PyTorch autograd cross-checks (ε > 0: torch refuses ε = 0) ------------------------------------------------------
@given(d=draws(), eps=st.floats(1e-3, 1.0))
def test_torch_backward_and_eps_scaling_match_the_proof_engine(torch, d, eps):
    """PyTorch's BN backward (∂J/∂u through z = uW, any ε > 0) equals the proof engine's Jacobian of its own
    batch_normalize (``bn_numeric``), which test_numeric_check ties to the compact form of docs/math.md §4;
    and ``BN_ε(a z) = BN_{ε/a²}(z)``: PyTorch at the scaled input is the proof engine at ε/a²."""
    F = torch.nn.functional
    u = torch.tensor(d["u"], dtype=torch.float64, requires_grad=True)
    z = u @ torch.tensor(d["W"], dtype=torch.float64)
    mm = z.numel()
    y = F.batch_norm(z.view(mm, 1), None, None, torch.tensor([d["gamma"]], dtype=torch.float64),
                     torch.tensor([d["beta"]], dtype=torch.float64), training=True, eps=eps)
    (y.view(-1) * torch.tensor(d["g"], dtype=torch.float64)).sum().backward()
    ours = bn_numeric(d["u"], d["W"], eps)
    expected = d["gamma"] * np.einsum("i,ikn->kn", d["g"], ours["du"])  # Σᵢ gᵢ γ ∂x̂ᵢ/∂u_k
    np.testing.assert_allclose(u.grad.numpy(), expected, rtol=1e-7, atol=1e-9 * max(1.0, np.abs(expected).max()))
    np.testing.assert_allclose(y.detach().view(-1).numpy(), d["gamma"] * ours["xhat"] + d["beta"], rtol=1e-9,
                               atol=1e-9)
    a = d["a"]
    scaled = F.batch_norm((a * z.detach()).view(mm, 1), None, None, training=True, eps=eps).view(-1)
    np.testing.assert_allclose(scaled.numpy(), bn_numeric(d["u"], d["W"], eps / a**2)["xhat"], rtol=1e-9, atol=1e-9)


def test_torch_input_gradient_matches_proof_engine(torch):
    u = np.array([[0.5, -1.0], [2.0, 0.3], [-0.7, 1.1], [1.5, 0.0]])
    W = np.array([0.9, -0.4])
    eps = 1e-3
    ut = torch.tensor(u, requires_grad=True)
    z = ut @ torch.tensor(W)
    y = torch.nn.functional.batch_norm(z.view(-1, 1), None, None, training=True, eps=eps).view(-1)
    jac = torch.autograd.functional.jacobian(
        lambda uu: torch.nn.functional.batch_norm((uu @ torch.tensor(W)).view(-1, 1), None, None, training=True,
                                                  eps=eps).view(-1), ut)
    np.testing.assert_allclose(jac.numpy(), bn_numeric(u, W, eps)["du"], rtol=1e-8, atol=1e-10)
    assert y.shape == (4,)


def test_cli_prove():
    from click.testing import CliRunner

    from bnsym.cli import main

    res = CliRunner().invoke(main, ["prove", "scale_invariance_input_grad", "--batch", "3"])
    assert res.exit_code == 0 and "holds: True" in res.output
    res = CliRunner().invoke(main, ["prove"])
    assert res.exit_code == 0 and "scale_invariance_forward" in res.output
    res = CliRunner().invoke(main, ["prove", "nope"])
    assert res.exit_code == 2 and "unknown theorem" in res.output
    res = CliRunner().invoke(main, ["prove", "bn_jacobian", "--batch", "x"])
    assert res.exit_code != 0
    res = CliRunner().invoke(main, ["prove", "bias_gradient_zero", "--latex"])
    assert res.exit_code == 0 and r"\begin{align*}" in res.output


def test_the_proofs_definitions_are_the_librarys_batch_normalize():
    from bnsym.theorems.batch import check_library_tie

    assert check_library_tie(3) and check_library_tie(4)
