"""Issue 16, the input/output side: LaTeX names and TeX, the report's MathJax, the CLI's numbers, paths and
flags, resuming and locking ``explain``. Each test is named after the issue's item it covers.

The promise: bad input gets one line ``bnsym: error: …`` and exit code 2 (or a correct result), never a raw
traceback, a hang, a silently wrong answer, nor TeX that the input controls.
"""
from __future__ import annotations

import json
import os
import subprocess
from fractions import Fraction
from pathlib import Path

import pytest
import sympy
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

import bnsym
from bnsym.cli import main, parse_eps
from bnsym.errors import BnsymError, LatexError
from bnsym.explain import LOCK_NAME, output_lock
from bnsym.latex import Notation, check_math, check_name, compile_pdf, to_latex
from bnsym.report import Math, Report, Section, find_mathjax, write_report
from bnsym.sweep import SweepConfig, run_sweep

from tools import need



def run(*args: str):
    """The CLI's result; asserts the promise: exit 0, or exit 2 with one line ``bnsym: error: …``."""
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exit_code in (0, 2), (args, result.exit_code, result.output, result.exception)
    assert result.exception is None or isinstance(result.exception, SystemExit), (args, result.exception)
    assert "Traceback" not in result.output
    if result.exit_code == 2:
        lines = result.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("bnsym: error: "), (args, result.stderr)
    return result


def error_of(*args: str) -> str:
    result = run(*args)
    assert result.exit_code == 2, (args, result.output)
    return result.stderr


# -- item 2: an allow-list for the LaTeX of names; TeX kept in its directory; MathJax only as named -------------
INJECTIONS = [
    r"\UseName{input}{secret}", r"\UseName{immediate}\UseName{openout}3=pwned.txt", r"\ExpandArgs{NN}",
    r"\NewDocumentCommand{\x}{}{y}", r"\RenewDocumentCommand{\x}{}{y}", r"\NewCommandCopy{\x}{\input}",
    r"\AddToHook{enddocument}{\input{secret}}", r"\input{secret}", r"\csname input\endcsname{secret}",
    r"\begin{array}{*{99999999}{c}}x\end{array}",  # item 13: pdflatex ran until its timeout
    r"\ifdefined\x y\fi", r"\romannumeral 9999999", r"x\\y", "a\n", "a & b", "~", r"\begin{matrix}x\end{matrix}",
    "x" * 101, r"{", r"\alpha}", "x^^5c", "é",
]


@pytest.mark.parametrize("latex", INJECTIONS)
def test_item2_name_latex_outside_the_allow_list_is_refused(latex):
    with pytest.raises(LatexError):
        Notation(names={"a": latex})
    with pytest.raises(LatexError):
        Notation(bn=latex)
    with pytest.raises(LatexError):
        Notation(hadamard=latex)


@pytest.mark.parametrize("latex", [r"\begin{array}{*{99999999}{c}}x\end{array}", r"\UseName{input}{secret}",
                                   r"\AddToHook{x}{y}", r"\ExpandArgs", r"\input{x}", r"50\%\input{x}"])
def test_item2_check_math_is_an_allow_list_too(latex):
    with pytest.raises(LatexError):
        check_math(latex)


def test_item2_names_inside_the_allow_list_are_used():
    names = {"w1": r"\hat{\omega}_{1}", "w2": r"\mathrm{W}_{2}", "x": r"\mathbf{x}'"}
    tex = to_latex(bnsym.chain(2).gradient("w1"), notation=Notation(names=names, bn=r"\operatorname{BN}"))
    assert r"\hat{\omega}_{1}" in tex and r"\mathrm{W}_{2}" in tex
    assert check_name(r"\alpha^{(2)}_{k}") == r"\alpha^{(2)}_{k}"


def test_item2_a_later_change_to_the_names_dict_is_not_used():
    names = {"w1": r"\omega_1"}
    notation = Notation(names=names)
    names["w1"] = r"\input{secret}"
    assert r"\input" not in to_latex(bnsym.chain(2).gradient("w1"), notation=notation)


TRAPS = {  # each would read or write a file outside the compile directory
    "input-parent": r"\input{../secret}",
    "input-absolute": r"\input{%s}",
    "openout-parent": r"\immediate\openout3=../pwned.txt \immediate\write3{x}\immediate\closeout3",
    "openout-absolute": r"\immediate\openout3=%s \immediate\write3{x}\immediate\closeout3",
}


