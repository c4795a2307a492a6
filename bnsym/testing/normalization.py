"""``check_normalization(kind, ...)``: the kit for every normalization kind (batch, layer, RMS, group, instance,
weight normalization; training and eval mode), under Hypothesis, reporting every failing property at once.

``kind="batch"`` with ``forward=``/``backward=`` functions on ``(N, C)`` batches is :func:`check_batchnorm`
(same properties, same options); everything else runs the properties of :mod:`bnsym.testing.norm_properties` on
the canonical layout of :mod:`bnsym.testing.kinds`.

>>> import torch
>>> check_normalization("layer", module=torch.nn.LayerNorm(3), max_batch=3).passed
['forward', 'backward', 'null_space', 'scale_invariance']
"""
from __future__ import annotations

from typing import Any
from collections.abc import Callable, Iterable, Mapping

import numpy as np
from hypothesis import Phase, assume, given
from hypothesis import settings as Settings
from hypothesis import strategies as st

from ..errors import KitUsageError
from .arguments import check_count, check_flag
from .check import CheckReport, _one_torch_thread, _settings, check_batchnorm
from .adapter_base import ImplementationCrash
from .kinds import LAYOUTS, Spec, to_layout
from .norm_adapters import NormAdapter, NormFunctions, NormModule, check_kind, check_layout, round_to
from .norm_diagnosis import confirm_cases
from .norm_properties import PROPERTIES, NormCase, NormPropertyError, run_property
from .orders import DEFAULT_ORDERS, check_orders, split_orders
from .tolerance import Tolerance

__all__ = ["check_normalization", "NormalizationCheckError", "ORDERS"]

ORDERS = DEFAULT_ORDERS
"""The default derivative orders (``(1,)``: forward and first derivatives); ``orders=(1, 2, 3)`` adds the higher
ones (:mod:`bnsym.testing.orders`)."""


class NormalizationCheckError(AssertionError):
    """One or more properties failed; ``failures`` holds the :class:`~bnsym.testing.norm_properties.NormPropertyError`
    of each."""

    def __init__(self, impl, kind: str, failures: list, profile: str) -> None:
        self.failures = failures
        head = (f"check_normalization({kind!r}): {len(failures)} propert{'y' if len(failures) == 1 else 'ies'} "
                f"failed for {impl!r}: {', '.join(f.property for f in failures)} (profile {profile!r}; a failing "
                "batch found by Hypothesis is shrunk)")
        super().__init__("\n\n".join([head, *map(str, failures)]))


def _geometry(impl: NormAdapter, kind: str, module: Any, features, normalized_shape, groups) -> tuple:
    """``(template shape with -1 for the drawn axes, params, normalized, groups)`` on the canonical layout."""
    core = getattr(impl, "core", None)
    c = getattr(core, "num_features", None) or getattr(core, "num_channels", None) or features
    own = getattr(impl, "weight_shape", None)
    if c is None and own is not None and len(own) == 1 and kind not in ("layer", "rms"):
        c = own[0]  # your own module: one weight per channel
    if kind in ("layer", "rms"):
        ns = getattr(core, "normalized_shape", None) or normalized_shape
        if ns is None:
            raise KitUsageError(f"kind={kind!r} needs normalized_shape=... (the trailing axes it normalizes)")
        ns = (ns,) if isinstance(ns, int) else tuple(ns)
        for d in ns:
            check_count(d, "normalized_shape", 1, 64)
        rank = 1 + len(ns)
        params = tuple(range(1, rank)) if impl.affine else ()
        return (-1, *ns), params, len(ns), 1
    if c is None:
        raise KitUsageError(f"kind={kind!r} needs features=... (the number of channels C)")
    c = check_count(int(c), "the number of channels", 1, 256)
    if impl.layout is None:
        impl.layout = {"batch": "NC"}.get(kind, "NCL")
    rank = LAYOUTS[impl.layout][0]
    g = 1
    if kind == "group":
        g = getattr(core, "num_groups", None) or groups
        if g is None:
            raise KitUsageError("kind='group' needs groups=... (the number of groups)")
        g = check_count(int(g), "groups", 1, c)
        if c % g:
            raise KitUsageError(f"groups={g} does not divide the {c} channels")
    if kind == "instance" and rank < 3:
        raise KitUsageError("kind='instance' needs a spatial axis: layout 'NCL', 'NCHW' or 'NCDHW' (or channels-last)")
    return (-1, c, *([-2] * (rank - 2))), ((1,) if impl.affine else ()), 1, g


