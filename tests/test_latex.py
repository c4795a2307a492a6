"""LaTeX output checked with real tools: pdflatex compiles every seed network's and every theorem's document
without an error or an overfull box, pdftoppm renders a non-blank page, and the formulas are SymPy's own.

Tests that need pdflatex/pdftoppm skip when the tool is missing, except in CI (CI=true), where they fail.
"""
from __future__ import annotations

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
from bnsym import budget
from bnsym.cli import main
from bnsym.errors import LatexError
from bnsym.latex import (
    Notation,
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

import networks
from tools import need


def _unbreak(lines: list[str]) -> str:
    """Join broken lines back into one string (with ``\\Bigl``/``\\biggl`` → ``\\left``): :func:`print_latex` again."""
    joined = " ".join(lines)
    return re.sub(r"\\(?:bigg|Big)([lr])", lambda m: r"\left" if m.group(1) == "l" else r"\right", joined)


SEEDS = networks.builders("latex")
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
    terms = " + ".join(["x_{%d}" % k for k in range(90)])
    wide = r"\documentclass{article}\begin{document}\[" + terms + r"\]\end{document}"
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


# -- the printer: SymPy's text, marked where a line may break -------------------------------------------------
def _top_level(marked: str, mark: str) -> int:
    r"""How many ``mark`` characters are outside braces and ``\left … \right`` pairs."""
    depth, count = 0, 0
    for token in re.finditer(r"\\left|\\right|[{}]|" + mark, marked):
        text = token.group(0)
        if text in ("{", r"\left"):
            depth += 1
        elif text in ("}", r"\right"):
            depth -= 1
        elif depth == 0:
            count += 1
    return count


_TERMS = st.sampled_from([sympy.Symbol(n, real=True) for n in ("a", "b", "w_1", "gamma1", "x^(2)")]
                         + [sympy.Integer(k) for k in (-3, 2)])


@st.composite
def _sums(draw):
    """A sum of products and powers of symbols, of functions of sums, and of sums in parentheses."""
    a, b = sympy.symbols("a b", real=True)
    pieces = draw(st.lists(st.tuples(_TERMS, _TERMS, st.sampled_from(["mul", "pow", "neg", "exp", "sqrt", "paren"])),
                           min_size=2, max_size=6))
    terms = []
    forms = {"mul": lambda x, y: x * y * a, "pow": lambda x, y: (x + b) ** 2 * y, "neg": lambda x, y: -x * y * b,
             "exp": lambda x, y: sympy.exp(x - y), "sqrt": lambda x, y: sympy.sqrt(x**2 + y**2 + 1),
             "paren": lambda x, y: a * (x - y + 1)}
    for x, y, how in pieces:
        terms.append(forms[how](x, y))
    return sympy.Add(*terms)


@given(_sums())
def test_the_printer_marks_the_joints_of_sympys_own_sums(expr):
    """The marked text is SymPy's with marks added; one mark before each + or - between a sum's terms."""
    from bnsym.latex.printer import _ADD_MARK, _MUL_MARK, _marked, _strip

    marked = _marked(expr, Notation())
    assert _strip(marked) == sympy.latex(expr, **SETTINGS)
    assert all(piece.startswith((" + ", " - ")) for piece in marked.split(_ADD_MARK)[1:])
    terms = len(expr.args) if isinstance(expr, sympy.Add) else 1
    assert _top_level(marked.replace(_MUL_MARK, ""), _ADD_MARK) == terms - 1
    nested = sum(len(e.args) - 1 for e in sympy.preorder_traversal(expr) if isinstance(e, sympy.Add))
    assert marked.count(_ADD_MARK) >= nested  # every sum SymPy prints is marked (a shared one each time)


def test_a_sum_sympy_prints_another_way_is_left_unmarked():
    """If SymPy's sum is not its terms joined by + and -, the printer marks nothing rather than guess."""
    from bnsym.latex.printer import _ADD_MARK, _mark_terms

    assert _mark_terms("a + b", ["a", "b"]) == "a" + _ADD_MARK + " + b"
    assert _mark_terms(r"a + \left(b\right)", ["a", "b"]) == "a" + _ADD_MARK + r" + \left(b\right)"
    for tex, terms in (("a + b", ["a", "c"]), ("a, b", ["a", "b"]), ("a + b + c", ["a", "b"]), ("a", ["a", "b"])):
        assert _mark_terms(tex, terms) == tex


def test_the_package_keeps_its_old_import_paths_and_small_modules():
    import pathlib

    import bnsym.latex as package
    import bnsym.latex_index
    from bnsym.latex.index import index_rows

    assert bnsym.latex_index.index_rows is index_rows
    assert all(hasattr(package, name) for name in package.__all__ + ["NAME_COMMANDS", "MATH_COMMANDS"])
    for module in pathlib.Path(package.__file__).parent.glob("*.py"):
        assert len(module.read_text(encoding="utf-8").splitlines()) < 400, module.name

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


def _bn_network(**layer):
    """A derivation through a node ``zhat`` made by a layer with the attributes ``layer`` (nothing else)."""
    z, zhat, w = sympy.symbols("z zhat w", real=True)
    factor = SimpleNamespace(of=sympy.Symbol("J"), wrt=zhat, value=w)
    nodes = [SimpleNamespace(label=z, layer=None), SimpleNamespace(label=zhat, layer=SimpleNamespace(**layer))]
    return SimpleNamespace(parameter_name="w", parameter=w, factors=[factor], compact=w, closed_form=w,
                           definitions=[], network=SimpleNamespace(description="a net", nodes=nodes))


def test_the_batch_norm_row_is_asked_of_the_layer_not_read_from_its_kind():
    """The row ẑ = BN(z) is written for a layer with ``normalizes_batch``, whatever its kind is called."""
    row = r"\hat{z} &= \operatorname{BN}\left(z\right)"
    assert row in to_latex(_bn_network(normalizes_batch=True, kind="renamed"))
    assert r"\operatorname{BN}" not in to_latex(_bn_network(normalizes_batch=False, kind="normalize"))
    assert r"\operatorname{BN}" not in to_latex(_bn_network(kind="normalize"))
    from bnsym.layers import Layer, Normalize, ScaleShift

    assert Normalize.normalizes_batch and not ScaleShift.normalizes_batch and not Layer.normalizes_batch


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


# -- every row is an equation ---------------------------------------------------------------------------------
README_NETWORKS = networks.builders("readme")  # the README's batch-norm networks: two_layer(bn="pre"), m = 3, 4
_ANNOTATION = re.compile(r"\s*&\\(?:qquad\\parbox|quad\\text|text)")


def _equation_rows(tex: str) -> list[tuple[str, str, str]]:
    """``(quantity, lhs, rest)`` for each equation row of a one-block derivation: ``lhs`` is the row's own
    left-hand side ("" when it continues the chain above), ``quantity`` the left-hand side of its chain.
    Broken lines (``&\\qquad {}``) belong to the row above; annotations in words are skipped."""
    lines = tex.split("\n")
    assert re.fullmatch(r"\\begin\{(align\*?|aligned)\}", lines[0]) and lines[-1].startswith(r"\end{")
    out, quantity = [], None
    for row in "\n".join(lines[1:-1]).split("\\\\\n"):
        row = row.replace(r" \nonumber", "")
        if row.startswith(r" &\qquad {}") or _ANNOTATION.match(row):
            continue
        lhs, sep, rest = row.partition("&")
        assert sep, f"a row without an alignment point: {row[:120]}"
        lhs = lhs.strip().removeprefix(r"\text{where }").strip()
        if lhs:
            quantity = lhs
        out.append((quantity, lhs, rest))
    return out


def _check_rows_are_equations(d, tex: str) -> None:
    target = r"\frac{\partial J}{\partial %s}" % print_latex(sympy.Symbol(d.parameter_name))
    rows = _equation_rows(tex)
    for quantity, lhs, rest in rows:
        if not lhs:  # a continued chain of "=": in a derivation only ∂J/∂p is computed in steps
            assert rest.startswith("="), rest[:80]
            assert quantity == target, f"'&{rest[:60]}' continues the equation of {quantity}, not of {target}"
    # the symbolic product opens a chain about ∂J/∂p, and the row after the last factor starts one again
    assert rows[[q for q, _, _ in rows].index(target)][1] == target
    factor_rows = [k for k, (_, lhs, _) in enumerate(rows)  # ∂a₁/∂z₁ = …, [∂ẑ₁/∂z₁]₁₂ = … (not ∂J/∂…)
                   if lhs.removeprefix(r"\left[").startswith(r"\frac{\partial ")
                   and not lhs.startswith(r"\frac{\partial J}{")]
    if factor_rows and factor_rows[-1] + 1 < len(rows):
        assert rows[factor_rows[-1] + 1][1].startswith((target, r"\frac{\partial J}{\partial ")), \
            rows[factor_rows[-1] + 1][1][:80]


@pytest.mark.parametrize("seed", sorted(SEEDS) + sorted(README_NETWORKS))
def test_each_row_of_a_derivation_is_an_equation(seed):
    """A row has its own left-hand side or continues the chain of = of the row above, about the same quantity:
    never a factor's row continued by the gradient (∂z₁/∂w₁ = [x] = …), nor an abbreviation's definition
    continued by the next form (κ₁₅ = … = …)."""
    network = {**SEEDS, **README_NETWORKS}[seed]()
    for name in ("w1", "b1") if seed in README_NETWORKS else network.parameters:
        d = network.gradient(name)
        for tex in (to_latex(d), repr_latex(d)[2:-2], to_latex(d, numbered=True)):
            _check_rows_are_equations(d, tex)


def test_the_substituted_product_and_the_compact_form_start_a_new_equation():
    """Issue: ∂z₁/∂w₁ = [x⁽¹⁾; …] = κ₁x⁽¹⁾(…) read as one equation; ∂J/∂w₁ now opens the row after the factors."""
    d = bnsym.two_layer(bn="pre", batch=3).gradient("w1")
    tex = to_latex(d)
    last_factor = tex.index(r"\frac{\partial z_{1}}{\partial w_{1}} &=")
    after = tex[last_factor:].split("\\\\\n")[1]
    assert after.startswith(r"\frac{\partial J}{\partial w_{1}} &= ")
    batch2 = to_latex(bnsym.two_layer(bn="pre", batch=2).gradient("w1"))  # here the ⊙ product fits: its own row
    assert re.search(r"^\\frac\{\\partial J\}\{\\partial w_\{1\}\} &= .*\\odot", batch2, re.M)


@pytest.mark.parametrize("seed", sorted(README_NETWORKS))
def test_readme_networks_need_no_abbreviations(seed):
    """The README's BN networks print ∂J/∂w₁ and ∂J/∂b₁ in the adjoints (v̄ = ∂J/∂v), each defined in the
    block, then the explicit form, which the kernel proves is 0; no κ names."""
    network = README_NETWORKS[seed]()
    for name in ("w1", "b1"):
        d = network.gradient(name)
        for tex in (to_latex(d), repr_latex(d)):
            assert r"\kappa" not in tex
            # the explicit form is exactly 0 (the kernel's proof), its own last row
            assert d.closed_form == 0 and d.proof is not None and d.proof.holds is True
            assert re.search(r"^%s &= 0(\\\\)?$" % re.escape(target_of(name)), tex, re.M)
        tex = to_latex(d)
        raw = d.gradients.raw[name][0, 0]
        assert f"{target_of(name)} &= {sympy.latex(raw, **SETTINGS)}" in tex
        defined = set(re.findall(r"^(\\bar\{.*?\}\^\{\(\d+\)\}_\{\d+\}) &=", tex, re.M))
        used = set(re.findall(r"\\bar\{(?:\\hat\{z\}|\\tilde\{z\}|z|a)\}\^\{\(\d+\)\}_\{\d+\}", tex))
        assert used and used <= defined  # every adjoint the rows use is defined
        adjoints = dict(d.gradients.adjoints)
        for symbol in raw.free_symbols & set(adjoints):
            assert f"{print_latex(symbol)} &= {print_latex(adjoints[symbol])}" in tex or \
                latex_width(print_latex(adjoints[symbol])) > 200


def target_of(name: str) -> str:
    return r"\frac{\partial J}{\partial %s}" % print_latex(sympy.Symbol(name))


def test_the_adjoint_form_printed_is_the_compact_form():
    """The rows ∂J/∂w₁ = Σ x⁽ⁱ⁾ z̄₁⁽ⁱ⁾ and z̄ = … are true: substituted back they are the compact form."""
    d = bnsym.two_layer("sigmoid", bn="pre", batch=3).gradient("w1")
    from bnsym.latex.derivation import _adjoint_form

    raw, rows = _adjoint_form(d, Notation())
    adjoints = {print_latex(s): (s, e) for s, e in d.gradients.adjoints}
    resolved = raw
    for lhs, rhs in reversed([row for row in rows if row[0] is not None]):
        symbol, definition = adjoints[lhs]
        assert rhs == definition
        resolved = resolved.xreplace({symbol: rhs})
    from bnsym.exact import is_zero

    assert is_zero(sympy.expand(resolved - d.compact))


def test_abbreviations_follow_the_chain_that_uses_them(monkeypatch):
    """κ definitions come after the whole chain of = that uses them, so they never interrupt it (κ₁₅ = … = …):
    here both the compact and the closed form are abbreviated (a derivation without its reverse sweep, so no
    adjoint form, and a node budget large enough for the closed form)."""
    d = bnsym.two_layer("relu", bn="pre", batch=3).gradient("w1")
    explicit = d.network.explicit(d.compact)  # the explicit form written out (d.closed_form is the proved 0)
    bare = SimpleNamespace(factors=d.factors, compact=d.compact, closed_form=explicit, parameter_name="w1",
                           definitions=d.definitions, network=d.network)
    monkeypatch.setattr(budget, "LATEX_NODES", 5000)
    tex = to_latex(bare)
    _check_rows_are_equations(d, tex)
    rows = _equation_rows(tex)
    chain = [k for k, (quantity, _, _) in enumerate(rows) if quantity == target_of("w1")]
    kappa_rows = [k for k, (_, lhs, _) in enumerate(rows) if lhs.startswith(r"\kappa_")]
    assert len(kappa_rows) > 20 and min(kappa_rows) > max(chain)  # both forms' κs, defined after the chain
    used = set(re.findall(r"\\kappa_\{(\d+)\}", tex))
    assert used == set(re.findall(r"^(?:\\text\{where \})?\\kappa_\{(\d+)\} &=", tex, re.M))


# -- budgets: a form too large is summarized, never a hang ---------------------------------------------------------
@pytest.fixture(scope="module")
def big_gradient():
    """∂J/∂W₁ of a 3-4-4-2 sigmoid MLP with BN and m = 4: its explicit form has billions of tree nodes."""
    return bnsym.mlp([3, 4, 4, 2], "sigmoid", bn="pre", batch=4, loss="mse").gradient("W1")


def test_a_huge_gradient_is_summarized_in_latex(big_gradient):
    d = big_gradient
    nodes = budget.size(d.closed_form)
    assert nodes > 1000 * budget.LATEX_NODES
    for tex in (d._repr_latex_(), to_latex(d), to_latex(d, standalone=True)):
        assert "too large to typeset" in tex and str(nodes) in tex
    _check_rows_are_equations(d, to_latex(d))
    assert r"\bar{z}^{(1)}_{1}[1] &=" in to_latex(d)  # the compact form, over budget too, is given in the adjoints


def test_a_huge_gradient_is_summarized_in_text(big_gradient):
    text = str(big_gradient)
    assert f"explicit closed form, an expression of {budget.size(big_gradient.closed_form)} nodes: too large to print" \
        in text
    assert "with the adjoints" in text


def test_a_huge_gradient_document_compiles(big_gradient, tmp_path):
    need("pdflatex")
    compile_pdf(to_latex(big_gradient, standalone=True), tmp_path, timeout=300)


@pytest.mark.parametrize("seed", ["two-layer-relu-bn-pre-m3", "two-layer-sigmoid-bn-pre-m4"])
def test_readme_network_documents_compile(seed, tmp_path):
    need("pdflatex")
    compile_pdf(to_latex(README_NETWORKS[seed]().gradients(), standalone=True), tmp_path, timeout=300)


def test_the_node_budget_is_read_from_bnsym_budget(monkeypatch):
    d = bnsym.two_layer("sigmoid").gradient("w1")
    assert "too large" not in to_latex(d)
    monkeypatch.setattr(budget, "LATEX_NODES", 5)
    tex = to_latex(d)
    assert f"an expression of {budget.size(d.closed_form)} nodes: too large to typeset (the limit is 5 nodes)" in tex
    monkeypatch.setattr(budget, "TEXT_NODES", 5)
    assert "too large to print (the limit is 5 nodes)" in str(d)


def test_the_time_budget_stops_a_printer_and_says_so(monkeypatch):
    d = bnsym.two_layer("relu", bn="pre", batch=2).gradient("w1")
    monkeypatch.setattr(budget, "SECONDS", 0.0)
    tex = to_latex(d)
    assert "left out: the printer used up its time budget of 0 s" in tex
    assert tex.startswith(r"\begin{align*}") and tex.endswith(r"\end{align*}")
    assert "left out: the printer used up its time budget of 0 s" in str(d)


@pytest.mark.parametrize("kind, operator", [("rms", r"\mathrm{RMSNorm}"), ("batch", r"\operatorname{BN}")])
def test_a_normalizing_step_is_named_as_its_operator(kind, operator):
    d = bnsym.two_layer("tanh", norm=kind, batch=3).gradient("w1")
    assert operator + r"\left(z_{1}\right)" in bnsym.to_latex(d)


def test_layer_norm_is_named_as_its_operator():
    d = bnsym.mlp([2, 2, 1], "tanh", norm="layer", batch=2).gradient("W1")
    assert r"\mathrm{LN}\left(z_{1}\right)" in bnsym.to_latex(d)