@pytest.mark.parametrize("trap", sorted(TRAPS))
def test_item2_compiled_documents_cannot_touch_files_outside(trap, tmp_path):
    need("pdflatex")
    (tmp_path / "secret.tex").write_text("SECRETMARK\n")
    target = tmp_path / ("secret.tex" if "input" in trap else "pwned-abs.txt")
    body = TRAPS[trap] % target if "%s" in TRAPS[trap] else TRAPS[trap]
    tex = "\\documentclass{article}\\begin{document}x " + body + " \\write18{touch shell-escaped}\\end{document}"
    with pytest.raises(LatexError):  # paranoid mode refuses the file: a TeX error, reported
        compile_pdf(tex, tmp_path / "work")
    assert not (tmp_path / "pwned.txt").exists() and not (tmp_path / "pwned-abs.txt").exists()
    assert not (tmp_path / "work" / "shell-escaped").exists()


def test_item2_a_file_outside_cannot_even_be_probed(tmp_path):
    need("pdflatex")
    need("pdftotext")
    (tmp_path / "secret.tex").write_text("SECRETMARK\n")
    tex = (r"\documentclass{article}\begin{document}\newread\probe\openin\probe=../secret.tex "
           r"\ifeof\probe NOTREAD\else READ \read\probe to\line\line\fi\immediate\write18{touch shell-escaped} "
           r"\end{document}")
    pdf = compile_pdf(tex, tmp_path / "work")
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, timeout=60).stdout
    assert "NOTREAD" in text and "SECRETMARK" not in text
    assert not (tmp_path / "work" / "shell-escaped").exists()  # no shell escape either


@pytest.mark.parametrize("name", ["-x", "--shell-escape", "-output-directory=..", "", "a b", "../x", "a\n", "x" * 65,
                                  5])
def test_item18_compile_pdf_job_name_is_an_allow_list(name, tmp_path):
    with pytest.raises(LatexError, match="document name"):
        compile_pdf(r"\documentclass{article}\begin{document}x\end{document}", tmp_path, name=name)
    assert not list(tmp_path.iterdir())  # refused before anything was written or run


def test_item2_report_ignores_a_mathjax_in_the_current_directory(tmp_path, monkeypatch):
    planted = tmp_path / "node_modules" / "mathjax" / "es5"
    planted.mkdir(parents=True)
    (planted / "tex-svg.js").write_text("/* planted */")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("BNSYM_MATHJAX", raising=False)
    found = find_mathjax()
    assert found is None or tmp_path not in found.resolve().parents
    write_report(Report("T", [Section("S", [Math("x^2")])]), tmp_path / "out", pdf=False)
    copied = tmp_path / "out" / "mathjax" / "tex-svg.js"
    assert not copied.exists() or copied.read_text() != "/* planted */"


def test_item2_report_uses_the_mathjax_the_user_names(tmp_path, monkeypatch):
    monkeypatch.delenv("BNSYM_MATHJAX", raising=False)
    named = tmp_path / "mj" / "es5"
    named.mkdir(parents=True)
    (named / "tex-svg.js").write_text("/* named */")
    written = write_report(Report("T", [Section("S", [Math("x^2")])]), tmp_path / "out", pdf=False,
                           mathjax=tmp_path / "mj")
    assert (tmp_path / "out" / "mathjax" / "tex-svg.js").read_text() == "/* named */" and "MathJax" in written["math"]
    with pytest.raises(BnsymError, match="no MathJax 3"):
        find_mathjax(tmp_path / "empty")
    assert "no MathJax 3" in error_of("explain", "--quick", "--mathjax", tmp_path / "empty", "-o", tmp_path / "r")
    assert not (tmp_path / "r").exists()  # refused before the run


# -- item 3 (CLI): --eps is an exact, finite decimal --------------------------------------------------------
BAD_EPS = ["inf", "nan", "1e400", "-inf", "-1", "1/3", "0x10", "1e-5e3", "∞", "１", "1e-400", "", "1" * 60]


@pytest.mark.parametrize("eps", BAD_EPS)
def test_item3_cli_refuses_non_finite_or_malformed_eps(eps):
    for args in (["prove", "bn_jacobian", "--eps", eps],
                 ["derive", "two-layer", "--bn", "pre", "-m", "2", "--eps", eps]):
        message = error_of(*args)
        assert "--eps must be" in message and "ε = 0" not in message


