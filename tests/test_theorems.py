"""Tests of the proof engine (bnsym.theorems): general m, concrete m, failing hypotheses, numeric checks."""
import numpy as np
import pytest
import sympy
from hypothesis import assume, given, strategies as st

from bnsym.errors import BnsymError, ConditionError, TheoremError
from bnsym.theorems import Proof, Step, prove, theorems
from bnsym.theorems.algebra import batch_sum, equal, i, k, m, sigma, xhat, KroneckerDelta
from bnsym.theorems.checks import NAMES, bn_numeric, residual
from bnsym.theorems.concrete import Feature, tied_zero

ALL = [t.name for t in theorems()]


def test_catalogue_is_complete_and_sourced():
    assert set(NAMES) == set(ALL) and len(ALL) == len(set(ALL))
    assert {t.group for t in theorems()} == set(range(1, 8))
    for t in theorems():
        assert t.source and t.statement and t.statement_latex and t.hypotheses


@pytest.mark.parametrize("name", ALL)
def test_general_m_proof_holds_with_steps(name):
    p = prove(name)
    assert isinstance(p, Proof) and p.holds is True and p.batch == "m"
    assert p.steps and all(isinstance(s, Step) and isinstance(s.expr, sympy.Basic) and s.reason for s in p.steps)
    assert "general m" in p.method


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("batch", [2, 3])
def test_concrete_m_proof_holds(name, batch):
    p = prove(name, batch=batch)
    assert p.holds is True and p.batch == batch and f"m = {batch}" in p.method


def test_concrete_jacobian_every_entry_count():
    assert "every entry (25)" in prove("bn_jacobian", batch=5).method
    assert "every entry (50)" in prove("scale_invariance_input_grad", batch=5, width=2).method


@pytest.mark.parametrize("name", ["scale_invariance_forward", "scale_invariance_input_grad",
                                  "scale_invariance_weight_grad"])
@pytest.mark.parametrize("batch", ["m", 3])
def test_negative_scale_flips_sign(name, batch):
    p = prove(name, batch=batch, assume={"a": "negative"})
    assert p.holds is False and p.replacement and "a < 0" in p.replacement
    assert [c.text for c in p.conditions][0] == "a < 0"
    ce = p.counterexample
    lhs, rhs = np.array(ce["lhs"]), np.array(ce["rhs"])
    assert ce["a"] < 0 and ce["max_abs_difference"] > 1e-3
    # what holds instead: the sign flips (weight grad: 1/|a| instead of 1/a)
    np.testing.assert_allclose(lhs, -rhs, atol=1e-12)


@pytest.mark.parametrize("name", ["scale_invariance_forward", "scale_invariance_input_grad"])
def test_eps_positive_gives_deviation_vanishing_in_the_limit(name):
    p = prove(name, eps="positive")
    assert p.holds is False and "ε/a²" in p.replacement
    last = p.steps[-1].expr
    assert isinstance(last, sympy.Eq) and isinstance(last.lhs, sympy.Limit) and last.rhs == 0
    assert p.counterexample["max_abs_difference"] > 0


def test_eps_rules_for_other_theorems():
    assert prove("bn_jacobian", eps="positive").holds is True  # every ε ≥ 0
    assert prove("bias_gradient_zero", eps=sympy.Rational(1, 10)).holds is True
    ns = prove("bn_jacobian_null_space", eps="positive")
    assert ns.holds is False and "epsilon" in ns.replacement
    assert prove("weight_orthogonality", eps="positive").holds is False
    assert prove("gradient_norm_identity", eps="positive").holds is False
    assert prove("gradient_norm_bound", eps="positive").holds is True  # 1/√(σ² + ε) ≤ 1/σ
    assert prove("goodfellow_expansion", eps="positive").holds is None  # never True outside its hypotheses


def test_misprinted_coefficient_is_refuted():
    p = prove("gradient_norm_bound", assume={"coefficient": "1/sqrt(m)"})
    assert p.holds is False
    assert p.counterexample["exact"] > p.counterexample["claimed_bound"]


def test_degenerate_batches_are_never_true():
    with pytest.raises(ConditionError):
        prove("scale_invariance_input_grad", batch=1)
    p = prove("scale_invariance_input_grad", assume={"batch": "constant"})
    assert p.holds is None and "σ = 0" in p.reason


@pytest.mark.parametrize("kwargs", [dict(batch="eight"), dict(batch=2.5), dict(assume={"b": 1}),
                                    dict(assume={"a": "zero"}), dict(eps="tiny"), dict(eps=[1]),
                                    dict(assume={"coefficient": "1/sqrt(m)"})])
