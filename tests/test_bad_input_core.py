"""Issue 16, core part: bad input to the builders, the derivations and the numeric routes gets a clear bnsym
error — never code run from a name, a silently wrong number, a hang or a raw traceback.

Test names carry the issue's item numbers. The two fuzz tests at the end draw builder arguments and
evaluation values (Hypothesis, derandomized in CI) and assert the promise for every drawn input.
"""
from __future__ import annotations

import builtins
import decimal
import math
from functools import cache

import numpy as np
import pytest
import sympy
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import bnsym
from bnsym.derive import named_symbols
from bnsym.dynamics import symbolic_hessian
from bnsym.errors import BnsymError, NetworkSpecError, UnknownParameterError, ValuesError
from bnsym.layers import ACTIVATIONS, Layer, Linear, check_eps
from bnsym.network import LIMITS, Network
from bnsym.numeric import NEGLIGIBLE, compile_network, lambdify_safely

import networks

# A name that, if it ever reached generated code, would create a file and set a flag in builtins.
HOSTILE = ("__import__('builtins').__setattr__('BNSYM_PWNED', 1) or "
           "__import__('os').system('touch pwned')")


@pytest.fixture
def sandbox(tmp_path, monkeypatch):
    """Run in an empty directory; afterwards assert that nothing ran (no file, no flag)."""
    monkeypatch.chdir(tmp_path)
    yield tmp_path
    assert not (tmp_path / "pwned").exists()
    assert not hasattr(builtins, "BNSYM_PWNED")


def _values(net, rng=None, **overrides):
    rng = rng or np.random.default_rng(0)
    values = {name: rng.uniform(0.5, 1.5, matrix.shape) for name, matrix in named_symbols(net).items()}
    values.update(overrides)
    return values


# -- 1. security: no symbol name reaches generated code -----------------------------------------------------
def test_item1_hostile_symbol_as_eps_is_refused_by_every_builder(sandbox):
    eps = sympy.Symbol(HOSTILE, nonnegative=True)
    for build in (lambda: bnsym.chain(2, bn=True, batch=2, eps=eps),
                  lambda: bnsym.two_layer(bn="pre", batch=2, eps=eps),
                  lambda: bnsym.mlp([1, 2, 1], bn="post", batch=2, eps=eps)):
        with pytest.raises(NetworkSpecError, match="name of eps's symbol"):
            build()
    with pytest.raises(NetworkSpecError, match="must be a letter"):
        check_eps(eps)


@pytest.mark.parametrize("name", [HOSTILE, "a\n", "a b", "w1)", "_a0", "1a", "é", "", "a'"])
def test_item1_hostile_weight_names_are_refused(sandbox, name):
    with pytest.raises(NetworkSpecError, match="must be a letter followed by letters or digits"):
        bnsym.chain(2, names=["w", name])


def test_item1_lambdify_renames_every_symbol(sandbox):
    grads = bnsym.chain(2).gradients()
    args = [s for m in named_symbols(grads.network).values() for s in m]        # w1, w2, x, dJ/dyhat
    hostile = sympy.Symbol(HOSTILE, real=True)
    e, pi = sympy.Symbol("e", real=True), sympy.Symbol("pi", real=True)
    f = grads.lambdify(args + [hostile, e, pi], [grads.raw["w1"][0, 0] * hostile + e + pi])
    # ∂J/∂w1 = dJ/dyhat·w2·x = 1·5·2 = 10, times 3, plus e = 7 and pi = 11 — not NumPy's constants
    assert f(3.0, 5.0, 2.0, 1.0, 3.0, 7.0, 11.0) == [48.0]
    bound = lambdify_safely([sympy.Symbol("n")], [sympy.Sum(hostile, (hostile, 0, sympy.Symbol("n")))])
    assert bound(3) == [6]
    with pytest.raises(ValuesError, match="not among the arguments"):
        grads.lambdify(args, [hostile])


def test_item1_a_custom_layer_with_a_hostile_symbol_cannot_run_code(sandbox):
    class Scale(Layer):
        def forward(self, x):
            return x * sympy.Symbol(HOSTILE, real=True)

    with pytest.raises(NetworkSpecError, match="must be a letter"):
        Network([Linear("h1", weight="w1", n_in=1, n_out=1), Scale("yhat")], sympy.Matrix([[sympy.Symbol("x")]]),
                batch=None)