def test_item3_cli_eps_is_the_exact_decimal():
    assert parse_eps("1e-5") == Fraction(1, 100000) and parse_eps("0.1") == Fraction(1, 10)
    assert parse_eps("positive", symbolic=True) == "positive"
    proof = run("prove", "scale_invariance_forward", "--eps", "1e-5").output
    assert "100000" in proof and "590295810358705651712" not in proof  # not 1e-5's binary expansion
    derivation = run("derive", "two-layer", "--bn", "pre", "-m", "2", "--eps", "1e-5", "-p", "w1").output
    assert "100000" in derivation and "590295810358705651712" not in derivation


# -- item 11: a batch of 0 is refused, not replaced by 1 -----------------------------------------------------
@pytest.mark.parametrize("args", [["derive", "mlp", "-m", "0"], ["derive", "mlp", "--bn", "pre", "-m", "0"],
                                  ["derive", "chain", "-m", "0"]])
def test_item11_derive_batch_zero_is_refused(args):
    assert "batch must be" in error_of(*args)


# -- item 16: -o that cannot be written ---------------------------------------------------------------------
def _bad_outputs(tmp_path: Path) -> list[Path]:
    (tmp_path / "afile").write_text("x")
    outputs = [tmp_path / "missing" / "out.txt", tmp_path / "afile" / "out.txt"]
    if Path("/dev/full").exists():
        outputs.append(Path("/dev/full"))
    if os.geteuid() != 0:  # root may write anywhere
        locked = tmp_path / "readonly"
        locked.mkdir()
        locked.chmod(0o500)
        outputs.append(locked / "out.txt")
    return outputs


@pytest.mark.parametrize("command", [["derive", "chain", "--depth", "2"], ["prove", "bn_jacobian"],
                                     ["prove", "bn_jacobian", "--latex", "--standalone"]])
def test_item16_derive_and_prove_output_errors_are_one_line(command, tmp_path):
    for output in _bad_outputs(tmp_path):
        assert "cannot write" in error_of(*command, "-o", output), output


def test_item16_explain_output_errors_are_one_line(tmp_path):
    (tmp_path / "afile").write_text("x")
    directories = [tmp_path / "afile" / "report", tmp_path / "afile"]  # a missing directory is created
    if Path("/dev/full").exists():
        directories.append(Path("/dev/full"))
    if os.geteuid() != 0:
        locked = tmp_path / "readonly"
        locked.mkdir()
        locked.chmod(0o500)
        directories += [locked, locked / "report"]
    for directory in directories:
        message = error_of("explain", "--quick", "--no-pdf", "-o", directory)
        assert "output directory" in message or "is a file" in message, message


# -- item 17: numbers are ASCII digits of bounded length; Notation's fields are checked ----------------------
@pytest.mark.parametrize("batch", ["²", "٣", "9" * 5000, "-3", "2.0", " ", "1e3"])
def test_item17_cli_batch_must_be_ascii_digits(batch):
    assert "--batch" in error_of("prove", "bn_jacobian", "--batch", batch)
    message = error_of("derive", "two-layer", "--bn", "pre", "--batch", batch)
    assert "--batch" in message and len(message) < 300  # the 5 000 digits are not echoed back


@pytest.mark.parametrize("field", [{"long_frac_ratio": "x"}, {"long_frac_ratio": float("nan")},
                                   {"long_frac_ratio": 0}, {"long_frac_ratio": True}, {"width": "x"},
                                   {"width": float("inf")}, {"d": ["x"]}, {"environment": None},
                                   {"names": {1: "x"}}, {"names": "w1"}, {"hadamard": 5}, {"bn": None}])
def test_item17_bad_notation_fields_are_latex_errors(field):
    with pytest.raises(LatexError):
        Notation(**field)


# -- item 18: 'a\n', --standalone alone, two explains at once, long formulas at ε = 1e-5 ---------------------
def test_item18_a_name_with_a_newline_is_refused():
    from types import SimpleNamespace

    bad = sympy.Symbol("a\n", real=True)
    w = sympy.Symbol("w", real=True)
    derivation = SimpleNamespace(parameter_name="w", parameter=w, compact=bad, closed_form=bad, definitions=[],
                                 factors=[SimpleNamespace(of=sympy.Symbol("J"), wrt=w, value=bad)], network=None)
    with pytest.raises(LatexError):
        to_latex(derivation)
    with pytest.raises(LatexError):
        Notation(names={"w": "a\n"})


