"""Assertion helpers: one function per property, each checking one :class:`~bnsym.testing.case.BNCase` against an
:class:`~bnsym.testing.adapters.Adapter` and raising :class:`BatchNormPropertyError` (an ``AssertionError``) with
the property, the batch, expected vs actual and the likely cause.

=======================  ====================================================================================
property                 statement (section of the math reference, docs/math.md)
=======================  ====================================================================================
``forward``              ``y = γ (x - μ)/√(σ² + ε) + β``, biased variance, statistics over axis 0 (notation)
``backward``             ``∂ℓ/∂x = (γ/(m s))(m g - Σg - x̂ Σ g x̂)``, ``∂ℓ/∂γ = Σ g x̂``, ``∂ℓ/∂β = Σ g`` (§4)
``null_space``           ``Σ_i ∂ℓ/∂x_i = 0`` and ``⟨∂ℓ/∂x, x̂⟩ = γ ε/(s(σ² + ε))·⟨g, x̂⟩`` (0 when ε = 0) (§2)
``scale_invariance``     for ``a ≠ 0``: ``BN_ε(a x) - β = sign(a)(BN_{ε/a²}(x) - β)``, ``∂ℓ/∂x`` scales by
                         ``1/|a|``, ``∂ℓ/∂γ`` by ``sign(a)`` (§1, §3; the ε of the implementation, not ε = 0)
``running_statistics``   one training step updates the running statistics by the momentum convention, and
                         inference mode is ``γ (x - running_mean)/√(running_var + ε) + β`` (§9)
=======================  ====================================================================================

>>> import numpy as np
>>> from bnsym.testing.adapters import adapt
>>> from bnsym.testing.implementations import bn_implementations
>>> from bnsym.testing.case import BNCase
>>> case = BNCase(np.array([[0.0], [1.0], [3.0]]), np.array([1.5]), np.array([0.5]), np.array([[1.0], [0.0], [-2.0]]))
>>> good = bn_implementations["reference"]
>>> assert_backward(adapt(forward=good.forward, backward=good.backward, eps=1e-5), case)
>>> bad = bn_implementations["backward_no_mean_term"]
>>> assert_backward(adapt(forward=bad.forward, backward=bad.backward, eps=1e-5), case)
Traceback (most recent call last):
...
bnsym.testing.properties.BatchNormPropertyError: property 'backward' failed: ...
"""
from __future__ import annotations

import functools

import numpy as np

from ..errors import KitUsageError
from . import reference as ref
from .adapters import Adapter, ImplementationCrash
from .arguments import check_case
from .case import BNCase, format_array
from .confirm import confirmed
from .diagnosis import format_causes, inference_causes, running_causes, training_causes
from .implementations import bn_implementations
from .tolerance import Bound, Tolerance, conditioning

__all__ = [
    "BatchNormPropertyError",
    "PROPERTIES",
    "assert_forward",
    "assert_backward",
    "assert_null_space",
    "assert_scale_invariance",
    "assert_running_statistics",
]

STATEMENTS = {
    "forward": "training-mode forward pass matches the closed form y = γ (x - μ)/√(σ² + ε) + β "
    "(biased variance, statistics over axis 0; docs/math.md, notation)",
    "backward": "gradients match the closed forms ∂ℓ/∂x = (γ/(m s))(m g - Σg - x̂ Σ g x̂), ∂ℓ/∂γ = Σ g x̂, "
    "∂ℓ/∂β = Σ g (docs/math.md §4)",
    "null_space": "∂ℓ/∂x is orthogonal to 1 and, up to the ε term, to x̂: Σ ∂ℓ/∂x = 0 and "
    "⟨∂ℓ/∂x, x̂⟩ = γ ε/(s(σ² + ε))·⟨g, x̂⟩ (docs/math.md §2)",
    "scale_invariance": "scaling the batch by a ≠ 0 is the same as ε → ε/a² (exact, for the ε the "
    "implementation uses): BN_ε(a x) - β = sign(a)·(BN_{ε/a²}(x) - β), ∂ℓ/∂x scaled by 1/|a|, ∂ℓ/∂γ by sign(a), "
    "∂ℓ/∂β unchanged (docs/math.md §1, §3)",
    "running_statistics": "one training step updates the running statistics by the momentum convention, and "
    "inference mode computes γ (x - running_mean)/√(running_var + ε) + β (docs/math.md §9)",
}
PROPERTIES = tuple(STATEMENTS)

