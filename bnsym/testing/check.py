"""``check_batchnorm``: run every applicable property under Hypothesis and report all failures at once.

Each property runs as its own ``hypothesis.given`` test inside the call, so a failure is shrunk to a minimal
batch. The default profile ``"ci"`` is derandomized (the same examples on every run and every machine, no example
database), so a failure in CI reproduces locally; ``"thorough"`` draws fresh random examples, more of them.

>>> from bnsym.testing.implementations import bn_implementations
>>> ref = bn_implementations["reference"]
>>> report = check_batchnorm(forward=ref.forward, backward=ref.backward, eps=1e-5, max_batch=4)
>>> report.passed
['forward', 'backward', 'null_space', 'scale_invariance']
>>> report.skipped
{'running_statistics': 'no running statistics given (update_running=..., forward_inference=...)'}
"""
from __future__ import annotations

import contextlib
import sys
import unittest
from dataclasses import dataclass, field
from typing import Any
from collections.abc import Callable, Iterable, Mapping

from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as Settings
from hypothesis import strategies as st
from hypothesis.errors import HypothesisException

from ..errors import KitUsageError
from .adapters import Adapter, adapt
from .arguments import MAX_BATCH, MAX_FEATURES, check_count, check_real
from .properties import (
    PROPERTIES,
    BatchNormPropertyError,
    assert_backward,
    assert_forward,
    assert_null_space,
    assert_running_statistics,
    assert_scale_invariance,
)
from .strategies import INFORMATIVE_SCALE, bn_cases, informative_cases, scales
from .torch_adapters import route, route_layout, routed_options
from .timing import CALL_DEADLINE, TIME_BUDGET, Clock, TimeLimitExceeded
from .orders import check_orders, split_orders
from .tolerance import Tolerance

__all__ = ["check_batchnorm", "CheckReport", "BatchNormCheckError", "PROFILES", "set_default_profile"]

_BASE: dict[str, Any] = dict(
    deadline=None,
    database=None,
    print_blob=False,
    report_multiple_bugs=False,
    suppress_health_check=list(HealthCheck),
    phases=(Phase.explicit, Phase.generate, Phase.shrink),
)
PROFILES: dict = {
    # parent= the library defaults, so the user's own loaded Hypothesis profile does not leak into the kit
    "ci": Settings(Settings.get_profile("default"), max_examples=40, derandomize=True, **_BASE),
    "thorough": Settings(Settings.get_profile("default"), max_examples=300, derandomize=False, **_BASE),
}
_default = {"profile": "ci"}


def set_default_profile(name: str) -> None:
    """Choose the profile used when ``check_batchnorm`` gets no ``profile``/``settings`` (the pytest plugin's
    ``--bnsym-profile`` option calls this).

    >>> set_default_profile("ci")
    >>> set_default_profile("fast")
    Traceback (most recent call last):
    ...
    bnsym.errors.KitUsageError: unknown profile 'fast'; choose one of ['ci', 'thorough']
    """
    _default["profile"] = _profile_name(name)


def _profile_name(name: Any) -> str:
    if not isinstance(name, str) or name not in PROFILES:
        raise KitUsageError(f"unknown profile {name!r}; choose one of {sorted(PROFILES)}")
    return name


class BatchNormCheckError(AssertionError):
    """One or more properties failed; ``failures`` holds the :class:`BatchNormPropertyError` of each,
    ``unchecked`` the properties not checked because a time limit was reached."""

    def __init__(self, impl: Adapter, failures: list, profile: str, clock: Clock | None = None,
                 unchecked: Iterable[str] = ()) -> None:
        self.failures, self.unchecked = failures, list(unchecked)
        names = ", ".join(f.property for f in failures)
        head = (f"check_batchnorm: {len(failures)} propert{'y' if len(failures) == 1 else 'ies'} failed for "
                f"{impl!r}: {names}\nEach failing batch is the minimal one found by Hypothesis shrinking unless "
                f"marked otherwise (profile {profile!r}"
                + (", derandomized: a rerun reproduces it)" if profile == "ci" else ")"))
        if self.unchecked:
            head += f"\nnot checked (a time limit was reached): {', '.join(self.unchecked)}"
        if clock is not None:  # the limits only: the time used differs from run to run
            head += f"\n{clock.limits(used=False)}"
        super().__init__("\n\n".join([head] + [str(f) for f in failures]))


