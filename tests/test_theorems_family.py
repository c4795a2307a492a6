"""The normalization family's theorems (LayerNorm, RMSNorm, weight normalization, GroupNorm, eval-mode BN): each
proves through the kernel (general size and a concrete one), each refuted variant carries a witness that really
refutes (evaluated here in NumPy), the numeric checks hold under Hypothesis, and PyTorch's layers agree."""
import numpy as np
import pytest
import sympy
from hypothesis import assume, given, settings, strategies as st

from bnsym.replay import check_certificate
from bnsym.theorems import prove, registry, theorems
from bnsym.theorems.batch import Options, i, k
from bnsym.theorems.checks import residual
from bnsym.theorems.family import GROUPS, check_library_tie, ln_jacobian, rms_jacobian
from bnsym.theorems.family_checks import (eval_norm, jacobian, layer_norm, ln_weight_grad, rel, rms_norm,
                                          weight_grad, weight_norm)

FAMILY = [t.name for t in theorems() if t.group in GROUPS]
HOLDS = [n for n in FAMILY if not registry.get(n).refuted]
REFUTED = [n for n in FAMILY if registry.get(n).refuted]


def test_the_family_is_in_the_catalogue():
    asked = {"layer_norm_scale_invariance", "layer_norm_row_scaling_counterexample", "rms_norm_scale_invariance",
             "rms_norm_shift_counterexample", "weight_norm_orthogonality", "group_norm_one_group_scaling",
             "eval_norm_scale_counterexample", "eval_norm_gradient"}
    assert asked <= set(FAMILY) and set(REFUTED) <= asked
    assert {registry.get(n).group for n in FAMILY} == set(GROUPS)
    assert check_library_tie(3) and check_library_tie(4)


@pytest.mark.parametrize("name", HOLDS)
def test_each_theorem_proves_for_a_general_and_a_concrete_size(name):
    p = prove(name)
    assert p.holds is True and p.steps and all(s.fact is not None for s in p.steps if s.checked)
    assert "general m" in p.method  # the kernel's size symbol (n features, p entries, m samples)
    p4 = prove(name, batch=4)
    assert p4.holds is True and "m = 4" in p4.method


@pytest.mark.parametrize("name", FAMILY)
def test_each_certificate_replays(name):
    p = prove(name)
    report = check_certificate(p.certificate(), points=1)
    assert report.ok and report.holds == p.holds, [s for s in report.steps if not s.passed]


# -- refutations: the witness of each holds=False proof is evaluated in NumPy -----------------------------------
NORMS = {"layer_norm": layer_norm, "rms_norm": rms_norm, "group_norm": layer_norm}  # GN: the witness's own group


def _out_grad(norm, W, u, e, row=0):
    """``∂norm_ε(W u)_row/∂W`` by the complex step."""
    return jacobian(lambda flat: norm(flat.reshape(W.shape) @ u, e)[row:row + 1], W.ravel()).reshape(W.shape)


