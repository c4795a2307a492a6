"""The report's document model and its writers (Markdown, HTML, LaTeX, files), on small hand-made reports.

The answer's text (:mod:`bnsym.report.answer`) is tested on a real run in tests/test_explain.py.
"""
from __future__ import annotations

import re
import shutil

import pytest

import bnsym.report as report
from bnsym.errors import BnsymError
from bnsym.report import (FigureRef, Math, Report, Section, Table, Text, bundled_mathjax, find_mathjax, to_html,
                          to_markdown, to_tex, write_report)
from bnsym.report.html import MathImages
from bnsym.report.tex import tex_text
from bnsym.report.write import MATH_PLACEHOLDER

OLD_NAMES = ["Text", "Math", "Table", "FigureRef", "Section", "Report", "to_markdown", "to_html", "to_tex",
             "find_mathjax", "bundled_mathjax", "write_report", "build_report"]


def every_block(text: str = "prose", caption: str = "a caption") -> Report:
    """One section with a block of every kind, and a second section with a figure (figures are numbered)."""
    return Report("Title", [
        Section("First", [Text(text), Math(r"x^2 + y^2", block=r"\begin{align*}x^2 + y^2\end{align*}"),
                          Table(["h1", "h2"], [["1", "2"], ["3", "4"]], "table caption"),
                          FigureRef("one.png", caption)]),
        Section("Second", [Math(r"\frac{a}{b}"), Table(["only"], [["x"]]), FigureRef("two.png", "second")])])


def test_the_package_keeps_the_old_names():
    assert sorted(report.__all__) == sorted(OLD_NAMES)
    for name in OLD_NAMES:
        assert callable(getattr(report, name)), name
    from bnsym import report as lazily  # bnsym's lazy submodule still resolves to the package

    assert lazily.write_report is write_report


def test_markdown_has_every_block_kind():
    md = to_markdown(every_block())
    assert md.startswith("# Title\n\n## First\n\nprose\n\n$$x^2 + y^2$$\n")
    assert "| h1 | h2 |\n|---|---|\n| 1 | 2 |\n| 3 | 4 |\n\n*table caption*\n" in md
    assert "| only |\n|---|\n| x |\n" in md and "*only*" not in md  # no caption line without a caption
    assert "![Figure 1](one.png)\n\n*Figure 1. a caption*" in md
    assert "![Figure 2](two.png)\n\n*Figure 2. second*" in md
    assert md.index("## First") < md.index("## Second") < md.index("Figure 2")


def test_markdown_escapes_pipes_in_cells_only():
    md = to_markdown(Report("T", [Section("S", [Text("a | b"), Table(["x|y"], [["1|2"]])])]))
    assert "a | b" in md and r"| x\|y |" in md and r"| 1\|2 |" in md


def test_html_has_every_block_kind_with_mathjax():
    page = to_html(every_block(), mathjax="mathjax/tex-svg.js")
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert "<title>Title</title>" in page and "<h1>Title</h1>" in page
    assert "<h2>First</h2>" in page and "<h2>Second</h2>" in page and "<p>prose</p>" in page
    assert r'<div class="display">\[x^2 + y^2\]</div>' in page  # the one-line form, not the align* block
    assert ('<tr><th>h1</th><th>h2</th></tr><tr><td class="num">1</td><td class="num">2</td></tr>'
            '<tr><td class="num">3</td><td class="num">4</td></tr>') in page
    assert '<p class="caption">table caption</p>' in page and page.count('class="caption"') == 1
    assert '<img src="one.png" alt="Figure 1"><figcaption><b>Figure 1.</b> a caption</figcaption>' in page
    assert '<img src="two.png" alt="Figure 2">' in page
    assert '<script id="MathJax-script" async src="mathjax/tex-svg.js"></script>' in page


def test_html_escapes_text_titles_cells_captions_and_math():
    nasty = '<script>alert("x")</script> & \'q\''
    rep = Report(nasty, [Section(nasty, [Text(nasty), Math("a < b & c"), Table([nasty], [[nasty]], nasty),
                                         FigureRef('f".png', nasty)])])
    page = to_html(rep, mathjax="m.js")
    assert "<script>alert" not in page
    escaped = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#x27;q&#x27;"
    # title, h1, h2, paragraph, header cell, cell, table caption and the figure's caption
    assert page.count(escaped) == 8
    assert f"<figcaption><b>Figure 1.</b> {escaped}</figcaption>" in page
    assert r"\[a &lt; b &amp; c\]" in page and 'src="f&quot;.png"' in page