_LABEL = {"y": "y", "dx": "∂ℓ/∂x", "dgamma": "∂ℓ/∂γ", "dbeta": "∂ℓ/∂β", "mean": "running_mean",
          "var": "running_var", "y_eval": "y (inference mode)", "sum": "Σ_i ∂ℓ/∂x_i", "dot": "⟨∂ℓ/∂x, x̂⟩"}


class BatchNormPropertyError(AssertionError):
    """A property of batch normalization does not hold for the implementation under test.

    Attributes: ``property`` (a name in :data:`PROPERTIES`), ``case`` (the failing :class:`BNCase`), ``causes``
    (``[(name, text)]`` of matching known mistakes) and ``details`` (the expected-vs-actual text).
    """

    def __init__(self, prop: str, impl: Adapter, case: BNCase, details, causes=(), *, note: str = "",
                 running: bool = False) -> None:
        # the text and the diagnosis are built lazily: Hypothesis raises this on every failing example while it
        # shrinks, and only the last one is ever shown
        super().__init__(f"property '{prop}' failed")
        self.property, self.case = prop, case
        self._impl, self._note, self._running = impl, note, running
        self._details = [details] if isinstance(details, str) else list(details)
        self._causes = list(causes)
        self._message: str | None = None

    @property
    def causes(self) -> list:
        """``[(name, text)]`` of the known mistakes that reproduce the failing output."""
        if any(callable(c) for c in self._causes):
            found: list = []
            for c in self._causes:
                found.extend(c() if callable(c) else [c])
            self._causes = found
        return self._causes

    @property
    def details(self) -> str:
        """The expected-vs-actual text."""
        return "\n".join(part() if callable(part) else part for part in self._details)

    def __str__(self) -> str:
        if self._message is None:
            self._message = "\n".join([
                f"property '{self.property}' failed: {STATEMENTS[self.property]}",
                f"implementation: {self._impl!r}",
                "failing batch:" + (f" ({self._note})" if self._note else ""),
                "  " + self.case.describe(running=self._running).replace("\n", "\n  "),
                self.details,
                format_causes(self.causes)
                or "likely cause: no known mistake matches (see bnsym.testing.bn_implementations)",
            ])
        return self._message


def _property(name: str):
    """Decorator: the case is validated first (a malformed case is misuse, never blamed on the implementation);
    a crash of the implementation on the case fails the property (with the batch), like a wrong value would."""

    def decorate(fn):
        @functools.wraps(fn)
        def wrapper(impl, case, *args, **kwargs):
            __tracebackhide__ = True  # pytest shows the message, not the kit's frames
            if not isinstance(impl, Adapter):
                raise KitUsageError(f"the implementation must be an adapter from bnsym.testing.adapt(...), got "
                                    f"{type(impl).__name__}")
            check_case(case, impl, running=name == "running_statistics")
            if impl.clock is not None:
                impl.clock.current = (name, case, "")
            try:
                return fn(impl, case, *args, **kwargs)
            except ImplementationCrash as exc:
                raise BatchNormPropertyError(name, impl, case, f"the implementation raised {exc}",
                                             running=name == "running_statistics") from exc

        return wrapper

    return decorate


def _mismatch(name: str, actual: np.ndarray, expected: np.ndarray, bound: Bound):
    """``None`` when ``actual`` matches ``expected`` within ``bound``, else a callable making the
    expected-vs-actual text."""
    if np.shape(actual) == np.shape(expected):
        with np.errstate(invalid="ignore", over="ignore"):
            if bound.holds(actual, expected).all():
                return None
    return functools.partial(_mismatch_text, name, actual, expected, bound)


