"""The kernel's zero decision: regression tests for the unsound answers of issues 10 and 16, and random
expressions from a grammar whose every decided answer is checked by SymPy's own 50-digit evaluation
at admissible points (an evaluation route that shares no code with the decision)."""
from __future__ import annotations

import random

import mpmath

import pytest
import sympy
from hypothesis import given, strategies as st
from sympy import Abs, Heaviside, Mod, Rational, Symbol, arg, sign, sqrt
from sympy.utilities.lambdify import implemented_function

from bnsym.errors import ValuesError
from bnsym.exact import find_counterexample, is_zero, radical_normal_form
from bnsym.functions import ReLU, ReLUPrime, Sigmoid, batch_normalize, batch_variance
from bnsym.kernel import Decision, decide_zero
from bnsym.kernel.zero import normal_form

x = Symbol("x", real=True)
xc = Symbol("xc")
n = Symbol("n", integer=True)
Z3 = sympy.symbols("z1:4", real=True)


def _admissible(point: dict, positive=(), nonnegative=()) -> bool:
    """Every assumption of every atom holds for its value, and the facts hold (SymPy's evaluation)."""
    for atom, value in point.items():
        for key in ("real", "integer", "positive", "nonnegative", "negative", "nonpositive", "nonzero", "rational"):
            wanted = getattr(atom, "is_" + key)
            if wanted is not None and getattr(value, "is_" + key) is not wanted:
                return False
    facts = [(f, True) for f in positive] + [(f, False) for f in nonnegative]
    for fact, strict in facts:
        value = _value(fact, point)
        if value is None or abs(value.imag) > 1e-40 or not (value.real > 0 if strict else value.real >= -1e-40):
            return False
    return True


def _heaviside(value, at_zero=0.5):
    if isinstance(value, mpmath.mpc):
        raise TypeError("Heaviside of a complex value")
    return mpmath.mpf(at_zero if value == 0 else (1 if value > 0 else 0))


def _real(value):
    if isinstance(value, mpmath.mpc):
        raise TypeError("an activation of a complex value")
    return value


_ACTIVATIONS = {
    Sigmoid: implemented_function("sigmoid_mp", lambda v: 1 / (1 + mpmath.exp(-_real(v)))),
    ReLUPrime: implemented_function("relu_prime_mp", lambda v: mpmath.mpf(1 if _real(v) > 0 else 0)),
    ReLU: implemented_function("relu_mp", lambda v: mpmath.mpf(max(_real(v), 0))),
}


def _value(expr, point):
    """The value at an exact point by mpmath to 50 digits (``lambdify``, not bnsym's evaluator); ``None`` where
    undefined
    (SymPy's exact substitution gives ``zoo`` or ``nan``, or the numeric evaluation fails).

    Evaluated numerically, not by substituting into SymPy: SymPy itself simplifies ``sign(z)**2`` to 1 for
    complex ``z``.
    """
    try:  # a point where a denominator is exactly 0 does not serve (rounding would hide the pole)
        if expr.xreplace(point).has(sympy.zoo, sympy.nan):
            return None
    except (ValueError, TypeError):
        return None
    # bnsym's activations as plain SymPy: their own printers write Python floats (1.0), which would cap the
    # precision, and Sigmoid's prints without parentheses (so 1/sigmoid(x) would come out wrong)
    for cls, numeric in _ACTIVATIONS.items():
        expr = expr.replace(cls, numeric)
    atoms = sorted(point, key=str)
    args = [mpmath.mpf(int(v.p)) / int(v.q) if v.is_Rational else mpmath.mpc(*[mpmath.mpf(int(t.p)) / int(t.q)
            for t in v.as_real_imag()]) for v in (point[a] for a in atoms)]
    with mpmath.workdps(50):
        f = sympy.lambdify(atoms, expr, modules=[{"Heaviside": _heaviside, "sign": mpmath.sign}, "mpmath"])
        try:
            value = mpmath.mpc(f(*args))
        except (ZeroDivisionError, ValueError, TypeError, OverflowError):
            return None
    if not mpmath.isfinite(value.real) or not mpmath.isfinite(value.imag):
        return None
    return value


def _check(expr, decision: Decision, points, positive=(), nonnegative=()) -> None:
    """True: ~0 at every admissible defined point; False: the witness is admissible and the value nonzero there."""
    if decision.value is True:
        for point in points:
            if not _admissible(point, positive, nonnegative):
                continue
            value = _value(expr, point)
            assert value is None or abs(value) < 1e-30, (expr, point, value, decision.reason)
    elif decision.value is False:
        assert _admissible(decision.witness, positive, nonnegative), (expr, decision)
        assert expr.free_symbols <= set(decision.witness), (expr, decision)
        value = _value(expr, decision.witness)
        assert value is not None and abs(value) > 1e-30, (expr, decision, value)
    else:
        assert decision.witness is None