def _sides(name: str, c: dict):
    """The two sides the refuted statement equates, evaluated at the counterexample ``c``."""
    z = np.array(c.get("z", [0.0]), dtype=float)
    e = c.get("eps", 0.0)
    if name in ("layer_norm_scale_invariance", "group_norm_scale_invariance", "group_norm_one_group_scaling"):
        return layer_norm(c["a"] * z + c["b"], e), layer_norm(z, e)
    if name == "layer_norm_eps_deviation":
        return layer_norm(c["a"] * z + c["b"], e), layer_norm(z, e / c["a"] ** 2)
    if name == "layer_norm_jacobian_null_space":
        return jacobian(lambda x: layer_norm(x, e), z) @ layer_norm(z, e), np.zeros(len(z))
    kind, _, prop = name.partition("_norm_")
    if kind + "_norm" in NORMS and prop in ("gradient_scaling", "weight_orthogonality"):
        norm, W, u = NORMS[kind + "_norm"], np.array(c["W"]), np.array(c["u"])
        if prop == "gradient_scaling":
            return _out_grad(norm, c["c"] * W, u, e), _out_grad(norm, W, u, e) / c["c"]
        return np.array([(W * _out_grad(norm, W, u, e, c["i"] - 1)).sum()]), np.zeros(1)
    if name == "layer_norm_row_scaling_counterexample":
        return layer_norm(np.array(c["C"]) * z), layer_norm(z)
    if name == "rms_norm_scale_invariance":
        return rms_norm(c["a"] * z, e), rms_norm(z, e)
    if name == "rms_norm_eps_deviation":
        return rms_norm(c["a"] * z, e), rms_norm(z, e / c["a"] ** 2)
    if name == "rms_norm_shift_counterexample":
        return rms_norm(z + c["b"], e), rms_norm(z, e)
    if name == "rms_norm_jacobian_null_space":
        return jacobian(lambda x: rms_norm(x, e), z) @ rms_norm(z, e), np.zeros(len(z))
    if name == "weight_norm_scale_invariance":
        v = np.array(c["v"])
        return weight_norm(c["a"] * v, c["g"]), weight_norm(v, c["g"])
    if name == "weight_norm_gradient_scaling":
        v = np.array(c["v"])
        return (jacobian(lambda x: weight_norm(x, c["g"]), c["a"] * v),
                jacobian(lambda x: weight_norm(x, c["g"]), v) / c["a"])
    if name == "eval_norm_scale_counterexample":
        args = (c["mu_run"], c["v_run"], e, c["gamma"], c["beta"])
        return eval_norm(c["a"] * z, *args), eval_norm(z, *args)
    raise AssertionError(name)


VARIANTS = ([(n, {}) for n in REFUTED]
            + [(n, {"assume": {"a": "negative"}}) for n in (
                "layer_norm_scale_invariance", "layer_norm_eps_deviation", "layer_norm_gradient_scaling",
                "rms_norm_scale_invariance", "rms_norm_eps_deviation", "weight_norm_scale_invariance",
                "weight_norm_gradient_scaling", "group_norm_scale_invariance", "group_norm_one_group_scaling",
                "rms_norm_gradient_scaling", "group_norm_gradient_scaling")]
            + [(n, {"eps": "positive"}) for n in (
                "layer_norm_scale_invariance", "layer_norm_jacobian_null_space", "layer_norm_gradient_scaling",
                "layer_norm_weight_orthogonality", "rms_norm_scale_invariance", "rms_norm_jacobian_null_space",
                "group_norm_scale_invariance", "rms_norm_gradient_scaling", "rms_norm_weight_orthogonality",
                "group_norm_gradient_scaling", "group_norm_weight_orthogonality")]
            + [("layer_norm_scale_invariance", {"eps": 0.01, "batch": 5})])


@pytest.mark.parametrize("name, kwargs", VARIANTS)
def test_a_dropped_hypothesis_is_refuted_by_a_witness_that_refutes(name, kwargs):
    p = prove(name, **kwargs)
    assert p.holds is False and p.counterexample and p.replacement
    witnesses = [s.fact for s in p.steps if s.checked and s.fact.kind == "ne"]
    assert len(witnesses) == 1 and witnesses[0].witness
    lhs, rhs = _sides(name, p.counterexample)
    assert rel(lhs, rhs) > 1e-3, (lhs, rhs)
    report = check_certificate(p.certificate(), points=1)
    assert report.ok and report.holds is False


FEEDING = [f"{kind}_{prop}" for kind in NORMS for prop in ("gradient_scaling", "weight_orthogonality",
                                                               "weight_norm_growth")]


def test_every_kind_fed_by_weights_has_the_three_weight_theorems():
    assert set(FEEDING) <= set(HOLDS)
    for name in FEEDING:
        if name.endswith("growth"):  # it cites the orthogonality, which needs ε = 0: undecided, not refuted
            p = prove(name, eps="positive")
            assert p.holds is None and "needs ε = 0" in p.reason and "orthogonality" in p.reason