SMALL = 16
"""Arrays up to this many elements are drawn element by element (Hypothesis shrinks each value); larger ones
from a drawn seed and distribution (Hypothesis still shrinks the shape and the seed). Drawing every element of a
large batch one by one was most of the kit's time (see benchmarks/bench_kit.py)."""


def _array(draw, shape: tuple, element: st.SearchStrategy, make) -> np.ndarray:
    size = int(np.prod(shape)) if shape else 1
    if size <= SMALL:
        return np.array(draw(st.lists(element, min_size=size, max_size=size)), np.float64).reshape(shape)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    return np.asarray(make(rng, draw(st.sampled_from(["uniform", "normal", "grid"])), shape), np.float64)


def _values(lo: float, hi: float):
    def make(rng, how, shape):
        if how == "uniform":
            return rng.uniform(lo, hi, shape)
        if how == "normal":
            return np.clip(rng.normal((lo + hi) / 2, (hi - lo) / 6, shape), lo, hi)
        return rng.integers(0, 8, shape) * (hi - lo) / 8 + lo  # few distinct values: ties, repeated entries

    return make


def _magnitudes(rng, how, shape):
    small = rng.uniform(0.25, 0.85, shape)
    return np.where(rng.random(shape) < 0.5, small, rng.uniform(1.15, 4.0, shape)) * rng.choice([-1.0, 1.0], shape)


def _cases(impl: NormAdapter, template: Spec, max_batch: int, kind: str) -> st.SearchStrategy:
    def r(a):
        return round_to(a, impl.dtype)

    lo_spatial = 2 if kind == "instance" else 1
    signed = st.tuples(st.floats(0.25, 0.85) | st.floats(1.15, 4.0), st.sampled_from([-1.0, 1.0])).map(
        lambda t: t[0] * t[1])

    @st.composite
    def cases(draw):
        shape = tuple(draw(st.integers(2, max_batch)) if d == -1 else
                      draw(st.integers(lo_spatial, 3)) if d == -2 else d for d in template.shape)
        spec = template.with_shape(shape)
        x = _array(draw, shape, st.floats(-4, 4, width=32, allow_subnormal=False), _values(-4.0, 4.0))
        x = r(x + draw(st.sampled_from([0.0, 0.0, 3.0, -20.0])))
        ps = spec.param_shape
        gamma = r(_array(draw, ps, signed, _magnitudes)) if impl.affine else None
        beta = r(_array(draw, ps, st.floats(-2, 2), _values(-2.0, 2.0))) if impl.bias and impl.affine else None
        dy = r(_array(draw, shape, st.floats(-2, 2), _values(-2.0, 2.0)))
        c = shape[1]
        rm = r(_array(draw, (c,), st.floats(-2, 2), _values(-2.0, 2.0)))
        rv = r(_array(draw, (c,), st.floats(0.25, 4), _values(0.25, 4.0)))
        a = draw(st.sampled_from([2.0, 0.5, -2.0, 4.0, -0.25]))
        if impl.eps == 0:
            stats = np.asarray(x).reshape(spec.view_shape)
            spread = stats.std(axis=spec.reduce) if spec.centred else np.sqrt((stats**2).mean(axis=spec.reduce))
            assume(bool((spread > 1e-3 * (1 + np.abs(stats).max())).all()))
        return NormCase(spec, x, gamma, beta, dy, rm, rv, a)

    return cases()


def _fixed(impl: NormAdapter, template: Spec, kind: str) -> list:
    shape = tuple(3 if d == -1 else (2 if d == -2 else d) for d in template.shape)
    like = NormCase(template, np.zeros(1), None, None, np.zeros(1), np.zeros(1), np.ones(1))
    cases = confirm_cases(template.with_shape(shape), impl, like, count=1)
    gamma = cases[0].gamma if impl.affine else None
    beta = cases[0].beta if impl.affine and impl.bias else None
    if impl.affine:
        rng = np.random.default_rng(7)
        ps = template.with_shape(shape).param_shape
        gamma = round_to(rng.uniform(0.4, 2.5, ps) * rng.choice([-1, 1], ps), impl.dtype)
        beta = round_to(rng.uniform(-1, 1, ps), impl.dtype) if impl.bias else None
    c = shape[1]
    return [NormCase(cases[0].spec, cases[0].x, gamma, beta, cases[0].dy, round_to(np.linspace(-1, 1, c), impl.dtype),
                     round_to(np.linspace(0.5, 2, c), impl.dtype), -2.0)]


