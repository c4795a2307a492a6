"""Independent replay of certificates (bnsym.replay): true steps pass, false steps fail, bad input is refused.

The certificates are built by hand from SymPy objects (``srepr``), as the proof kernel will emit them.
"""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import sympy
from sympy import Derivative, Eq, Gt, KroneckerDelta, Sum, sqrt, srepr

from bnsym.errors import BnsymError
from bnsym.functions import ReLUPrime
from bnsym.replay import ReplayError, ReplayReport, check_certificate, replay
from bnsym.replay.parse import parse_expr

PROVERS = ("bnsym.theorems", "bnsym.kernel", "bnsym.derive", "bnsym.network")
ROOT = Path(__file__).resolve().parent.parent

m = sympy.Symbol("m", integer=True, positive=True)
i, j, k, t = sympy.symbols("i j k t", integer=True, positive=True)
z, g, u = (sympy.IndexedBase(name, real=True) for name in "zgu")
xhat = sympy.IndexedBase("xhat", real=True)
mu = sympy.Symbol("mu", real=True)
sigma = sympy.Symbol("sigma", nonnegative=True)
eps = sympy.Symbol("epsilon", nonnegative=True)
BN_DEFINITIONS = [
    {"symbol": srepr(mu), "value": srepr(Sum(z[j], (j, 1, m)) / m)},
    {"symbol": srepr(sigma), "value": srepr(sqrt(Sum((z[j] - mu) ** 2, (j, 1, m)) / m))},
    {"symbol": srepr(xhat), "index": srepr(t), "value": srepr((z[t] - mu) / sqrt(sigma**2 + eps))},
]
JACOBIAN = (KroneckerDelta(i, k) - 1 / m - xhat[i] * xhat[k] / m) / sigma


def step(kind, lhs, rhs, **extra):
    return {"kind": kind, "lhs": srepr(sympy.sympify(lhs)), "rhs": srepr(sympy.sympify(rhs)), "rule": "test", **extra}


def certificate(*steps, hypotheses=(), definitions=BN_DEFINITIONS, batch="m"):
    return {
        "format": "bnsym-certificate/1", "theorem": "test", "statement": "a test", "holds": True, "batch": batch,
        "hypotheses": [{"text": str(h), "expr": srepr(h)} for h in hypotheses],
        "definitions": list(definitions),
        "steps": [{"id": n, **s} for n, s in enumerate(steps)],
        "narrative": ["ignored"],
    }


def verdicts(report):
    return [(s.numeric, s.exact) for s in report.steps]


# --- true general-m steps pass -------------------------------------------------------------------------
def test_delta_sifting_with_a_bare_index_passes_numerically_and_exactly():
    report = check_certificate(certificate(step("eq", Sum(KroneckerDelta(j, k) * z[j], (j, 1, m)), z[k])))
    assert report.ok and verdicts(report) == [("pass", "pass")]
    assert report.steps[0].points == 20 and report.steps[0].max_error == 0.0


def test_batch_statistics_identities_pass():
    report = check_certificate(certificate(
        step("eq", Sum(z[j] - mu, (j, 1, m)), 0),
        step("eq", Sum(xhat[j], (j, 1, m)), 0),
        step("eq", Sum(xhat[j] ** 2, (j, 1, m)), m * sigma**2 / (sigma**2 + eps)),
        hypotheses=[Gt(eps, 0)]))
    assert report.ok, report.steps
    assert verdicts(report) == [("pass", "pass")] * 3


def test_bn_jacobian_at_eps_zero_passes_and_is_exact():
    report = check_certificate(certificate(step("eq", Derivative(xhat[i], z[k]), JACOBIAN), hypotheses=[Eq(eps, 0)]))
    assert report.ok and verdicts(report) == [("pass", "pass")]
    assert report.steps[0].max_error < 1e-45


def test_jacobian_annihilates_xhat_only_at_eps_zero():
    annihilates = step("eq", Sum(Derivative(xhat[i], z[k]) * xhat[k], (k, 1, m)), 0)
    assert check_certificate(certificate(annihilates, hypotheses=[Eq(eps, 0)]), points=3).ok
    report = check_certificate(certificate(annihilates, hypotheses=[Gt(eps, 0)]), points=3)
    assert not report.ok and report.steps[0].numeric == "fail" and report.steps[0].max_error > 1e-3
    assert report.steps[0].exact != "pass"