@pytest.mark.parametrize("kind", ["layer_norm", "rms_norm"])
@settings(max_examples=20, deadline=None)
@given(d=st.integers(1, 3).flatmap(lambda nn: st.tuples(
    st.lists(st.lists(st.floats(-3, 3), min_size=nn, max_size=nn), min_size=3, max_size=4),
    st.lists(st.floats(-2, 2), min_size=nn, max_size=nn))), c=st.floats(0.2, 5) | st.floats(-5, -0.2),
       eps=st.floats(1e-3, 1.0))
def test_what_holds_instead_of_the_gradient_scaling_and_orthogonality(kind, d, c, eps):
    """The replacements the refuted variants state: ``∂out_ε(Vu)/∂V`` at ``V = cW`` is ``(1/|c|)·∂out_{ε/c²}/∂W``,
    and Euler's sum ``Σ_rs W_rs ∂out_i/∂W_rs`` is ``x̂_i ε/(σ² + ε)`` (LN) or ``y_i ε/ν²`` (RMS)."""
    W, u = np.array(d[0]), np.array(d[1])
    z = W @ u
    assume(z.std() > 1e-2 * max(1.0, np.abs(z).max()) and np.abs(z).max() > 1e-2)
    norm = NORMS[kind]
    for row in range(len(z)):
        scaled = _out_grad(norm, c * W, u, eps, row)
        scale = max(1.0, float(np.abs(scaled).max()))
        assert rel(scaled / scale, _out_grad(norm, W, u, eps / c**2, row) / abs(c) / scale) < 1e-8
        euler = (W * _out_grad(norm, W, u, eps, row)).sum()
        value = (norm(z, eps)[row] * eps / (z.var() + eps) if kind == "layer_norm"
                 else norm(z, eps)[row] * eps / (np.mean(z**2) + eps))
        assert abs(euler - value) < 1e-9 * max(1.0, abs(value))
        if c < 0:  # the claim 1/c (rather than 1/|c|) is wrong wherever the gradient is not 0
            claimed = _out_grad(norm, W, u, eps / c**2, row) / c
            assert np.abs(scaled + claimed).max() <= 1e-8 * scale  # the sign is the only difference
            assert np.abs(scaled - claimed).max() >= 1.9 * np.abs(claimed).max()


def test_weight_normalization_has_no_eps():
    p = prove("weight_norm_orthogonality", eps="positive")
    assert p.holds is None and "no ε" in p.reason


# -- numeric checks under Hypothesis -----------------------------------------------------------------------------
@st.composite
def draws(draw):
    mm, nn = draw(st.integers(2, 4)), draw(st.integers(1, 3))
    fl = st.floats(-3, 3, allow_nan=False)
    u = np.array(draw(st.lists(st.lists(fl, min_size=nn, max_size=nn), min_size=mm, max_size=mm)))
    W = np.array(draw(st.lists(st.floats(0.2, 2) | st.floats(-2, -0.2), min_size=nn, max_size=nn)))
    z = u @ W
    assume(z.std() > 1e-2 * max(1.0, np.abs(z).max()))
    return {"u": u, "W": W, "a": draw(st.floats(0.1, 10)), "c": draw(st.floats(0.1, 10)),
            "gamma": draw(st.floats(0.5, 2)), "beta": draw(st.floats(-1, 1)), "eta": draw(st.floats(0.01, 1)),
            "b": draw(fl), "g": np.array(draw(st.lists(fl, min_size=mm, max_size=mm)))}


@pytest.mark.parametrize("name", FAMILY)
@settings(max_examples=25)
@given(d=draws())
def test_numeric_check(name, d):
    assert residual(name, d) < 1e-8