def test_item1_compile_network_and_symbolic_hessian_use_safe_names(sandbox):
    model = compile_network(bnsym.chain(2, loss="mse"))
    loss, grads = model.loss_and_gradients({"w1": 2.0, "w2": 3.0}, x=[[1.0]], t=[[5.0]])
    assert (loss, float(grads["w1"][0, 0])) == (1.0, 6.0)
    H, f = symbolic_hessian(bnsym.chain(2, loss="mse"))
    assert f({"x": 1.0, "t": 0.0, "w1": 1.0, "w2": 1.0}).tolist() == [[2.0, 4.0], [4.0, 2.0]]


# -- 4. a symbolic ε needs its value, and the value is used ---------------------------------------------------
@pytest.mark.parametrize("name", ["e", "pi", "epsilon"])
def test_item4_symbolic_eps_requires_and_uses_its_value(name):
    eps = sympy.Symbol(name, nonnegative=True)
    net = bnsym.two_layer("tanh", bn="pre", batch=3, eps=eps)
    reference = bnsym.two_layer("tanh", bn="pre", batch=3, eps=sympy.Rational(1, 1000))
    values = _values(reference, x=np.array([1.0, 2.0, 4.0]))
    with pytest.raises(ValuesError, match=f"missing values for: {name}$"):
        net.gradients().evaluate(values)
    expected = reference.gradients().evaluate(values)
    for given_eps in ({eps: 1e-3}, {name: 1e-3}):
        got = net.gradients().evaluate({**values, **given_eps})
        assert all(np.allclose(got[k], expected[k], rtol=1e-12, atol=0) for k in expected)
    bigger = net.gradients().evaluate({**values, name: 1.0})
    assert not np.isclose(bigger["w1"], expected["w1"])          # the value given is the one used
    with pytest.raises(ValuesError, match="must be nonnegative"):
        net.gradients().evaluate({**values, name: -1e-3})
    with pytest.raises(ValuesError, match="given twice"):
        net.gradients().evaluate({**values, name: 1e-3, eps: 1e-3})
    with pytest.raises(NetworkSpecError, match="symbolic eps"):
        compile_network(bnsym.two_layer(bn="pre", batch=3, eps=eps, loss="mse"))


# -- 5. a numerically constant batch under BN ------------------------------------------------------------------
CONSTANT = {"x": [2.0, 2.0, 2.0], "w1": 1.5, "b1": 0.5, "gamma1": 1.0, "beta1": 0.0, "w2": 1.0, "b2": 0.0,
            "dJ/dyhat": [1.0, 0.5, -1.0]}


@pytest.mark.parametrize("x", [[2.0, 2.0, 2.0], [0.0, 0.0, 0.0], [1e8, 1e8, 1e8]])
def test_item5_constant_batch_with_eps_zero_is_refused(x):
    net = bnsym.two_layer("identity", bn="pre", batch=3)
    with pytest.raises(ValuesError, match="numerically a constant batch"):
        net.gradients().evaluate({**CONSTANT, "x": x})
    model = compile_network(bnsym.two_layer("identity", bn="pre", batch=3, loss="mse"))
    params = {k: v for k, v in CONSTANT.items() if k not in ("x", "dJ/dyhat")}
    with pytest.raises(ValuesError, match="numerically a constant batch"):
        model.loss_and_gradients(params, x=np.array(x).reshape(3, 1), t=np.zeros((3, 1)))


def test_item5_with_eps_positive_a_constant_batch_is_well_defined():
    grads = bnsym.two_layer("identity", bn="pre", batch=3, eps=1e-5).gradients().evaluate(CONSTANT)
    assert abs(grads["b1"]) < 1e-9 and abs(grads["w1"]) < 1e-9     # BN removes the bias: exactly 0 in exact math
    assert grads["beta1"] == pytest.approx(0.5)                     # Σ ∂J/∂ŷ