def _mismatch_text(name: str, actual: np.ndarray, expected: np.ndarray, bound: Bound) -> str:
    label = _LABEL.get(name, name)
    if np.shape(actual) != np.shape(expected):
        return (f"{label} expected: {format_array(expected)}\n{' ' * len(label)}   actual: {format_array(actual)}"
                f"\n  wrong shape {np.shape(actual)}, expected {np.shape(expected)}")
    with np.errstate(invalid="ignore", over="ignore"):
        return _error_text(label, actual, expected, bound)


def _error_text(label: str, actual: np.ndarray, expected: np.ndarray, bound: Bound) -> str:
    ok = bound.holds(actual, expected)
    with np.errstate(invalid="ignore"):
        err = np.abs(np.asarray(actual, np.float64) - expected)
    bad = np.where(~ok, np.nan_to_num(err, nan=np.inf), -1.0)
    where = np.unravel_index(int(np.argmax(bad)), np.shape(expected))
    return (
        f"{label} expected: {format_array(expected)}\n"
        f"{' ' * len(label)}   actual: {format_array(actual)}\n"
        f"  largest error {float(err[where]):.3g} at index {list(map(int, where))}, allowed there "
        f"{float(np.broadcast_to(bound.allowed(expected), np.shape(expected))[where]):.3g}"
    )


def _tolerance(tolerance: Tolerance | None) -> Tolerance:
    if tolerance is None:
        return Tolerance()
    if not isinstance(tolerance, Tolerance):
        raise KitUsageError(f"tolerance must be a bnsym.testing.Tolerance, got {type(tolerance).__name__}")
    return tolerance


def _bounds(impl: Adapter, case: BNCase, tol: Tolerance, eps: float) -> dict:
    """The bounds for y, dx, dgamma, dbeta on this case (see :mod:`bnsym.testing.tolerance`)."""
    x, g, gamma = case.x, case.dy, case.gamma
    kappa, s = conditioning(x, eps), ref.statistics(x, eps).s
    absg = np.abs(g)
    with np.errstate(divide="ignore", invalid="ignore"):
        dx_scale = kappa * np.abs(gamma) * absg.max(axis=0) / s
    return {
        "y": tol.bound(impl.dtype, case.m, kappa * np.abs(gamma) + np.abs(case.beta)),
        "dx": tol.bound(impl.dtype, case.m, dx_scale),
        "dgamma": tol.bound(impl.dtype, case.m, kappa * absg.sum(axis=0)),
        "dbeta": tol.bound(impl.dtype, case.m, absg.sum(axis=0)),
    }


@_property("forward")
def assert_forward(impl: Adapter, case: BNCase, tolerance: Tolerance | None = None) -> None:
    """The training-mode output matches the closed form (property ``forward``).

    >>> import numpy as np
    >>> from bnsym.testing.adapters import adapt
    >>> from bnsym.testing.case import BNCase
    >>> bad = bn_implementations["eps_outside_sqrt"]
    >>> case = BNCase(np.array([[0.0], [0.001]]), np.array([2.0]), np.array([0.0]), np.array([[1.0], [0.0]]))
    >>> assert_forward(adapt(forward=bad.forward, backward=bad.backward, eps=1e-3), case)
    Traceback (most recent call last):
    ...
    bnsym.testing.properties.BatchNormPropertyError: property 'forward' failed: ...
    ...
    likely cause: ε added outside the square root: ... [bn_implementations['eps_outside_sqrt']]
    """
    __tracebackhide__ = True  # pytest shows the message, not the kit's frames
    tol = _tolerance(tolerance)
    y = impl.forward(case.x, case.gamma, case.beta)
    bound = _bounds(impl, case, tol, impl.eps)["y"]
    problem = _mismatch("y", y, ref.forward(case.x, case.gamma, case.beta, impl.eps), bound)
    if problem:
        causes = confirmed(impl, "y", impl.eps, functools.partial(
            training_causes, "y", y, case.x, case.gamma, case.beta, case.dy, impl.eps, bound), tol, case.features)
        raise BatchNormPropertyError("forward", impl, case, [problem], [causes])