@pytest.mark.parametrize("command", [["derive", "chain"], ["prove", "bn_jacobian"]])
def test_item18_standalone_without_latex_is_an_error(command):
    assert "--standalone needs --latex" in error_of(*command, "--standalone")
    assert run(*command, "--latex", "--standalone").output.startswith("\\documentclass")


def test_item18_a_second_explain_into_the_same_directory_is_refused(tmp_path):
    with output_lock(tmp_path / "r"):
        message = error_of("explain", "--quick", "--no-pdf", "-o", tmp_path / "r")
        assert "another bnsym explain is writing to" in message
        with pytest.raises(BnsymError, match="another bnsym explain"):
            with output_lock(tmp_path / "r"):
                pass
    assert (tmp_path / "r" / LOCK_NAME).exists() and not (tmp_path / "r" / "sweep.jsonl").exists()
    with output_lock(tmp_path / "r"):  # released: the next run may start
        pass


def _theorem_names() -> list[str]:
    return [t.name for t in bnsym.theorems.theorems()]


@pytest.mark.parametrize("name", _theorem_names())
def test_item18_every_standalone_proof_at_eps_1e5_compiles(name, tmp_path):
    need("pdflatex")
    proof = bnsym.prove(name, eps=sympy.Rational(1, 100000))
    compile_pdf(to_latex(proof, standalone=True), tmp_path)  # raises on any error or overfull box
    assert "Overfull" not in (tmp_path / "bnsym.log").read_text(encoding="latin-1")


def test_item18_a_wide_replacement_formula_is_broken_into_lines(tmp_path):
    need("pdflatex")
    proof = bnsym.prove("gradient_norm_identity", eps=sympy.Rational(1, 100000))
    assert proof.holds is False and proof.replacement_latex
    tex = to_latex(proof, standalone=True)
    assert r"\[ " + proof.replacement_latex not in tex  # too wide for one line: set as a broken align*
    compile_pdf(tex, tmp_path)


# -- item 15: resuming from a damaged sweep.jsonl ---------------------------------------------------------
GRID = [0.01, 0.1]
CONFIG = SweepConfig(depth=2, steps=5, batch=8)


def _record(**changes) -> bytes:
    good = run_sweep([CONFIG], GRID, workers=1, progress=False)[0]
    return json.dumps({**good, **changes}).encode()


@pytest.mark.parametrize("damage", ["not-utf8", "bad-largest-stable", "off-grid", "bool-largest-stable",
                                    "no-config", "other-config", "cut-short", "not-a-dict"])
def test_item15_damaged_sweep_records_are_skipped_with_a_warning_and_run_again(damage, tmp_path):
    lines = {
        "not-utf8": b"\xff\xfe{\"key\": \x80}",
        "bad-largest-stable": _record(largest_stable="x"),
        "off-grid": _record(largest_stable=0.5),
        "bool-largest-stable": _record(largest_stable=True),
        "no-config": _record(config=None),
        "other-config": _record(config={"depth": 99}),
        "cut-short": _record()[:40],
        "not-a-dict": b"[1, 2]",
    }
    path = tmp_path / "sweep.jsonl"
    path.write_bytes(lines[damage] + b"\n")
    with pytest.warns(RuntimeWarning, match="run again"):
        (record,) = run_sweep([CONFIG], GRID, results=path, workers=1, progress=False)
    assert record["largest_stable"] in GRID and record["config"]["depth"] == 2
    with pytest.warns(RuntimeWarning):  # the damaged line is still there, the good record now follows it
        (again,) = run_sweep([CONFIG], GRID, results=path, workers=1, progress=False)
    assert again == record


def test_item15_a_sweep_results_directory_is_a_clear_error(tmp_path):
    (tmp_path / "sweep.jsonl").mkdir()
    with pytest.raises(BnsymError, match="is a directory"):
        run_sweep([CONFIG], GRID, results=tmp_path / "sweep.jsonl", workers=1, progress=False)
    assert "is a directory" in error_of("explain", "--quick", "--no-pdf", "-o", tmp_path)


def test_item15_explain_resumes_from_a_damaged_sweep_file(tmp_path, monkeypatch):
    import dataclasses

    from bnsym.explain import ExplainSettings

    tiny = ExplainSettings.tiny()  # smaller still: no PyTorch sweep, two rates, five steps (the code is the same)
    monkeypatch.setattr(ExplainSettings, "tiny", classmethod(
        lambda cls: dataclasses.replace(tiny, torch=False, lrs=(0.01, 0.1), steps=5)))
    out = tmp_path / "r"
    out.mkdir()
    (out / "sweep.jsonl").write_bytes(b"\xff\xfe not json\n" + _record(largest_stable="x") + b"\n")
    result = run("explain", "--quick", "--no-pdf", "-o", out)
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.stderr.splitlines() if line.startswith("bnsym: warning:")]
    assert len(warnings) == 1 and "skipped 2 unreadable or malformed line(s) (1, 2)" in warnings[0]
    assert (out / "report.md").is_file()