# -- regression: issue 10 (first bullet) and issue 16 item 7 -------------------------------------------------

UNSOUND_BEFORE = {
    "|sqrt(x)|^2 - x": Abs(sqrt(x)) ** 2 - x,
    "|xc|^2 - xc^2": Abs(xc) ** 2 - xc**2,
    "sign(sqrt(x)) - 1": sign(sqrt(x)) - 1,
    "arg(sqrt(x))": arg(sqrt(x)),
    "Heaviside(|x|) - 1": Heaviside(Abs(x)) - 1,
    "ReLU'(|x|) - 1": ReLUPrime(Abs(x)) - 1,
    "ReLU'(sqrt(batch var)) - 1": ReLUPrime(sqrt(batch_variance(Z3))) - 1,
}


@pytest.mark.parametrize("name", sorted(UNSOUND_BEFORE))
def test_formerly_proved_nonzero_expressions_are_not_proved(name):
    expr = UNSOUND_BEFORE[name]
    decision = decide_zero(expr)
    assert decision.value is not True, decision.reason
    assert is_zero(expr) is not True
    points = [{s: sympy.Integer(v) for s in expr.free_symbols} for v in (-4, 0, 1)]
    _check(expr, decision, points)
    # each of these has an admissible point where it is nonzero, and the decision finds one
    assert decision.value is False


def test_abs_sqrt_witness_is_the_one_of_the_issue():
    decision = decide_zero(Abs(sqrt(x)) ** 2 - x)
    assert decision.witness[x] < 0  # e.g. 8 at x = -4: |2i|² + 4
    assert Abs(sqrt(decision.witness[x])) ** 2 - decision.witness[x] == -2 * decision.witness[x]


def test_complex_abs_squared_is_not_zero_issue_16_item_7():
    assert is_zero(Abs(xc) ** 2 - xc**2) is False
    witness = decide_zero(Abs(xc) ** 2 - xc**2).witness
    assert sympy.im(witness[xc]) != 0  # only a non-real point shows it
    assert is_zero(Abs(x) ** 2 - x**2) is True  # real x: |x|² = x²


def test_mod_never_false_with_a_non_integer_witness():
    decision = decide_zero(Mod(n**3 - n, 3))
    assert decision.value is True and "residue classes" in decision.reason  # n³ − n ≡ 0 mod 3 for every integer
    assert decide_zero(Mod(Symbol("t", real=True) ** 3, 3)).value is False  # not integer-valued: no residue argument
    assert find_counterexample(Mod(n**3 - n, 3)) is None
    assert decide_zero(Mod(n**2, 3)).witness[n].is_integer  # nonzero for n = 1: the witness is an integer


def test_radicals_and_abs_are_eliminated_where_their_argument_is_proved_nonnegative():
    v = batch_variance(Z3)
    assert decide_zero(ReLUPrime(sqrt(v)) - 1, positive=[v]).value is True  # a batch stated non-constant
    assert decide_zero(ReLUPrime(sqrt(v)) - 1, nonnegative=[v]).value is False  # a constant batch is allowed
    assert decide_zero(Abs(sqrt(x)) - sqrt(x)).value is False
    assert decide_zero(Abs(sqrt(x)) - sqrt(x), nonnegative=[x]).value is True
    eps, a = Symbol("eps", positive=True), Symbol("a", positive=True)
    s = sqrt(v + eps)
    assert decide_zero(Abs(s) - s).value is True  # σ² + ε with ε > 0
    scaled = batch_variance([a * z for z in Z3])
    assert decide_zero(sqrt(scaled + a**2 * eps) - a * s).value is True  # √(a²(σ² + ε)) = a√(σ² + ε)
    b = Symbol("b", negative=True)
    assert decide_zero(sqrt(batch_variance([b * z for z in Z3])) + b * sqrt(v)).value is True


def test_a_witness_satisfies_the_facts():
    decision = decide_zero(x - 1, positive=[x - 2])
    assert decision.value is False and decision.witness[x] > 2
    decision = decide_zero(ReLUPrime(x) - 1, nonnegative=[-x])
    assert decision.value is False and decision.witness[x] <= 0


def test_indexed_entries_and_sums_over_a_symbolic_batch():
    i, j = sympy.symbols("i j", integer=True)
    m = Symbol("m", integer=True, positive=True)
    z = sympy.IndexedBase("z", real=True)
    total = sympy.Sum(z[i], (i, 1, m))
    assert decide_zero(total - sympy.Sum(z[j], (j, 1, m))).value is True  # bound index renamed
    assert decide_zero(Abs(sympy.Sum(z[i] ** 2, (i, 1, m))) - sympy.Sum(z[j] ** 2, (j, 1, m))).value is True
    assert decide_zero(total - 1).value is None  # no witness through a Sum over symbolic m
    decision = decide_zero(z[1] - z[2])
    assert decision.value is False and decision.witness[z[1]] != decision.witness[z[2]]
    assert decide_zero(z[i] - z[j]).value is None  # z[i] = z[j] when i = j: no witness from free choices


