"""Adapters: one uniform interface over the implementations users test (selected by :func:`adapt`).

- :class:`NumpyAdapter`: ``forward(x, gamma, beta, eps) -> y`` and ``backward(dy, x, gamma, beta, eps) ->
  (dx, dgamma, dbeta)`` on arrays of shape ``(m, features)`` (statistics over axis 0, biased variance), optional
  ``update_running(running_mean, running_var, x, momentum) -> (mean, var)`` and
  ``forward_inference(x, running_mean, running_var, gamma, beta, eps) -> y``. Works for anything that takes and
  returns array-likes (NumPy arrays; JAX arrays too: wrap a JAX forward with ``jax.vjp`` into this convention).
- :class:`TorchFunctionAdapter`: a ``torch.autograd.Function`` subclass called as ``Fn.apply(x, gamma, beta, eps)``,
  or any function of torch tensors with the forward signature; autograd computes the backward.
- :class:`TorchModuleAdapter`: anything called like ``torch.nn.BatchNorm1d`` (``module(x)``, parameters
  ``weight``/``bias`` or none when ``affine=False``, attribute ``eps``, buffers ``running_mean``/``running_var``
  when it tracks running statistics). The module is deep-copied before every use: yours is never modified.

Every adapter takes and returns float64 NumPy arrays; inputs are rounded to the implementation's ``dtype`` first.
Misuse (wrong signature, wrong return type or shape) raises :class:`~bnsym.errors.KitUsageError`.

>>> from bnsym.testing.implementations import bn_implementations
>>> ref = bn_implementations["reference"]
>>> impl = adapt(forward=ref.forward, backward=ref.backward, eps=1e-5)
>>> type(impl).__name__, impl.eps, impl.dtype
('NumpyAdapter', 1e-05, dtype('float64'))
>>> adapt(forward=lambda x: x, backward=ref.backward)
Traceback (most recent call last):
...
bnsym.errors.KitUsageError: forward must accept (x, gamma, beta, eps) ...
"""
from __future__ import annotations

import copy
import inspect
import sys
from typing import Any, NamedTuple
from collections.abc import Callable

import numpy as np

from ..errors import KitUsageError
from .arguments import check_eps, check_flag, check_real, complex_error, real_array, shaped
from .case import BNCase
from .timing import Clock, TimeLimitExceeded

__all__ = ["Adapter", "NumpyAdapter", "TorchFunctionAdapter", "TorchModuleAdapter", "RunningResult", "adapt"]

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
    number of features, or ``None``); ``affine``; ``has_backward``; ``can_set_eps`` (``ε`` can be changed, for the
    scale-invariance property); ``momentum``, ``momentum_convention``, ``running_var_unbiased``.
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


def _torch_dtype(dtype: np.dtype):
    torch = _torch()
    return {np.dtype(np.float64): torch.float64, np.dtype(np.float32): torch.float32}[dtype]