def test_html_without_mathjax_renders_svg_images(tmp_path):
    pytest.importorskip("matplotlib")
    page = to_html(every_block(), tmp_path)
    images = re.findall(r'<img class="math" src="(math/eq\d+\.svg)" style="height:[\d.]+em" alt="([^"]*)">', page)
    assert [alt for _, alt in images] == ["x^2 + y^2", r"\frac{a}{b}"]
    assert all((tmp_path / src).read_text().lstrip().startswith("<?xml") for src, _ in images)
    assert "MathJax-script" not in page


def test_math_images_fall_back_to_escaped_source(tmp_path):
    pytest.importorskip("matplotlib")
    images = MathImages(tmp_path / "math")
    tag = images(r"\begin{pmatrix} a < b \end{pmatrix}")  # outside mathtext's LaTeX subset
    assert tag == r'<code class="tex">\begin{pmatrix} a &lt; b \end{pmatrix}</code>'
    assert 'src="math/eq2.svg"' in images("x")  # numbering goes on after a failure


def test_tex_has_every_block_kind():
    tex = to_tex(every_block())
    assert tex.startswith(r"\documentclass[11pt]{article}") and tex.rstrip().endswith(r"\end{document}")
    assert r"\title{Title}" in tex and r"\section*{First}" in tex and r"\section*{Second}" in tex
    assert "\nprose\n" in tex
    assert r"\begin{align*}x^2 + y^2\end{align*}" in tex and r"\[x^2 + y^2\]" not in tex  # the block form wins
    assert r"\[\frac{a}{b}\]" in tex
    assert r"\begin{tabular}{lr}" in tex and r"h1 & h2\\ \hline" in tex and r"1 & 2\\" in tex
    assert r"\begin{tabular}{l}" in tex and tex.count(r"\footnotesize") == 1  # one table has a caption
    assert r"\includegraphics[width=0.85\linewidth]{one.png}" in tex and r"\caption{a caption}" in tex
    assert tex.count(r"\begin{figure}") == 2 == tex.count(r"\end{figure}")
    assert tex.count(r"\begin{table}") == 2 == tex.count(r"\end{table}")


def test_tex_escapes_prose_but_not_math():
    special = r"50% & $5 #1 a_b {c} ~ ^ \ ŷ ∝ σ"
    tex = to_tex(Report(special, [Section(special, [Text(special), Math(r"\sigma_{x}^2 & 50\%"),
                                                    Table([special], [[special]], special),
                                                    FigureRef("f.png", special)])]))
    escaped = tex_text(special)
    assert tex.count(escaped) == 7  # title, section, text, header cell, cell, table caption, figure caption
    assert escaped.startswith(r"50\% \& \$5 \#1 a\_b \{c\} \textasciitilde{} \textasciicircum{} \textbackslash{} ")
    assert r"\hat{y}" in escaped and r"\propto" in escaped and r"\sigma" in escaped
    assert r"\[\sigma_{x}^2 & 50\%\]" in tex  # math is passed through as written


def test_tex_text_overrides_are_not_escaped_twice():
    assert tex_text("ŷ′") == r"$\hat{y}$$'$"
    assert tex_text("10⁻⁵ ∈ x") == r"10$^{-5}$ $\in$ x"


def test_write_report_fills_the_math_placeholder_in_every_format(tmp_path):
    pytest.importorskip("matplotlib")
    rep = Report("T", [Section("S", [Text(f"Math: {MATH_PLACEHOLDER}.")])])
    written = write_report(rep, tmp_path / "out", pdf=False, mathjax=None)
    how = written["math"]
    for key in ("md", "html", "tex"):
        text = written[key].read_text(encoding="utf-8")
        assert MATH_PLACEHOLDER not in text and "Math: " in text, key
    assert f"Math: {how}." in written["md"].read_text(encoding="utf-8")


