"""LaTeX output checked with real tools: pdflatex compiles every seed network's and every theorem's document
without an error or an overfull box, pdftoppm renders a non-blank page, and the formulas are SymPy's own.

Tests that need pdflatex/pdftoppm skip when the tool is missing, except in CI (CI=true), where they fail.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from types import SimpleNamespace

import pytest
import sympy
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

import bnsym
from bnsym.cli import main
from bnsym.errors import LatexError
from bnsym.latex import (
    Notation,
    _unbreak,
    break_latex,
    check_math,
    compile_pdf,
    document,
    escape_text,
    latex_width,
    print_latex,
    repr_latex,
    to_latex,
)

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def need(tool: str) -> str:
    """The tool's path; skip without it locally, fail without it in CI (where .ci/run installs it)."""
    path = shutil.which(tool)
    if path is None:
        message = f"{tool} is not installed (apt-get install texlive-latex-base texlive-latex-recommended poppler-utils)"
        if IN_CI:
            pytest.fail(message + " - CI must run this test")
        pytest.skip(message)
    return path


SEEDS = {
    "chain5-abcde": lambda: bnsym.chain(5, names="abcde"),
    "two-layer-relu": lambda: bnsym.two_layer("relu"),
    "two-layer-sigmoid": lambda: bnsym.two_layer("sigmoid"),
    "two-layer-relu-bn-pre": lambda: bnsym.two_layer("relu", bn="pre", batch=2),
    "two-layer-relu-bn-post": lambda: bnsym.two_layer("relu", bn="post", batch=2),
    "two-layer-sigmoid-bn-pre": lambda: bnsym.two_layer("sigmoid", bn="pre", batch=2),
    "two-layer-sigmoid-bn-post": lambda: bnsym.two_layer("sigmoid", bn="post", batch=2),
    "mlp-2-2-1": lambda: bnsym.mlp([2, 2, 1]),
}
SETTINGS = Notation().sympy_settings()


def _theorem_names() -> list[str]:
    try:
        from bnsym.theorems import theorems
    except ImportError:  # pragma: no cover - the proofs package is developed in parallel
        return []
    return [t.name for t in theorems()]


# -- compiled with pdflatex ----------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", sorted(SEEDS))
def test_seed_network_document_compiles_without_overfull_boxes(seed, tmp_path):
    need("pdflatex")
    tex = to_latex(SEEDS[seed]().gradients(), standalone=True)
    pdf = compile_pdf(tex, tmp_path)  # raises on any error or overfull box
    log = (tmp_path / "bnsym.log").read_text(encoding="latin-1")
    assert "Overfull" not in log and "! " not in log
    assert pdf.stat().st_size > 1000
    assert re.search(r"Output written on bnsym\.pdf \((\d+) pages?", log)


@pytest.mark.parametrize("name", _theorem_names())
def test_theorem_document_compiles_without_overfull_boxes(name, tmp_path):
    need("pdflatex")
    from bnsym.theorems import prove

    proof = prove(name)
    pdf = compile_pdf(to_latex(proof, standalone=True, numbered=True), tmp_path)
    assert pdf.stat().st_size > 1000
    assert "Overfull" not in (tmp_path / "bnsym.log").read_text(encoding="latin-1")


@pytest.mark.parametrize("seed", ["two-layer-sigmoid-bn-pre", "mlp-2-2-1"])
def test_a_two_column_text_width_is_respected(seed, tmp_path):
    """Notation(width=240) (a two-column paper) breaks lines for 240 pt; the document is set that wide."""
    need("pdflatex")
    notation = Notation(width=240)
    tex = to_latex(SEEDS[seed]().gradients(), standalone=True, notation=notation)
    assert "textwidth=240pt" in tex
    compile_pdf(tex, tmp_path / "derivation")
    if _theorem_names():
        from bnsym.theorems import prove

        compile_pdf(to_latex(prove("backward_formulas"), standalone=True, notation=notation), tmp_path / "proof")