class TorchFunctionAdapter(Adapter):
    """A ``torch.autograd.Function`` subclass (``Fn.apply(x, gamma, beta, eps)``) or a function of tensors;
    the backward pass is autograd's (your ``Function.backward`` when you wrote one)."""

    def __init__(self, fn: Any, **kwargs) -> None:
        torch = _torch()
        if torch is None:  # pragma: no cover - guarded by adapt()
            raise KitUsageError("TorchFunctionAdapter needs torch")
        if isinstance(fn, type) and issubclass(fn, torch.autograd.Function):
            # fn is a torch.autograd.Function subclass (torch, imported at run time, is untyped here)
            call, self.description = fn.apply, f"torch.autograd.Function {fn.__qualname__}"  # type: ignore[attr-defined]
        else:
            _check_signature(fn, 4, "forward", "x, gamma, beta, eps")
            call, self.description = fn, f"torch function {_name(fn)} (autograd backward)"
        super().__init__(**kwargs)
        self._call = call
        self._plain = not isinstance(fn, type)

    def probe(self) -> None:
        if self._plain:  # a plain callable may be a NumPy function whose backward was forgotten
            f = self.features or 2
            x = np.linspace(0.0, 3.0, 3 * f).reshape(3, f) ** 2
            try:
                self._invoke("forward", x, self._run, x, np.ones(f), np.zeros(f), self.eps, True)
            except ImplementationCrash as exc:
                raise KitUsageError(
                    f"forward was called with torch tensors (no backward=... given) and raised "
                    f"{type(exc).__name__}: {exc}; NumPy-style functions need an explicit backward=..."
                ) from exc
        super().probe()

    def _tensor(self, a, grad: bool = False):
        torch = _torch()
        return torch.tensor(np.asarray(a, np.float64), dtype=_torch_dtype(self.dtype), requires_grad=grad)

    def _run(self, x, gamma, beta, eps, grad: bool):
        torch = _torch()
        xt, gt, bt = (self._tensor(a, grad) for a in (x, gamma, beta))
        y = self._call(xt, gt, bt, eps)
        if not isinstance(y, torch.Tensor):
            raise KitUsageError(
                f"{self.description} must return a torch.Tensor, got {type(y).__name__}; NumPy-style functions "
                "need an explicit backward=..."
            )
        if y.is_complex():
            raise complex_error(f"the output of {self.description}", y.detach().imag.cpu().to(torch.float64).numpy())
        return y, (xt, gt, bt)

    def _forward(self, x, gamma, beta, eps):
        return self._run(x, gamma, beta, eps, grad=False)[0]

    def _backward(self, dy, x, gamma, beta, eps):
        y, inputs = self._run(x, gamma, beta, eps, grad=True)
        if not y.requires_grad:
            raise KitUsageError(f"{self.description}: the output does not depend on x through autograd")
        y.backward(self._tensor(dy))
        return tuple(t.grad if t.grad is not None else _torch().zeros_like(t) for t in inputs)