def check_normalization(
    kind: str,
    forward: Any = None,
    backward: Callable | None = None,
    *,
    module: Any = None,
    eps: float | None = None,
    layout: str | None = None,
    training: bool | None = None,
    features: int | None = None,
    normalized_shape: Any = None,
    groups: int | None = None,
    affine: bool = True,
    dtype: Any = "float64",
    max_batch: int = 4,
    properties: Iterable[str] | None = None,
    tolerance: Tolerance | None = None,
    profile: str | None = None,
    settings: Settings | None = None,
    orders: tuple = (1,),
    routines: Mapping[str, Callable] | None = None,
    **batchnorm: Any,
) -> CheckReport:
    """Check a normalization of ``kind`` (see :mod:`bnsym.testing.kinds`) against its closed forms; raise
    :class:`NormalizationCheckError` (an ``AssertionError``) listing every failing property, or return a
    :class:`~bnsym.testing.check.CheckReport`. Misuse raises :class:`~bnsym.errors.KitUsageError`.

    Give ``module=`` (a torch module: a ``torch.nn`` normalization, a wrapper holding exactly one, or your own
    module with ``weight``/``bias``; it runs in its own dtype and is never changed) or ``forward=``/``backward=``
    NumPy functions ``forward(x, gamma, beta, eps)``, ``backward(dy, x, gamma, beta, eps)`` in ``layout``.
    ``layout``: ``"NC"``, ``"NCL"``, ``"NCHW"``, ``"NCDHW"`` or channels-last ``"NLC"``, ``"NHWC"``, ``"NDHWC"``
    (torch modules: their own layout, the default). ``training``: default the module's own flag; ``False``
    checks ``batch``'s eval mode (running statistics). Geometry when no torch module gives it: ``features`` (C),
    ``normalized_shape``, ``groups``, ``affine``. ``eps``: read from the module; needed otherwise.
    ``orders``: derivative orders (:mod:`bnsym.testing.orders`): ``1`` the first-order properties, ``2``, ``3``
    (``4``) the directional derivatives of that order in every torch differentiation mode against exact ones
    (``module=``), or in the modes of ``routines`` (functions). Other keywords go to :func:`check_batchnorm` for
    ``kind="batch"`` functions on ``(N, C)``.

    >>> check_normalization("batch", module=None)
    Traceback (most recent call last):
    ...
    bnsym.errors.KitUsageError: give either forward=... and backward=... (functions) or module=... (a torch module)
    """
    __tracebackhide__ = True
    kind, layout = check_kind(kind), check_layout(layout)
    first, higher = split_orders(orders)
    if higher:
        passed = check_orders(kind, higher, module=module, routines=routines,
                              training=bool(getattr(module, "training", True) if training is None else training),
                              eps=eps, groups=groups, features=features)
        report = (check_normalization(kind, forward, backward, module=module, eps=eps, layout=layout,
                                      training=training, features=features, normalized_shape=normalized_shape,
                                      groups=groups, affine=affine, dtype=dtype, max_batch=max_batch,
                                      properties=properties, tolerance=tolerance, profile=profile,
                                      settings=settings, **batchnorm)
                  if first else CheckReport(repr(module if module is not None else forward)))
        report.passed += passed
        return report
    if routines is not None:
        raise KitUsageError("routines= are for orders 2 and above: pass orders=(1, 2, 3)")
    if module is None and forward is None:
        raise KitUsageError("give either forward=... and backward=... (functions) or module=... (a torch module)")
    if module is not None and (forward is not None or backward is not None):
        raise KitUsageError("give either module=... or forward=/backward=..., not both")
    if kind == "weight":
        from .weight_norm import check_weight_norm

        return check_weight_norm(module, forward=forward, tolerance=tolerance, profile=profile, settings=settings,
                                 max_batch=max_batch, properties=properties)
    if module is None and kind == "batch" and layout in (None, "NC") and training in (None, True):
        return check_batchnorm(forward, backward, eps=eps, dtype=np.dtype(dtype), features=features,
                               max_batch=max(2, max_batch), properties=properties, tolerance=tolerance,
                               profile=profile, settings=settings, **batchnorm)
    if batchnorm:
        raise KitUsageError(f"unexpected arguments {sorted(batchnorm)} for kind={kind!r}")
    if module is not None:
        impl: NormAdapter = NormModule(module, kind, eps=eps, layout=layout, training=training)
        if dtype != "float64" and str(dtype) != impl.dtype:
            raise KitUsageError(f"the module runs in {impl.dtype}; the kit never converts it: convert it yourself "
                                "(module.to(dtype)) and drop dtype=...")
    else:
        if training is False:
            raise KitUsageError("eval mode (training=False) is checked on a module: functions have no running "
                                "statistics in this convention")
        impl = NormFunctions(forward, backward, eps=1e-5 if eps is None else eps, dtype=np.dtype(dtype).name,
                             layout=layout, affine=check_flag(affine, "affine"),
                             bias=kind != "rms" and check_flag(affine, "affine"))
    if kind == "rms" and impl.bias:
        raise KitUsageError("RMSNorm has no β: a bias parameter means another kind (layer?)")
    template, params, normalized, g = _geometry(impl, kind, module, features, normalized_shape, groups)
    spec = Spec(kind, template, params=params, normalized=normalized, groups=g, bias=impl.bias)
    max_batch = check_count(max_batch, "max_batch", 2, 64)
    tol = Tolerance() if tolerance is None else tolerance
    if not isinstance(tol, Tolerance):
        raise KitUsageError(f"tolerance must be a bnsym.testing.Tolerance, got {type(tol).__name__}")
    hyp, profile_name, _ = _settings(profile, settings)
    mode = "training" if impl.training else "eval"
    applicable = [p for p in PROPERTIES[mode] if p != "running_statistics" or (kind == "batch" and impl.tracks)]
    wanted = _wanted(properties, applicable, mode)
    report = CheckReport(repr(impl))
    if "running_statistics" not in applicable and mode == "training":
        report.skipped["running_statistics"] = "only batch normalization with running statistics has them"
    strategy, fixed = _cases(impl, spec, max_batch, kind), _fixed(impl, spec, kind)
    _probe(impl, fixed[0])
    failures = []
    with _one_torch_thread():
        for name in wanted:
            report.examples[name] = 0
            err = _run(name, impl, strategy, fixed, tol, hyp, report)
            (failures.append(err) if err is not None else report.passed.append(name))
    if failures:
        raise NormalizationCheckError(impl, kind, failures, profile_name)
    return report


