"""The properties :func:`~bnsym.testing.check_normalization` checks, one function each on a :class:`NormCase`,
raising :class:`NormPropertyError` (an ``AssertionError``) with the batch, expected vs actual and the likely
cause (:mod:`bnsym.testing.norm_diagnosis`).

=======================  ====================================================================================
property                 statement (groups as in :mod:`bnsym.testing.kinds`; ``n`` elements per group)
=======================  ====================================================================================
``forward``              ``y = γ x̂ + β`` (training), ``γ (x - r_μ)/√(r_σ² + ε) + β`` (eval mode)
``backward``             the closed forms of :mod:`bnsym.testing.norm_reference` (eval mode: the affine map's)
``null_space``           per group ``Σ ∂ℓ/∂x = 0`` (not ``rms``) and ``⟨∂ℓ/∂x, x̂⟩ = ε/(s(σ² + ε))·⟨γ g, x̂⟩``
``scale_invariance``     ``y(a x) - β - sign(a)(y(x) - β) = sign(a) γ (x̂_{ε/a²} - x̂_ε)`` and the gradients'
                         counterparts: the implementation's own values, the exact ε-deviation from the reference
``running_statistics``   one training step updates PyTorch's running statistics (momentum, unbiased variance)
``no_scale_invariance``  eval mode is affine, not scale invariant: ``y(2x) - β - 2(y(x) - β) = γ r_μ/√(r_σ² + ε)``
=======================  ====================================================================================

>>> PROPERTIES["training"]
('forward', 'backward', 'null_space', 'scale_invariance', 'running_statistics')
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from . import norm_reference as ref
from .adapter_base import ImplementationCrash
from .case import format_array
from .kinds import Spec
from .norm_adapters import NormAdapter
from .norm_diagnosis import diagnose
from .tolerance import Bound, Tolerance

__all__ = ["NormCase", "NormPropertyError", "PROPERTIES", "STATEMENTS", "run_property"]

STATEMENTS = {
    "forward": "the output matches the closed form (y = γ x̂ + β over the kind's groups; eval mode: the running "
               "statistics' affine map)",
    "backward": "∂ℓ/∂x, ∂ℓ/∂γ, ∂ℓ/∂β match the closed forms",
    "null_space": "per group, Σ ∂ℓ/∂x = 0 (centred kinds) and ⟨∂ℓ/∂x, x̂⟩ = ε/(s(σ² + ε))·⟨γ g, x̂⟩",
    "scale_invariance": "scaling x by a ≠ 0 changes the output only by the exact ε-deviation sign(a)·γ·"
                        "(x̂_{ε/a²} - x̂_ε), and the gradients by theirs",
    "running_statistics": "one training step updates running_mean/running_var as PyTorch does (momentum, "
                          "unbiased batch variance)",
    "no_scale_invariance": "eval mode is a fixed affine map, not scale invariant: y(2x) - β - 2(y(x) - β) = "
                           "γ·running_mean/√(running_var + ε)",
}
PROPERTIES = {
    "training": ("forward", "backward", "null_space", "scale_invariance", "running_statistics"),
    "eval": ("forward", "backward", "no_scale_invariance"),
}
_LABEL = {"y": "y", "dx": "∂ℓ/∂x", "dgamma": "∂ℓ/∂γ", "dbeta": "∂ℓ/∂β", "sum": "Σ_group ∂ℓ/∂x",
          "dot": "⟨∂ℓ/∂x, x̂⟩_group", "mean": "running_mean", "var": "running_var",
          "dy_scaled": "y(a x) - β - sign(a)(y(x) - β)", "dx_scaled": "|a|·∂ℓ/∂x(a x) - ∂ℓ/∂x(x)",
          "dgamma_scaled": "∂ℓ/∂γ(a x) - sign(a)·∂ℓ/∂γ(x)", "affine": "y(2x) - β - 2(y(x) - β)"}


@dataclass(frozen=True, eq=False)
class NormCase:
    """One example: ``x`` (canonical layout) on ``spec``, ``gamma``/``beta`` (``None`` when absent), ``dy``,
    running statistics and a scale ``a`` (a power of two)."""

    spec: Spec
    x: np.ndarray
    gamma: np.ndarray | None
    beta: np.ndarray | None
    dy: np.ndarray
    running_mean: np.ndarray | None = None
    running_var: np.ndarray | None = None
    a: float = 2.0

    def describe(self) -> str:
        """The case as text (every value exactly)."""
        names = ["x", "gamma", "beta", "dy", "running_mean", "running_var"]
        lines = [f"shape {self.spec.shape} (canonical, channels first), scale a = {self.a!r}"]
        lines += [f"  {n.ljust(12)} = {format_array(getattr(self, n))}" for n in names if getattr(self, n) is not None]
        return "\n".join(lines)


class NormPropertyError(AssertionError):
    """A property does not hold: ``property``, ``case``, ``causes`` (``[(name, text)]``) and the message."""

    def __init__(self, prop: str, impl: NormAdapter, case: NormCase, details: list, causes=None) -> None:
        super().__init__(f"property '{prop}' failed")
        self.property, self.case, self._impl, self._details, self._causes = prop, case, impl, details, causes
        self._message: str | None = None

    @property
    def causes(self) -> list:
        """The known mistakes that reproduce the output on the failing batch *and* the kit's further batches."""
        if callable(self._causes):
            self._diag, self._causes = self._causes, self._causes()
        return self._causes or []

    def __str__(self) -> str:
        if self._message is None:
            causes = self.causes
            verdict = getattr(getattr(self, "_diag", None), "verdict", None)
            lines = [f"property '{self.property}' failed ({self.case.spec.kind} normalization): "
                     f"{STATEMENTS[self.property]}", f"implementation: {self._impl!r}",
                     "failing batch:", "  " + self.case.describe().replace("\n", "\n  "),
                     *[d() if callable(d) else d for d in self._details]]
            if causes:
                kind = self.case.spec.kind
                lines += [f"likely cause: {text} [mistakes({kind!r})[{name!r}]]" for name, text in causes]
            else:
                lines.append(verdict or "likely cause: no known mistake explains this output")
            self._message = "\n".join(lines)
        return self._message