class TorchModuleAdapter(Adapter):
    """A module called like ``torch.nn.BatchNorm1d``; deep-copied and converted to ``dtype`` before each use."""

    def __init__(self, module: Any, *, eps: float | None = None, momentum: Any = "module", **kwargs) -> None:
        torch = _torch()
        if torch is None or not isinstance(module, torch.nn.Module):
            raise KitUsageError(f"module must be a torch.nn.Module, got {type(module).__name__}")
        module_eps = getattr(module, "eps", None)
        if module_eps is not None:
            module_eps = check_real(module_eps, f"the eps attribute of {type(module).__name__}", low=0.0)
        if eps is None:
            if module_eps is None:
                raise KitUsageError(f"{type(module).__name__} has no attribute eps: pass eps=... to the kit")
            eps = module_eps
        elif module_eps is not None and check_real(eps, "eps", low=0.0) != module_eps:
            raise KitUsageError(f"eps={eps!r} given but the module uses eps={module_eps!r}")
        weight, bias = getattr(module, "weight", None), getattr(module, "bias", None)
        self.affine = weight is not None
        if weight is not None and (bias is None or weight.ndim != 1 or bias.shape != weight.shape):  # self.affine
            raise KitUsageError("the module's weight and bias must both be 1-d parameters of shape (features,)")
        self.features = getattr(module, "num_features", None) or (int(weight.shape[0]) if weight is not None else None)
        self.can_set_eps = module_eps is not None
        if momentum == "module":
            momentum = getattr(module, "momentum", 0.1)
        # PyTorch's momentum=None is a cumulative average: after one batch (counter reset) the batch statistics
        super().__init__(eps=eps, momentum=1.0 if momentum is None else momentum, **kwargs)
        self._module = module
        tensors = [*module.parameters(), *module.buffers()]
        self._device = tensors[0].device if tensors else None  # test a GPU module on its own device
        self._tracks = (getattr(module, "running_mean", None) is not None
                        and getattr(module, "running_var", None) is not None)
        self.description = f"torch module {type(module).__name__}"

    @property
    def has_running(self) -> bool:
        return self._tracks

    def _copy(self, gamma, beta, eps):
        torch = _torch()
        mod = copy.deepcopy(self._module).to(_torch_dtype(self.dtype))
        with torch.no_grad():
            if self.affine:
                mod.weight.copy_(self._x(gamma))
                mod.bias.copy_(self._x(beta))
        if self.can_set_eps:
            mod.eps = float(eps)
        return mod.train()

    def _x(self, a, grad=False):
        return _torch().tensor(np.asarray(a, np.float64), dtype=_torch_dtype(self.dtype), device=self._device,
                               requires_grad=grad)

    def _forward(self, x, gamma, beta, eps):
        with _torch().no_grad():
            return self._copy(gamma, beta, eps)(self._x(x))

    def _backward(self, dy, x, gamma, beta, eps):
        mod = self._copy(gamma, beta, eps)
        xt = self._x(x, grad=True)
        y = mod(xt)
        y.backward(self._x(dy))
        if not self.affine:
            return xt.grad, None, None
        return xt.grad, mod.weight.grad, mod.bias.grad

    def _running(self, x, gamma, beta, running_mean, running_var) -> RunningResult:
        torch = _torch()
        mod = self._copy(gamma, beta, self.eps)
        with torch.no_grad():
            mod.running_mean.copy_(self._x(running_mean))
            mod.running_var.copy_(self._x(running_var))
            if getattr(mod, "num_batches_tracked", None) is not None:
                mod.num_batches_tracked.zero_()
            mod(self._x(x))
            mean, var = real_array(mod.running_mean, "running_mean"), real_array(mod.running_var, "running_var")
            y_eval = real_array(mod.eval()(self._x(x)), "the module's output in eval mode")
        f = (x.shape[1],)
        return RunningResult(shaped(mean, f, "running_mean"), shaped(var, f, "running_var"),
                             shaped(y_eval, x.shape, "the module's output in eval mode"))


def adapt(
    forward: Any = None,
    backward: Any = None,
    module: Any = None,
    *,
    eps: float | None = None,
    dtype=np.float64,
    **running: Any,
) -> Adapter:
    """Select the adapter for what was given (see the module docstring); ``running`` holds ``momentum``,
    ``momentum_convention``, ``running_var_unbiased``, ``update_running``, ``forward_inference``.

    >>> adapt()
    Traceback (most recent call last):
    ...
    bnsym.errors.KitUsageError: give either forward=... and backward=... (functions) or module=... (a torch module)
    """
    if module is not None:
        if forward is not None or backward is not None:
            raise KitUsageError("give either module=... or forward=/backward=..., not both")
        if running.get("update_running") is not None or running.get("forward_inference") is not None:
            raise KitUsageError("update_running/forward_inference are for functions; a module has its own buffers")
        running = {k: v for k, v in running.items() if k not in ("update_running", "forward_inference")}
        return TorchModuleAdapter(module, eps=eps, dtype=dtype, **running)
    if forward is None:
        if backward is not None:
            raise KitUsageError("backward=... given without forward=...")
        raise KitUsageError("give either forward=... and backward=... (functions) or module=... (a torch module)")
    eps = 1e-5 if eps is None else eps
    torch = _torch()
    if torch is not None and isinstance(forward, torch.nn.Module):
        raise KitUsageError("a torch.nn.Module goes in module=..., not forward=...")
    if backward is not None:
        return NumpyAdapter(forward, backward, eps=eps, dtype=dtype, **running)
    is_function_class = torch is not None and isinstance(forward, type) and issubclass(forward, torch.autograd.Function)
    if torch is None or not (is_function_class or callable(forward)):
        raise KitUsageError(
            "backward=... is required for NumPy-style functions (only torch autograd can supply the backward pass)"
        )
    return TorchFunctionAdapter(forward, eps=eps, dtype=dtype, **running)