# --- false steps fail ----------------------------------------------------------------------------------
def test_delta_sifting_with_a_shifted_index_fails():
    report = check_certificate(certificate(step("eq", Sum(KroneckerDelta(j + 1, k) * z[j], (j, 1, m)), z[k + 1])))
    assert not report.ok and verdicts(report) == [("fail", "fail")]
    assert "fails at m = " in report.steps[0].note
    true_shift = step("eq", Sum(KroneckerDelta(j + 1, k) * z[j], (j, 1, m)),
                      sympy.Piecewise((z[k - 1], k >= 2), (0, True)))
    assert check_certificate(certificate(true_shift)).ok


def test_captured_bound_index_fails():
    lhs = Sum(Sum(g[i] * u[i, k], (i, 1, m)) * g[k], (k, 1, m))
    captured = Sum(g[j], (j, 1, m)) * Sum(g[j] * u[j, j], (j, 1, m))
    report = check_certificate(certificate(step("eq", lhs, captured)))
    assert verdicts(report) == [("fail", "fail")] and report.failed == (0,)
    renamed = Sum(Sum(g[j] * u[j, i], (j, 1, m)) * g[i], (i, 1, m))
    assert check_certificate(certificate(step("eq", lhs, renamed))).ok


def test_real_only_identities_fail_for_unassumed_and_negative_symbols():
    x = sympy.Symbol("x", real=True)
    w = sympy.Symbol("w")  # complex
    report = check_certificate(certificate(step("eq", sympy.Abs(sqrt(x)) ** 2, x), step("eq", sympy.sign(sqrt(x)), 1),
                                           step("eq", sympy.Abs(w) ** 2, w**2), definitions=[]))
    assert [s.numeric for s in report.steps] == ["fail"] * 3 and "fail" not in [s.exact for s in report.steps]


def test_a_kink_at_zero_is_found():
    x = sympy.Symbol("x", real=True)
    report = check_certificate(certificate(step("eq", ReLUPrime(sympy.Abs(x)), 1), definitions=[]), points=20)
    assert report.steps[0].numeric == "fail"


# --- concrete batch, le and ne ------------------------------------------------------------------------
def test_concrete_batch_certificate():
    z1, z2, z3 = sympy.symbols("z1:4", real=True)
    mean = sympy.Symbol("mean", real=True)
    h = sympy.symbols("h1:4", real=True)
    definitions = [{"symbol": srepr(mean), "value": srepr((z1 + z2 + z3) / 3)}] + [
        {"symbol": srepr(h[n]), "value": srepr((zn - mean) / sqrt(((z1 - mean) ** 2 + (z2 - mean) ** 2
                                                                    + (z3 - mean) ** 2) / 3 + eps))}
        for n, zn in enumerate((z1, z2, z3))]
    report = check_certificate(certificate(
        step("eq", h[0] + h[1] + h[2], 0),
        step("eq", Sum(z[j] * KroneckerDelta(j, 2), (j, 1, 3)), z[2]),
        step("le", h[0] ** 2 + h[1] ** 2 + h[2] ** 2, 3),
        step("eq", h[0] + h[1], 0),
        hypotheses=[Gt(eps, 0)], definitions=definitions, batch=3))
    assert verdicts(report)[:3] == [("pass", "pass"), ("pass", "pass"), ("pass", "not expressible")]
    assert report.steps[3].numeric == "fail" and report.failed == (3,)


def test_le_steps():
    report = check_certificate(certificate(step("le", Sum(xhat[j] ** 2, (j, 1, m)), m),
                                           step("le", m, Sum(xhat[j] ** 2, (j, 1, m))), hypotheses=[Gt(eps, 0)]))
    assert [s.numeric for s in report.steps] == ["pass", "fail"]
    assert report.steps[0].max_error == 0.0 and report.steps[1].max_error > 0


def _witness(batch, gs, us):
    values = {srepr(m): batch, **{srepr(g[n + 1]): v for n, v in enumerate(gs)}}
    values.update({srepr(u[a + 1, b + 1]): us[a][b] for a in range(batch) for b in range(batch)})
    return {key: srepr(sympy.Integer(v)) for key, v in values.items()}