# -- the fuzz test: the CLI's promise for drawn arguments ------------------------------------------------------
JUNK = st.text(alphabet="ab1²-=/.\\{}é \n", max_size=6)


def mostly(valid: list[str], invalid: list[str]):
    """Mostly a value from ``valid``, else one from ``invalid`` or junk text."""
    return st.sampled_from(["valid"] * 5 + ["invalid"]).flatmap(
        lambda kind: st.sampled_from(valid) if kind == "valid" else st.sampled_from(invalid) | JUNK)


EPS = mostly(["0", "1e-5", "0.5", "positive"], ["inf", "nan", "1e400", "-1", "1/3", ""])
COUNTS = mostly(["1", "2", "3"], ["0", "-1", "²", "x", "9" * 30])


def _options(draw, table: dict) -> list[str]:
    """Up to four of the options of ``table`` (``None``: a flag), each with a drawn value."""
    args: list[str] = []
    for option in draw(st.lists(st.sampled_from(sorted(table)), max_size=4, unique=True)):
        values = table[option]
        args += [option] if values is None else [option, draw(values)]
    if "--standalone" in args and "--latex" not in args and draw(st.sampled_from([True] * 5 + [False])):
        args.append("--latex")  # mostly the valid use of --standalone
    return args


@st.composite
def cli_arguments(draw, tmp: Path) -> list[str]:
    outputs = st.sampled_from([str(tmp / "out.txt")] * 4 + [str(tmp / "missing" / "x"), str(tmp / "afile" / "x"),
                                                            str(tmp), "/dev/full"])  # no junk: paths stay in tmp
    kind = draw(st.sampled_from(["derive", "derive", "prove", "prove", "explain", "junk"]))
    if kind == "derive":
        network = draw(mostly(["two-layer", "chain", "mlp"], ["cnn"]))
        return ["derive", network] + _options(draw, {
            "-p": mostly(["w1", "b1", "a", "gamma1"], ["w9"]),
            "--activation": mostly(["relu", "sigmoid", "tanh"], ["cube"]),
            "--bn": mostly(["none", "pre", "post"], ["both"]), "-m": COUNTS,
            "--depth": COUNTS, "--names": mostly(["ab", "abc"], ["a,b", "mu1x", "a\n"]),
            "--widths": mostly(["2,1", "1,2,1"], ["2,,1", "0,1", "x"]), "--inputs": COUNTS,
            "--eps": EPS, "--loss": mostly(["abstract", "mse"], ["hinge"]), "--latex": None,
            "--standalone": None, "-o": outputs})
    if kind == "prove":
        name = draw(mostly(_theorem_names(), ["no_such_theorem", ""]))
        return ["prove", name] + _options(draw, {
            "--batch": mostly(["m", "2", "3"], ["1", "0", "²", "9" * 30]),
            "--assume": mostly(["a=negative", "batch=constant", "eps=positive", "coefficient=1/sqrt(m)"],
                               ["a", "=x", "zz=1", "a=sideways"]),
            "--eps": EPS, "--latex": None, "--standalone": None, "-o": outputs})
    if kind == "explain":  # always with one refused argument, so that no full run starts
        refused = draw(st.sampled_from([["-o", str(tmp / "afile" / "sub")], ["-o", str(tmp / "afile")],
                                        ["--workers", "0"], ["--workers", "²"], ["--mathjax", str(tmp / "nomj")],
                                        ["--quick", "--frob"]]))
        return ["explain", "--no-pdf"] + _options(draw, {"--quick": None}) + refused  # nothing overrides it
    return draw(st.lists(JUNK, max_size=4))


@settings(max_examples=100)
@given(data=st.data())
def test_fuzz_the_cli_keeps_its_promise(data, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fuzz")
    (tmp / "afile").write_text("x")
    args = data.draw(cli_arguments(tmp), label="args")
    here = os.getcwd()
    os.chdir(tmp)  # whatever a drawn argument names, nothing is written outside the temporary directory
    try:
        run(*args)
    finally:
        os.chdir(here)
