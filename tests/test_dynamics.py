"""bnsym.dynamics and bnsym.sweep: GD traces, curvature, norm growth, Goodfellow's example, sweeps."""
from __future__ import annotations

import itertools
import json
import subprocess
import sys

import numpy as np
import pytest
import sympy

from bnsym import chain, two_layer
from bnsym.dynamics import (
    critical_learning_rate,
    curvature_scaling,
    goodfellow_polynomial,
    goodfellow_step,
    gradient_descent,
    hessian,
    lambda_max,
    norm_growth,
    reference_data,
    symbolic_hessian,
)
from bnsym.errors import ValuesError
from bnsym.numeric import compile_network, init_mlp
from bnsym.sweep import SweepConfig, largest_stable_lr, run_sweep, summarize
from bnsym.vectorized import reference_mlp


def test_dynamics_imports_without_torch():
    code = ("import sys; sys.modules['torch'] = None; import bnsym.dynamics, bnsym.sweep, bnsym.numeric; "
            "print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "ok", out.stderr


def test_trace_records_norms_and_effective_rate():
    eng = reference_mlp([2, 4, 4, 1], bn=True)
    x, t = reference_data(batch=8)
    params = init_mlp([2, 4, 4, 1], bn=True, seed=2)
    tr = gradient_descent(eng, params, x, t, lr=0.05, steps=10)
    assert len(tr.loss) == 11 and not tr.diverged
    assert set(tr.grad_norms) == set(params)
    w = tr.weight_norms["W1"]
    assert w[0] == pytest.approx(np.linalg.norm(params["W1"]))
    np.testing.assert_allclose(tr.effective_lr["W1"], [0.05 / v ** 2 for v in w])
    assert tr.loss[-1] < tr.loss[0]
    assert np.array_equal(params["W1"], init_mlp([2, 4, 4, 1], bn=True, seed=2)["W1"])  # input untouched


def test_divergence_threshold_matches_the_critical_rate_of_a_quadratic():
    """J(w) = (w·x − t)² with x = 1: J'' = 2, so GD is stable below η = 2/λ = 1 and diverges above."""
    model = compile_network(chain(1, loss="mse"))
    H = hessian(model, {"w1": 0.3}, [[1.0]], [[2.0]])
    crit = critical_learning_rate(H)
    assert crit == pytest.approx(1.0, rel=1e-6)
    below = gradient_descent(model, {"w1": 0.3}, [[1.0]], [[2.0]], lr=0.95 * crit, steps=300)
    above = gradient_descent(model, {"w1": 0.3}, [[1.0]], [[2.0]], lr=1.05 * crit, steps=300)
    assert not below.diverged and above.diverged
    assert above.loss[-1] > above.bound


def test_bad_inputs_raise_bnsym_errors():
    model = compile_network(chain(1, loss="mse"))
    with pytest.raises(ValuesError):
        gradient_descent(model, {"w1": 1.0}, [[1.0]], [[0.0]], lr=float("nan"), steps=1)
    with pytest.raises(ValuesError):
        gradient_descent(model, {"w1": 1.0}, [[1.0]], [[0.0]], lr=0.1, steps=-1)
    with pytest.raises(ValuesError):
        largest_stable_lr(SweepConfig(depth=2), lrs=[])


def test_numeric_hessian_equals_the_symbolic_hessian_with_bn():
    net = two_layer(bn="pre", batch=3, inputs=2, loss="mse")
    H, f = symbolic_hessian(net)
    rng = np.random.default_rng(4)
    values = {"x": rng.standard_normal((3, 2)), "t": rng.standard_normal((3, 1)), "w1": [[0.7, -1.1]],
              "b1": 0.2, "w2": 1.4, "b2": 0.3, "gamma1": 1.3, "beta1": 0.4}
    exact = f(values)
    numeric = hessian(compile_network(net), {k: v for k, v in values.items() if k not in ("x", "t")},
                      values["x"], values["t"], names=list(net.parameters))
    np.testing.assert_allclose(numeric, exact, rtol=1e-5, atol=1e-6)
    assert lambda_max(exact) > 0.1
    # the bias before BN drops out: its row of the exact Hessian is identically zero
    b1 = list(net.parameters).index("b1") + 1  # w1 has two entries before it
    assert all(e == 0 for e in H.row(b1))


def test_curvature_scaling_law_needs_eps_zero():
    eng0, eng1 = reference_mlp([2, 3, 1], bn=True, eps=0.0), reference_mlp([2, 3, 1], bn=True, eps=0.5)
    x, t = reference_data(batch=6)
    params = init_mlp([2, 3, 1], bn=True, seed=1)
    exact = curvature_scaling(eng0, params, x, t, "W1", [0.5, 1.0, 2.0, 4.0])
    assert exact["slope"] == pytest.approx(-2.0, abs=1e-4)
    ratios = np.array(exact["lambda_max"][:-1]) / np.array(exact["lambda_max"][1:])
    np.testing.assert_allclose(ratios, 4.0, rtol=1e-4)
    with_eps = curvature_scaling(eng1, params, x, t, "W1", [0.5, 1.0, 2.0, 4.0])
    assert abs(with_eps["slope"] + 2.0) > 0.05  # ε > 0 breaks the exact law


def test_norm_growth_identity_exact_for_eps_zero_only():
    x, t = reference_data(batch=8)
    params = init_mlp([2, 4, 4, 1], bn=True, seed=0)
    exact = norm_growth(reference_mlp([2, 4, 4, 1], bn=True, eps=0.0), params, x, t, weight="W2", lr=0.3, steps=20)
    assert exact.max_relative_error < 1e-12
    assert exact.measured[-1] > exact.measured[0]
    assert all(b >= a for a, b in itertools.pairwise(exact.measured))
    # eps > 0 (at a small weight scale, where ε matters): no longer exact
    small = dict(params, W2=params["W2"] * 1e-2)
    eps = norm_growth(reference_mlp([2, 4, 4, 1], bn=True, eps=1e-2), small, x, t, weight="W2", lr=0.3, steps=20)
    assert eps.max_relative_error > 1e-6
    # the last layer's weights do not feed BN: the identity fails for them
    last = norm_growth(reference_mlp([2, 4, 4, 1], bn=True, eps=0.0), params, x, t, weight="W3", lr=0.3, steps=5)
    assert last.max_relative_error > 1e-6


def test_goodfellow_polynomial_first_order_term_is_minus_g_dot_g():
    L = 4
    poly = goodfellow_polynomial(L)
    net = chain(L)
    yhat = net.output[0]
    ws = [net.parameters[f"w{k}"][0, 0] for k in range(1, L + 1)]
    eta = poly.gen
    assert poly.degree() == L
    assert sympy.expand(poly.coeff_monomial(eta) + sum(sympy.diff(yhat, w) ** 2 for w in ws)) == 0
    point = {w: sympy.Rational(k + 3, 2) for k, w in enumerate(ws)}
    point[sympy.Symbol("x", real=True)] = sympy.Rational(1, 3)
    value = sympy.Rational(1, 7)
    direct = yhat.xreplace({w: w - value * sympy.diff(yhat, w) for w in ws}) - yhat
    assert poly.as_expr().xreplace({eta: value}).xreplace(point) == direct.xreplace(point)
    assert poly.coeff_monomial(eta ** 2).xreplace(point) != 0  # cross-layer interactions exist


@pytest.mark.parametrize("bn", [False, True])
def test_goodfellow_first_order_prediction_is_exact_to_first_order(bn):
    out = goodfellow_step([1e-6, 1e-5, 1e-4], depth=4, bn=bn)
    err = out.relative_error
    assert err[0] < 1e-3
    # the error of a first-order prediction is O(η): ten times η, about ten times the error
    assert 5 < err[1] / err[0] < 20 and 5 < err[2] / err[1] < 20


def test_goodfellow_bn_keeps_the_prediction_better_at_large_rates():
    lrs = [0.1, 0.3, 1.0]
    plain, normed = goodfellow_step(lrs, depth=5), goodfellow_step(lrs, depth=5, bn=True)
    assert plain.relative_error[-1] > 10 * normed.relative_error[-1]


# -- sweeps ----------------------------------------------------------------------------------------------
def test_sweep_resumes_from_its_results_file(tmp_path):
    path = tmp_path / "sweep.jsonl"
    configs = [SweepConfig(depth=2, steps=10, batch=8, seed=s) for s in (0, 1)]
    lrs = [1e-3, 1e-1, 10.0]
    first = run_sweep(configs, lrs, results=path, workers=1, progress=False)
    assert len(path.read_text().splitlines()) == 2
    with open(path, "a") as handle:
        handle.write('{"key": "cut sho')  # an interrupted write
    again = run_sweep(configs, lrs, results=path, workers=1, progress=False)
    assert [r["largest_stable"] for r in again] == [r["largest_stable"] for r in first]
    assert len([ln for ln in path.read_text().splitlines() if ln.startswith('{"key": "{')]) == 2  # nothing re-run
    more = run_sweep(configs + [SweepConfig(depth=3, steps=10, batch=8)], lrs, results=path, workers=1,
                     progress=False)
    assert len(more) == 3
    assert sum(1 for ln in path.read_text().splitlines() if ln.endswith("}")) == 3
    assert all(json.loads(ln)["grid"] == lrs for ln in path.read_text().splitlines() if ln.endswith("}"))


def test_sweep_in_a_process_pool_equals_in_process():
    configs = [SweepConfig(depth=d, bn=bn, steps=15, batch=8) for d in (2, 3) for bn in (False, True)]
    lrs = [1e-2, 1e-1, 1.0, 10.0]
    serial = run_sweep(configs, lrs, workers=1, progress=False)
    pooled = run_sweep(configs, lrs, workers=2, progress=False)
    assert [r["largest_stable"] for r in serial] == [r["largest_stable"] for r in pooled]
    assert [r["runs"] for r in serial] == [r["runs"] for r in pooled]


def test_largest_stable_scans_from_the_top():
    out = largest_stable_lr(SweepConfig(depth=2, steps=30, batch=8), lrs=[1e-3, 1e-2, 1e-1, 10.0, 100.0])
    runs = out["runs"]
    assert [r["lr"] for r in runs] == sorted((r["lr"] for r in runs), reverse=True)
    assert all(r["diverged"] for r in runs[:-1]) and not runs[-1]["diverged"]
    assert out["largest_stable"] == runs[-1]["lr"]


def test_summarize_takes_the_minimum_over_seeds():
    recs = [{"config": {"depth": 2, "bn": b, "scale": 1.0}, "largest_stable": v}
            for b, v in ((False, 0.1), (False, 0.01), (True, 0.5), (True, None))]
    assert summarize(recs) == {(2, False, 1.0, "bnsym"): 0.01, (2, True, 1.0, "bnsym"): None}


def test_sweep_agrees_with_pytorch_within_one_grid_step(torch):
    """Same configuration, same init (generated once in NumPy, loaded into torch), same data."""
    lrs = list(np.logspace(-3, 0, 7))
    configs = [SweepConfig(depth=d, bn=bn, seed=0, steps=60) for d in (2, 6) for bn in (False, True)]
    ours = run_sweep(configs, lrs, workers=1, progress=False)
    theirs = run_sweep([SweepConfig(**{**c.__dict__, "backend": "torch"}) for c in configs], lrs, workers=1,
                       progress=False)
    grid = sorted(float(v) for v in lrs)
    for a, b in zip(ours, theirs, strict=True):
        assert a["largest_stable"] is not None and b["largest_stable"] is not None
        assert abs(grid.index(a["largest_stable"]) - grid.index(b["largest_stable"])) <= 1, (a, b)
    # and BN's stable rate is at least as large as the plain network's, at depth 6
    by = {(r["config"]["depth"], r["config"]["bn"]): r["largest_stable"] for r in ours}
    assert by[(6, True)] >= by[(6, False)]
