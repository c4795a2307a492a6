"""``bnsym explain`` on tiny settings: the report's files, figures and captions; offline math; the PDF."""
from __future__ import annotations

import dataclasses
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from bnsym import results as typed
from bnsym.cli import main
from bnsym.errors import BnsymError
from bnsym.explain import ExplainSettings, run_explain
from bnsym.report import (FigureRef, Math, Report, Section, Table, Text, build_report, to_html, to_markdown,
                          write_report)
from bnsym.report.answer import SECTIONS

FIGURES = ["lr_vs_depth.png", "loss_curves.png", "weight_norm_effective_lr.png", "gradient_norm_per_layer.png",
           "goodfellow.png", "curvature_scaling.png", "laterwork_gradient_explosion.png",
           "laterwork_edge_of_stability.png", "laterwork_auto_rate.png", "laterwork_smoothness.png",
           "laterwork_rate_speedup.png"]


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("explain") / "report"
    result = CliRunner().invoke(main, ["explain", "--quick", "-o", str(out), "--no-pdf"])
    assert result.exit_code == 0, result.output + repr(result.exception)
    return out


@pytest.fixture(scope="module")
def explanation():
    pytest.importorskip("matplotlib")
    return run_explain(ExplainSettings.tiny())


def test_explain_writes_the_report_and_figures(report_dir):
    for name in ["report.md", "report.html", "report.tex", "sweep.jsonl", *FIGURES]:
        assert (report_dir / name).is_file(), name
    for name in FIGURES:
        data = (report_dir / name).read_bytes()
        assert data.startswith(b"\x89PNG") and len(data) > 5000, name


def test_every_figure_is_referenced_with_a_caption(report_dir):
    md = (report_dir / "report.md").read_text()
    page = (report_dir / "report.html").read_text()
    for name in FIGURES:
        match = re.search(r"!\[Figure (\d+)\]\(" + re.escape(name) + r"\)\n\n\*Figure \1\. (.+)\*", md)
        assert match and len(match.group(2)) > 60, name
        assert f'<img src="{name}"' in page
    assert page.count("<figcaption>") == len(FIGURES)


def test_report_answers_with_measured_numbers(report_dir):
    md = (report_dir / "report.md").read_text()
    for heading in ["Goodfellow", "two-layer", "identities", "Santurkar", "largest learning rate against depth"]:
        assert heading in md
    assert "nan" not in md.lower().split()  # no failed measurement printed as a number
    assert re.search(r"log-log slopes of .*: -2\.0000", md)  # the 1/c² law, measured in this run


def test_html_math_is_offline(report_dir):
    page = (report_dir / "report.html").read_text()
    assert not re.search(r"""(src|href)=["']https?:""", page)
    if "MathJax-script" in page:
        src = re.search(r'id="MathJax-script" async src="([^"]+)"', page).group(1)
        assert src.startswith("mathjax/") and (report_dir / src).is_file()
    else:
        images = re.findall(r'<img class="math" src="(math/eq\d+\.svg)"', page)
        assert images and all((report_dir / p).stat().st_size > 500 for p in images)
        assert "mathtext" in page  # the report says how its math was rendered


def test_resume_reuses_the_sweep_results(report_dir):
    result = CliRunner().invoke(main, ["explain", "--quick", "-o", str(report_dir), "--no-pdf"])
    assert result.exit_code == 0
    assert re.search(r"learning-rate sweep \(bnsym\) \((\d+) resumed\)", result.output).group(1) != "0"


def test_html_uses_a_local_mathjax_when_one_is_found(tmp_path, monkeypatch):
    es5 = tmp_path / "mj" / "es5"
    es5.mkdir(parents=True)
    (es5 / "tex-svg.js").write_text("/* stand-in for MathJax */")
    monkeypatch.setenv("BNSYM_MATHJAX", str(tmp_path / "mj"))
    out = tmp_path / "out"
    written = write_report(Report("T", [Section("S", [Math(r"\frac{a}{b}")])]), out, pdf=False)
    page = (out / "report.html").read_text()
    assert '<script id="MathJax-script" async src="mathjax/tex-svg.js">' in page
    assert (out / "mathjax" / "tex-svg.js").read_text() == "/* stand-in for MathJax */"
    assert r"\[\frac{a}{b}\]" in page and not (out / "math").exists()
    assert "MathJax 3" in written["math"]


