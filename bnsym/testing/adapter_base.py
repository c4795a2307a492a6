"""The adapters' common base: :class:`Adapter` (uniform float64 access, checked shapes, timed and guarded calls)
and :class:`NumpyAdapter` (plain functions on arrays), with what every adapter shares (:class:`RunningResult`,
:class:`ImplementationCrash`, the signature check). The torch adapters are in
:mod:`bnsym.testing.torch_adapters`; :func:`~bnsym.testing.adapters.adapt` selects one.

>>> from bnsym.testing import reference
>>> impl = NumpyAdapter(reference.forward, reference.backward, eps=1e-5)
>>> impl.has_backward, impl.has_running
(True, False)
"""
from __future__ import annotations

import inspect
import sys
from typing import Any, NamedTuple
from collections.abc import Callable

import numpy as np

from ..errors import KitUsageError
from .arguments import check_eps, check_flag, check_real, real_array, shaped
from .case import BNCase
from .timing import Clock, TimeLimitExceeded

__all__ = ["Adapter", "NumpyAdapter", "RunningResult", "ImplementationCrash"]

_CONVENTIONS = ("pytorch", "keras")


class ImplementationCrash(Exception):
    """The implementation under test raised on a valid batch (a failure of that code, not misuse of the kit)."""


def _guarded(call: Callable, *args, clock: Clock | None = None, what: str = "the implementation"):
    try:
        return call(*args) if clock is None else clock.call(what, call, *args)
    except (KitUsageError, TimeLimitExceeded):
        raise
    except Exception as exc:  # broad on purpose: reported by the properties with the failing batch
        raise ImplementationCrash(f"{type(exc).__name__}: {exc}") from exc


class RunningResult(NamedTuple):
    """What an implementation did with running statistics; ``None`` for what it does not implement."""

    mean: np.ndarray | None
    var: np.ndarray | None
    y_eval: np.ndarray | None


def _torch():
    """The torch module if the user has imported it (the kit never imports torch on its own)."""
    return sys.modules.get("torch")


def _check_signature(fn: Callable, nargs: int, what: str, expected: str) -> None:
    if not callable(fn):
        raise KitUsageError(f"{what} must be callable with ({expected}), got {type(fn).__name__}")
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):  # builtins and some C extensions have no signature: trust the call
        return
    try:
        sig.bind(*range(nargs))
    except TypeError:
        raise KitUsageError(
            f"{what} must accept ({expected}) positionally; its signature is {getattr(fn, '__name__', what)}{sig} "
            "(see the function convention in bnsym.testing)"
        ) from None