@dataclass
class CheckReport:
    """What ``check_batchnorm`` verified: the properties that passed, the ones skipped (with the reason), how
    many examples each property ran (``examples``), the time limits and the time used (``limits``) and
    ``notes``."""

    implementation: str
    passed: list = field(default_factory=list)
    skipped: dict = field(default_factory=dict)
    examples: dict = field(default_factory=dict)
    limits: str = ""
    notes: list = field(default_factory=list)

    def __str__(self) -> str:
        counts = [f"{name} ({self.examples[name]} examples)" if name in self.examples else name
                  for name in self.passed]
        lines = [f"{self.implementation}: {len(self.passed)} properties hold: {', '.join(counts)}"]
        lines += [f"  skipped {name}: {why}" for name, why in self.skipped.items()]
        lines += [f"  {text}" for text in [self.limits, *self.notes] if text]
        return "\n".join(lines)


def _applicability(impl: Adapter) -> dict:
    """``None`` for the applicable properties, else the reason to skip."""
    return {
        "forward": None,
        "backward": None if impl.has_backward else "no backward pass",
        "null_space": None if impl.has_backward else "no backward pass",
        "scale_invariance": None,  # a module keeps its ε: the reference gives the ε-deviation
        "running_statistics": None if impl.has_running else (
            "the module tracks no running statistics" if type(impl).__name__ == "TorchModuleAdapter"
            else "no running statistics given (update_running=..., forward_inference=...)"),
    }


def _run(name: str, strategy, body: Callable, hyp: Settings, explicit: list) -> BatchNormPropertyError | None:
    """The property on the kit's fixed informative examples first (whatever the budget), then under Hypothesis
    (when the settings let it generate). A failure found by Hypothesis is shrunk and preferred; a failure of a
    fixed example alone is reported as such."""
    __tracebackhide__ = True  # pytest shows the message, not the kit's frames
    first = None
    for drawn in explicit:
        try:
            body(drawn)
        except BatchNormPropertyError as err:
            err._note = "; ".join(filter(None, [err._note, "the kit's fixed informative batch, checked before "
                                                "Hypothesis draws any; not shrunk"]))
            err._message = None
            first = err
            break
    if Phase.generate not in hyp.phases and Phase.reuse not in hyp.phases:
        return first
    found = _hypothesis(name, strategy, body, hyp)
    return first if found is None else found


def _hypothesis(name: str, strategy, body: Callable, hyp: Settings) -> BatchNormPropertyError | None:
    __tracebackhide__ = True  # pytest shows the message, not the kit's frames
    try:
        @hyp
        @given(strategy)
        def prop(drawn):
            body(drawn)

        prop()
    except BatchNormPropertyError as err:
        return err
    except (KitUsageError, TimeLimitExceeded):
        raise
    except BaseExceptionGroup as group:  # FlakyFailure: failed once, passed when replayed
        return _from_group(group)
    except unittest.SkipTest:  # nothing to run (e.g. only the reuse phase and an empty database)
        return None
    except HypothesisException as exc:  # e.g. the nested-@given health check, unsatisfiable draws
        raise KitUsageError(f"Hypothesis could not run property {name!r}: {type(exc).__name__}: {exc}") from None
    return None


def _first(group: BaseException) -> BaseException:
    while isinstance(group, BaseExceptionGroup):
        group = group.exceptions[0]
    return group


def _from_group(group: BaseExceptionGroup) -> BatchNormPropertyError:
    for kind in (TimeLimitExceeded, KitUsageError):
        match, _ = group.split(kind)
        if match is not None:
            raise _first(match)
    match, _ = group.split(BatchNormPropertyError)
    if match is None:
        raise group
    err = _first(match)
    if not isinstance(err, BatchNormPropertyError):  # never: split() keeps only BatchNormPropertyError leaves
        raise group
    err._details.append("(flaky: this batch failed once and passed when Hypothesis replayed it; is the "
                        "implementation nondeterministic?)")
    err._message = None
    return err


