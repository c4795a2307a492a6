"""Networks over a symbolic batch (bnsym.batchform): the index form agrees with the per-entry route exactly,
its sizes do not depend on m, and the gradients it proves zero are zero."""
import numpy as np
import pytest
import sympy

import bnsym
from bnsym.batchform import index_gradients
from bnsym.errors import NetworkSpecError
from bnsym.kernel.core import Fact

import networks
from tools import need

NETWORKS = networks.names("symbolic")


def _difference(a, b):
    a = a if isinstance(a, sympy.MatrixBase) else sympy.Matrix([[a]])
    b = b if isinstance(b, sympy.MatrixBase) else sympy.Matrix([[b]])
    return a - b


@pytest.mark.parametrize("key,m", [(key, m) for key in NETWORKS for m in (2, 3, 4)
                                   if not (m == 4 and key.startswith("mlp-2-3-2-tanh"))])  # (slow per entry at m = 4)
def test_index_form_written_out_equals_the_per_entry_route_exactly(key, m):
    net = networks.build(key)
    per_entry = net.at(m).gradients()
    for name, derivation in net.gradients().items():
        for entry in _difference(derivation.written_out(m), per_entry[name].compact):
            assert sympy.expand(entry) == 0, (name, entry)


@pytest.mark.parametrize("key", ["mlp-2-2-1-sigmoid-bn-pre-m-mse", "two-layer-relu-bn-pre-m", "chain3-bn-m"])
def test_index_form_size_does_not_depend_on_m(key):
    net = networks.build(key)
    ops = [index_gradients(net, sympy.Integer(m)).count_ops() for m in (8, 32, 1024)]
    symbolic = index_gradients(net).count_ops()
    # the same forms with m given: only how SymPy folds the numbers 1/m, 2/m can differ
    assert max(ops + [symbolic]) <= 1.1 * min(ops + [symbolic])
    assert ops[0] > 0


def _values(net, rng, m):
    values = {name: rng.standard_normal(matrix.shape) for name, matrix in net.parameters.items()}
    values["x"] = rng.standard_normal(net.inputs.shape)
    if net.targets is not None:
        values["t"] = rng.standard_normal(net.targets.shape)
    else:
        values[f"dJ/d{net.nodes[-1].name}"] = rng.standard_normal((m, net.nodes[-1].symbols.cols))
    for name in values:
        if name.startswith("gamma"):
            values[name] = 1.0 + np.abs(values[name])
    if "b2" in values:  # keep an output ReLU alive
        values["b2"] = np.full(np.shape(values["b2"]), 5.0)
    return values


ZEROS = {  # the gradients BN makes vanish identically (ε = 0 unless stated)
    "two-layer-relu-bn-pre-m": {"b1", "w1"},
    "two-layer-sigmoid-bn-pre-m-eps0.1": {"b1"},
    "two-layer-tanh-bn-post-m-2in": set(),
    "mlp-2-2-1-sigmoid-bn-pre-m-mse": {"b1"},
    "chain3-bn-m": {"w1", "gamma1", "beta1", "w2"},
    "chain3-m": set(),
    "mlp-2-2-1-relu-m-mse": set(),
}


@pytest.mark.parametrize("key", sorted(ZEROS))
def test_proved_zeros_are_the_expected_ones_and_vanish_numerically(key):
    net = networks.build(key)
    gradients = net.gradients()
    proved = {name for name, d in gradients.items() if d.is_zero}
    assert proved == ZEROS[key]
    concrete = net.at(4)
    rng = np.random.default_rng(0)
    numbers = concrete.gradients().evaluate(_values(concrete, rng, 4))
    for name, value in numbers.items():
        size = float(np.max(np.abs(value)))
        if name in proved:
            assert size < 1e-9
            assert gradients[name].closed_form == 0
            assert concrete.gradient(name).closed_form == (0 if np.ndim(value) == 0 else sympy.zeros(*np.shape(value)))
        else:
            assert size > 1e-6, name  # a gradient not claimed zero is not zero here