def _tiny(impl: NormAdapter) -> float:
    return {"float64": float(np.finfo(np.float64).tiny), "float16": float(np.finfo(np.float16).tiny)}.get(
        impl.dtype, float(np.finfo(np.float32).tiny))


def bound(impl: NormAdapter, tol: Tolerance, n: int, scale) -> Bound:
    """``|actual - expected| ≤ atol + rtol·|expected|`` with ``rtol = factor·n·u``, ``atol = rtol·scale + tiny``
    for the implementation's dtype (``u`` its unit roundoff), or the fixed values of ``tol``."""
    c = tol.factor * n * impl.u
    atol = tol.atol if tol.atol is not None else c * np.asarray(scale, np.float64) + _tiny(impl)
    return Bound(np.asarray(atol), tol.rtol if tol.rtol is not None else c)


def bounds(impl: NormAdapter, case: NormCase, tol: Tolerance) -> dict:
    """The bounds of ``y``, ``dx``, ``dgamma``, ``dbeta`` on this case (see :mod:`bnsym.testing.tolerance`)."""
    spec, eps = case.spec, impl.eps
    st = ref.statistics(spec, case.x, eps)
    xv = np.abs(np.asarray(case.x).reshape(spec.view_shape))
    with np.errstate(divide="ignore", invalid="ignore"):
        kappa = np.maximum(1.0, np.where(st.s > 0, xv.max(axis=spec.reduce, keepdims=True) / st.s, np.inf))
        gp = np.abs(case.dy * (1.0 if case.gamma is None else spec.broadcast(case.gamma))).reshape(spec.view_shape)
        dxs = np.broadcast_to(kappa * gp.max(axis=spec.reduce, keepdims=True) / st.s, spec.view_shape)
    k = np.broadcast_to(kappa, spec.view_shape).reshape(spec.shape)
    if not impl.training:  # eval mode: conditioned by the running statistics
        k = 1.0 + np.abs(case.x) / np.sqrt(spec.channel(case.running_var) + eps) + np.abs(
            spec.channel(case.running_mean)) / np.sqrt(spec.channel(case.running_var) + eps)
    g = 1.0 if case.gamma is None else np.abs(spec.broadcast(case.gamma))
    b = 0.0 if case.beta is None else np.abs(spec.broadcast(case.beta))
    n = spec.group_size
    count = max(1, case.x.size // max(1, int(np.prod(spec.param_shape))))
    return {"y": bound(impl, tol, n, k * g + b), "dx": bound(impl, tol, n, dxs.reshape(spec.shape)),
            "dgamma": bound(impl, tol, count, spec.over_non_params(k * np.abs(case.dy))),
            "dbeta": bound(impl, tol, count, spec.over_non_params(np.abs(case.dy)))}


def _mismatch(name, actual, expected, b: Bound):
    if actual is not None and np.shape(actual) == np.shape(expected):
        with np.errstate(invalid="ignore", over="ignore"):
            if b.holds(actual, expected).all():
                return None
    return functools.partial(_text, name, actual, expected, b)


def _text(name, actual, expected, b: Bound) -> str:
    label = _LABEL.get(name, name)
    pad = " " * len(label)
    head = f"{label} expected: {format_array(expected)}\n{pad}   actual: {format_array(actual)}"
    if actual is None or np.shape(actual) != np.shape(expected):
        return head + f"\n  wrong shape {np.shape(actual)}, expected {np.shape(expected)}"
    with np.errstate(invalid="ignore"):
        err = np.abs(np.asarray(actual, np.float64) - expected)
    ok = b.holds(actual, expected)
    where = np.unravel_index(int(np.argmax(np.where(ok, -1.0, np.nan_to_num(err, nan=np.inf)))), np.shape(expected))
    allowed = np.broadcast_to(b.allowed(expected), np.shape(expected))[where]
    return head + (f"\n  largest error {float(err[where]):.3g} at index {list(map(int, where))}, "
                   f"allowed {float(allowed):.3g}")


def _fail(prop, impl, case, problems, causes=None):
    __tracebackhide__ = True
    raise NormPropertyError(prop, impl, case, problems, causes)


def _grads(impl, case, x=None):
    return impl.run(case.spec, case.x if x is None else x, case.gamma, case.beta, dy=case.dy,
                    running=None if impl.training else (case.running_mean, case.running_var))


def _expected(impl, case, x=None, eps=None):
    x = case.x if x is None else x
    eps = impl.eps if eps is None else eps
    if impl.training:
        return ref.forward(case.spec, x, case.gamma, case.beta, eps), ref.backward(
            case.spec, case.dy, x, case.gamma, case.beta, eps)
    r = (case.running_mean, case.running_var, eps)
    return (ref.eval_forward(case.spec, x, case.gamma, case.beta, *r),
            ref.eval_backward(case.spec, case.dy, x, case.gamma, case.beta, *r))


def prop_forward(impl, case, tol):
    __tracebackhide__ = True
    out = impl.run(case.spec, case.x, case.gamma, case.beta,
                   running=None if impl.training else (case.running_mean, case.running_var))
    exp, _ = _expected(impl, case)
    b = bounds(impl, case, tol)["y"]
    problem = _mismatch("y", out["y"], exp, b)
    if problem:
        _fail("forward", impl, case, [problem], diagnose(impl, case, "y", out["y"], b, tol))


def prop_backward(impl, case, tol):
    __tracebackhide__ = True
    got = _grads(impl, case)["grads"]
    _, exp = _expected(impl, case)
    bs = bounds(impl, case, tol)
    problems, first = [], None
    for name, actual, e in zip(("dx", "dgamma", "dbeta"), got, exp, strict=True):
        if e is None:
            continue
        problem = _mismatch(name, actual, e, bs[name])
        if problem:
            problems.append(problem)
            first = first or (name, actual)
    if problems:
        assert first is not None
        _fail("backward", impl, case, problems, diagnose(impl, case, first[0], first[1], bs[first[0]], tol))


def prop_null_space(impl, case, tol):
    __tracebackhide__ = True
    spec, eps = case.spec, impl.eps
    dx = _grads(impl, case)["grads"][0]
    st = ref.statistics(spec, case.x, eps)
    gp = case.dy * (1.0 if case.gamma is None else spec.broadcast(case.gamma))
    def view(a):
        return (np.asarray(a, np.float64).reshape(spec.view_shape))
    xh = view(st.xhat)
    expect_dot = (eps / (st.s * (st.var + eps)) * (view(gp) * xh).sum(axis=spec.reduce, keepdims=True))
    db = bounds(impl, case, tol)["dx"]
    atol = np.broadcast_to(view(np.broadcast_to(db.atol, spec.shape)).max(axis=spec.reduce, keepdims=True),
                           expect_dot.shape)
    widen = spec.group_size * (1.0 + np.abs(xh).max(axis=spec.reduce, keepdims=True))
    b = Bound(atol * widen, db.rtol * spec.group_size)
    problems = []
    with np.errstate(invalid="ignore", over="ignore"):
        if spec.centred:
            problems.append(_mismatch("sum", view(dx).sum(axis=spec.reduce, keepdims=True),
                                      np.zeros_like(expect_dot), b))
        problems.append(_mismatch("dot", (view(dx) * xh).sum(axis=spec.reduce, keepdims=True), expect_dot, b))
    problems = [p for p in problems if p]
    if problems:
        _fail("null_space", impl, case, problems, diagnose(impl, case, "dx", dx, db, tol))


def prop_scale_invariance(impl, case, tol):
    """Metamorphic: the implementation at ``a x`` against itself at ``x``; the deviation is the reference's
    exact ε-term (no ε is changed in the implementation)."""
    __tracebackhide__ = True
    spec, a, eps = case.spec, case.a, impl.eps
    sign, e2 = float(np.sign(a)), eps / (a * a)
    ax = case.x * a
    at_x, at_ax = _grads(impl, case), _grads(impl, case, ax)
    (y1, d1), (y2, d2) = _expected(impl, case, eps=e2), _expected(impl, case)
    beta = 0.0 if case.beta is None else spec.broadcast(case.beta)
    bs = bounds(impl, case, tol)
    problems = [_mismatch("dy_scaled", at_ax["y"] - beta - sign * (at_x["y"] - beta), sign * (y1 - y2),
                          bs["y"].scaled(2))]
    quantity = "y" if problems[0] else "dx"
    dxb = bs["dx"].scaled(2)
    problems.append(_mismatch("dx_scaled", abs(a) * at_ax["grads"][0] - at_x["grads"][0], d1[0] - d2[0],
                              Bound(dxb.atol, dxb.rtol)))
    if d1[1] is not None and at_ax["grads"][1] is not None and at_x["grads"][1] is not None:
        problems.append(_mismatch("dgamma_scaled", at_ax["grads"][1] - sign * at_x["grads"][1],
                                  sign * (d1[1] - d2[1]), bs["dgamma"].scaled(2)))
    problems = [p for p in problems if p]
    if problems:
        scaled = NormCase(spec, ax, case.gamma, case.beta, case.dy, case.running_mean, case.running_var, a)
        header = f"a = {a!r}, ε = {eps!r}: expected = the exact ε-deviation between ε and ε/a² = {e2!r}"
        _fail("scale_invariance", impl, case, [header, *problems],
              diagnose(impl, scaled, quantity, at_ax["y"] if quantity == "y" else at_ax["grads"][0],
                       bounds(impl, scaled, tol)[quantity], tol))


def prop_running_statistics(impl, case, tol):
    __tracebackhide__ = True
    spec = case.spec
    out = impl.run(spec, case.x, case.gamma, case.beta, running=(case.running_mean, case.running_var))
    exp = ref.running_update(spec, case.running_mean, case.running_var, case.x, impl.momentum)
    n = spec.group_size
    xmax = np.abs(np.moveaxis(case.x, 1, 0).reshape(spec.shape[1], -1)).max(axis=1)
    scales = (np.abs(case.running_mean) + xmax, np.abs(case.running_var) + 4 * xmax**2 * n / (n - 1))
    problems = [_mismatch(k, out.get(f"running_{k}"), e, bound(impl, tol, n, s))
                for k, e, s in zip(("mean", "var"), exp, scales, strict=True)]
    problems = [p for p in problems if p]
    if problems:
        _fail("running_statistics", impl, case, [f"momentum = {impl.momentum!r} (PyTorch convention, unbiased "
                                                  "running variance)", *problems], [])


def prop_no_scale_invariance(impl, case, tol):
    __tracebackhide__ = True
    spec = case.spec
    def run(x):
        return (impl.run(spec, x, case.gamma, case.beta, running=(case.running_mean, case.running_var))["y"])
    beta = 0.0 if case.beta is None else spec.broadcast(case.beta)
    g = 1.0 if case.gamma is None else spec.broadcast(case.gamma)
    expected = np.broadcast_to(g * spec.channel(case.running_mean) / np.sqrt(spec.channel(case.running_var)
                                                                             + impl.eps), case.x.shape)
    b = bounds(impl, case, tol)["y"].scaled(3)
    y1, y2 = run(case.x), run(2 * case.x)
    problem = _mismatch("affine", y2 - beta - 2 * (y1 - beta), expected, b)
    if problem:
        _fail("no_scale_invariance", impl, case, [problem], diagnose(impl, case, "y", y1, bounds(impl, case, tol)["y"],
                                                                      tol))


_BODIES = {"forward": prop_forward, "backward": prop_backward, "null_space": prop_null_space,
           "scale_invariance": prop_scale_invariance, "running_statistics": prop_running_statistics,
           "no_scale_invariance": prop_no_scale_invariance}


def run_property(name: str, impl: NormAdapter, case: NormCase, tol: Tolerance) -> None:
    """Check property ``name`` on ``case``; a crash of the implementation fails the property (with the batch).

    >>> from bnsym.testing.norm_adapters import NormFunctions
    >>> from bnsym.testing.norm_mistakes import implementations_of
    >>> from bnsym.testing.kinds import Spec
    >>> good = implementations_of("layer")["reference"]
    >>> impl = NormFunctions(good.forward, good.backward, eps=1e-5)
    >>> case = NormCase(Spec("layer", (2, 3)), np.array([[0.0, 1.0, 3.0], [2.0, -1.0, 0.5]]), np.full(3, 1.5),
    ...                 np.zeros(3), np.array([[1.0, 0.0, -2.0], [0.5, 0.25, 1.0]]))
    >>> run_property("backward", impl, case, Tolerance())
    """
    __tracebackhide__ = True
    try:
        _BODIES[name](impl, case, tol)
    except ImplementationCrash as exc:
        _fail(name, impl, case, [f"the implementation raised {exc}"], [])