def test_item5_a_nearly_constant_batch_above_the_threshold_is_accurate():
    """σ/max|z| ≈ 4e-7 > 1e-7: accepted, and the float result matches exact rational arithmetic."""
    net = bnsym.two_layer("identity", bn="pre", batch=3)
    spread = 3e-6
    values = {**CONSTANT, "x": [2.0, 2.0 + spread, 2.0 - spread]}
    got = net.gradients().evaluate(values)["gamma1"]           # Σ ∂J/∂ŷ·x̂: as sensitive as x̂ itself
    exact_values = {}
    for name, matrix in named_symbols(net).items():
        for symbol, v in zip(matrix, np.ravel(values[name]), strict=True):
            exact_values[symbol] = sympy.Rational(float(v))
    exact = float(net.gradient("gamma1").closed_form.xreplace(exact_values).evalf(30))
    assert got == pytest.approx(exact, rel=1e-6)
    assert NEGLIGIBLE == 1e-7


# -- 6. names colliding with the network's own names ------------------------------------------------------------
@pytest.mark.parametrize("names, clash", [
    (["a", "mu1", "c"], "mu1"), (["a", "sigma1", "c"], "sigma1"), (["sigma2", "b", "c"], "sigma2"),
    (["a", "hhat1", "c"], "hhat1"), (["a", "htilde2", "c"], "htilde2"), (["a", "gamma1", "c"], "gamma1"),
    (["beta2", "b", "c"], "beta2"), (["hbar1", "b", "c"], "hbar1"), (["a", "hhatbar1", "c"], "hhatbar1"),
    (["a", "b", "yhat"], "yhat"), (["a", "yhatbar", "c"], "yhatbar"), (["h1", "b", "c"], "h1"),
    (["a", "h2", "c"], "h2"), (["x", "b", "c"], "x"), (["a", "J", "c"], "J"), (["a", "b", "t"], "t"),
])
def test_item6_names_that_clash_with_internal_names_are_refused(names, clash):
    with pytest.raises(NetworkSpecError, match=f"the name '{clash}' is used twice"):
        bnsym.chain(3, names=names, bn=True, batch=3, loss="mse")


@pytest.mark.parametrize("name", ["mu1", "w1", "x", "gamma1", "zbar1"])
def test_item6_an_eps_symbol_that_clashes_is_refused(name):
    with pytest.raises(NetworkSpecError, match=f"'{name}' is used twice"):
        bnsym.two_layer(bn="pre", batch=2, eps=sympy.Symbol(name, nonnegative=True))


def test_item6_the_issue_case_now_refused_and_distinct_names_still_work():
    with pytest.raises(NetworkSpecError, match="'mu1' is used twice.*statistic"):
        bnsym.chain(3, names=["a", "mu1", "c"], bn=True, batch=3)
    net = bnsym.chain(3, names=["a", "mu", "c"], bn=True, batch=3)
    assert list(net.parameters) == ["a", "gamma1", "beta1", "mu", "gamma2", "beta2", "c"]


# -- 9 (and 3 for the builders). complex values, non-finite ε ---------------------------------------------------
@pytest.mark.parametrize("x", [2 + 5j, complex(2, 0), np.complex128(2), np.array([2 + 0j]), 2 + 5 * sympy.I])
def test_item9_complex_values_are_refused_not_cut_to_the_real_part(x):
    values = {"x": x, "w1": 1.0, "w2": 1.0, "dJ/dyhat": 1.0}
    with pytest.raises(ValuesError, match="complex values are refused"):
        bnsym.chain(2).gradients().evaluate(values)
    with pytest.raises(ValuesError, match="complex values are refused"):
        compile_network(bnsym.chain(2, loss="mse")).loss_and_gradients({"w1": 1.0, "w2": 1.0}, x=x, t=0.0)
    with pytest.raises(ValuesError, match="complex values are refused"):
        symbolic_hessian(bnsym.chain(2, loss="mse"))[1]({"x": x, "t": 0.0, "w1": 1.0, "w2": 1.0})
    with pytest.raises(ValuesError, match="complex values are refused"):
        bnsym.chain(2).gradients().evaluate({**values, "x": 1.0, "w1": x})


@pytest.mark.parametrize("eps", [1j, sympy.nan, np.float32("nan"), np.float64("nan"), float("inf"), -math.inf,
                                 sympy.oo, -sympy.oo, sympy.zoo, decimal.Decimal("NaN"), decimal.Decimal("sNaN"),
                                 decimal.Decimal("Infinity"), decimal.Decimal("-Infinity"), 1e400, sympy.I,
                                 sympy.Symbol("e", nonnegative=True) * sympy.oo, sympy.Matrix([0.1]), "0.1"])