def test_a_zero_proof_is_made_of_kernel_facts_and_states_its_conditions():
    d = bnsym.two_layer(bn="pre", batch="m").gradient("b1")
    assert d.closed_form == 0
    p = d.proof
    assert p.holds is True and p.statement == "∂J/∂b1 = 0"
    assert all(step.checked and isinstance(step.fact, Fact) for step in p.steps)
    assert any("not constant" in c.text for c in p.conditions)
    assert "= 0 (proved" in str(d)


def test_one_unit_bn_weight_gradient_is_zero_only_with_eps_zero():
    assert bnsym.two_layer(bn="pre", batch="m").gradient("w1").is_zero
    assert not bnsym.two_layer(bn="pre", batch="m", eps=sympy.Rational(1, 100)).gradient("w1").is_zero
    assert not bnsym.two_layer(bn="pre", batch="m", inputs=2).gradient("w1").is_zero


def test_symbolic_batch_forms_and_names():
    net = bnsym.two_layer(bn="pre", batch="n")
    assert str(net.batch_size) == "n" and net.batch_size.is_integer and net.batch_size.is_positive
    d = net.gradient("w1")
    assert d.m == net.batch_size and d.compact.has(sympy.Sum)
    assert bnsym.chain(2, batch="m").output == sympy.Symbol("w1", real=True) * sympy.Symbol("w2", real=True) \
        * sympy.IndexedBase("x", real=True)[sympy.Symbol("i", integer=True, positive=True)]
    assert net.at(3).gradient("b1").closed_form == 0
    assert d.at(3).network.batch == 3


@pytest.mark.parametrize("batch", ["m+1", "1m", "", "m\n", sympy.Symbol("m"), sympy.Symbol("m", integer=True),
                                   "i", "j", "r", sympy.Symbol("k", integer=True, positive=True), "w1", "x", "J"])
def test_bad_symbolic_batches_are_refused_clearly(batch):
    with pytest.raises(NetworkSpecError, match="batch"):
        bnsym.two_layer(bn="pre", batch=batch)


def test_at_refuses_a_bad_batch():
    net = bnsym.two_layer(bn="pre", batch="m")
    for bad in (1, "m", 2.5, None):
        with pytest.raises(NetworkSpecError):
            net.at(bad)
    with pytest.raises(NetworkSpecError, match="LIMITS"):  # refused at once, before writing out 10⁶ entries
        bnsym.mlp([2, 8, 8, 1], bn="pre", batch="m").at(1000)


def test_cli_derives_for_a_symbolic_batch_and_prints_proved_zeros():
    from click.testing import CliRunner

    from bnsym.cli import main

    result = CliRunner().invoke(main, ["derive", "two-layer", "--bn", "pre", "-m", "m", "-p", "b1"])
    assert result.exit_code == 0 and "∂J/∂b1 = 0 (proved" in result.output
    result = CliRunner().invoke(main, ["derive", "two-layer", "--bn", "pre", "-m", "4", "-p", "b1"])
    assert result.exit_code == 0 and "∂J/∂b1 = 0 (proved" in result.output
    result = CliRunner().invoke(main, ["derive", "two-layer", "--bn", "pre", "-m", "m", "-p", "w2", "--latex"])
    assert result.exit_code == 0 and r"\sum_{j=1}^{m}" in result.output and "(proved" not in result.output
    result = CliRunner().invoke(main, ["derive", "two-layer", "--bn", "pre", "-m", "mm"])
    assert result.exit_code == 2 and "or m for every batch size" in result.output


def test_index_derivation_latex_has_true_rows_and_compiles(tmp_path):
    from bnsym.latex import compile_pdf, to_latex

    d = bnsym.mlp([2, 3, 1], "tanh", bn="pre", batch="m", loss="mse").gradient("b1")
    tex = to_latex(d)
    lines = [line for line in tex.splitlines() if "&=" in line]
    assert lines[0].startswith(r"\frac{\partial J}{\partial b_{1}[r]} &= \sum_{j=1}^{m}")
    assert lines[-1].rstrip("\\").endswith("&= 0")
    need("pdflatex")
    assert compile_pdf(to_latex([d, bnsym.two_layer(bn="pre", batch="m").gradient("w1")], standalone=True),
                       tmp_path).exists()