@given(d=draws())
@settings(max_examples=25)
def test_numeric_checks_detect_a_dropped_hypothesis(d):
    d["a"] = -d["a"]
    assert residual("layer_norm_scale_invariance", d) > 1e-3
    assert residual("rms_norm_scale_invariance", d) > 1e-3
    assert residual("weight_norm_scale_invariance", d) > 1e-3


# -- PyTorch autograd cross-checks of each identity -------------------------------------------------------------
def _closed(expr_of, n: int, values: dict) -> np.ndarray:
    """The proved closed form ``expr_of(opts, i, k)`` at ``n`` features, with ``values`` for its symbols."""
    expr = expr_of(Options(eps="any"), i, k)
    out = np.zeros((n, n))
    for r in range(n):
        for s in range(n):
            e = expr.xreplace({i: r + 1, k: s + 1}).subs({sympy.Symbol("n", integer=True, positive=True): n})
            e = e.replace(lambda x: isinstance(x, sympy.Indexed), lambda x: values[str(x.base)][int(x.indices[0]) - 1])
            out[r, s] = float(e.subs({sym: values[sym.name] for sym in e.free_symbols}))
    return out


@settings(max_examples=15, deadline=None)
@given(d=draws(), eps=st.floats(1e-3, 1.0))
def test_torch_layer_norm(torch, d, eps):
    F = torch.nn.functional
    z = torch.tensor(d["u"] @ d["W"], dtype=torch.float64, requires_grad=True)
    n, a, b = len(z), d["a"], d["b"]
    out = F.layer_norm(z, (n,), eps=eps)
    assert rel(F.layer_norm(a * z + b, (n,), eps=eps).detach(), F.layer_norm(z, (n,), eps=eps / a**2).detach()) < 1e-8
    J = torch.autograd.functional.jacobian(lambda x: F.layer_norm(x, (n,), eps=eps), z).numpy()
    zn = z.detach().numpy()
    closed = _closed(ln_jacobian, n, {"xhat": out.detach().numpy(), "sigma": float(zn.std()), "epsilon": eps})
    assert rel(J, closed) < 1e-8
    J0 = torch.autograd.functional.jacobian(lambda x: F.layer_norm(x, (n,), eps=0.0), z).numpy()
    xh = layer_norm(zn)
    assert rel(J0 @ np.ones(n), 0) < 1e-8 and rel(J0 @ xh, 0) < 1e-8 * max(1.0, 1 / zn.std())
    # the weights M (rows: features) feeding LayerNorm, with input x
    M = torch.tensor(d["u"], dtype=torch.float64, requires_grad=True)
    x, g = torch.tensor(d["W"], dtype=torch.float64), torch.tensor(d["g"], dtype=torch.float64)
    grad = torch.autograd.grad((g * F.layer_norm(M @ x, (n,), eps=0.0)).sum(), M)[0].numpy()
    Mc = (d["c"] * M).detach().requires_grad_(True)
    grad_c = torch.autograd.grad((g * F.layer_norm(Mc @ x, (n,), eps=0.0)).sum(), Mc)[0].numpy()
    scale = max(1.0, float(np.abs(grad).max()))
    assert rel(grad_c * d["c"] / scale, grad / scale) < 1e-7
    assert abs(float((d["u"] * grad).sum())) < 1e-7 * max(1.0, np.linalg.norm(d["u"]) * np.linalg.norm(grad))
    assert rel(grad, ln_weight_grad(d["u"], d["W"], d["g"])) < 1e-7 * scale
    eta = d["eta"]
    step = d["u"] - eta * grad
    assert rel((step**2).sum(), (d["u"] ** 2).sum() + eta**2 * (grad**2).sum()) < 1e-8
    C = np.ones(n)
    C[0] = 2.0
    lhs = F.layer_norm(torch.tensor(C) * z, (n,), eps=0.0).detach().numpy()
    big = np.abs(zn).max()
    if n >= 3 and abs(zn[0]) > 1e-2 * big and np.ptp(zn[1:]) > 1e-2 * big:  # a scale of one row is seen
        assert rel(lhs, layer_norm(zn)) > 1e-9


