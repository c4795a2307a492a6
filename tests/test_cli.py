"""The ``bnsym`` command line: thin over the public API, errors as one line and exit code 2."""
from __future__ import annotations

import subprocess
import sys

from click.testing import CliRunner

from bnsym.cli import main


def test_derive_prints_the_seed_derivation():
    result = CliRunner().invoke(main, ["derive", "two-layer", "-p", "w1"])
    assert result.exit_code == 0, result.output
    assert "∂z₂/∂a₁ · ∂a₁/∂z₁ · ∂z₁/∂w₁" in result.output
    assert "ReLU′(z₂)" in result.output


def test_derive_all_parameters_of_the_chain():
    result = CliRunner().invoke(main, ["derive", "chain", "--names", "abcde"])
    assert result.exit_code == 0, result.output
    for name in "abcde":
        assert f"∂J/∂{name} =" in result.output


def test_derive_writes_a_file(tmp_path):
    out = tmp_path / "d.txt"
    result = CliRunner().invoke(main, ["derive", "two-layer", "--bn", "pre", "-m", "2", "-p", "b1", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "∂J/∂b₁" in out.read_text(encoding="utf-8")


def test_bad_input_is_one_line_and_exit_code_2():
    for args, message in [(["derive", "two-layer", "-p", "w9"], "no parameter 'w9'"),
                          (["derive", "chain", "--depth", "0"], "depth must be an integer >= 1"),
                          (["derive", "two-layer", "--bn", "pre"], "needs a batch"),
                          (["derive", "mlp", "--widths", "2,x"], "--widths must be comma-separated")]:
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 2, (args, result.output)
        assert message in result.output
        assert "Traceback" not in result.output


def test_console_script_runs():
    completed = subprocess.run([sys.executable, "-m", "bnsym", "--help"], capture_output=True, text=True)
    assert completed.returncode == 0 and "derive" in completed.stdout


def test_prove_lists_the_catalogue_and_proves_one():
    listing = CliRunner().invoke(main, ["prove"])
    assert listing.exit_code == 0 and "scale_invariance_input_grad" in listing.output
    proof = CliRunner().invoke(main, ["prove", "scale_invariance_input_grad"])
    assert proof.exit_code == 0 and "holds: True" in proof.output and "a > 0" in proof.output


def test_prove_with_a_changed_hypothesis_says_what_holds_instead():
    result = CliRunner().invoke(main, ["prove", "scale_invariance_input_grad", "--assume", "a=negative"])
    assert result.exit_code == 0, result.output
    assert "holds: False" in result.output and "instead:" in result.output


def test_prove_latex_standalone_to_a_file(tmp_path):
    out = tmp_path / "proof.tex"
    result = CliRunner().invoke(main, ["prove", "bias_gradient_zero", "--latex", "--standalone", "-o", str(out)])
    assert result.exit_code == 0, result.output
    text = out.read_text(encoding="utf-8")
    assert text.startswith("\\documentclass") and "\\partial" in text


def test_prove_bad_input_is_one_line_and_exit_code_2():
    for args, message in [(["prove", "no_such_theorem"], "unknown theorem"),
                          (["prove", "scale_invariance_input_grad", "--assume", "a"], "KEY=VALUE"),
                          (["prove", "scale_invariance_input_grad", "--batch", "x"], "--batch must be"),
                          (["prove", "scale_invariance_input_grad", "--eps", "lots"], "--eps must be")]:
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 2, (args, result.output)
        assert message in result.output and "Traceback" not in result.output


def test_notebook_latex_and_the_callable_catalogue():
    import bnsym
    import bnsym.theorems.catalogue

    assert len(bnsym.theorems()) == len(list(bnsym.theorems.theorems()))
    shown = bnsym.two_layer().gradient("w1")._repr_latex_()
    assert shown.startswith("$$") and "\\begin{aligned}" in shown and "\\partial" in shown


def test_explain_config_on_the_command_line(tmp_path):
    path = tmp_path / "explain.toml"
    path.write_text("[sweep]\nsteps = 'x'\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["explain", "--quick", "--config", str(path), "-o", str(tmp_path / "out")])
    assert result.exit_code == 2 and result.output.count("\n") == 1
    assert "sweep.steps must be an integer" in result.output and not (tmp_path / "out").exists()
    result = CliRunner().invoke(main, ["explain", "--config", str(tmp_path / "nope.toml")])
    assert result.exit_code == 2 and "does not exist" in result.output


def test_explain_runs_the_configured_optimizer(tmp_path):
    import json

    path = tmp_path / "explain.toml"
    path.write_text('[optimizer]\nkind = "momentum"\nmomentum = 0.5\n[sweep]\ntorch = false\n', encoding="utf-8")
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["explain", "--quick", "--config", str(path), "--no-pdf", "-o", str(out)])
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in (out / "sweep.jsonl").read_text().splitlines()]
    assert records and all(r["config"]["optimizer"] == "momentum" and r["config"]["momentum"] == 0.5
                           for r in records)
    assert (out / "report.md").is_file() and not (out / "sweep-torch.jsonl").exists()