def _require_backward(impl: Adapter, prop: str) -> None:
    if not impl.has_backward:
        raise KitUsageError(f"property '{prop}' needs a backward pass, which {impl!r} does not have")


@_property("backward")
def assert_backward(impl: Adapter, case: BNCase, tolerance: Tolerance | None = None) -> None:
    """``∂ℓ/∂x``, ``∂ℓ/∂γ`` and ``∂ℓ/∂β`` match the closed forms (property ``backward``); the ``μ`` path may or
    may not carry the identically-zero second term of ``∂ℓ/∂μ`` (both are correct)."""
    __tracebackhide__ = True  # pytest shows the message, not the kit's frames
    _require_backward(impl, "backward")
    tol = _tolerance(tolerance)
    grads = impl.backward(case.dy, case.x, case.gamma, case.beta)
    expected = ref.backward(case.dy, case.x, case.gamma, case.beta, impl.eps)
    bounds = _bounds(impl, case, tol, impl.eps)
    problems: list[str] = []
    causes: list = []  # (name, cause) pairs, or callables that find them (run only when reported)
    for name, actual, exp in zip(("dx", "dgamma", "dbeta"), grads, expected, strict=False):
        if actual is None:  # a module without γ/β
            continue
        problem = _mismatch(name, actual, exp, bounds[name])
        if problem:
            problems.append(problem)
            if np.shape(actual) != np.shape(exp):  # shape (m,) for (features,): summed over the wrong axis
                wrong = bn_implementations[f"{name}_wrong_axis"]
                causes.append((wrong.name, wrong.cause))
            else:
                causes.append(confirmed(impl, name, impl.eps, functools.partial(
                    training_causes, name, actual, case.x, case.gamma, case.beta, case.dy, impl.eps, bounds[name]),
                    tol, case.features))
    if problems:
        raise BatchNormPropertyError("backward", impl, case, problems, causes)


@_property("null_space")
def assert_null_space(impl: Adapter, case: BNCase, tolerance: Tolerance | None = None) -> None:
    """``∂ℓ/∂x`` has no component along ``1`` and the ``ε``-exact component along ``x̂`` (property ``null_space``)."""
    __tracebackhide__ = True  # pytest shows the message, not the kit's frames
    _require_backward(impl, "null_space")
    tol = _tolerance(tolerance)
    dx = impl.backward(case.dy, case.x, case.gamma, case.beta)[0]
    eps = impl.eps
    st = ref.statistics(case.x, eps)
    # (γ/s)·(ε/(σ² + ε)): no product of small numbers, so no underflow for a tiny ε (s > 0, see check_case)
    along_xhat = case.gamma / st.s * (eps / (st.var + eps)) * (case.dy * st.xhat).sum(axis=0)
    dxb = _bounds(impl, case, tol, eps)["dx"]
    widen = case.m * (1.0 + np.abs(st.xhat).max(axis=0))
    bound = Bound(np.broadcast_to(dxb.atol, (case.features,)) * widen, dxb.rtol * case.m)
    with np.errstate(invalid="ignore", over="ignore"):
        sums, dots = dx.sum(axis=0), (dx * st.xhat).sum(axis=0)
    problems = [p for p in (_mismatch("sum", sums, np.zeros(case.features), bound),
                            _mismatch("dot", dots, along_xhat, bound)) if p]
    if problems:
        causes = confirmed(impl, "dx", eps, functools.partial(
            training_causes, "dx", dx, case.x, case.gamma, case.beta, case.dy, eps, dxb), tol, case.features)
        raise BatchNormPropertyError("null_space", impl, case, problems, [causes])