@settings(max_examples=15, deadline=None)
@given(d=draws(), eps=st.floats(1e-3, 1.0))
def test_torch_rms_norm(torch, d, eps):
    F = torch.nn.functional
    z = torch.tensor(d["u"] @ d["W"], dtype=torch.float64, requires_grad=True)
    n, a = len(z), d["a"]
    assert rel(F.rms_norm(a * z, (n,), eps=eps).detach(), F.rms_norm(z, (n,), eps=eps / a**2).detach()) < 1e-8
    assert rel(F.rms_norm(z, (n,), eps=eps).detach(), rms_norm(z.detach().numpy(), eps)) < 1e-10
    zn = z.detach().numpy()
    J = torch.autograd.functional.jacobian(lambda x: F.rms_norm(x, (n,), eps=eps), z).numpy()
    yy = rms_norm(zn, eps)
    closed = _closed(rms_jacobian, n, {"y": yy, "nu": float(np.sqrt(np.mean(zn**2) + eps))})
    assert rel(J, closed) < 1e-8
    J0 = torch.autograd.functional.jacobian(lambda x: F.rms_norm(x, (n,), eps=0.0), z).numpy()
    assert rel(J0 @ rms_norm(zn), 0) < 1e-8 * max(1.0, 1 / np.sqrt(np.mean(zn**2)))
    shifted = F.rms_norm(z + 1.0, (n,), eps=0.0).detach().numpy()  # a shift is not removed (unless z ∝ z + 1)
    if abs(np.corrcoef(np.vstack([zn, zn + 1.0]))[0, 1] - 1) > 1e-6 or np.allclose(zn, zn[0]):
        assert rel(shifted, rms_norm(zn)) > 1e-9


@settings(max_examples=15, deadline=None)
@given(d=draws())
def test_torch_weights_feeding_rms_norm_and_one_group_of_group_norm(torch, d):
    """The weight theorems of RMSNorm and GroupNorm against autograd through ``F.rms_norm`` / ``F.group_norm``."""
    from bnsym.theorems.units.groupnorm import weights_grad

    F = torch.nn.functional
    x, g = torch.tensor(d["W"], dtype=torch.float64), torch.tensor(d["g"], dtype=torch.float64)
    n = d["u"].shape[0]
    H = torch.tensor(d["u"][::-1].copy() + 1.0, dtype=torch.float64)  # the second group's weights, as in weights_grad

    def rms_loss(M):
        return (g * F.rms_norm(M @ x, (n,), eps=0.0)).sum()

    def gn_loss(M):  # M feeds group 1, H feeds group 2 (upstream g reversed): one sample, 2 groups of n channels
        out = F.group_norm(torch.cat([M @ x, H @ x])[None, :, None], 2, eps=0.0).reshape(-1)
        return (torch.cat([g, g.flip(0)]) * out).sum()

    for loss, ours in ((rms_loss, weight_grad(rms_norm, d["u"], d["W"], d["g"])),
                       (gn_loss, weights_grad(d["u"], d["W"], d["g"]))):
        M = torch.tensor(d["u"], dtype=torch.float64, requires_grad=True)
        grad = torch.autograd.grad(loss(M), M)[0].numpy()
        Mc = torch.tensor(d["c"] * d["u"], dtype=torch.float64, requires_grad=True)
        grad_c = torch.autograd.grad(loss(Mc), Mc)[0].numpy()
        scale = max(1.0, float(np.abs(grad).max()))
        assert rel(grad, ours) < 1e-7 * scale  # our NumPy gradient is torch's
        assert rel(grad_c * d["c"] / scale, grad / scale) < 1e-7  # gradient_scaling: 1/c
        assert abs(float((d["u"] * grad).sum())) < 1e-7 * max(1.0, np.linalg.norm(d["u"]) * np.linalg.norm(grad))
        step = d["u"] - d["eta"] * grad  # weight_norm_growth
        assert rel((step**2).sum(), (d["u"] ** 2).sum() + d["eta"] ** 2 * (grad**2).sum()) < 1e-8


