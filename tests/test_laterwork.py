"""The later-work experiments (bnsym.laterwork): each runs in quick mode with results of the right shape, its
invariants hold against independent computations, its text carries its numbers, its figure is drawn."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from bnsym.dynamics import hessian, lambda_max
from bnsym.errors import ValuesError
from bnsym.laterwork import auto_rate, edge_of_stability, gradient_explosion, rate_speedup, smoothness
from bnsym.laterwork._common import setup, summarize, top_eigenvalue
from tools import need_module

EXPERIMENTS = {
    "gradient_explosion": (gradient_explosion, gradient_explosion.GradientExplosionSettings),
    "edge_of_stability": (edge_of_stability, edge_of_stability.EdgeOfStabilitySettings),
    "auto_rate": (auto_rate, auto_rate.AutoRateSettings),
    "smoothness": (smoothness, smoothness.SmoothnessSettings),
    "rate_speedup": (rate_speedup, rate_speedup.RateSpeedupSettings),
}


@pytest.fixture(scope="module")
def quick():
    return {name: module.run(settings.quick()) for name, (module, settings) in EXPERIMENTS.items()}


def test_results_are_frozen_and_deterministic(quick):
    for name, (module, settings) in EXPERIMENTS.items():
        result = quick[name]
        assert dataclasses.is_dataclass(result) and type(result).__dataclass_params__.frozen
        with pytest.raises(dataclasses.FrozenInstanceError):
            result.settings = settings()  # type: ignore[misc]
        assert repr(module.run(settings.quick())) == repr(result), name  # seeded (repr: NaN != NaN)


def test_summarize_quantiles():
    s = summarize(np.arange(11.0))
    assert (s.median, s.low, s.high, s.n) == (5.0, 1.0, 9.0, 11)


@pytest.mark.parametrize("bn", [False, True])
def test_top_eigenvalue_matches_the_full_hessian(bn):
    s = setup([2, 3, 3, 1], bn=bn, seed=1, batch=8, activation="tanh")
    exact = lambda_max(hessian(s.net, s.params, s.x, s.t))
    value, vector = top_eigenvalue(lambda p: s.grads(p)[1], s.params, iterations=300)
    assert value == pytest.approx(exact, rel=1e-4)
    assert np.linalg.norm(vector) == pytest.approx(1.0)


def test_gradient_explosion_shapes_and_ratio(quick):
    r = quick["gradient_explosion"]
    st = r.settings
    assert len(r.profiles) == 2 * len(st.depths) * len(st.batches)
    for p in r.profiles:
        assert len(p.per_layer) == p.depth and p.ratio.n == st.seeds
        assert p.ratio.low <= p.ratio.median <= p.ratio.high
    # the ratio of one seed, recomputed on the checked route
    one = gradient_explosion.run(dataclasses.replace(st, seeds=1, depths=(4,)))
    s = setup([st.inputs, st.width, st.width, st.width, 1], bn=True, seed=0, batch=st.batches[0])
    _, grads = s.net.loss_and_gradients(s.params, s.x, s.t)
    expected = np.linalg.norm(grads["W1"]) / np.linalg.norm(grads["W4"])
    assert one.row(True, 4, st.batches[0]).ratio.median == pytest.approx(expected, rel=1e-12)
    # BN's explosion: deeper BN networks have a larger first/last ratio than without BN
    deep = max(st.depths)
    assert r.row(True, deep, st.batches[0]).ratio.median > r.row(False, deep, st.batches[0]).ratio.median


def test_edge_of_stability_starts_at_the_hessian(quick):
    r = quick["edge_of_stability"]
    st = r.settings
    assert len(r.runs) == 2 * len(st.rates)
    for run in r.runs:
        assert len(run.steps) == len(run.ratio) == len(run.loss) == st.steps // st.every + 1
        assert run.threshold == pytest.approx(2 / run.lr)
    run = r.get(False, st.rates[0])
    s = setup(list(st.widths), bn=False, seed=0, batch=st.batch, activation=st.activation, gain=st.gain)
    exact = lambda_max(hessian(s.net, s.params, s.x, s.t))
    assert run.initial.median == pytest.approx(st.rates[0] * exact / 2, rel=1e-3)


def test_auto_rate_norms_never_decrease_with_bn(quick):
    r = quick["auto_rate"]
    st = r.settings
    for c in r.conditions:
        assert len(c.norm_sq) == len(c.effective_lr) == len(c.loss) == st.steps + 1
        assert c.identity_error < 1e-12  # ‖W'‖² = ‖W‖² + η²‖∇J‖², exact with ε = 0
        assert c.min_increment >= -1e-9 * c.norm_sq[-1].high
        medians = [s.median for s in c.norm_sq]
        assert all(b >= a * (1 - 1e-12) for a, b in zip(medians, medians[1:], strict=False))
        start = [c.lr / float(np.sum(setup(list(st.widths), bn=True, seed=k, batch=st.batch).params["W1"] ** 2))
                 for k in range(st.seeds)]
        assert c.effective_lr[0].median == pytest.approx(float(np.median(start)), rel=1e-12)
    low, high = sorted(r.conditions, key=lambda c: c.lr)[::len(r.conditions) - 1]
    assert high.norm_sq[-1].median > low.norm_sq[-1].median  # a larger rate grows the norm more


def test_smoothness_probe_matches_a_direct_computation(quick):
    r = quick["smoothness"]
    st = r.settings
    for land in r.landscapes:
        assert len(land.beta) == len(land.loss_range) == len(land.grad_change) == len(r.steps)
        assert all(b.median >= 0 for b in land.beta)
    one = smoothness.run(dataclasses.replace(st, seeds=1))
    s = setup(list(st.widths), bn=True, seed=0, batch=st.batch)
    _, g = s.net.loss_and_gradients(s.params, s.x, s.t)
    gvec = np.concatenate([g[k].ravel() for k in s.params])
    betas = []
    for c in st.multiples:
        _, g2 = s.net.loss_and_gradients({k: s.params[k] - c * st.lr * g[k] for k in s.params}, s.x, s.t)
        betas.append(np.linalg.norm(np.concatenate([g2[k].ravel() for k in s.params]) - gvec)
                     / (c * st.lr * np.linalg.norm(gvec)))
    assert one.get(True).beta[0].median == pytest.approx(max(betas), rel=1e-10)


def test_rate_speedup_best_rate_and_multiples(quick):
    r = quick["rate_speedup"]
    st = r.settings
    assert len(r.without_bn) == len(st.rates)
    assert r.best is not None and r.best.median == min(e.median for e in r.without_bn)
    assert [e.lr for e in r.with_bn] == pytest.approx([r.best.lr * m for m in st.multiples])
    for e in r.with_bn:
        assert e.reached + (st.seeds - e.reached) == st.seeds and e.diverged <= st.seeds - e.reached
        if np.isfinite(e.median):
            assert r.speedup(e) == pytest.approx(r.best.median / e.median)


def test_texts_carry_the_results_numbers(quick):
    ge = quick["gradient_explosion"]
    text = gradient_explosion.describe(ge)
    for p in ge.profiles:
        if p.bn:
            assert f"{p.ratio.median:.3g}" in text
    eos = quick["edge_of_stability"]
    text = edge_of_stability.describe(eos)
    assert all(f"{run.late.median:.2f}" in text and f"{run.initial.median:.2f}" in text for run in eos.runs)
    ar = quick["auto_rate"]
    text = auto_rate.describe(ar)
    assert all(f"{c.over_critical.median:.3g}" in text and f"{c.norm_sq[-1].median:.3g}" in text
               for c in ar.conditions)
    assert f"{max(c.identity_error for c in ar.conditions):.1e}" in text
    sm = quick["smoothness"]
    text = smoothness.describe(sm)
    assert all(f"{land.beta[0].median:.3g}" in text for land in sm.landscapes)
    rs = quick["rate_speedup"]
    text = rate_speedup.describe(rs)
    assert f"{rs.best.lr:.3g}" in text and all(f"{e.lr:.3g}" in text for e in rs.with_bn)
    for module, _ in EXPERIMENTS.values():
        assert module.__doc__ and "arXiv" in module.__doc__


def test_bad_settings_are_values_errors():
    for module, settings in EXPERIMENTS.values():
        with pytest.raises(ValuesError, match="seeds"):
            module.run(dataclasses.replace(settings.quick(), seeds=0))
    with pytest.raises(ValuesError, match="rate"):
        auto_rate.run(dataclasses.replace(auto_rate.AutoRateSettings.quick(), rates=(-1.0,)))


def test_figures_are_drawn_with_the_fixed_colours(quick, tmp_path):
    need_module("matplotlib")
    from matplotlib.colors import to_rgb

    from bnsym.laterwork import figures

    makers = {"gradient_explosion": figures.gradient_explosion_figure,
              "edge_of_stability": figures.edge_of_stability_figure, "auto_rate": figures.auto_rate_figure,
              "smoothness": figures.smoothness_figure, "rate_speedup": figures.rate_speedup_figure}
    for name, make in makers.items():
        fig = make(quick[name])
        assert fig.name.endswith(".png") and fig.caption
        lines = [line for ax in fig.figure.axes for line in ax.get_lines() if not line.get_label().startswith("_")]
        for line in lines:
            condition = "no BN" if line.get_label().startswith("no BN") else "BN"
            rgb = np.asarray(to_rgb(line.get_color()))
            base = np.asarray(to_rgb(figures.COLORS[condition]))
            # a shade of the condition's colour: base mixed with white
            mix = (rgb - base) / np.where(1 - base == 0, 1, 1 - base)
            assert np.allclose(mix, mix[np.argmax(1 - base)], atol=1e-6), (name, line.get_label())
        assert fig.save(tmp_path).read_bytes()[:4] == b"\x89PNG"


def test_texts_follow_the_result_not_typed_numbers(quick):
    rs = quick["rate_speedup"]
    moved = dataclasses.replace(rs.best, lr=rs.best.lr * 7.0)
    text = rate_speedup.describe(dataclasses.replace(rs, best=moved))
    assert f"{moved.lr:.3g}" in text and f"{moved.lr:.3g}" not in rate_speedup.describe(rs)
    ge = quick["gradient_explosion"]
    first = ge.profiles[0]
    changed = dataclasses.replace(first, ratio=summarize([123456.0]))
    assert "1.23e+05" in gradient_explosion.describe(dataclasses.replace(ge, profiles=(changed, *ge.profiles[1:])))


def test_suite_runs_all_five_quick(tmp_path):
    from bnsym.laterwork.suite import describe_all, run_all

    work = run_all(quick=True)
    assert [name for name, _ in work.seconds] == list(EXPERIMENTS)
    assert all(seconds >= 0 for _, seconds in work.seconds)
    text = describe_all(work)
    assert all(module.describe(getattr(work, name)) in text for name, (module, _) in EXPERIMENTS.items())
    need_module("matplotlib")
    from bnsym.laterwork.suite import figures_all

    figs = figures_all(work)
    assert len({f.name for f in figs}) == len(EXPERIMENTS)


def test_claims_table_verdicts_follow_the_results():
    """Each later-work row's verdict is computed from its result: change the result, the verdict follows."""
    import dataclasses

    from bnsym.laterwork.suite import run_all
    from bnsym.laterwork.verdicts import claims
    from bnsym.report.claims import CONTRADICTED, HOLDS

    work = run_all(quick=True)
    auto = work.auto_rate
    rows = claims("auto_rate", auto)
    assert len(rows) == 1 and rows[0].link == "later"
    broken = dataclasses.replace(auto.conditions[0], diverged=1)
    worse = dataclasses.replace(auto, conditions=(broken, *auto.conditions[1:]))
    assert claims("auto_rate", worse)[0].verdict == CONTRADICTED
    speed = claims("rate_speedup", work.rate_speedup)
    assert len(speed) == len(work.rate_speedup.with_bn)
    for row, entry in zip(speed, work.rate_speedup.with_bn, strict=True):
        assert (row.verdict == HOLDS) == (work.rate_speedup.speedup(entry) > 1)
    for key in ("gradient_explosion", "edge_of_stability", "smoothness"):
        assert claims(key, getattr(work, key))[0].verdict in ("holds", "holds under stated conditions", "contradicted")