def test_explain_without_matplotlib_is_a_clear_error(tmp_path):
    code = ("import sys; sys.modules['matplotlib'] = None; from bnsym.cli import main; "
            f"main(['explain', '--quick', '-o', {str(tmp_path / 'r')!r}])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 2
    assert "bnsym: error:" in out.stderr and "matplotlib" in out.stderr


def test_markdown_of_a_small_report():
    rep = Report("T", [Section("S", [Text("a | b"), Math(r"x^2"), Table(["h"], [["1|2"]], "cap"),
                                     FigureRef("f.png", "a caption")])])
    md = to_markdown(rep)
    assert "a | b" in md and "$$x^2$$" in md and r"1\|2" in md and "*Figure 1. a caption*" in md


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex not installed")
def test_pdf_is_compiled_when_pdflatex_exists(tmp_path):
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    fig.savefig(tmp_path / "f.png")
    plt.close(fig)
    rep = Report("A title with η and ‖W‖²", [Section("S", [
        Text("Prose with 50% & specials_ and σ."), Math(r"\frac{\partial J}{\partial w_1} = x"),
        Table(["a", "b"], [["1", "≥ 1 (top of grid)"]], "cap"), FigureRef("f.png", "A caption.")])])
    written = write_report(rep, tmp_path, pdf=True)
    assert "pdf_error" not in written, written.get("pdf_error")
    assert Path(written["pdf"]).read_bytes().startswith(b"%PDF")


# -- the Explanation's typed results and the answer's text ----------------------------------------------------
def test_results_are_frozen_dataclasses(explanation):
    results = explanation.results
    assert isinstance(results, typed.Results)
    for field in dataclasses.fields(results):
        value = getattr(results, field.name)
        if field.name == "cap":
            assert value and all(isinstance(v, typed.RateCap) for v in value)
        elif field.name == "statements":
            assert value and all(isinstance(v, typed.Statement) and v.holds for v in value.values())
        elif field.name == "later":
            from bnsym.report.claims import LATER_WORK

            assert set(value) == {key for key, _, _ in LATER_WORK}
            assert all(type(v).__dataclass_params__.frozen for v in value.values())
        else:
            assert dataclasses.is_dataclass(value) and type(value).__dataclass_params__.frozen, field.name
    with pytest.raises(dataclasses.FrozenInstanceError):
        results.sweep = None
    sweep = results.sweep
    assert all(isinstance(k, typed.SweepKey) and isinstance(v, typed.StableRates) for k, v in sweep.summary.items())
    assert sweep.depths == tuple(sorted(explanation.settings.depths))
    assert all(isinstance(row, typed.CurvatureRow) for row in results.curvature.rows)
    assert all(isinstance(v, typed.CurvatureScaling) for v in results.curvature.scaling.values())


def test_figures_are_looked_up_by_name(explanation):
    assert sorted(f.name for f in explanation.figures) == sorted(FIGURES)
    for name in FIGURES:
        assert explanation.figure(name).name == name == explanation.figure(name.removesuffix(".png")).name
    with pytest.raises(BnsymError, match="no figure called 'nope'"):
        explanation.figure("nope")


def test_the_answer_does_not_depend_on_the_figures_order(explanation):
    shuffled = dataclasses.replace(explanation, figures=tuple(reversed(explanation.figures)))
    assert to_markdown(build_report(shuffled)) == to_markdown(build_report(explanation))
    refs = [b for s in build_report(explanation).sections for b in s.blocks if isinstance(b, FigureRef)]
    assert sorted(r.path for r in refs) == sorted(FIGURES)
    assert all(r.caption == explanation.figure(r.path).caption for r in refs)


def test_the_answer_has_one_section_per_part(explanation):
    rep = build_report(explanation)
    assert len(rep.sections) == len(SECTIONS)
    assert [s.title.split(" ")[0] for s in rep.sections[1:]] == [f"{n}." for n in range(1, len(SECTIONS))]
    assert all(s.blocks for s in rep.sections)


def test_the_grid_top_is_the_explanations_own(explanation):
    before = to_markdown(build_report(explanation))
    lowest = min(v.median for v in explanation.results.sweep.summary.values() if v.median is not None)
    lower = dataclasses.replace(explanation.settings, lrs=tuple(lr for lr in explanation.settings.lrs if lr <= lowest))
    other = to_markdown(build_report(dataclasses.replace(explanation, settings=lower)))
    assert f"≥ {lowest:.3g}" in other and f"≥ {lowest:.3g}" not in before
    assert to_markdown(build_report(explanation)) == before  # nothing carried over from the other report


# -- the claims table, the two outcomes, the formulas -----------------------------------------------------------
def _claims_table(rep):
    return next(b for b in rep.sections[0].blocks if isinstance(b, Table) and b.header[0] == "claim")


def test_the_claims_table_comes_first_and_links_to_sections(explanation):
    from bnsym.report.claims import LATER_WORK, NOT_RUN, build_claims

    rep = build_report(explanation)
    table = _claims_table(rep)
    claims = build_claims(explanation)
    assert len(table.rows) == len(claims) and all(len(row) == 6 for row in table.rows)
    numbers = {s.key: s.title.split(".")[0] for s in rep.sections[1:]}
    for claim, row in zip(claims, table.rows, strict=True):
        assert row[4] == claim.verdict
        assert str(row[5]) == (f"§{numbers[claim.link]}" if claim.link else "—"), claim
    page = to_html(rep, mathjax="m.js")
    for key in {c.link for c in claims if c.link}:
        assert f'<a href="#{key}">' in page and f'<h2 id="{key}">' in page
    later = {source for _, _, source in LATER_WORK}
    assert {r[1] for r in table.rows} >= later  # every later work has its rows, all measured in this run
    assert all(r[3] != NOT_RUN and str(r[5]) == f"§{numbers['later']}" for r in table.rows if r[1] in later)
    assert all(r[3] != NOT_RUN for r in table.rows if r[1] not in later)  # own claims are all measured
    without = build_claims(dataclasses.replace(explanation, results=dataclasses.replace(explanation.results,
                                                                                         later={})))
    assert [c.measured for c in without if c.source in later] == [NOT_RUN] * len(LATER_WORK)


def test_a_later_work_result_replaces_its_placeholder_row(explanation):
    from bnsym.report.claims import NOT_RUN, Claim, build_claims

    row = Claim("edge of stability", "Cohen et al. 2021", "derived", "λ_max measured", "holds", "sweep")
    bare = dataclasses.replace(explanation, results=dataclasses.replace(explanation.results, later={}))
    results = dataclasses.replace(explanation.results, later={"edge_of_stability": row})
    claims = build_claims(dataclasses.replace(explanation, results=results))
    assert row in claims and sum(c.measured == NOT_RUN for c in claims) == sum(
        c.measured == NOT_RUN for c in build_claims(bare)) - 1
    # a result that cannot state its claim yet is shown as run, never judged by a made-up value
    results = dataclasses.replace(explanation.results, later={"smoothness": object()})
    shown = [c for c in build_claims(dataclasses.replace(explanation, results=results)) if "smoother" in c.claim]
    assert [(c.measured, c.verdict) for c in shown] == [("run: see its section", "not judged")]


def test_verdicts_follow_the_measurements(explanation):
    from bnsym.report.claims import CONTRADICTED, build_claims

    def verdict(ex, start):
        return next(c.verdict for c in build_claims(ex) if c.claim.startswith(start))

    assert verdict(explanation, "larger weights") != CONTRADICTED
    bent = dataclasses.replace(explanation.results.curvature, gradient_slope=-0.5)
    other = dataclasses.replace(explanation, results=dataclasses.replace(explanation.results, curvature=bent))
    assert verdict(other, "larger weights") == CONTRADICTED
    assert "-0.5000" in next(c.measured for c in build_claims(other) if c.claim.startswith("larger weights"))


def test_both_outcomes_and_their_rules_are_reported(explanation):
    sweep, s = explanation.results.sweep, explanation.settings
    assert sweep.train_fraction == s.train_fraction and set(sweep.training) == set(sweep.summary)
    for r in sweep.records:
        stable, training = r["largest_stable"], r["largest_training"]
        assert training is None or stable is None or training <= stable
        for run in r["runs"]:
            rule = not run["diverged"] and run["final_loss"] <= s.train_fraction * run["initial_loss"]
            assert run["trains"] == rule
    md = to_markdown(build_report(explanation))
    assert f"at most {s.train_fraction:g} × J₀" in md and "exceeds 1000 × max(J₀, 1)" in md
    assert "no BN: trains" in md and "BN: does not diverge" in md


def test_the_pytorch_rerun_is_reported_per_configuration(explanation):
    pytest.importorskip("torch")
    rows = explanation.results.sweep.agreement
    s = explanation.settings
    assert len(rows) == len(s.depths) * 2 * s.torch_seeds
    md = to_markdown(build_report(explanation))
    assert f"Same outcomes in {sum(a.same_outcomes for a in rows)} of {len(rows)} configurations" in md


def test_the_cap_measurement_trains_the_parts_separately(explanation):
    for cap in explanation.results.cap:
        # BN's output is bounded whatever the weights feeding it: updating only them never diverges
        assert cap.normalized.median == max(explanation.settings.lrs)
        assert all(v > 0 for v in cap.block_critical)


def test_displayed_formulas_are_derived_or_proved(explanation):
    rep = build_report(explanation)
    proved = {st.latex for st in explanation.results.statements.values()}
    maths = [b.tex for s in rep.sections for b in s.blocks if isinstance(b, Math)]
    derived = [t for t in maths if t not in proved]
    assert len(maths) - len(derived) >= 10
    # the others are the two derivations (the chain rule of Goodfellow's chain, the two-layer network's ∂J/∂w₁)
    assert len(derived) == 2 and all(t.startswith(r"\frac{\partial J}{\partial") for t in derived)


def test_smoke_runs_say_so_and_no_internal_words(explanation):
    md = to_markdown(build_report(explanation))
    assert md.startswith("# SMOKE RUN") and "not measurements" in md
    full = dataclasses.replace(explanation, settings=dataclasses.replace(explanation.settings, smoke=False))
    assert "SMOKE" not in to_markdown(build_report(full))
    for word in ("learner", "seed network", "seed's"):
        assert word not in md.lower(), word


def test_the_sweep_scans_on_to_the_largest_rate_that_trains(tmp_path):
    import json

    from bnsym.errors import ValuesError
    from bnsym.sweep import SweepConfig, largest_stable_lr, run_sweep

    config = SweepConfig(depth=2, steps=40, batch=8, train_fraction=0.5)
    grid = [1e-4, 1e-3, 1e-2, 0.1, 1.0, 100.0]
    out = largest_stable_lr(config, grid)
    rates = [run["lr"] for run in out["runs"]]
    assert rates == sorted(rates, reverse=True)  # from the top down
    first_stable = next(run["lr"] for run in out["runs"] if not run["diverged"])
    assert out["largest_stable"] == first_stable
    assert out["largest_training"] == next(run["lr"] for run in out["runs"] if run["trains"]) == rates[-1]
    assert not out["runs"][0]["trains"]  # 100 diverges, so it does not train
    with pytest.raises(ValuesError, match="train_fraction"):
        largest_stable_lr(dataclasses.replace(config, train_fraction=1.5), grid)
    # a stored record without its 'trains' outcome is not trusted: it is run again, with a warning
    path = tmp_path / "sweep.jsonl"
    broken = dict(out, grid=grid)
    del broken["largest_training"]
    path.write_text(json.dumps(broken) + "\n")
    with pytest.warns(RuntimeWarning, match="malformed"):
        again = run_sweep([config], grid, results=path, workers=1, progress=False)
    assert again[0]["largest_training"] == out["largest_training"]


def test_explain_takes_a_config_file_and_an_executor(explanation, tmp_path):
    """The quick preset from a file, on a thread pool: the same sweep records as the tiny settings."""
    from concurrent.futures import ThreadPoolExecutor

    path = tmp_path / "explain.toml"
    path.write_text('preset = "quick"\n[sweep]\ntorch = false\n', encoding="utf-8")
    with ThreadPoolExecutor(max_workers=2) as pool:
        ours = run_explain(config=path, executor=pool)
    assert ours.settings == dataclasses.replace(ExplainSettings.tiny(), torch=False)
    assert ours.results.sweep.records == explanation.results.sweep.records
    assert ours.results.cap == explanation.results.cap
    assert ours.results.sweep.agreement == ()
