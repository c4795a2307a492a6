"""The property-test kit: check *your* batch-norm implementation in CI against bnsym's closed forms.

>>> from bnsym.testing import bn_implementations, check_batchnorm
>>> ref = bn_implementations["reference"]
>>> check_batchnorm(forward=ref.forward, backward=ref.backward, eps=1e-5, properties=["forward", "backward"]).passed
['forward', 'backward']

The function convention: ``forward(x, gamma, beta, eps) -> y`` and ``backward(dy, x, gamma, beta, eps) ->
(dx, dgamma, dbeta)``, ``x`` of shape ``(m, features)``, statistics over axis 0 (training mode, biased variance,
``ε`` inside the square root). A module is anything called like ``torch.nn.BatchNorm1d``
(``check_batchnorm(module=...)``); a ``torch.autograd.Function`` subclass goes in ``forward=`` alone.

A failing property raises an ``AssertionError`` subclass (:class:`BatchNormCheckError`, one
:class:`BatchNormPropertyError` per property); misuse raises :class:`bnsym.errors.KitUsageError` (bad arguments,
a malformed case, a complex or ``None`` output: see :mod:`bnsym.testing.arguments`). Every property first runs on
fixed informative cases, then on Hypothesis's draws; each call of the code under test has a deadline and the
whole check a time budget (:mod:`bnsym.testing.timing`).

Every normalization kind: ``check_normalization(kind, forward=..., backward=... | module=..., ...)`` with ``kind``
one of :data:`KINDS` (``"batch"``, ``"layer"``, ``"rms"``, ``"group"``, ``"instance"``, ``"weight"``), any
layout of :data:`LAYOUTS` (channels-last too), eval mode of batch norm (``training=False`` or ``module.eval()``)
and a torch module in its own dtype (float64, float32, float16, bfloat16), never changed by the kit;
``check_batchnorm`` is its ``kind="batch"`` on ``(N, C)`` functions. The known mistakes of each kind:
:func:`mistakes` (matched by the diagnosis on several batches before one is named) and :func:`implementations_of`
(NumPy implementations of them, in the function convention). ``orders=(1, 2, 3)`` adds second and third
derivatives in every differentiation mode (:func:`check_higher_order`, :mod:`bnsym.testing.orders`).

>>> import torch
>>> from bnsym.testing import check_normalization
>>> check_normalization("group", module=torch.nn.GroupNorm(2, 4), max_batch=2).passed
['forward', 'backward', 'null_space', 'scale_invariance']

Contents: :func:`check_batchnorm` (all properties, under Hypothesis); the assertion helpers
``assert_forward``, ``assert_backward``, ``assert_null_space``, ``assert_scale_invariance``,
``assert_running_statistics`` (one :class:`BNCase` each); the strategies ``bn_cases``, ``batches``, ``gammas``,
``betas``, ``upstream_gradients``, ``scales``, ``running_statistics``; :func:`adapt` and the adapters;
:class:`Tolerance`; ``reference`` (the NumPy closed forms); ``bn_implementations`` (the reference and the known
mistakes, by name).

Needs ``hypothesis`` (``pip install bnsym[testing]``). The names are loaded on first use, so
``import bnsym.testing`` is cheap and succeeds without hypothesis (the pytest plugin imports it in every test
run); importing any name from it then raises :class:`bnsym.errors.MissingDependencyError`.
"""
from __future__ import annotations

import importlib
import importlib.util
from typing import TYPE_CHECKING

from ..errors import MissingDependencyError