def test_a_failing_proof_with_its_replacement_compiles(tmp_path):
    need("pdflatex")
    if not _theorem_names():
        pytest.skip("bnsym.theorems is not available")
    from bnsym.theorems import prove

    proof = prove("scale_invariance_input_grad", assume={"a": "negative"})
    assert proof.holds is False
    tex = to_latex(proof, standalone=True)
    assert "Does not hold as stated" in tex
    compile_pdf(tex, tmp_path)


def _dark_fraction(pdf, tmp_path, pdftoppm) -> float:
    subprocess.run([pdftoppm, "-gray", "-r", "100", "-f", "1", "-l", "1", str(pdf), str(tmp_path / "page")],
                   check=True, capture_output=True, timeout=60)
    (image,) = tmp_path.glob("page*.pgm")
    width, height, pixels = _read_pgm(image.read_bytes())
    assert width > 600 and height > 800
    return sum(1 for p in pixels if p < 200) / (width * height)


def test_first_page_renders_to_a_non_blank_image(tmp_path):
    need("pdflatex")
    pdftoppm = need("pdftoppm")
    pdf = compile_pdf(to_latex(SEEDS["two-layer-relu"]().gradient("w1"), standalone=True), tmp_path / "math")
    dark = _dark_fraction(pdf, tmp_path / "math", pdftoppm)
    blank = compile_pdf(r"\documentclass{article}\pagestyle{empty}\begin{document}\mbox{}\end{document}",
                        tmp_path / "blank")
    assert _dark_fraction(blank, tmp_path / "blank", pdftoppm) == 0  # the measure does see a blank page
    assert 0.003 < dark < 0.5, f"{dark:.4f} of the page is ink"


def _read_pgm(data: bytes) -> tuple[int, int, bytes]:
    """Binary PGM (P5) as (width, height, pixels)."""
    fields = re.match(rb"P5\s+(\d+)\s+(\d+)\s+(\d+)\s", data)
    assert fields, "pdftoppm did not write a PGM image"
    width, height = int(fields.group(1)), int(fields.group(2))
    return width, height, data[fields.end():fields.end() + width * height]


def test_compile_pdf_reports_latex_errors_and_overfull_boxes(tmp_path):
    need("pdflatex")
    broken = r"\documentclass{article}\begin{document}\undefinedmacro\end{document}"
    with pytest.raises(LatexError, match="Undefined control sequence"):
        compile_pdf(broken, tmp_path / "a")
    wide = r"\documentclass{article}\begin{document}\[" + " + ".join(["x_{%d}" % k for k in range(90)]) + r"\]\end{document}"
    with pytest.raises(LatexError, match="Overfull"):
        compile_pdf(wide, tmp_path / "b")


def test_compile_pdf_has_no_shell_escape(tmp_path):
    need("pdflatex")
    marker = tmp_path / "pwned"
    tex = r"\documentclass{article}\begin{document}\immediate\write18{touch %s}x\end{document}" % marker
    compile_pdf(tex, tmp_path)
    assert not marker.exists()


# -- one source of truth: the formulas are sympy.latex of the Derivation's expressions -----------------------
@pytest.mark.parametrize("seed", ["chain5-abcde", "two-layer-relu", "two-layer-sigmoid", "mlp-2-2-1"])
def test_printed_closed_forms_are_sympy_latex_of_the_derivation(seed):
    for derivation in SEEDS[seed]().gradients().values():
        tex = to_latex(derivation)
        for expr in (derivation.closed_form, derivation.compact):
            entries = list(expr) if isinstance(expr, sympy.MatrixBase) else [expr]
            for entry in entries:
                printed = sympy.latex(entry, **SETTINGS)
                lines = break_latex(entry, 10_000)
                assert lines == [printed]
                if latex_width(printed) < 200:
                    assert printed in tex, (seed, derivation.parameter_name, printed)