def test_ne_is_checked_at_its_witness_only():
    lhs = Sum(Sum(g[i] * u[i, k], (i, 1, m)) * g[k], (k, 1, m))
    captured = Sum(g[j], (j, 1, m)) * Sum(g[j] * u[j, j], (j, 1, m))
    good = step("ne", lhs, captured, witness=_witness(2, [1, 2], [[1, 0], [0, 1]]))  # 5 != 9
    equal = step("ne", lhs, captured, witness=_witness(2, [1, 2], [[1, 2], [3, 4]]))  # 27 == 27
    partial = step("ne", lhs, captured, witness={srepr(m): srepr(sympy.Integer(2))})
    report = check_certificate(certificate(good, equal, partial))
    assert verdicts(report)[:2] == [("pass", "pass"), ("fail", "fail")]
    assert report.steps[0].points == 1 and "|lhs - rhs| >= 4" in report.steps[0].note
    assert report.steps[2].numeric == "fail" and "does not assign" in report.steps[2].note


def test_ne_witness_must_be_admissible():
    a = sympy.Symbol("a", positive=True)
    bad = step("ne", a, -a, witness={srepr(a): srepr(sympy.Integer(-2))})
    irrational = step("ne", a**2, 2, witness={srepr(a): srepr(sqrt(3))})
    report = check_certificate(certificate(bad, irrational, definitions=[]))
    assert report.steps[0].numeric == "fail" and "violates its assumptions" in report.steps[0].note
    assert report.steps[1].numeric == "pass" and report.steps[1].exact == "not expressible"


def test_hypotheses_fix_values_and_constrain_points():
    a, b = sympy.symbols("a b", real=True)
    report = check_certificate(certificate(step("eq", a * b, 0), step("le", 0, b), step("eq", sympy.Abs(b), b),
                                           hypotheses=[Eq(a, 0), Gt(b, 0)], definitions=[]))
    assert report.ok, report.steps
    with pytest.raises(ReplayError, match="hypothesis 0 is false"):  # SymPy decides Eq(epsilon, -1) for epsilon >= 0
        check_certificate(certificate(step("eq", eps, 0), hypotheses=[Eq(eps, -1)], definitions=[]))


def test_undefined_everywhere_is_unchecked_not_passed():
    x = sympy.Symbol("x", real=True)
    y = sympy.Symbol("y", real=True)
    report = check_certificate(certificate(step("eq", x / (x - y), 1), step("le", sqrt(-1 - x**2), 0),
                                           hypotheses=[Eq(x, y)], definitions=[]))
    assert [s.numeric for s in report.steps] == ["unchecked", "unchecked"] and not report.ok
    assert all("no admissible point" in s.note for s in report.steps)


def test_undefined_functions_get_random_polynomials():
    x = sympy.Symbol("x", real=True)
    f = sympy.Function("f")
    wrong = step("eq", Derivative(f(x) ** 2, x), 2 * Derivative(f(x), x))
    report = check_certificate(certificate(step("eq", Derivative(f(x) ** 2, x), 2 * f(x) * Derivative(f(x), x)),
                                           wrong, definitions=[]))
    assert [s.numeric for s in report.steps] == ["pass", "fail"]
    assert report.steps[0].exact == "pass"  # f(x) and its derivative are atoms for SymEngine


def test_lemma_steps_are_checked_like_equalities():
    report = check_certificate(certificate(
        step("lemma", Derivative(xhat[i], z[k]), JACOBIAN, theorem="bn_jacobian"),
        step("lemma", Derivative(xhat[i], z[k]), -JACOBIAN, theorem="bn_jacobian"), hypotheses=[Eq(eps, 0)]),
        points=3)
    assert [s.numeric for s in report.steps] == ["pass", "fail"]
    assert "bn_jacobian" in report.steps[0].note


def test_reports_round_trip_and_an_empty_certificate_is_not_ok():
    report = check_certificate(certificate(step("eq", Sum(z[j] - mu, (j, 1, m)), 0)))
    assert ReplayReport.from_dict(json.loads(json.dumps(report.to_dict()))) == report
    assert not check_certificate(certificate()).ok