def test_bad_options_raise_bnsym_errors(kwargs):
    with pytest.raises(BnsymError):
        prove("scale_invariance_input_grad", **kwargs)


def test_unknown_theorem_and_negative_eps():
    with pytest.raises(TheoremError, match="known:"):
        prove("no_such_theorem")
    with pytest.raises(ConditionError):
        prove("bn_jacobian", eps=-1)


# -- the checkers can fail: a wrong closed form is not accepted ----------------------------------------------------
def test_general_algebra_rejects_a_wrong_jacobian():
    right = (KroneckerDelta(i, k) - 1 / m - xhat[i] * xhat[k] / m) / sigma
    wrong = (KroneckerDelta(i, k) - 1 / (m - 1) - xhat[i] * xhat[k] / m) / sigma
    assert equal(right, right) and not equal(right, wrong)
    assert batch_sum(wrong, k)[0] != 0  # the misprint breaks J·1 = 0


def test_concrete_checker_rejects_a_wrong_jacobian():
    f = Feature.of_values(4)
    z = f.variables["z"]
    good = (0 - sympy.Rational(1, 4) - f.C[0] * f.C[1] / (4 * f.S**2)) / f.S
    bad = (0 - sympy.Rational(1, 3) - f.C[0] * f.C[1] / (4 * f.S**2)) / f.S
    red = 2 * f.C[1] / 4
    assert f.is_zero(f.dvar(z[1]) - red)
    assert f.is_zero(f.entry(0, z[1], red) - good)
    assert not f.is_zero(f.entry(0, z[1], red) - bad)
    s = sympy.Symbol("s", positive=True)
    assert not tied_zero(s - 1, s, sympy.Integer(2))


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
torch = pytest.importorskip("torch")


@given(d=draws(), eps=st.floats(1e-3, 1.0))
def test_torch_backward_compact_and_scaling(d, eps):
    z = torch.tensor(d["u"] @ d["W"], dtype=torch.float64, requires_grad=True)
    gam, g = d["gamma"], torch.tensor(d["g"], dtype=torch.float64)
    mm = z.numel()
    y = torch.nn.functional.batch_norm(z.view(mm, 1), None, None, torch.tensor([gam], dtype=torch.float64),
                                       torch.tensor([d["beta"]], dtype=torch.float64), training=True, eps=eps)
    (y.view(-1) * g).sum().backward()
    zz = z.detach().numpy()
    s = np.sqrt(zz.var() + eps)
    xh = (zz - zz.mean()) / s
    gn = d["g"]
    compact = gam / (mm * s) * (mm * gn - gn.sum() - xh * (gn @ xh))  # bn-math §4, every ε
    np.testing.assert_allclose(z.grad.numpy(), compact, rtol=1e-7, atol=1e-9 * max(1.0, np.abs(compact).max()))
    # BN_ε(a z) = BN_{ε/a²}(z): the exact replacement for ε > 0
    a = d["a"]
    za = torch.tensor(a * zz, dtype=torch.float64).view(mm, 1)
    lhs = torch.nn.functional.batch_norm(za, None, None, training=True, eps=eps)
    rhs = torch.nn.functional.batch_norm(z.detach().view(mm, 1), None, None, training=True, eps=eps / a**2)
    np.testing.assert_allclose(lhs.numpy(), rhs.numpy(), rtol=1e-9, atol=1e-9)


def test_torch_input_gradient_matches_proof_engine():
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


def test_graph_entries_equal_literal_sympy_diff_of_batch_normalize():
    """The concrete route's entries equal sympy.diff of the library's per-sample expressions (exact point)."""
    from bnsym.functions import batch_normalize

    f = Feature.of_values(4)
    z = f.variables["z"]
    xhat_lib = batch_normalize(z)
    point = dict(zip(z, [sympy.Rational(1, 3), sympy.Integer(2), sympy.Rational(-5, 7), sympy.Integer(3)]))
    atoms = {C: c.xreplace(point) for C, c in zip(f.C, f.c)}
    atoms[f.S] = sympy.sqrt(f.var.xreplace(point))
    for p in range(4):
        for q in range(4):
            brute = sympy.diff(xhat_lib[p], z[q]).xreplace(point)
            mine = f.entry(p, z[q]).xreplace(atoms)
            assert abs(sympy.N(brute - mine, 60)) < sympy.Float("1e-50")