def test_broken_lines_join_back_to_sympy_latex_for_bn_networks():
    net = SEEDS["two-layer-sigmoid-bn-pre"]()
    for derivation in net.gradients().values():
        for expr in (derivation.compact,):
            lines = break_latex(expr, 250)
            assert _unbreak(lines).replace(" ", "") == sympy.latex(expr, **SETTINGS).replace(" ", "")


@pytest.mark.parametrize("seed,param", [("two-layer-relu-bn-pre", "gamma1"), ("two-layer-sigmoid-bn-post", "gamma1")])
def test_abbreviated_closed_forms_are_the_derivations_expression(seed, param):
    """Closed forms too large to break are printed with sympy.cse names: every kappa printed is defined in
    the block, the definitions printed are sympy.latex of cse's pieces, and substituted back they give the
    Derivation's own closed form (compared at random points: SymPy re-evaluates while substituting)."""
    import random

    d = SEEDS[seed]().gradient(param)
    tex = to_latex(d)
    used = set(re.findall(r"\\kappa_\{(\d+)\}", tex))
    defined = set(re.findall(r"^(?:\\text\{where \})?\\kappa_\{(\d+)\} &=", tex, re.M))
    assert used and used == defined
    replacements, (reduced,) = sympy.cse(d.closed_form, symbols=sympy.numbered_symbols("kappa", start=1),
                                        optimizations=None)
    for symbol, value in replacements:
        printed = sympy.latex(value, **SETTINGS)
        if latex_width(printed) < 150:
            assert f"{sympy.latex(symbol)} &= {printed}" in tex
    rebuilt = reduced
    for symbol, value in reversed(replacements):
        rebuilt = rebuilt.xreplace({symbol: value})
    rng = random.Random(5)
    for _ in range(3):
        point = {s: sympy.Float(rng.uniform(0.3, 2.0)) for s in d.closed_form.free_symbols}
        point.update({s: sympy.Float(rng.uniform(2.5, 4.0)) for s in point if s.name == "x^(2)"})
        expected = complex(d.closed_form.xreplace(point).evalf())
        got = complex(rebuilt.xreplace(point).evalf())
        assert abs(got - expected) <= 1e-9 * (1 + abs(expected))


@given(st.lists(st.sampled_from(sympy.symbols("a b c w_1 z_2 gamma1 sigma")), min_size=2, max_size=25),
       st.integers(min_value=120, max_value=400))
def test_break_latex_keeps_sympys_text_and_the_width(symbols, width):
    x = sympy.Symbol("x")
    expr = sympy.Add(*[s * x ** k for k, s in enumerate(symbols)]) * sympy.Function("f")(sum(symbols))
    lines = break_latex(expr, width)
    assert _unbreak(lines).replace(" ", "") == sympy.latex(expr, **SETTINGS).replace(" ", "")
    for line in lines[:-1]:
        assert latex_width(line) <= width or " " not in line.strip()


# -- layout and notation ------------------------------------------------------------------------------------
def test_chain_rule_layout_product_then_factors_then_closed_form():
    d = bnsym.two_layer("relu").gradient("w1")
    tex = to_latex(d)
    product = (r"\frac{\partial J}{\partial w_{1}} &= \frac{\partial J}{\partial \hat{y}}\,"
               r"\frac{\partial \hat{y}}{\partial z_{2}}")
    substituted = r"\mathrm{ReLU}'\left(z_{2}\right) \cdot w_{2} \cdot \mathrm{ReLU}'\left(z_{1}\right) \cdot x"
    closed = sympy.latex(d.closed_form, **SETTINGS)
    assert tex.index(product) < tex.index(substituted) < tex.index(closed)
    assert r"\delta" not in tex and tex.startswith(r"\begin{align*}") and tex.endswith(r"\end{align*}")