# --- malicious or malformed input is refused -----------------------------------------------------------
@pytest.mark.parametrize("text", [
    "__import__('os').system('echo pwned')",
    "Symbol('x').__class__",
    "eval('1')",
    "(lambda: Integer(1))()",
    "Symbol('x', **{'positive': True})",
    "Integer(10**10)",
    "Integer(" + "9" * 500 + ")",
    "Pow(Integer(2), Integer(100000000))",
    "Add(" * 400 + "Integer(1)" + ")" * 400,
    "Mul(Symbol('x'), Symbol('y'), evaluate=False)",
    "Symbol('x', positive=1)",
    "Symbol('x')[0]",
    "[Integer(1)]",
    "Integer(1) + Integer(2)",
    "Function(Symbol('f'))(Symbol('x'))",
    "Symbol('x\\x00')",
    "Float('nan')",
    "sympify('x')",
    "Symbol(x)",
    "1",
])
def test_malicious_srepr_is_refused(text):
    with pytest.raises(ReplayError, match="refused") as caught:
        parse_expr(text)
    assert isinstance(caught.value, BnsymError)


def test_huge_text_is_refused_before_parsing():
    with pytest.raises(ReplayError, match="longer than"):
        parse_expr("Integer(1)" + " " * 5_000_000)


def test_a_huge_sum_is_unchecked_not_expanded():
    huge = Sum(z[j], (j, 1, 10**9))
    report = check_certificate(certificate(step("eq", huge, huge + 0 * m), definitions=[]))
    assert report.steps[0].numeric == "unchecked" and "more than" in report.steps[0].note


@pytest.mark.parametrize("mutate, message", [
    (lambda c: c.update(format="other"), "not a bnsym-certificate/1"),
    (lambda c: c["steps"][0].pop("lhs"), "step 0 field 'lhs' must be a string"),
    (lambda c: c["steps"][0].update(kind="maybe"), "kind must be one of"),
    (lambda c: c["steps"][0].update(kind="ne"), "needs a witness"),
    (lambda c: c["steps"][0].update(cites=[7]), "cites must list ids of earlier steps"),
    (lambda c: c["steps"].append(dict(c["steps"][0])), "unique integer"),
    (lambda c: c.update(batch=0), "'batch' must be"),
    (lambda c: c["definitions"].reverse(), "not defined before it"),
    (lambda c: c["hypotheses"].append({"text": "x", "expr": srepr(mu + 1)}), "not a relation"),
])
def test_malformed_certificates_are_refused(mutate, message):
    cert = certificate(step("eq", mu, mu))
    mutate(cert)
    with pytest.raises(ReplayError, match=message):
        check_certificate(cert)


# --- the fresh process and the command line -------------------------------------------------------------
def test_replay_runs_in_a_fresh_process_without_the_provers():
    cert = certificate(step("eq", Derivative(xhat[i], z[k]), JACOBIAN), hypotheses=[Eq(eps, 0)])
    report = replay(json.dumps(cert), points=2)
    assert report.ok and report.steps[0].points == 8
    assert "bnsym.replay.check" in report.bnsym_modules and "bnsym.functions" in report.bnsym_modules
    assert not [name for name in report.bnsym_modules if name.startswith(PROVERS)]
    assert dict(report.engines)["symengine"]


def test_replay_errors_are_clear():
    with pytest.raises(ReplayError, match="did not finish"):
        replay(certificate(step("eq", mu, mu)), timeout=0.01)
    malicious = certificate(step("eq", mu, mu))
    malicious["steps"][0]["lhs"] = "__import__('os').system('echo pwned')"
    with pytest.raises(ReplayError, match="refused"):
        replay(malicious)
    with pytest.raises(ReplayError, match="cannot read"):
        replay(Path("/nonexistent/certificate.json"))


def _cli(*args, stdin=None):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "bnsym.replay", *args], input=stdin, capture_output=True,
                          text=True, env=env, timeout=120)