def test_item9_non_finite_or_complex_eps_is_refused_by_the_builders(eps):
    for build in (lambda: bnsym.chain(2, bn=True, batch=2, eps=eps),
                  lambda: bnsym.two_layer(bn="pre", batch=2, eps=eps),
                  lambda: bnsym.mlp([1, 2, 1], bn="pre", batch=2, eps=eps)):
        with pytest.raises(NetworkSpecError, match="eps must be"):
            build()


@pytest.mark.parametrize("eps", [decimal.Decimal("1e-5"), np.float32(1e-5), 1e-5, sympy.Float(1e-5),
                                 sympy.Rational(1, 100000)])
def test_item9_finite_eps_of_any_numeric_type_is_the_exact_decimal(eps):
    assert check_eps(eps) == sympy.Rational(1, 100000)


# -- 13. huge requests are refused up front --------------------------------------------------------------------
@pytest.mark.parametrize("call, limit", [
    (lambda: bnsym.chain(10**6), "layers"),
    (lambda: bnsym.chain(10**4), "layers"),             # so chain(10**4).gradient(...) never starts
    (lambda: bnsym.chain(10**100), "layers"),
    (lambda: bnsym.two_layer(bn="pre", batch=10**5), "width"),
    (lambda: bnsym.two_layer(bn="pre", batch=100), "terms"),
    (lambda: bnsym.two_layer(inputs=10**6), "width"),
    (lambda: bnsym.mlp([10**6, 1]), "width"),
    (lambda: bnsym.mlp([1000, 1000, 1]), "terms"),
    (lambda: bnsym.mlp([2] * 10**6), "layers"),
    (lambda: bnsym.chain(200, bn=True, batch=2), "layers"),
])
def test_item13_huge_networks_are_refused_with_the_limit_and_how_to_raise_it(call, limit):
    with pytest.raises(NetworkSpecError, match=rf"more than the limit of {getattr(LIMITS, limit)}.*"
                                               rf"bnsym\.network\.LIMITS\.{limit} = \d+"):
        call()


def test_item13_raising_a_limit_lets_the_network_through(monkeypatch):
    with pytest.raises(NetworkSpecError, match="LIMITS.terms"):
        bnsym.mlp([70, 70, 1])
    monkeypatch.setattr(LIMITS, "terms", 6000)
    assert bnsym.mlp([70, 70, 1]).parameters["W1"].shape == (70, 70)
    with pytest.raises(AttributeError):
        LIMITS.term = 1                                   # a typo is an error, not a silent new attribute


def test_item13_the_benchmarked_networks_stay_within_the_limits():
    for build in (lambda: bnsym.chain(128), lambda: bnsym.mlp([2, 4, 4, 1], activation="relu", batch=4),
                  lambda: bnsym.mlp([2, 3, 1], activation="tanh", bn="pre", batch=4),
                  lambda: bnsym.chain(5, bn=True, batch=8, loss="mse")):
        assert len(build().gradients()) >= 2


# -- 17. raw tracebacks ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("names", [5, 2.5, {"a", "b"}, [1, 2], ["a", None], b"ab", [["a"], ["b"]]])
def test_item17_bad_names_argument(names):
    with pytest.raises(NetworkSpecError):
        bnsym.chain(2, names=names)


@pytest.mark.parametrize("key", [["w1"], ("w1",), 3, None, sympy.Symbol("w1")])
def test_item17_bad_gradient_keys(key):
    with pytest.raises(UnknownParameterError):
        bnsym.chain(2).gradients()[key]


@pytest.mark.parametrize("x", [10**400, [10**400], -10**400, decimal.Decimal("1e400"), sympy.Integer(10) ** 400])
def test_item17_integers_too_large_for_float_are_a_values_error(x):
    with pytest.raises(ValuesError, match="too large for float64|must be finite"):
        bnsym.chain(2).gradients().evaluate({"x": x, "w1": 1.0, "w2": 1.0, "dJ/dyhat": 1.0})


