"""Adapters for PyTorch implementations; the kit never imports torch itself (only a user who did has these).

- :class:`TorchFunctionAdapter`: a ``torch.autograd.Function`` subclass called as ``Fn.apply(x, gamma, beta, eps)``,
  or any function of torch tensors with the forward signature; autograd computes the backward.
- :class:`TorchModuleAdapter`: anything called like ``torch.nn.BatchNorm1d``; deep-copied before every use.

Both are selected by :func:`~bnsym.testing.adapters.adapt` (see there for the conventions).

>>> TorchModuleAdapter(object(), eps=1e-5)
Traceback (most recent call last):
...
bnsym.errors.KitUsageError: module must be a torch.nn.Module, got object
"""
from __future__ import annotations

import copy
from typing import Any

import numpy as np

from ..errors import KitUsageError
from .adapter_base import Adapter, ImplementationCrash, RunningResult, _check_signature, _name, _torch
from .arguments import check_real, complex_error, real_array, shaped

__all__ = ["TorchFunctionAdapter", "TorchModuleAdapter"]


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


def route(module: Any) -> str | None:
    """How ``check_batchnorm(module=...)`` takes a module: ``None`` for a module called like
    ``torch.nn.BatchNorm1d`` on ``(samples, features)`` (this adapter), ``"batch"`` for a BatchNorm2d/3d or a
    wrapper around one batch normalization (checked by :func:`~bnsym.testing.check_normalization`, which reads its
    layout and ε without changing it); another kind of normalization is misuse, with what to call instead.

    >>> import torch
    >>> route(torch.nn.BatchNorm1d(2)), route(torch.nn.BatchNorm2d(2))
    (None, 'batch')
    >>> route(torch.nn.LayerNorm(3))
    Traceback (most recent call last):
    ...
    bnsym.errors.KitUsageError: LayerNorm is layer normalization, not batch normalization of (samples, features) ...
    """
    from .norm_adapters import torch_kind

    torch = _torch()
    if torch is None or isinstance(module, torch.nn.BatchNorm1d):
        return None
    subs = module.modules() if isinstance(module, torch.nn.Module) else []
    found = [k for sub in subs if (k := torch_kind(sub)) is not None]
    if not found:
        return None
    kind, cls, _ = found[0]
    if kind != "batch":
        raise KitUsageError(
            f"{cls} is {kind} normalization, not batch normalization of (samples, features) batches as "
            f"torch.nn.BatchNorm1d takes them: check it with bnsym.testing.check_normalization({kind!r}, module=...)")
    return "batch"


def route_layout(module: Any) -> bool:
    """Whether ``module`` is itself a torch normalization (it takes its own layout) rather than a wrapper.

    >>> import torch
    >>> route_layout(torch.nn.BatchNorm2d(2)), route_layout(torch.nn.Sequential(torch.nn.BatchNorm1d(2)))
    (True, False)
    """
    from .norm_adapters import torch_kind

    return torch_kind(module) is not None


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