class Adapter:
    """Base class: uniform float64 access to one implementation. Subclasses implement ``_forward``/``_backward``.

    Attributes: ``description``; ``dtype`` (what the implementation computes in); ``eps``; ``features`` (fixed
    number of features, or ``None``); ``affine``; ``has_backward``; ``can_set_eps`` (``ε`` can be passed to the
    implementation; else scale invariance uses the reference's ε-deviation); ``momentum``,
    ``momentum_convention``, ``running_var_unbiased``.
    """

    description = "implementation"
    features: int | None = None
    affine = True
    has_backward = True
    can_set_eps = True
    clock: Clock | None = None  # check_batchnorm sets one: the time limits of the calls

    def __init__(
        self,
        *,
        eps: float,
        dtype=np.float64,
        momentum: float | None = 0.1,
        momentum_convention: str = "pytorch",
        running_var_unbiased: bool = True,
        update_running: Callable | None = None,
        forward_inference: Callable | None = None,
    ) -> None:
        try:
            self.dtype = np.dtype(dtype)
        except (TypeError, ValueError):
            raise KitUsageError(f"dtype must be a NumPy float dtype, got {dtype!r}") from None
        if self.dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
            raise KitUsageError(f"dtype must be float32 or float64, got {self.dtype}")
        self.eps = check_eps(eps, self.dtype)
        if not isinstance(momentum_convention, str) or momentum_convention not in _CONVENTIONS:
            raise KitUsageError(f"momentum_convention must be one of {_CONVENTIONS}, got {momentum_convention!r}")
        self.momentum = None if momentum is None else check_real(momentum, "momentum", low=0.0, high=1.0)
        self.momentum_convention = momentum_convention
        self.running_var_unbiased = check_flag(running_var_unbiased, "running_var_unbiased")
        if update_running is not None:
            _check_signature(update_running, 4, "update_running", "running_mean, running_var, x, momentum")
        if forward_inference is not None:
            _check_signature(
                forward_inference, 6, "forward_inference", "x, running_mean, running_var, gamma, beta, eps"
            )
        self._update_running = update_running
        self._forward_inference = forward_inference

    # -- the uniform interface ---------------------------------------------------------------------------
    @property
    def has_running(self) -> bool:
        """Whether the implementation has running statistics or an inference mode to check."""
        return self._update_running is not None or self._forward_inference is not None

    def forward(self, x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float | None = None) -> np.ndarray:
        """Training-mode output for ``x`` (float64), with ``ε = eps`` (default: the implementation's own)."""
        y = real_array(self._invoke("forward", x, self._forward, x, gamma, beta, self.eps if eps is None else eps),
                      "forward's output y")
        return shaped(y, x.shape, "forward's output y")

    def backward(self, dy, x, gamma, beta, eps: float | None = None) -> tuple:
        """``(dx, dgamma, dbeta)`` as float64; ``dgamma``/``dbeta`` are ``None`` for a non-affine module."""
        out = self._invoke("backward", x, self._backward, dy, x, gamma, beta, self.eps if eps is None else eps)
        if not isinstance(out, (tuple, list)) or len(out) != 3:
            raise KitUsageError(
                f"backward must return a tuple (dx, dgamma, dbeta), got {type(out).__name__}"
                + (f" of length {len(out)}" if isinstance(out, (tuple, list)) else "")
            )
        m, f = x.shape
        dx = shaped(real_array(out[0], "backward's dx"), x.shape, "backward's dx")
        rest: list[np.ndarray | None] = []
        for value, name in zip(out[1:], ("dgamma", "dbeta"), strict=False):
            if value is None and not self.affine:
                rest.append(None)
                continue
            # shape (m,) is a known mistake (summed over the wrong axis): reported by the properties, not here
            rest.append(shaped(real_array(value, f"backward's {name}"), (f,), f"backward's {name}", also=((m,),)))
        return dx, rest[0], rest[1]

    def running(self, x, gamma, beta, running_mean, running_var) -> RunningResult:
        """Update running statistics from the batch ``x`` and run inference mode on ``x`` with the result."""
        return self._invoke("update_running/forward_inference", x, self._running, x, gamma, beta, running_mean,
                          running_var)

    def _invoke(self, what: str, x: np.ndarray, fn: Callable, *args):
        """``fn(*args)``: a crash becomes :class:`ImplementationCrash`; timed when the check set a clock."""
        return _guarded(fn, *args, clock=self.clock, what=f"{what} on x of shape {tuple(np.shape(x))}")

    def _running(self, x, gamma, beta, running_mean, running_var) -> RunningResult:
        mean = var = y_eval = None
        if self._update_running is not None:
            out = self._update_running(self._in(running_mean), self._in(running_var), self._in(x), self.momentum)
            if not isinstance(out, (tuple, list)) or len(out) != 2:
                raise KitUsageError("update_running must return a tuple (running_mean, running_var)")
            f = (x.shape[1],)
            mean = shaped(real_array(out[0], "update_running's mean"), f, "update_running's mean")
            var = shaped(real_array(out[1], "update_running's var"), f, "update_running's var")
        if self._forward_inference is not None:
            # mean and var are both set or both None
            rm, rv = (mean, var) if mean is not None and var is not None else (running_mean, running_var)
            y = self._forward_inference(self._in(x), self._in(rm), self._in(rv), self._in(gamma), self._in(beta),
                                        self.eps)
            y_eval = shaped(real_array(y, "forward_inference's output"), x.shape, "forward_inference's output")
        return RunningResult(mean, var, y_eval)

    def probe(self) -> None:
        """Call the implementation once on a small well-conditioned batch to catch misuse before Hypothesis runs.

        Exceptions raised inside the implementation are left for the properties to report (with a shrunk batch);
        only :class:`~bnsym.errors.KitUsageError` escapes.
        """
        f = self.features or 2
        x = np.linspace(-1.0, 2.0, 3 * f).reshape(3, f) ** 2
        gamma, beta, dy = np.full(f, 1.5), np.full(f, 0.25), np.linspace(1.0, -0.5, 3 * f).reshape(3, f)
        calls: list[tuple[str, Callable[[], object]]] = [("forward", lambda: self.forward(x, gamma, beta))]
        if self.has_backward:
            calls.append(("backward", lambda: self.backward(dy, x, gamma, beta)))
        if self.has_running:
            calls.append(("running_statistics", lambda: self.running(x, gamma, beta, np.zeros(f), np.ones(f))))
        for prop, call in calls:
            if self.clock is not None:  # a slow first call is reported for the property it belongs to
                self.clock.current = (prop, BNCase(x, gamma, beta, dy, np.zeros(f), np.ones(f)),
                                      "the kit's first call, before the properties")
            try:
                call()
            except ImplementationCrash:  # a bug in the implementation, reported by the properties
                pass

    # -- for subclasses ------------------------------------------------------------------------------------
    def _in(self, a: np.ndarray) -> np.ndarray:
        return np.asarray(a, np.float64).astype(self.dtype)

    def _forward(self, x, gamma, beta, eps):  # pragma: no cover - abstract
        raise NotImplementedError

    def _backward(self, dy, x, gamma, beta, eps):  # pragma: no cover - abstract
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<{self.description} ({self.dtype}, eps={self.eps!r})>"


class NumpyAdapter(Adapter):
    """Plain functions on arrays: ``forward(x, gamma, beta, eps)``, ``backward(dy, x, gamma, beta, eps)``.

    >>> from bnsym.testing import reference
    >>> impl = NumpyAdapter(reference.forward, reference.backward, eps=0.0)
    >>> impl.forward(np.array([[0.0], [2.0]]), np.ones(1), np.zeros(1)).ravel().tolist()
    [-1.0, 1.0]
    """

    def __init__(self, forward: Callable, backward: Callable, **kwargs) -> None:
        _check_signature(forward, 4, "forward", "x, gamma, beta, eps")
        _check_signature(backward, 5, "backward", "dy, x, gamma, beta, eps")
        super().__init__(**kwargs)
        self._fwd, self._bwd = forward, backward
        self.description = f"NumPy functions {_name(forward)} / {_name(backward)}"

    def _forward(self, x, gamma, beta, eps):
        return self._fwd(self._in(x), self._in(gamma), self._in(beta), eps)

    def _backward(self, dy, x, gamma, beta, eps):
        return self._bwd(self._in(dy), self._in(x), self._in(gamma), self._in(beta), eps)


def _name(fn: Any) -> str:
    return getattr(fn, "__qualname__", None) or type(fn).__name__
