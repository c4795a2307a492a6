"""The code printers of ReLU, ReLU' and the sigmoid: ``sympy.lambdify`` with NumPy, math, mpmath and PyTorch
gives the value SymPy itself computes, with the functions nested in powers, quotients and products."""
from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
import sympy
from sympy.printing.numpy import NumPyPrinter
from sympy.printing.pycode import MpmathPrinter, PythonCodePrinter

from bnsym.functions import ReLU, ReLUPrime, Sigmoid

x = sympy.Symbol("x", real=True)

EXPRESSIONS = {
    "1/sigmoid": 1 / Sigmoid(x),
    "sigmoid^2": Sigmoid(x) ** 2,
    "sigmoid^-2 of an affine argument": Sigmoid(2 * x - 1) ** -2,
    "sigmoid quotient": (1 - Sigmoid(x)) / Sigmoid(-x),
    "2^relu": 2 ** ReLU(x),
    "relu^2 shifted": ReLU(x - 1) ** 2,
    "-relu/sigmoid": -ReLU(x) / Sigmoid(x),
    "relu' * x": ReLUPrime(x) * x,
    "relu'": ReLUPrime(x),
    "2^relu'": 2 ** ReLUPrime(x),
    "1/(1 + relu')": 1 / (1 + ReLUPrime(x + 1)),
    "sigmoid' (by diff)": sympy.diff(Sigmoid(x), x),
    "relu' (by diff)": sympy.diff(ReLU(x), x),
}
POINTS = [-2.5, -0.5, 0.0, 0.75, 3.0]  # 0 is ReLU's kink: ReLU'(0) = 0


def _direct(expr, value: float) -> float:
    """SymPy's own value: the functions evaluate at a number (``ReLUPrime(0) = 0``, ``Sigmoid(0) = 1/2``)."""
    return float(expr.xreplace({x: sympy.Float(value, 30)}).evalf(30))


@pytest.mark.parametrize("name", sorted(EXPRESSIONS))
@pytest.mark.parametrize("module", ["numpy", "math", "mpmath"])
def test_lambdify_agrees_with_sympy(module, name):
    expr = EXPRESSIONS[name]
    f = sympy.lambdify(x, expr, modules=module)
    for value in POINTS:
        got = f(mpmath.mpf(value) if module == "mpmath" else value)
        assert float(got) == pytest.approx(_direct(expr, value), rel=1e-12, abs=1e-15), (module, name, value)


@pytest.mark.parametrize("name", sorted(EXPRESSIONS))
def test_lambdify_numpy_works_elementwise_on_arrays(name):
    expr = EXPRESSIONS[name]
    f = sympy.lambdify(x, expr, modules="numpy")
    got = np.asarray(f(np.array(POINTS)), dtype=float) * np.ones(len(POINTS))
    assert got == pytest.approx([_direct(expr, v) for v in POINTS], rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("name", sorted(EXPRESSIONS))
def test_lambdify_torch_agrees_with_sympy(name, torch):
    expr = EXPRESSIONS[name]
    f = sympy.lambdify(x, expr, modules="torch")
    values = torch.tensor(POINTS, dtype=torch.float64)
    got = f(values)
    got = got if isinstance(got, torch.Tensor) else torch.full_like(values, float(got))
    assert got.dtype == torch.float64 and got.shape == values.shape
    assert got.tolist() == pytest.approx([_direct(expr, v) for v in POINTS], rel=1e-12, abs=1e-15)


def test_relu_prime_is_torch_relus_derivative_even_at_zero(torch):
    """ReLU'(0) = 0 is PyTorch's convention: the lambdified ReLU' equals autograd's derivative of torch.relu."""
    values = torch.tensor(POINTS, dtype=torch.float64, requires_grad=True)
    torch.relu(values).sum().backward()
    derivative = sympy.lambdify(x, sympy.diff(ReLU(x), x), modules="torch")
    assert derivative(values.detach()).tolist() == values.grad.tolist()
    assert values.grad.tolist()[POINTS.index(0.0)] == 0.0


def test_sigmoid_derivative_is_torchs(torch):
    values = torch.tensor(POINTS, dtype=torch.float64, requires_grad=True)
    torch.sigmoid(values).sum().backward()
    derivative = sympy.lambdify(x, sympy.diff(Sigmoid(x), x), modules="torch")
    assert derivative(values.detach()).tolist() == pytest.approx(values.grad.tolist(), rel=1e-14)


def test_lambdified_torch_expressions_are_differentiable(torch):
    """Autograd goes through the printed ReLU, ReLU' and sigmoid (ReLU' has derivative 0, as SymPy says)."""
    expr = ReLUPrime(x) * x + Sigmoid(x) ** 2 + ReLU(x - 1)
    f = sympy.lambdify(x, expr, modules="torch")
    values = torch.tensor(POINTS, dtype=torch.float64, requires_grad=True)
    f(values).sum().backward()
    expected = [_direct(sympy.diff(expr, x), v) for v in POINTS]
    assert values.grad.tolist() == pytest.approx(expected, rel=1e-12, abs=1e-15)


def test_math_code_of_a_sigmoid_is_one_parenthesized_term():
    """The printed form is wrapped whole, so the reciprocal of a sigmoid is not read as 1/1.0/(1 + exp(-x))."""
    for printer in (PythonCodePrinter(), NumPyPrinter(), MpmathPrinter()):
        code = printer.doprint(Sigmoid(x))
        assert code.startswith("(") and code.endswith(")")
        inner = code[1:-1]
        depth = [0]
        for char in inner:  # the outer parentheses enclose everything: they close only at the very end
            depth.append(depth[-1] + {"(": 1, ")": -1}.get(char, 0))
        assert min(depth) == 0
    assert sympy.lambdify(x, 1 / Sigmoid(x), modules="math")(0.0) == pytest.approx(2.0)
    assert math.isclose(sympy.lambdify(x, Sigmoid(x) ** -1, modules="math")(-1.0), 1 + math.e)