@_property("scale_invariance")
def assert_scale_invariance(impl: Adapter, case: BNCase, a: float, tolerance: Tolerance | None = None) -> None:
    """Forward and backward at ``a·x`` (own ``ε``) against forward and backward at ``x`` with ``ε/a²``
    (property ``scale_invariance``; exact for every ``ε ≥ 0``, docs/math.md §1 and §3):
    ``BN_ε(a x) - β = sign(a)·(BN_{ε/a²}(x) - β)``, ``∂ℓ/∂x(a x) = ∂ℓ/∂x(x)/|a|``, ``∂ℓ/∂γ`` times ``sign(a)``,
    ``∂ℓ/∂β`` unchanged. An implementation whose ``ε`` cannot be set (a module: ``can_set_eps`` false) runs
    with its own ``ε`` only: its values at ``x`` plus the reference's exact deviation between ``ε/a²`` and ``ε``.

    Use scales that are powers of two (:func:`~bnsym.testing.strategies.scales`) so that ``a·x`` is exact.
    """
    __tracebackhide__ = True  # pytest shows the message, not the kit's frames
    a = float(a)
    if not np.isfinite(a) or a == 0:
        raise KitUsageError(f"the scale a must be a finite non-zero number, got {a!r}")
    tol = _tolerance(tolerance)
    sign, eps2 = np.sign(a), impl.eps / (a * a)
    ax = case.x * a
    bounds = _bounds(impl, case, tol, eps2)
    problems, causes = [], []

    def compare(name, actual, expected, bound, inputs):
        problem = _mismatch(name, actual, expected, bound)
        if problem:
            problems.append(problem)
            for x_in, eps_in, gamma_in, actual_in in inputs:
                causes.append(confirmed(impl, name, eps_in, functools.partial(
                    training_causes, name, actual_in, x_in, gamma_in, case.beta, case.dy, eps_in, bound), tol,
                    case.features))

    own = not impl.can_set_eps  # a module keeps its ε: the ε-deviation comes from the reference
    own_bounds = _bounds(impl, case, tol, impl.eps) if own else {}

    def plus_own(name, raw):
        """With its own ε at x, the implementation's error there (its own bound) adds to the bound at ε/a²."""
        if not own or raw is None:
            return bounds[name]
        return Bound(bounds[name].atol + own_bounds[name].allowed(raw), bounds[name].rtol)

    y_scaled = impl.forward(ax, case.gamma, case.beta)
    if own:
        y_raw = impl.forward(case.x, case.gamma, case.beta)
        y_ref = y_raw + (ref.forward(case.x, case.gamma, case.beta, eps2)
                         - ref.forward(case.x, case.gamma, case.beta, impl.eps))
        bounds["y"] = plus_own("y", y_raw)
    else:
        y_ref = impl.forward(case.x, case.gamma, case.beta, eps2)
    compare("y", y_scaled, sign * (y_ref - case.beta) + case.beta, bounds["y"].scaled(2),
            [(ax, impl.eps, case.gamma, y_scaled)] + ([] if own else [(case.x, eps2, case.gamma, y_ref)]))
    if impl.has_backward and not problems:
        d_scaled = impl.backward(case.dy, ax, case.gamma, case.beta)
        if own:
            d_raw = impl.backward(case.dy, case.x, case.gamma, case.beta)
            d_ref: tuple = tuple(None if d is None else d + (r2 - r1) for d, r2, r1 in zip(
                d_raw, ref.backward(case.dy, case.x, case.gamma, case.beta, eps2),
                ref.backward(case.dy, case.x, case.gamma, case.beta, impl.eps), strict=True))
            for name, raw in zip(("dx", "dgamma", "dbeta"), d_raw, strict=True):
                bounds[name] = plus_own(name, raw)
        else:
            d_ref = impl.backward(case.dy, case.x, case.gamma, case.beta, eps2)
        dxb = bounds["dx"].scaled(2)
        compare("dx", d_scaled[0], d_ref[0] / abs(a), Bound(dxb.atol / abs(a), dxb.rtol),
                [(ax, impl.eps, case.gamma, d_scaled[0])])
        shape = (case.features,)  # a wrong shape is the backward property's to report
        if d_scaled[1] is not None and d_scaled[1].shape == d_ref[1].shape == shape:
            compare("dgamma", d_scaled[1], sign * d_ref[1], bounds["dgamma"].scaled(2), [])
        if d_scaled[2] is not None and d_scaled[2].shape == d_ref[2].shape == shape:
            compare("dbeta", d_scaled[2], d_ref[2], bounds["dbeta"].scaled(2), [])
    if problems:
        header = (f"scale a = {a!r}, ε = {impl.eps!r}: expected = the implementation's own values at x with "
                  f"ε/a² = {eps2!r}, transformed as stated" + (" (its values at x with its own ε plus the exact "
                  "ε-deviation of the reference: its ε is never changed)" if own else ""))
        raise BatchNormPropertyError("scale_invariance", impl, case, [header] + problems, causes,
                                     note=f"scaled by a = {a!r}")


