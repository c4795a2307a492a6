"""CI replays the whole catalogue: every proof's certificate re-checked by bnsym.replay (a fresh process that does
not import the provers), and the CLI route `bnsym prove --certificate` + `bnsym replay`."""
import json

import pytest
from click.testing import CliRunner

import bnsym
from bnsym.cli import main
from bnsym.replay import check_certificate
from bnsym.theorems import prove, theorems

@pytest.mark.parametrize("name", [t.name for t in theorems()])
def test_every_certificate_replays(name):
    proof = prove(name)
    cert = proof.certificate()
    report = check_certificate(cert, points=1)
    assert report.ok and report.steps and report.holds == proof.holds, [s for s in report.steps if not s.passed]
    replayed = sum(len(p["steps"]) for p in cert["parts"])
    hypothetical = len(cert["narrative"])  # steps resting on the theorem's own hypothesis (an eigenpair)
    assert replayed == len(report.steps) and replayed + hypothetical == sum(s.checked for s in proof.steps)
    assert hypothetical <= (2 if name == "block_critical_rate" else 0)  # the hypothesis and the step using it


def test_replay_runs_in_a_fresh_process_without_the_provers():
    report = bnsym.replay(prove("bn_jacobian").certificate(), points=1)
    assert report.ok and not any(m.startswith(("bnsym.theorems", "bnsym.kernel")) for m in report.bnsym_modules)


def test_a_tampered_certificate_fails():
    cert = prove("backward_compact").certificate()
    step = cert["parts"][-1]["steps"][-1]
    step["rhs"] = "Mul(Integer(2), " + step["rhs"] + ")"  # claim twice the compact form
    assert not check_certificate(cert, points=1).ok


def test_cli_certificate_and_replay(tmp_path):
    path = tmp_path / "jac.json"
    res = CliRunner().invoke(main, ["prove", "bn_jacobian", "--certificate", str(path)])
    assert res.exit_code == 0 and json.loads(path.read_text())["holds"] is True
    res = CliRunner().invoke(main, ["replay", str(path), "--points", "1"])
    assert res.exit_code == 0 and "all checked" in res.output
    bad = json.loads(path.read_text())
    bad["parts"][0]["steps"][0]["rhs"] = "Integer(7)"
    path.write_text(json.dumps(bad))
    res = CliRunner().invoke(main, ["replay", str(path), "--points", "1"])
    assert res.exit_code == 1 and "NOT all checked" in res.output