@settings(max_examples=15, deadline=None)
@given(d=draws())
def test_torch_weight_norm(torch, d):
    nn_ = torch.nn
    weight_norm_ = nn_.utils.parametrizations.weight_norm
    vec = d["W"]
    layer = weight_norm_(nn_.Linear(len(vec), 1, bias=False, dtype=torch.float64))
    inp = torch.tensor(d["u"], dtype=torch.float64)

    def grad_at(v_value):
        with torch.no_grad():
            layer.parametrizations.weight.original0.fill_(d["gamma"])
            layer.parametrizations.weight.original1.copy_(torch.tensor(v_value)[None, :])
        layer.zero_grad()
        (layer(inp).sin().sum()).backward()
        return layer.parametrizations.weight.original1.grad[0].numpy().copy(), layer.weight.detach()[0].numpy()

    gv, w = grad_at(vec)
    assert rel(w, weight_norm(vec, d["gamma"])) < 1e-12
    assert abs(float(vec @ gv)) < 1e-8 * max(1.0, np.linalg.norm(vec) * np.linalg.norm(gv))
    gv_c, w_c = grad_at(d["c"] * vec)
    assert rel(w_c, w) < 1e-12 and rel(gv_c * d["c"], gv) < 1e-8 * max(1.0, float(np.abs(gv).max()))
    eta = d["eta"]
    assert rel((vec - eta * gv) @ (vec - eta * gv), vec @ vec + eta**2 * gv @ gv) < 1e-10


@settings(max_examples=15, deadline=None)
@given(d=draws(), eps=st.floats(1e-3, 1.0))
def test_torch_group_norm_and_eval_bn(torch, d, eps):
    F = torch.nn.functional
    z = torch.tensor(d["u"] @ d["W"], dtype=torch.float64)
    h = torch.arange(len(z), dtype=torch.float64)
    x = torch.cat([z, h])[None, :, None]  # one sample, 2 groups of p channels
    out = F.group_norm(x, 2, eps=eps)
    scaled = torch.cat([d["a"] * z + d["b"], h])[None, :, None]
    p = len(z)
    moved = F.group_norm(scaled, 2, eps=eps * d["a"] ** 2)[0, :p]  # the scaled group: its ε moves with a²
    assert rel(moved, out[0, :p]) < 1e-8
    assert rel(F.group_norm(scaled, 2, eps=eps)[0, p:], out[0, p:]) < 1e-12  # the other group does not see it
    assert rel(F.group_norm(torch.cat([d["c"] * z, h])[None, :, None], 2, eps=0.0), F.group_norm(x, 2, eps=0.0)) < 1e-8
    # eval-mode BN: running statistics are constants, the map is affine
    zb = z[:, None].clone().requires_grad_(True)
    mr, vr = torch.tensor([0.3], dtype=torch.float64), torch.tensor([1.7], dtype=torch.float64)
    gam, bet = torch.tensor([d["gamma"]], dtype=torch.float64), torch.tensor([d["beta"]], dtype=torch.float64)

    def bn_eval(t):
        return F.batch_norm(t, mr, vr, gam, bet, training=False, eps=eps)
    y = bn_eval(zb)
    a = d["a"]
    root = np.sqrt(1.7 + eps)
    offset = (1 - a) * (d["beta"] - d["gamma"] * 0.3 / root)
    assert rel(bn_eval(a * zb).detach(), a * y.detach() + offset) < 1e-8
    J = torch.autograd.functional.jacobian(bn_eval, zb).numpy().reshape(len(z), len(z))
    assert rel(J, d["gamma"] * np.eye(len(z)) / root) < 1e-12
    assert rel(eval_norm(z.numpy(), 0.3, 1.7, eps, d["gamma"], d["beta"]), y.detach().numpy().ravel()) < 1e-12