@_property("running_statistics")
def assert_running_statistics(impl: Adapter, case: BNCase, tolerance: Tolerance | None = None) -> None:
    """One training step from ``case.running_mean``/``case.running_var`` updates them by the implementation's
    momentum convention (PyTorch's by default: unbiased variance, ``new = (1 - momentum)·old + momentum·batch``),
    and inference mode on ``x`` is the affine map of those running statistics (property ``running_statistics``)."""
    __tracebackhide__ = True  # pytest shows the message, not the kit's frames
    if not impl.has_running:
        raise KitUsageError(f"{impl!r} has no running statistics or inference mode to check")
    if case.running_mean is None or case.running_var is None:
        raise KitUsageError("the case has no initial running_mean/running_var")
    momentum = impl.momentum
    if momentum is None:
        raise KitUsageError(f"{impl!r} has no momentum: running statistics need one (e.g. momentum=0.1)")
    tol = _tolerance(tolerance)
    x, m = case.x, case.m
    res = impl.running(x, case.gamma, case.beta, case.running_mean, case.running_var)
    problems, causes = [], []
    expected = ref.running_update(case.running_mean, case.running_var, x, momentum,
                                  convention=impl.momentum_convention, unbiased=impl.running_var_unbiased)
    maxabs = np.abs(x).max(axis=0)
    scales = {"mean": np.abs(case.running_mean) + maxabs,
              "var": np.abs(case.running_var) + 4 * maxabs**2 * m / max(m - 1, 1)}
    for name, actual, exp in (("mean", res.mean, expected[0]), ("var", res.var, expected[1])):
        if actual is None:
            continue
        bound = tol.bound(impl.dtype, m, scales[name])
        problem = _mismatch(name, actual, exp, bound)
        if problem:
            problems.append(problem)
            causes.append(functools.partial(running_causes, name, actual, case.running_mean, case.running_var, x,
                                            momentum, impl.momentum_convention, impl.running_var_unbiased,
                                            bound))
    if res.y_eval is not None:
        rm = res.mean if res.mean is not None else case.running_mean
        rv = res.var if res.var is not None else case.running_var
        with np.errstate(invalid="ignore", divide="ignore"):
            exp_y = ref.inference_forward(x, rm, rv, case.gamma, case.beta, impl.eps)
            scale = np.abs(case.gamma) * (maxabs + np.abs(rm)) / np.sqrt(np.abs(rv) + impl.eps) + np.abs(case.beta)
        bound = tol.bound(impl.dtype, m, scale)
        problem = _mismatch("y_eval", res.y_eval, exp_y, bound)
        if problem:
            problems += ["(inference mode uses the running statistics the implementation just computed)", problem]
            causes.append(functools.partial(inference_causes, res.y_eval, x, rm, rv, case.gamma, case.beta,
                                            impl.eps, bound))
    if problems:
        header = (f"momentum = {impl.momentum!r}, convention {impl.momentum_convention!r}, running variance "
                  f"{'unbiased' if impl.running_var_unbiased else 'biased'}")
        raise BatchNormPropertyError("running_statistics", impl, case, [header] + problems, causes, running=True)