def test_function_applications_with_equal_arguments_are_one_atom():
    y = Symbol("y", real=True)
    assert decide_zero(ReLU((x + y) * (x - 1)) - ReLU(x**2 + x * y - x - y)).value is True
    assert decide_zero(Sigmoid(x / (x + 1)) - Sigmoid(1 - 1 / (x + 1))).value is True
    assert decide_zero(ReLU(x) - ReLU(y)).value is False


def test_sum_of_normalized_batch_of_28_is_zero():
    z = sympy.symbols("z1:29", real=True)
    xhat = batch_normalize(z)
    assert decide_zero(sum(xhat)).value is True
    assert decide_zero(sum(v**2 for v in xhat) - 28).value is True
    mu = sum(z) / 28
    s = sqrt(sum((zi - mu) ** 2 for zi in z) / 28)
    assert decide_zero(sum((zi - mu) / s for zi in z)).value is True  # the same, built by hand


def test_too_large_answers_none_with_a_reason():
    y = sympy.symbols("y1:31", real=True)
    decision = decide_zero(sympy.Add(*y) ** 30 - 1)
    assert decision.value is None and decision.reason.startswith("too large")
    assert decide_zero(x + 1 - x - 1 + sympy.Add(*y), max_ops=5).reason.startswith("too large")


def test_undefined_expressions_are_not_decided():
    assert decide_zero(1 / ((x + 1) ** 2 - x**2 - 2 * x - 1)).value is None
    assert decide_zero(x * sympy.zoo).value is None


def test_bad_input_is_refused_with_bnsym_errors():
    for bad in ("x - x", True, sympy.Eq(x, 1)):
        with pytest.raises(ValuesError):
            decide_zero(bad)
    with pytest.raises(ValuesError):
        decide_zero(x, max_ops=0)
    with pytest.raises(TypeError):
        bool(decide_zero(x - x))
    with pytest.raises(ValuesError):
        decide_zero(x, positive=[-1])  # a false fact would make every claim vacuous


def test_matrices_and_normal_forms():
    assert decide_zero(sympy.Matrix([[x - x, Abs(x) ** 2 - x**2]])).value is True
    assert decide_zero(sympy.Matrix([[0, x]])).value is False
    assert decide_zero(sympy.Matrix([[0, Mod(n * (n + 1) / 2, 1)]])).value is None  # undecided entry
    a, b = sympy.symbols("a b", commutative=False)
    assert decide_zero(a * b - b * a).value is None  # outside the commutative algebra: never a ring identity
    A, B = sympy.MatrixSymbol("A", 2, 2), sympy.MatrixSymbol("B", 2, 2)
    assert decide_zero(A * B - B * A).value is None
    form = normal_form(1 / (sqrt(x) + 1))
    (symbol, q, radicand), = form.relations
    assert (q, radicand) == (2, x) and form.denominator == symbol + 1
    assert radical_normal_form((sqrt(x) + 1) ** 2 - 2 * sqrt(x) - x).numerator == 1


# -- random expressions from a grammar ------------------------------------------------------------------

R, U = Symbol("r", real=True), Symbol("u", real=True)
P, Q = Symbol("p", positive=True), Symbol("q", nonnegative=True)
K = Symbol("k", integer=True)
C = Symbol("c")
LEAVES = [R, U, P, Q, C, K]
UNARY = [sqrt, Abs, ReLU, ReLUPrime, Sigmoid, sign, Heaviside, sympy.exp, lambda e: -e]