def test_write_report_copies_a_named_mathjax(tmp_path):
    (tmp_path / "mj").mkdir()
    (tmp_path / "mj" / "tex-svg.js").write_text("/* stand-in */")
    written = write_report(every_block(), tmp_path / "out", pdf=False, mathjax=tmp_path / "mj")
    assert (tmp_path / "out" / "mathjax" / "tex-svg.js").read_text() == "/* stand-in */"
    assert "MathJax 3 (tex-svg.js)" in written["math"] and not (tmp_path / "out" / "math").exists()


def test_write_report_in_a_file_is_a_bnsym_error(tmp_path):
    (tmp_path / "afile").write_text("")
    with pytest.raises(BnsymError, match="cannot write the report in"):
        write_report(every_block(), tmp_path / "afile" / "out", pdf=False, mathjax=None)


def test_pdf_without_pdflatex_says_so(tmp_path, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    (tmp_path / "mj").mkdir()
    (tmp_path / "mj" / "tex-svg.js").write_text("")
    written = write_report(every_block(), tmp_path, pdf=True, mathjax=tmp_path / "mj")
    assert "pdf" not in written and "pdflatex is not installed" in written["pdf_error"]


def test_find_mathjax_prefers_the_argument_then_the_variable(tmp_path, monkeypatch):
    for name in ("a", "b"):
        (tmp_path / name / "es5").mkdir(parents=True)
        (tmp_path / name / "es5" / "tex-svg.js").write_text("")
    monkeypatch.setenv("BNSYM_MATHJAX", str(tmp_path / "b"))
    assert find_mathjax(tmp_path / "a") == tmp_path / "a" / "es5"
    assert find_mathjax() == tmp_path / "b" / "es5"
    monkeypatch.setenv("BNSYM_MATHJAX", str(tmp_path / "none"))
    with pytest.raises(BnsymError, match="no MathJax 3 in"):
        find_mathjax()


def test_bundled_mathjax_is_in_this_source_tree():
    found = bundled_mathjax()
    root = __import__("pathlib").Path(__file__).resolve().parent.parent
    assert found == root / "docs" / ".mathjax" / "node_modules" / "mathjax"


def test_html_sections_have_anchors_and_text_cells_are_left_aligned():
    rep = Report("T", [Section("S", [Table(["a", "b"], [["with BN", "0.5 [0.3 … 1]"]])], key="sweep"),
                       Section("No key")])
    page = to_html(rep, mathjax="m.js")
    assert '<h2 id="sweep">S</h2>' in page and "<h2>No key</h2>" in page
    assert '<td>with BN</td><td class="num">0.5 [0.3 … 1]</td>' in page
    assert "MathJax = {svg: {scale: 1" in page  # typeset at the body's size


def test_tex_puts_floats_here_and_prose_tables_in_paragraph_columns():
    long = "a cell with a sentence in it, long enough to need a paragraph column"
    tex = to_tex(Report("T", [Section("S", [Table(["claim", "verdict"], [[long, "holds"]], "cap"),
                                            FigureRef("f.png", "c")])]))
    assert r"\begin{longtable}" in tex and r"\raggedright\arraybackslash}p{" in tex and long in tex
    assert r"\begin{figure}[H]" in tex and r"\usepackage{amsmath,amssymb,graphicx,float,array,longtable}" in tex
    assert tex_text("w₁⋯w₅").count(r"$\cdots$") == 1


def test_a_worktree_finds_the_main_checkouts_mathjax(tmp_path, monkeypatch):
    from bnsym.report import html as writer

    main_root, tree = tmp_path / "main", tmp_path / "wt"
    es5 = main_root / "docs" / ".mathjax" / "node_modules" / "mathjax" / "es5"
    es5.mkdir(parents=True)
    (es5 / "tex-svg.js").write_text("")
    (main_root / ".git" / "worktrees" / "wt").mkdir(parents=True)
    for root in (main_root, tree):
        (root / "scripts").mkdir(parents=True, exist_ok=True)
        (root / "scripts" / "build-docs.sh").write_text("")
        (root / "pyproject.toml").write_text("")
    (tree / ".git").write_text(f"gitdir: {main_root / '.git' / 'worktrees' / 'wt'}\n")
    monkeypatch.delenv("BNSYM_MATHJAX", raising=False)
    monkeypatch.setattr(writer, "_SOURCE_ROOT", tree)
    assert find_mathjax() == es5
    (tree / ".git").write_text("not a gitdir line")
    assert find_mathjax() is None