def _lambdify_misuse():
    grads = bnsym.chain(2).gradients()
    args = [s for m in named_symbols(grads.network).values() for s in m]
    x = args[2]
    return grads, args, [
        (lambda: grads.lambdify(["x"], [x]), "args must be SymPy symbols"),
        (lambda: grads.lambdify([1.0], [x]), "args must be SymPy symbols"),
        (lambda: grads.lambdify([x + 1], [x]), "args must be SymPy symbols"),
        (lambda: grads.lambdify(args, ["x"]), "outputs must be SymPy expressions"),
        (lambda: grads.lambdify(args, [None]), "outputs must be SymPy expressions"),
        (lambda: grads.lambdify(args, [x > 0]), "outputs must be SymPy expressions"),
        (lambda: grads.lambdify(args, {"a": x}), "outputs must be SymPy expressions"),
        (lambda: grads.lambdify(args, [sympy.Function("exp")(x)]), "cannot evaluate the function 'exp'"),
        (lambda: grads.lambdify(args, [sympy.MatrixSymbol("A", 2, 2)]), "cannot evaluate these objects"),
        (lambda: grads.lambdify(args, [sympy.Indexed("A", x)]), "cannot evaluate these objects"),
        (lambda: grads.lambdify(args, [sympy.Symbol("q")]), "not among the arguments: q"),
        (lambda: grads.lambdify(args[:1], [x]), "not among the arguments"),
        (lambda: grads.lambdify(args + args[:1], [x]), "repeat the symbol"),
        (lambda: grads.lambdify(args, [x], cse=True), "unknown lambdify option"),
        (lambda: grads.lambdify(args, [x], modules="os"), "could not compile"),
    ]


@pytest.mark.parametrize("case", range(len(_lambdify_misuse()[2])))
def test_item17_lambdify_misuse_is_a_bnsym_error(case):
    call, message = _lambdify_misuse()[2][case]
    with pytest.raises(BnsymError, match=message):
        call()


# -- 18. unclear or wrong messages ---------------------------------------------------------------------------------
def test_item18_an_overflow_without_bn_is_called_an_overflow():
    values = {"x": 1e300, "w1": 1e300, "w2": 1.0, "dJ/dyhat": 1.0}
    with pytest.raises(ValuesError, match="overflow") as info:
        bnsym.chain(2).gradients().evaluate(values)
    assert "constant batch" not in str(info.value)
    with pytest.raises(ValuesError, match="overflow"):
        bnsym.two_layer("identity", loss="mse").gradients().evaluate(
            {"x": 1e200, "t": 0.0, "w1": 1e200, "b1": 0.0, "w2": 1.0, "b2": 0.0})


@pytest.mark.parametrize("call", [lambda: bnsym.chain(1, bn=True, batch=2), lambda: bnsym.chain(1, bn=True),
                                  lambda: bnsym.mlp([2, 1], bn="pre", batch=2),
                                  lambda: bnsym.mlp([3, 1], bn="post", batch=4)])
def test_item18_with_bn_but_no_place_for_it_is_refused(call):
    with pytest.raises(NetworkSpecError, match="would have no BN: BN (follows every layer but the last|goes on the "
                                               "hidden layers)"):
        call()


def test_item18_unknown_keys_in_evaluate_are_an_error():
    net = bnsym.two_layer()
    values = _values(net)
    z1 = net.nodes[1].symbols[0, 0]
    for extra, shown in (({"w3": 2.0}, "'w3'"), ({sympy.Symbol("q"): 1.0}, "'q'"), ({z1: 1.0}, "'z1'"),
                         ({sympy.Symbol("w1"): 1.0}, "'w1'"), ({3: 1.0}, "'3'")):
        with pytest.raises(ValuesError, match=f"unknown (name|symbol) {shown}"):
            net.gradients().evaluate({**values, **extra})
    w1 = net.parameters["w1"][0, 0]                       # the network's own symbol is a valid key
    assert net.gradients().evaluate({**{k: v for k, v in values.items() if k != "w1"}, w1: 1.0})
    model = compile_network(bnsym.chain(1, loss="mse"))
    with pytest.raises(ValuesError, match="unknown parameter name"):
        model.loss_and_gradients({"w1": 1.0, "w2": 2.0}, x=[[1.0]], t=[[0.0]])


# -- fuzz: the promise for every drawn input -------------------------------------------------------------------
# Each example is a valid call with at most two arguments corrupted (so every check is reached, not only the
# first one): a valid call must succeed; any call gives a result or a BnsymError, never another exception.
FUZZ_EXAMPLES = 150            # fixed, so CI (the bnsym-ci profile) draws exactly this many per fuzz test
INTERNAL = ["mu1", "sigma1", "hhat1", "gamma1", "beta1", "hbar1", "x", "t", "J", "yhat", "z1", "a1", "h1"]
WEIRD = [None, "3", "", 2.5, True, False, -1, 0, 10**6, 10**100, [], {}, (), object(), math.nan, math.inf, 1j,
         np.int64(2), np.float32("nan"), sympy.Integer(2), sympy.nan, sympy.oo, b"ab", ["a\n"], [None]]
