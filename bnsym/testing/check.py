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
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Optional, Union

import numpy as np
from hypothesis import HealthCheck, Phase, given
from hypothesis.errors import FlakyFailure
from hypothesis import settings as Settings
from hypothesis import strategies as st

from ..errors import KitUsageError
from .adapters import Adapter, adapt
from .properties import (
    PROPERTIES,
    BatchNormPropertyError,
    assert_backward,
    assert_forward,
    assert_null_space,
    assert_running_statistics,
    assert_scale_invariance,
)
from .strategies import bn_cases, scales
from .tolerance import Tolerance

__all__ = ["check_batchnorm", "CheckReport", "BatchNormCheckError", "PROFILES", "set_default_profile"]

_BASE = dict(
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
    if name not in PROFILES:
        raise KitUsageError(f"unknown profile {name!r}; choose one of {sorted(PROFILES)}")
    _default["profile"] = name


class BatchNormCheckError(AssertionError):
    """One or more properties failed; ``failures`` holds the :class:`BatchNormPropertyError` of each."""

    def __init__(self, impl: Adapter, failures: list, profile: str) -> None:
        self.failures = failures
        names = ", ".join(f.property for f in failures)
        head = (f"check_batchnorm: {len(failures)} propert{'y' if len(failures) == 1 else 'ies'} failed for "
                f"{impl!r}: {names}\nEach failing batch is the minimal one found by Hypothesis shrinking "
                f"(profile {profile!r}" + (", derandomized: a rerun reproduces it)" if profile == "ci" else ")"))
        super().__init__("\n\n".join([head] + [str(f) for f in failures]))


@dataclass
class CheckReport:
    """What ``check_batchnorm`` verified: the properties that passed and the ones skipped, with the reason."""

    implementation: str
    passed: list = field(default_factory=list)
    skipped: dict = field(default_factory=dict)

    def __str__(self) -> str:
        lines = [f"{self.implementation}: {len(self.passed)} properties hold: {', '.join(self.passed)}"]
        lines += [f"  skipped {name}: {why}" for name, why in self.skipped.items()]
        return "\n".join(lines)


def _applicability(impl: Adapter) -> dict:
    """``None`` for the applicable properties, else the reason to skip."""
    return {
        "forward": None,
        "backward": None if impl.has_backward else "no backward pass",
        "null_space": None if impl.has_backward else "no backward pass",
        "scale_invariance": None if (impl.eps == 0 or impl.can_set_eps) else "ε cannot be changed (no eps attribute)",
        "running_statistics": None if impl.has_running else (
            "the module tracks no running statistics" if type(impl).__name__ == "TorchModuleAdapter"
            else "no running statistics given (update_running=..., forward_inference=...)"),
    }


def _run(name: str, impl: Adapter, strategy, body: Callable, hyp: Settings) -> Optional[BatchNormPropertyError]:
    @hyp
    @given(strategy)
    def prop(drawn):
        body(drawn)

    try:
        prop()
    except BatchNormPropertyError as err:
        return err
    except FlakyFailure as group:  # failed once, passed when replayed: a nondeterministic implementation?
        match, _ = group.split(BatchNormPropertyError)
        if match is None:
            raise
        err = match.exceptions[0]
        while isinstance(err, BaseExceptionGroup):
            err = err.exceptions[0]
        err._details.append("(flaky: this batch failed once and passed when Hypothesis replayed it; is the "
                            "implementation nondeterministic?)")
        err._message = None
        return err
    return None


def check_batchnorm(
    forward: Any = None,
    backward: Optional[Callable] = None,
    *,
    module: Any = None,
    eps: Optional[float] = None,
    dtype=np.float64,
    features: Optional[int] = None,
    max_batch: int = 12,
    properties: Optional[Iterable[str]] = None,
    tolerance: Optional[Tolerance] = None,
    profile: Optional[str] = None,
    settings: Optional[Settings] = None,
    momentum: Optional[float] = None,
    momentum_convention: str = "pytorch",
    running_var_unbiased: bool = True,
    update_running: Optional[Callable] = None,
    forward_inference: Optional[Callable] = None,
) -> CheckReport:
    """Check a batch-norm implementation against the closed forms and identities of bn-math; raise
    :class:`BatchNormCheckError` (an ``AssertionError``) listing every failing property, or return a
    :class:`CheckReport`. Misuse raises :class:`~bnsym.errors.KitUsageError`.

    What to pass (selected automatically, see :mod:`bnsym.testing.adapters`): ``forward=`` and ``backward=``
    (NumPy-style functions, ``eps`` default ``1e-5``); ``forward=`` a ``torch.autograd.Function`` subclass or a
    function of tensors (autograd gives the backward); or ``module=`` a module called like
    ``torch.nn.BatchNorm1d`` (its own ``eps`` and ``momentum``).

    Options: ``dtype`` the precision your implementation runs in (inputs are rounded to it, tolerances follow
    it); ``features`` fix the number of features (a module's ``num_features`` is used automatically);
    ``max_batch`` the largest ``m`` drawn; ``properties`` a subset of :data:`~bnsym.testing.properties.PROPERTIES`;
    ``tolerance`` a :class:`~bnsym.testing.tolerance.Tolerance`; ``profile`` ``"ci"`` (default, derandomized) or
    ``"thorough"``, or ``settings`` any ``hypothesis.settings``; running statistics: ``momentum`` (functions:
    default 0.1; modules: their own), ``momentum_convention`` ``"pytorch"``/``"keras"``, ``running_var_unbiased``,
    and for functions ``update_running(running_mean, running_var, x, momentum) -> (mean, var)`` and
    ``forward_inference(x, running_mean, running_var, gamma, beta, eps) -> y``.

    >>> check_batchnorm(module=None)
    Traceback (most recent call last):
    ...
    bnsym.errors.KitUsageError: give either forward=... and backward=... (functions) or module=... (a torch module)
    """
    running: dict = dict(momentum_convention=momentum_convention, running_var_unbiased=running_var_unbiased)
    if module is None:
        running.update(momentum=0.1 if momentum is None else momentum, update_running=update_running,
                       forward_inference=forward_inference)
    else:
        running.update(update_running=update_running, forward_inference=forward_inference)
        if momentum is not None:
            running["momentum"] = momentum
    impl = adapt(forward, backward, module, eps=eps, dtype=dtype, **running)
    if features is not None:
        if impl.features is not None and impl.features != features:
            raise KitUsageError(f"features={features} but the module has {impl.features} features")
        impl.features = features
    if not isinstance(max_batch, int) or max_batch < 2:
        raise KitUsageError(f"max_batch must be an integer >= 2, got {max_batch!r}")
    if tolerance is not None and not isinstance(tolerance, Tolerance):
        raise KitUsageError(f"tolerance must be a bnsym.testing.Tolerance, got {type(tolerance).__name__}")
    hyp, profile_name = _settings(profile, settings)
    applicable = _applicability(impl)
    if properties is None:
        wanted = [p for p in PROPERTIES if applicable[p] is None]
    else:
        wanted = list(properties) if not isinstance(properties, str) else [properties]
        for p in wanted:
            if p not in PROPERTIES:
                raise KitUsageError(f"unknown property {p!r}; choose from {list(PROPERTIES)}")
            if applicable[p] is not None:
                raise KitUsageError(f"property {p!r} cannot be checked on {impl!r}: {applicable[p]}")
    impl.probe()

    cases = bn_cases(features=impl.features, max_m=max_batch, dtype=impl.dtype, allow_constant=impl.eps > 0,
                     affine=impl.affine)
    bodies = {
        "forward": (cases, lambda c: assert_forward(impl, c, tolerance)),
        "backward": (cases, lambda c: assert_backward(impl, c, tolerance)),
        "null_space": (cases, lambda c: assert_null_space(impl, c, tolerance)),
        "scale_invariance": (st.tuples(cases, scales()), lambda t: assert_scale_invariance(impl, t[0], t[1], tolerance)),
        "running_statistics": (cases, lambda c: assert_running_statistics(impl, c, tolerance)),
    }
    report = CheckReport(repr(impl), skipped={p: why for p, why in applicable.items() if why and p not in wanted})
    failures = []
    with _one_torch_thread():
        for name in wanted:
            strategy, body = bodies[name]
            err = _run(name, impl, strategy, body, hyp)
            if err is None:
                report.passed.append(name)
            else:
                failures.append(err)
    if failures:
        raise BatchNormCheckError(impl, failures, profile_name) from None
    return report


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


def _settings(profile: Optional[str], settings: Optional[Settings]) -> tuple:
    if settings is not None:
        if profile is not None:
            raise KitUsageError("give profile=... or settings=..., not both")
        if not isinstance(settings, Settings):
            raise KitUsageError(f"settings must be a hypothesis.settings, got {type(settings).__name__}")
        # the kit catches one failure per property, and Hypothesis's explain phase only adds noise here
        return Settings(settings, report_multiple_bugs=False,
                        phases=[p for p in settings.phases if p != Phase.explain]), "custom"
    name = _default["profile"] if profile is None else profile
    if name not in PROFILES:
        raise KitUsageError(f"unknown profile {name!r}; choose one of {sorted(PROFILES)}")
    return PROFILES[name], name