def _time_failure(impl: Adapter, clock: Clock) -> BatchNormPropertyError:
    prop, case, note = clock.where
    return BatchNormPropertyError(
        prop, impl, case, [clock.exceeded, clock.limits()],
        [("time_limit", "the implementation is slower than the kit's time limits allow: pass call_deadline=... "
                        "or time_budget=... (seconds) to check_batchnorm, or fewer examples (settings=...)")],
        note="; ".join(filter(None, [note, "not shrunk: the batch of the call that reached the time limit"])),
        running=prop == "running_statistics")


def check_batchnorm(
    forward: Any = None,
    backward: Callable | None = None,
    *,
    module: Any = None,
    eps: float | None = None,
    dtype: Any = None,
    features: int | None = None,
    max_batch: int = 12,
    properties: Iterable[str] | None = None,
    tolerance: Tolerance | None = None,
    profile: str | None = None,
    settings: Settings | None = None,
    momentum: float | None = None,
    momentum_convention: str = "pytorch",
    running_var_unbiased: bool = True,
    update_running: Callable | None = None,
    forward_inference: Callable | None = None,
    call_deadline: float = CALL_DEADLINE,
    time_budget: float = TIME_BUDGET,
    orders: tuple = (1,),
    routines: Mapping[str, Callable] | None = None,
) -> CheckReport:
    """Check a batch-norm implementation against the closed forms and identities of docs/math.md; raise
    :class:`BatchNormCheckError` (an ``AssertionError``) listing every failing property, or return a
    :class:`CheckReport`. Misuse raises :class:`~bnsym.errors.KitUsageError`.

    What to pass (selected automatically, see :mod:`bnsym.testing.adapters`): ``forward=`` and ``backward=``
    (NumPy-style functions, ``eps`` default ``1e-5``); ``forward=`` a ``torch.autograd.Function`` subclass or a
    function of tensors (autograd gives the backward); or ``module=`` a module called like
    ``torch.nn.BatchNorm1d`` (its own ``eps`` and ``momentum``).

    Options: ``dtype`` the precision your implementation runs in (inputs are rounded to it, tolerances follow
    it; default float64 for functions; a module runs in its own dtype, float64, float32, float16 or bfloat16, and
    is never converted, so ``dtype``, when given, must be the module's); ``eps`` 0 or in
    :func:`~bnsym.testing.arguments.eps_range` of the dtype; ``features`` fix the number of
    features, 1 to 256 (a module's ``num_features`` is used automatically); ``max_batch`` the largest ``m`` drawn
    (2 to 256); ``properties`` a subset of :data:`~bnsym.testing.properties.PROPERTIES`; ``tolerance`` a
    :class:`~bnsym.testing.tolerance.Tolerance`; ``profile`` ``"ci"`` (default, derandomized) or ``"thorough"``,
    or ``settings`` any ``hypothesis.settings``; running statistics: ``momentum`` (functions: default 0.1;
    modules: their own), ``momentum_convention`` ``"pytorch"``/``"keras"``, ``running_var_unbiased``
    (``True``/``False``), and for functions ``update_running(running_mean, running_var, x, momentum) -> (mean,
    var)`` and ``forward_inference(x, running_mean, running_var, gamma, beta, eps) -> y``.

    Examples: every property first runs on the kit's fixed informative cases
    (:func:`~bnsym.testing.strategies.informative_cases`), whatever the budget, then on the examples Hypothesis
    draws. ``settings`` without the generate phase run the fixed cases only. The kit suppresses Hypothesis's
    health checks (they concern its own strategies) and its explain phase.

    Time limits: each call of your code may take ``call_deadline`` seconds (default 2) and the whole check
    ``time_budget`` seconds (default 120); beyond that the check stops at once and fails, naming the slow call
    and its batch. Both limits and the time used are in the report and in the failure message. A ``deadline`` in
    your ``settings`` is applied by the kit to each call of your code, when it is shorter than
    ``call_deadline`` (Hypothesis's own deadline is switched off: it would also time the kit's reference values
    and report timing flakiness instead of a property). A call that never returns cannot be interrupted.

    ``orders``: ``(1,)`` by default; ``orders=(1, 2, 3)`` adds the second and third directional derivatives in
    every torch differentiation mode (``module=``) or in the modes of ``routines`` (NumPy-style functions), each
    against exact values (:mod:`bnsym.testing.orders`).

    >>> check_batchnorm(module=None)
    Traceback (most recent call last):
    ...
    bnsym.errors.KitUsageError: give either forward=... and backward=... (functions) or module=... (a torch module)
    """
    __tracebackhide__ = True
    first, higher = split_orders(orders)
    if higher:  # orders 2, 3 (4): every differentiation mode against exact values (bnsym.testing.orders)
        passed = check_orders("batch", higher, module=module, routines=routines, training=True, eps=eps,
                              groups=None, features=features)
        report = (check_batchnorm(forward, backward, module=module, eps=eps, dtype=dtype, features=features,
                                  max_batch=max_batch, properties=properties, tolerance=tolerance, profile=profile,
                                  settings=settings, momentum=momentum, momentum_convention=momentum_convention,
                                  running_var_unbiased=running_var_unbiased, update_running=update_running,
                                  forward_inference=forward_inference, call_deadline=call_deadline,
                                  time_budget=time_budget)
                  if first else CheckReport(repr(module if module is not None else forward)))
        report.passed += passed
        return report
    if routines is not None:
        raise KitUsageError("routines= are for orders 2 and above: pass orders=(1, 2, 3)")
    if module is not None and forward is None and backward is None and route(module) == "batch":
        from .normalization import check_normalization  # BatchNorm2d/3d or a wrapper: read, never changed

        layout = None if route_layout(module) else "NC"  # a wrapper takes (samples, features) here
        routed_options(module, dtype, momentum, momentum_convention, running_var_unbiased, update_running,
                        forward_inference)
        return check_normalization("batch", module=module, eps=eps, properties=properties, tolerance=tolerance,
                                   profile=profile, settings=settings, layout=layout)
    running: dict = dict(momentum_convention=momentum_convention, running_var_unbiased=running_var_unbiased)
    if module is None:
        running.update(momentum=0.1 if momentum is None else momentum, update_running=update_running,
                       forward_inference=forward_inference)
    else:
        running.update(update_running=update_running, forward_inference=forward_inference)
        if momentum is not None:
            running["momentum"] = momentum
    if features is not None:
        features = check_count(features, "features", 1, MAX_FEATURES)
    impl = adapt(forward, backward, module, eps=eps, dtype=dtype, **running)
    if features is not None:
        if impl.features is not None and impl.features != features:
            raise KitUsageError(f"features={features} but the module has {impl.features} features")
        impl.features = features
    elif impl.features is not None:
        impl.features = check_count(impl.features, f"the number of features of {impl!r}", 1, MAX_FEATURES)
    max_batch = check_count(max_batch, "max_batch", 2, MAX_BATCH)
    if tolerance is not None and not isinstance(tolerance, Tolerance):
        raise KitUsageError(f"tolerance must be a bnsym.testing.Tolerance, got {type(tolerance).__name__}")
    call_deadline = check_real(call_deadline, "call_deadline", positive=True)
    time_budget = check_real(time_budget, "time_budget", positive=True)
    hyp, profile_name, user_deadline = _settings(profile, settings)
    applicable = _applicability(impl)
    wanted = _wanted(properties, applicable, impl)

    note = ""
    if user_deadline is not None and user_deadline < call_deadline:
        call_deadline, note = user_deadline, "the deadline of your settings"
    clock = impl.clock = Clock(call_deadline, time_budget, note)
    cases = bn_cases(features=impl.features, max_m=max_batch, dtype=impl.dtype, allow_constant=impl.eps > 0,
                     affine=impl.affine)
    fixed = informative_cases(features=impl.features, dtype=impl.dtype, eps=impl.eps, affine=impl.affine,
                              max_m=max_batch)
    bodies = {
        "forward": (cases, lambda c: assert_forward(impl, c, tolerance)),
        "backward": (cases, lambda c: assert_backward(impl, c, tolerance)),
        "null_space": (cases, lambda c: assert_null_space(impl, c, tolerance)),
        "scale_invariance": (st.tuples(cases, scales()),
                             lambda t: assert_scale_invariance(impl, t[0], t[1], tolerance)),
        "running_statistics": (cases, lambda c: assert_running_statistics(impl, c, tolerance)),
    }
    report = CheckReport(repr(impl), skipped={p: why for p, why in applicable.items() if why and p not in wanted})
    if Phase.generate not in hyp.phases:
        report.notes.append("only the kit's fixed informative examples ran: the settings have no generate phase")
    failures: list = []
    try:
        with _one_torch_thread():
            impl.probe()
            for name in wanted:
                strategy, body = bodies[name]
                explicit = [(c, INFORMATIVE_SCALE) for c in fixed] if name == "scale_invariance" else fixed
                report.examples[name] = 0

                def counted(drawn, body=body, name=name):
                    report.examples[name] += 1
                    body(drawn)

                err = _run(name, strategy, counted, hyp, explicit)
                if err is None:
                    report.passed.append(name)
                else:
                    failures.append(err)
    except TimeLimitExceeded:
        failures.append(_time_failure(impl, clock))
        done = set(report.passed) | {f.property for f in failures}
        raise BatchNormCheckError(impl, failures, profile_name, clock, [p for p in wanted if p not in done]) from None
    report.limits = clock.limits()
    if failures:
        raise BatchNormCheckError(impl, failures, profile_name, clock) from None
    return report