CORRUPT = {
    "depth": WEIRD,
    "names": WEIRD + [5, ["a", "mu1", "c"], ["a", "a"], "ab\n", ["w1", "x"], [HOSTILE], list("ab"), ["a"] * 5],
    "bn": WEIRD + ["middle", ["pre"], "PRE"],
    "batch": WEIRD + [1, 10**5, 1001],
    "eps": WEIRD + [-1e-3, decimal.Decimal("NaN"), decimal.Decimal("1e-3"), sympy.zoo, sympy.I,
                    sympy.Symbol("e"), sympy.Symbol("mu1", nonnegative=True), sympy.Symbol(HOSTILE, nonnegative=True),
                    sympy.Symbol("epsilon", nonnegative=True) * sympy.oo, sympy.Symbol("w1", nonnegative=True)],
    "affine": WEIRD, "bias": WEIRD, "loss": WEIRD + ["hinge", "MSE"], "activation": WEIRD + ["softplus", ["relu"]],
    "output_activation": WEIRD + ["softmax"], "inputs": WEIRD + [10**6],
    "widths": WEIRD + [[3], [2, 0, 1], [2, -1], [2, 2.5], "2,3", [10**6, 1], [1000, 1000, 1], [True, 1], [2] * 300],
}


@st.composite
def builder_calls(draw):
    kind = draw(st.sampled_from(["chain", "two_layer", "mlp"]))
    m = draw(st.integers(2, 4))
    eps = draw(st.sampled_from([0, 1e-5, sympy.Rational(1, 10), sympy.Symbol("epsilon", nonnegative=True)]))
    loss = draw(st.sampled_from(["abstract", "mse"]))
    if kind == "chain":
        depth = draw(st.integers(1, 4))
        names = draw(st.one_of(st.none(), st.just("abcd"[:depth]), st.just([f"v{k}" for k in range(depth)])))
        bn = draw(st.booleans()) and depth >= 2
        kwargs = {"depth": depth, "names": names, "bn": bn, "batch": m if bn else draw(st.sampled_from([None, m]))}
    elif kind == "two_layer":
        bn = draw(st.sampled_from([None, "pre", "post"]))
        kwargs = {"inputs": draw(st.integers(1, 3)), "bn": bn, "batch": m if bn else draw(st.sampled_from([None, m])),
                  "bias": draw(st.booleans())}
    else:
        widths = draw(st.lists(st.integers(1, 3), min_size=2, max_size=4))
        bn = draw(st.sampled_from([None, "pre", "post"])) if len(widths) > 2 else None
        kwargs = {"widths": widths, "bn": bn, "batch": m, "bias": draw(st.booleans()),
                  "output_activation": draw(st.sampled_from(sorted(ACTIVATIONS)))}
    if kind != "chain":
        kwargs["activation"] = draw(st.sampled_from(sorted(ACTIVATIONS)))
    kwargs.update(eps=eps, loss=loss, affine=draw(st.booleans()))
    corrupted = draw(st.lists(st.sampled_from(sorted(kwargs)), max_size=2, unique=True))
    for key in corrupted:
        kwargs[key] = draw(st.sampled_from(CORRUPT[key]))
    return kind, kwargs, corrupted