_PUBLIC = {
    "check_normalization": "normalization",
    "check_higher_order": "higher_order",
    "HigherOrderMismatch": "higher_order",
    "NormalizationCheckError": "normalization",
    "NormPropertyError": "norm_properties",
    "KINDS": "kinds",
    "LAYOUTS": "kinds",
    "implementations_of": "norm_mistakes",
    "mistakes": "norm_mistakes",
    "check_batchnorm": "check",
    "CheckReport": "check",
    "BatchNormCheckError": "check",
    "PROFILES": "check",
    "set_default_profile": "check",
    "BatchNormPropertyError": "properties",
    "PROPERTIES": "properties",
    "assert_forward": "properties",
    "assert_backward": "properties",
    "assert_null_space": "properties",
    "assert_scale_invariance": "properties",
    "assert_running_statistics": "properties",
    "bn_cases": "strategies",
    "batches": "strategies",
    "gammas": "strategies",
    "betas": "strategies",
    "upstream_gradients": "strategies",
    "scales": "strategies",
    "running_statistics": "strategies",
    "BNCase": "case",
    "adapt": "adapters",
    "Adapter": "adapters",
    "NumpyAdapter": "adapters",
    "TorchFunctionAdapter": "adapters",
    "TorchModuleAdapter": "adapters",
    "Tolerance": "tolerance",
    "bn_implementations": "implementations",
    "BNImplementation": "implementations",
}
# literal, so static tools see it: _PUBLIC sorted, then ``reference`` (a submodule, NumPy only)
__all__ = [
    "Adapter",
    "BNCase",
    "BNImplementation",
    "BatchNormCheckError",
    "BatchNormPropertyError",
    "CheckReport",
    "HigherOrderMismatch",
    "KINDS",
    "LAYOUTS",
    "NormPropertyError",
    "NormalizationCheckError",
    "NumpyAdapter",
    "PROFILES",
    "PROPERTIES",
    "Tolerance",
    "TorchFunctionAdapter",
    "TorchModuleAdapter",
    "adapt",
    "assert_backward",
    "assert_forward",
    "assert_null_space",
    "assert_running_statistics",
    "assert_scale_invariance",
    "batches",
    "betas",
    "bn_cases",
    "bn_implementations",
    "check_batchnorm",
    "check_higher_order",
    "check_normalization",
    "gammas",
    "implementations_of",
    "mistakes",
    "running_statistics",
    "scales",
    "set_default_profile",
    "upstream_gradients",
    "reference",
]


def _have_hypothesis() -> bool:
    try:
        return importlib.util.find_spec("hypothesis") is not None
    except (ImportError, ValueError):  # e.g. sys.modules["hypothesis"] = None
        return False


HAVE_HYPOTHESIS = _have_hypothesis()


def __getattr__(name: str):
    """A public name, loaded on first use (needs hypothesis).

    >>> __all__ == [*sorted(_PUBLIC), "reference"]
    True
    """
    # lazy: the pytest plugin imports this package in every test run, so importing it must stay cheap
    if name not in _PUBLIC:
        raise AttributeError(f"module 'bnsym.testing' has no attribute {name!r}")
    if not HAVE_HYPOTHESIS:
        raise MissingDependencyError(
            f"bnsym.testing.{name} needs hypothesis, which is not installed: pip install 'bnsym[testing]'"
        )
    value = getattr(importlib.import_module(f".{_PUBLIC[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs
    from . import reference
    from .adapters import Adapter, NumpyAdapter, TorchFunctionAdapter, TorchModuleAdapter, adapt
    from .case import BNCase
    from .check import PROFILES, BatchNormCheckError, CheckReport, check_batchnorm, set_default_profile
    from .implementations import BNImplementation, bn_implementations
    from .kinds import KINDS, LAYOUTS
    from .norm_mistakes import implementations_of, mistakes
    from .norm_properties import NormPropertyError
    from .normalization import NormalizationCheckError, check_normalization
    from .higher_order import HigherOrderMismatch, check_higher_order
    from .properties import (
        PROPERTIES,
        BatchNormPropertyError,
        assert_backward,
        assert_forward,
        assert_null_space,
        assert_running_statistics,
        assert_scale_invariance,
    )
    from .strategies import batches, betas, bn_cases, gammas, running_statistics, scales, upstream_gradients
    from .tolerance import Tolerance