def test_cli_exit_codes(tmp_path, capsys, monkeypatch):
    from bnsym.replay.__main__ import main

    good, bad = tmp_path / "good.json", tmp_path / "bad.json"
    good.write_text(json.dumps(certificate(step("eq", Sum(z[j] - mu, (j, 1, m)), 0))))
    bad.write_text(json.dumps(certificate(step("eq", Sum(z[j], (j, 1, m)), mu))))
    passed = _cli(str(good))  # the real command, in a fresh interpreter
    assert passed.returncode == 0, passed.stderr
    assert json.loads(passed.stdout)["ok"] is True
    assert main([str(bad), "--verbose"]) == 1
    out, err = capsys.readouterr()
    assert json.loads(out)["steps"][0]["numeric"] == "fail" and "step 0 (eq): numeric fail" in err
    broken = certificate(step("eq", mu, mu))
    broken["steps"][0]["lhs"] = "Symbol('x').__class__"
    monkeypatch.setattr(sys, "stdin", io.StringIO(json.dumps(broken)))
    assert main(["-"]) == 2
    out, err = capsys.readouterr()
    assert "refused" in json.loads(out)["error"] and "Traceback" not in err
    assert main([str(tmp_path / "missing.json")]) == 2


def test_chain_rule_through_definitions_equals_sympy_diff_of_the_explicit_form():
    from bnsym.functions import ReLU, Sigmoid
    from bnsym.replay.evaluate import evaluate
    from bnsym.replay.expand import Expander

    a = sympy.IndexedBase("a", real=True)
    definitions = {mu: Sum(z[j], (j, 1, m)) / m, sigma: sqrt(Sum((z[j] - mu) ** 2, (j, 1, m)) / m),
                   xhat: ((t,), (z[t] - mu) / sqrt(sigma**2 + eps)), a: ((t,), ReLU(xhat[t]) * sympy.Abs(z[t] - mu))}
    expr = Derivative(Sum(a[j] * xhat[j] + Sigmoid(mu), (j, 1, m)), z[2])
    lazy = Expander(definitions, {m: 3})(expr)
    full = Expander(definitions, {m: 3}, lazy=False)(expr)
    values = {z[1]: sympy.Rational(1, 3), z[2]: sympy.Integer(-2), z[3]: sympy.Rational(5, 2),
              eps: sympy.Rational(1, 7)}
    assert abs(evaluate(lazy, values) - evaluate(full, values)) < 1e-45
    assert abs(evaluate(full, values)) > 1e-3  # a nontrivial derivative
    second = Derivative(xhat[1] * sympy.Abs(z[1] - mu), z[1], z[2])
    assert abs(evaluate(Expander(definitions, {m: 2})(second), values)
               - evaluate(Expander(definitions, {m: 2}, lazy=False)(second), values)) < 1e-45


def test_sums_follow_sympy_conventions_for_free_and_reversed_bounds():
    report = check_certificate(certificate(
        step("eq", Sum(1, (j, 1, k)), k),
        step("eq", Sum(z[j], (j, k + 1, k - 1)), -z[k]),  # Karr: Σ_{a}^{b} = -Σ_{b+1}^{a-1} when b < a - 1
        step("eq", sympy.Product(z[j], (j, 1, m)), sympy.Product(z[j], (j, 1, m - 1)) * z[m])))
    assert report.ok, report.steps


def test_leaves_without_a_real_assumption_are_drawn_complex_and_said_so():
    w = sympy.IndexedBase("w")  # srepr of IndexedBase(Symbol('w'), real=True) would lose the assumption too
    report = check_certificate(certificate(step("eq", sympy.Abs(w[1]) ** 2, w[1] ** 2), definitions=[]))
    assert report.steps[0].numeric == "fail" and "w (no real assumption) drawn complex" in report.steps[0].note


def test_integer_valued_functions():
    n = sympy.Symbol("n", integer=True)
    x = sympy.Symbol("x", real=True)
    report = check_certificate(certificate(
        step("eq", sympy.Mod(n**3 - n, 3), 0), step("eq", sympy.Mod(n**2, 4), 0),
        step("eq", sympy.floor(x) + sympy.floor(-x), -1), definitions=[]))
    assert [s.numeric for s in report.steps] == ["pass", "fail", "fail"]  # the last is 0 at integers
    assert report.steps[1].note.startswith("fails at n = ")
