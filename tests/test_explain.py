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
from bnsym.report import FigureRef, Math, Report, Section, Table, Text, build_report, to_markdown, write_report
from bnsym.report.answer import SECTIONS

FIGURES = ["lr_vs_depth.png", "loss_curves.png", "weight_norm_effective_lr.png", "gradient_norm_per_layer.png",
           "goodfellow.png", "curvature_scaling.png"]


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
    for heading in ["Goodfellow", "two-layer", "identities", "Santurkar", "Largest stable learning rate"]:
        assert heading in md
    assert "nan" not in md.lower().split()  # no failed measurement printed as a number
    assert re.search(r"slopes: .*-2\.0000", md)  # the 1/c² law, measured in this run


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
    assert [s.title.split(" ")[0] for s in rep.sections[2:]] == ["1.", "2.", "3.", "4.", "5.", "6."]
    assert all(s.blocks for s in rep.sections)


def test_the_grid_top_is_the_explanations_own(explanation):
    before = to_markdown(build_report(explanation))
    lowest = min(v.median for v in explanation.results.sweep.summary.values() if v.median is not None)
    lower = dataclasses.replace(explanation.settings, lrs=tuple(lr for lr in explanation.settings.lrs if lr <= lowest))
    other = to_markdown(build_report(dataclasses.replace(explanation, settings=lower)))
    assert f"≥ {lowest:.3g} (top of grid)" in other
    assert to_markdown(build_report(explanation)) == before  # nothing carried over from the other report