class Grammar:
    """Random expressions: radicals, |·|, bnsym's activations, rational functions, integer-valued Mod, sign,
    Heaviside."""

    def __init__(self, rng: random.Random):
        self.rng = rng

    def leaf(self, real=False):
        rng = self.rng
        if rng.random() < 0.25:
            return Rational(rng.randint(-3, 3), rng.randint(1, 3))
        return rng.choice(LEAVES[:-2] if real else LEAVES)

    def expr(self, depth: int, real=False):
        rng = self.rng
        if depth <= 0 or rng.random() < 0.25:
            return self.leaf(real)
        kind = rng.randrange(6)
        a = self.expr(depth - 1, real)
        if kind == 0:
            return a + self.expr(depth - 1, real)
        if kind == 1:
            return a * self.expr(depth - 1, real)
        if kind == 2:
            return a / (self.expr(depth - 1, real) + rng.randint(1, 2))
        if kind == 3:
            return a ** rng.choice([2, 3, -1])
        unary = [Abs, ReLU, ReLUPrime, Sigmoid, sign, Heaviside, lambda e: -e] if real else UNARY
        try:
            return rng.choice(unary)(a)
        except ValueError:  # SymPy refuses e.g. Heaviside of a non-real number
            return a

    def integer_valued(self):
        rng = self.rng
        poly = sum(rng.randint(-2, 2) * K**e for e in range(4))
        return Mod(poly, rng.randint(2, 4))

    def zero(self, depth: int):
        """An expression that is 0 by construction."""
        rng = self.rng
        e, f = self.expr(depth), self.expr(depth)
        r = self.expr(depth, real=True)
        kind = rng.randrange(9)
        if kind == 0:
            return e - sympy.expand(e)
        if kind == 1:
            return (e + f) ** 2 - (e**2 + 2 * e * f + f**2)
        if kind == 2:
            positive = r**2 + P
            return sqrt(positive) ** 2 - positive
        if kind == 3:
            return Abs(r) ** 2 - r**2
        if kind == 4:
            nonneg = r**2 + Q
            return sqrt(P**2 * nonneg) - P * sqrt(nonneg)
        if kind == 5:
            g = rng.choice([ReLU, ReLUPrime, Sigmoid, sign, Abs])
            return g((r + 1) ** 2) - g(r**2 + 2 * r + 1)
        if kind == 6:
            z = sympy.symbols(f"z1:{rng.randint(2, 4) + 1}", real=True)
            return sum(batch_normalize(z, rng.choice([0, P])))
        if kind == 7:
            return rng.choice([Mod(K**3 - K, 3), Mod(K**2 + K, 2), Mod(2 * K, 2)])
        return e * (f + 2) / (f + 2) - e + sympy.together(f / (f + 2)) - f / (f + 2)

    def draw(self):
        rng = self.rng
        roll = rng.random()
        if roll < 0.45:
            return self.zero(rng.randint(1, 2)), True
        if roll < 0.55:
            return self.integer_valued(), False
        return self.expr(rng.randint(1, 3)), False


def _points(expr, rng: random.Random, count: int = 6):
    atoms = sorted(expr.free_symbols, key=str)
    for attempt in range(count):
        point = {}
        for s in atoms:
            v = sympy.Integer(rng.randint(-2, 2)) if attempt < 3 or s.is_integer else \
                Rational(rng.randint(-30, 30), rng.randint(1, 7))
            if s.is_positive:
                v = abs(v) + 1
            elif s.is_nonnegative:
                v = abs(v)
            elif s.is_real is not True and attempt % 2:
                v = v + sympy.I * rng.randint(1, 3)
            point[s] = v
        yield point


def _decide_and_check(expr, rng):
    decision = decide_zero(expr)
    _check(expr, decision, list(_points(expr, rng)))
    return decision


def test_random_expressions_every_decided_answer_is_right(record_property):
    """A fixed-seed run of the grammar: counts how many answers were decided, and checks each one."""
    rng = random.Random(20240610)
    counts = {True: 0, False: 0, None: 0}
    zero_by_construction, zero_proved = 0, 0
    for _ in range(300):
        expr, known_zero = Grammar(rng).draw()
        decision = _decide_and_check(expr, rng)
        counts[decision.value] += 1
        if known_zero:
            zero_by_construction += 1
            zero_proved += decision.value is True
            assert decision.value is not False, (expr, decision)
    decided = counts[True] + counts[False]
    summary = (f"random expressions: {decided} decided (True {counts[True]}, False {counts[False]}), "
               f"{counts[None]} None; zero by construction: {zero_proved}/{zero_by_construction} proved")
    print(summary)
    record_property("random_expressions", summary)
    assert decided >= 0.75 * 300
    assert zero_proved >= 0.85 * zero_by_construction


@given(st.randoms(use_true_random=False))
def test_random_expressions_hypothesis(rng):
    expr, known_zero = Grammar(rng).draw()
    decision = _decide_and_check(expr, rng)
    assert not (known_zero and decision.value is False)


@given(st.randoms(use_true_random=False), st.integers(2, 4))
def test_random_facts_restrict_the_domain(rng, m):
    z = sympy.symbols(f"z1:{m + 1}", real=True)
    v = batch_variance(z)
    g = Grammar(rng)
    expr = rng.choice([ReLUPrime(sqrt(v)) - 1, sign(sqrt(v)) - 1, Heaviside(sqrt(v)) - 1,
                       ReLU(sqrt(v)) - sqrt(v) + g.expr(1, real=True) * 0 + (z[0] - z[1]) * g.expr(1)])
    facts = rng.choice([[v], []])
    decision = decide_zero(expr, positive=facts)
    pts = [{s: sympy.Integer(rng.randint(-2, 2)) for s in expr.free_symbols | v.free_symbols} for _ in range(6)]
    _check(expr, decision, pts, positive=facts)