def test_batch_norm_is_named_operatorname_bn():
    tex = to_latex(bnsym.two_layer("relu", bn="pre", batch=2).gradient("w1"))
    assert r"\hat{z}_{1} &= \operatorname{BN}\left(z_{1}\right)" in tex
    assert r"\operatorname{BN}" not in to_latex(bnsym.two_layer("relu").gradient("w1"))


def test_numbered_derivation_compiles(tmp_path):
    need("pdflatex")
    tex = to_latex(SEEDS["two-layer-sigmoid-bn-post"]().gradient("w1"), standalone=True, numbered=True)
    assert r"\begin{align}" in tex and r"\nonumber" in tex
    compile_pdf(tex, tmp_path)


def test_sigmoid_factor_is_written_sigma_prime():
    tex = to_latex(bnsym.two_layer("sigmoid").gradient("w1"))
    assert r"\sigma'\left(z_{2}\right)" in tex and r"\sigma'\left(z_{1}\right)" in tex


def test_diagonal_jacobians_are_elementwise_products():
    tex = to_latex(bnsym.two_layer("relu", bn="pre", batch=2).gradient("gamma1"))
    assert r"\odot" in tex
    assert r"\odot" not in to_latex(bnsym.two_layer("relu", bn="pre", batch=2).gradient("gamma1"),
                                     notation=Notation(hadamard=r"\circ"))


def test_notation_options():
    d = bnsym.chain(2).gradient("w1")
    assert r"\omega_1" in to_latex(d, notation=Notation(names={"w1": r"\omega_1"}))
    numbered = to_latex(d, numbered=True)
    assert numbered.startswith(r"\begin{align}") and r"\nonumber" not in numbered.splitlines()[-2]
    x = sympy.Symbol("x")
    derivative = sympy.Derivative(sympy.Function("f")(x), x)
    assert r"\mathrm{d}" in print_latex(derivative, Notation(d="upright"))
    assert r"\mathrm{d}" not in print_latex(derivative, Notation(d="italic"))
    with pytest.raises(LatexError):
        Notation(width=10)
    with pytest.raises(LatexError):
        to_latex(d, notation="bold")


def test_repr_latex_is_math_for_notebooks():
    d = bnsym.chain(2).gradient("w1")
    text = repr_latex(d)
    assert text.startswith(r"$$\begin{aligned}") and text.endswith(r"\end{aligned}$$")
    assert r"\begin{align*}" not in text


def test_standalone_document_has_the_preamble_and_one_section_per_item():
    grads = bnsym.chain(3, names="abc").gradients()
    tex = to_latex(grads, standalone=True)
    assert tex.startswith(r"\documentclass") and r"\usepackage{amsmath}" in tex and r"\usepackage{amssymb}" in tex
    assert tex.count(r"\subsection*") == 3 and tex.rstrip().endswith(r"\end{document}")


# -- escaping and refusal ------------------------------------------------------------------------------------
EVIL = [r"\input{secret}", r"\write18{touch pwned}", r"\def\x{y}", r"\catcode`\^=11", r"^^5cinput{secret}",
        r"x % comment", r"\end{align*}\input{secret}", r"\csname input\endcsname{secret}", r"\include{secret}",
        r"\openin1=secret", r"\immediate\write", r"\usepackage{x}", r"\makeatletter\@gobble", "}{", r"\newcommand"]


@pytest.mark.parametrize("evil", EVIL)
def test_check_math_refuses_tex_that_is_not_math(evil):
    with pytest.raises(LatexError):
        check_math(evil)
    with pytest.raises(LatexError):
        Notation(names={"a": evil})


def test_check_math_accepts_what_the_library_prints():
    for d in bnsym.two_layer("sigmoid").gradients().values():
        assert check_math(print_latex(d.closed_form)) == print_latex(d.closed_form)


def test_escape_text_makes_every_special_a_character():
    text = escape_text(r"a_1 \input{x} 50% #1 $5 & ~ ^ }{")
    assert r"\input" not in text and "\\textbackslash{}input" in text
    stripped = re.sub(r"\\(textbackslash|textasciicircum|textasciitilde)\{\}|\\[{}%#$&_]|\$[<>|]\$", "", text)
    assert not re.search(r"[\\{}%#$&_^~]", stripped)