@settings(max_examples=FUZZ_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(builder_calls())
def test_fuzz_builders_give_a_network_or_a_bnsym_error(call):
    kind, kwargs, corrupted = call
    positional = {"chain": "depth", "mlp": "widths"}.get(kind)
    args = (kwargs.pop(positional),) if positional else ()
    try:
        net = getattr(bnsym, kind)(*args, **kwargs)
    except BnsymError as error:
        event(f"refused: {type(error).__name__}")
        assert corrupted, "a valid call was refused"
        return
    event("built")
    grads = net.gradients()
    assert list(grads) == list(net.parameters)
    assert all(isinstance(name, str) and name.isidentifier() for name in named_symbols(net) if "/" not in name)


FUZZ_NETWORKS = networks.names("fuzz")


@cache
def _fuzz_gradients(name: str):
    return networks.build(name).gradients()


INVALID = [math.nan, math.inf, -math.inf, 2 + 5j, complex(1, 0), np.complex64(1), np.array([1 + 0j]), "1.0", None,
           True, np.bool_(False), 10**400, -10**400, sympy.Symbol("q"), sympy.I, sympy.nan, [[1.0, 2.0], [3.0]],
           decimal.Decimal("NaN"), object(), {"a": 1}, b"1"]
EXTREME = [1e300, -1e300, 1e-300, 1.4e-74, 1e154, 1e-154, 5e-324, 0.0]
# moderate values: exact arithmetic then checks the float result (at extreme scales a gradient that is 0 in
# exact arithmetic comes out as rounding noise of that scale, e.g. -3.6e42 next to terms of 1e74)
moderate = st.one_of(st.just(0.0), st.floats(0.1, 3), st.floats(-3, -0.1))


@st.composite
def evaluations(draw):
    """``(network, values, invalid, ordinary)``: ``network`` a name in tests/networks.py; ``invalid`` if the
    values break the contract (must be refused); ``ordinary`` if all are moderate, so the result can be checked
    against exact arithmetic."""
    network = draw(st.sampled_from(FUZZ_NETWORKS))
    names = named_symbols(_fuzz_gradients(network).network)
    values = {}
    for name, matrix in names.items():
        entries = draw(st.lists(moderate, min_size=len(matrix), max_size=len(matrix)))
        if name.startswith("epsilon"):
            entries = [abs(v) for v in entries]
        values[name] = np.array(entries).reshape(matrix.shape)
    corruption = draw(st.sampled_from([None, None, "invalid", "shape", "missing", "unknown", "extreme", "constant"]))
    key = draw(st.sampled_from(sorted(names)))
    if corruption == "invalid":
        values[key] = draw(st.sampled_from(INVALID))
    elif corruption == "shape":
        values[key] = np.zeros(len(names[key]) + 1)
    elif corruption == "missing":
        del values[key]
    elif corruption == "unknown":
        values[draw(st.sampled_from(["w9", "z1", "mu1", "X", sympy.Symbol("q"), sympy.Symbol("x"), 7]))] = 1.0
    elif corruption == "extreme":
        values[key] = np.full(names[key].shape, draw(st.sampled_from(EXTREME)))
    elif corruption == "constant":
        values["x"] = np.full(names["x"].shape, draw(st.floats(-1e3, 1e3)))
    invalid = corruption in ("invalid", "shape", "missing", "unknown")
    return network, values, invalid, corruption is None


@cache
def _exact_function(network: str):
    """The fully substituted closed forms lambdified to mpmath: a route independent of the shared
    subexpressions that ``evaluate`` compiles, run at 40 digits."""
    grads = _fuzz_gradients(network)
    names = named_symbols(grads.network)
    forms = [grads[n].closed_form for n in grads]
    closed = [f if isinstance(f, sympy.MatrixBase) else sympy.Matrix([f]) for f in forms]
    return names, sympy.lambdify([list(m) for m in names.values()], [list(c) for c in closed], modules="mpmath")


def _exact(network, values):
    import mpmath

    names, function = _exact_function(network)
    with mpmath.workdps(40):
        out = function(*[[mpmath.mpf(float(v)) for v in np.ravel(values[n])] for n in names])
        return {name: np.array([float(v) for v in entries])
                for name, entries in zip(_fuzz_gradients(network), out, strict=True)}


@settings(max_examples=FUZZ_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(evaluations())
def test_fuzz_evaluate_gives_correct_numbers_or_a_bnsym_error(case):
    network, values, invalid, ordinary = case
    grads = _fuzz_gradients(network)
    try:
        result = grads.evaluate(values)
    except BnsymError as error:
        event(f"refused: {type(error).__name__}")
        return
    event("checked against exact arithmetic" if ordinary else "evaluated")
    assert not invalid, f"invalid values were accepted: {values}"
    assert set(result) == set(grads.network.parameters)
    assert all(np.all(np.isfinite(v)) for v in result.values())
    if ordinary:
        exact = _exact(network, values)
        for name, value in result.items():
            np.testing.assert_allclose(np.ravel(value), exact[name], rtol=1e-6, atol=1e-6)