def _probe(impl: NormAdapter, case: NormCase) -> None:
    """One call on the kit's first batch: a crash or an output of another shape there means the layout or the
    geometry does not fit the implementation (misuse, said with what to pass), not a failed property."""
    try:
        out = impl.run(case.spec, case.x, case.gamma, case.beta)
    except ImplementationCrash as exc:
        raise KitUsageError(
            f"{impl!r} raised {exc} on a batch of shape {to_layout(case.x, impl.layout).shape} (layout "
            f"{impl.layout or 'N, *normalized_shape'}): pass the layout your implementation takes (layout=..., one of "
            f"{list(LAYOUTS)}) and its geometry (features=, normalized_shape=, groups=)") from None
    if out["y"].shape != case.x.shape:
        raise KitUsageError(f"{impl!r} returned shape {out['y'].shape} for an input of shape {case.x.shape}: a "
                            "normalization keeps the shape; check layout=... and the geometry arguments")


def _wanted(properties, applicable: list, mode: str) -> list:
    if properties is None:
        return applicable
    wanted = [properties] if isinstance(properties, str) else list(properties)
    for p in wanted:
        if p not in applicable:
            raise KitUsageError(f"property {p!r} is not checked in {mode} mode for this kind; choose from {applicable}")
    return wanted


def _run(name, impl, strategy, fixed, tol, hyp, report):
    def body(case):
        report.examples[name] += 1
        run_property(name, impl, case, tol)

    for case in fixed:
        try:
            body(case)
        except NormPropertyError as err:
            return err
    if Phase.generate not in hyp.phases:
        return None
    try:
        hyp(given(strategy)(body))()
    except NormPropertyError as err:
        return err
    return None