def _fake_derivation(name: str):
    bad = sympy.Symbol(name, real=True)
    w = sympy.Symbol("w", real=True)
    factor = SimpleNamespace(of=sympy.Symbol("J"), wrt=w, value=bad)
    return SimpleNamespace(parameter_name="w", parameter=w, factors=[factor], compact=bad, closed_form=bad,
                           definitions=[], network=SimpleNamespace(description=name))


def test_symbol_names_cannot_inject_tex(tmp_path):
    (tmp_path / "secret.tex").write_text("SECRETMARK\n")
    names = [r"x}\input{secret}{", r"\input{secret}", r"a\string\input", "b%\\input{secret}", "c#1$&~"]
    items = [_fake_derivation(n) for n in names]
    tex = document(items)
    assert r"\input{secret}" not in tex.replace(r"\backslash{}input", "")
    if shutil.which("pdflatex") and shutil.which("pdftotext"):
        pdf = compile_pdf(tex, tmp_path)
        out = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, timeout=60).stdout
        assert "SECRETMARK" not in out
    else:
        need("pdflatex")
        need("pdftotext")


def test_control_characters_and_caret_escapes_in_names_are_refused():
    for name in ["a\x00b", "a^^5cinput", "b%\n\\input{secret}"]:
        with pytest.raises(LatexError):
            to_latex(_fake_derivation(name))


def test_proof_text_fields_are_escaped(tmp_path):
    step = SimpleNamespace(expr=sympy.Eq(sympy.Symbol("a"), sympy.Symbol("b"), evaluate=False),
                           reason=r"by \input{secret} & 100% #")
    proof = SimpleNamespace(
        name="evil", title=r"Title \input{secret}", statement="s", statement_latex="a = b",
        source=r"\write18{touch pwned}", holds=False, conditions=(SimpleNamespace(text="a > 0", latex="a > 0"),),
        steps=(step,), method="m", batch="m", reason=None, replacement=r"\input{secret}",
        replacement_latex=None, counterexample={"a": r"\input{secret}"},
    )
    (tmp_path / "secret.tex").write_text("SECRETMARK\n")
    tex = to_latex(proof, standalone=True)
    assert r"\input{secret}" not in tex and r"\write18" not in tex
    evil_latex = SimpleNamespace(**{**proof.__dict__, "statement_latex": r"a \input{secret}"})
    with pytest.raises(LatexError):
        to_latex(evil_latex)
    if shutil.which("pdflatex"):
        compile_pdf(tex, tmp_path)
        assert not (tmp_path / "pwned").exists()


def test_to_latex_refuses_other_objects():
    with pytest.raises(LatexError):
        to_latex(42)
    with pytest.raises(LatexError):
        to_latex([])


# -- command line ---------------------------------------------------------------------------------------------
def test_cli_derive_latex_writes_the_same_text(tmp_path):
    runner = CliRunner()
    result = runner.invoke(main, ["derive", "chain", "--names", "abcde", "-p", "a", "--latex"])
    assert result.exit_code == 0, result.output
    expected = to_latex(bnsym.chain(5, names="abcde").gradient("a"))
    assert result.output == expected + "\n"
    out = tmp_path / "d.tex"
    result = runner.invoke(main, ["derive", "chain", "--names", "abcde", "-p", "a", "--latex", "-o", str(out)])
    assert result.exit_code == 0 and out.read_text() == expected + "\n"


def test_cli_prove_latex_writes_the_same_text():
    if not _theorem_names():
        pytest.skip("bnsym.theorems is not available")
    from bnsym.theorems import prove

    result = CliRunner().invoke(main, ["prove", "bn_jacobian", "--latex"])
    assert result.exit_code == 0, result.output
    assert result.output == to_latex(prove("bn_jacobian")) + "\n"