def _wanted(properties: Any, applicable: dict, impl: Adapter) -> list:
    if properties is None:
        return [p for p in PROPERTIES if applicable[p] is None]
    if isinstance(properties, str):
        properties = [properties]
    try:
        wanted = list(dict.fromkeys(properties))
    except TypeError:
        raise KitUsageError(f"properties must be a list of names from {list(PROPERTIES)}, got "
                            f"{type(properties).__name__}") from None
    if not wanted:
        raise KitUsageError(f"properties is empty: nothing would be checked; choose from {list(PROPERTIES)}")
    for p in wanted:
        if not isinstance(p, str) or p not in PROPERTIES:
            raise KitUsageError(f"unknown property {p!r}; choose from {list(PROPERTIES)}")
        if applicable[p] is not None:
            raise KitUsageError(f"property {p!r} cannot be checked on {impl!r}: {applicable[p]}")
    return wanted


@contextlib.contextmanager
def _one_torch_thread():
    """Run torch single-threaded during the check: the kit's tensors are tiny, and on a busy machine a
    multi-threaded kernel call can wait tens of milliseconds for its threads. Restored afterwards."""
    torch = sys.modules.get("torch")
    if torch is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _settings(profile: str | None, settings: Settings | None) -> tuple:
    """``(hypothesis settings, profile name, the user's deadline in seconds or None)``."""
    if settings is not None:
        if profile is not None:
            raise KitUsageError("give profile=... or settings=..., not both")
        if not isinstance(settings, Settings):
            raise KitUsageError(f"settings must be a hypothesis.settings, got {type(settings).__name__}")
        deadline = None if settings.deadline is None else settings.deadline.total_seconds()
        # the kit catches one failure per property and times the calls itself (see check_batchnorm); the health
        # checks concern the kit's strategies, and Hypothesis's explain phase only adds noise here
        return Settings(settings, report_multiple_bugs=False, deadline=None, suppress_health_check=list(HealthCheck),
                        phases=[p for p in settings.phases if p != Phase.explain]), "custom", deadline
    name = _profile_name(_default["profile"] if profile is None else profile)
    return PROFILES[name], name, None
