"""Adapters for PyTorch implementations; the kit never imports torch itself (only a user who did has these).

- :class:`TorchFunctionAdapter`: a ``torch.autograd.Function`` subclass called as ``Fn.apply(x, gamma, beta, eps)``,
  or any function of torch tensors with the forward signature; autograd computes the backward.
- :class:`TorchModuleAdapter`: anything called like ``torch.nn.BatchNorm1d``, run in its own dtype through
  ``torch.func.functional_call`` and never changed.

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

__all__ = ["TorchFunctionAdapter", "TorchModuleAdapter", "module_dtype", "routed_options"]


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
    """How ``check_batchnorm(module=...)`` takes a module: ``None`` for a float32/float64 module called like
    ``torch.nn.BatchNorm1d`` on ``(samples, features)`` (:class:`TorchModuleAdapter`), ``"batch"`` for a
    BatchNorm2d/3d, a wrapper around one batch normalization or a float16/bfloat16 module (checked by
    :func:`~bnsym.testing.check_normalization`, which reads its layout and ε without changing it); another kind
    of normalization is misuse, with what to call instead.

    >>> import torch
    >>> route(torch.nn.BatchNorm1d(2)), route(torch.nn.BatchNorm2d(2))
    (None, 'batch')
    >>> route(torch.nn.BatchNorm1d(2, dtype=torch.float16))
    'batch'
    >>> route(torch.nn.LayerNorm(3))
    Traceback (most recent call last):
    ...
    bnsym.errors.KitUsageError: LayerNorm is layer normalization, not batch normalization of (samples, features) ...
    """
    from .norm_adapters import torch_kind

    torch = _torch()
    if torch is None or not isinstance(module, torch.nn.Module):
        return None
    if module_dtype(module) not in _NUMPY:  # float16, bfloat16: the engine of check_normalization runs them
        own = torch_kind(module)
        if own is not None and own[0] != "batch":
            raise KitUsageError(f"{own[1]} is {own[0]} normalization, not batch normalization: check it with "
                                f"bnsym.testing.check_normalization({own[0]!r}, module=...)")
        return "batch"
    if isinstance(module, torch.nn.BatchNorm1d):
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


def routed_options(module: Any, dtype: Any, momentum: Any, convention: Any, unbiased: Any, update: Any,
                    inference: Any) -> None:
    """Refuse the options the engine of ``check_normalization`` (BatchNorm2d/3d, wrappers, float16/bfloat16
    modules) does not take, rather than ignoring them.

    >>> import torch
    >>> routed_options(torch.nn.BatchNorm2d(2), None, None, "pytorch", True, None, None)
    >>> routed_options(torch.nn.BatchNorm2d(2), "float64", None, "pytorch", True, None, None)
    Traceback (most recent call last):
    ...
    bnsym.errors.KitUsageError: dtype='float64' given but the module runs in float32; the kit never converts it: ...
    """
    own = module_dtype(module)
    try:
        name = None if dtype is None else np.dtype(dtype).name
    except (TypeError, ValueError):
        name = str(dtype).removeprefix("torch.")  # a torch dtype, or nonsense: refused below unless the module's
    if name is not None and name != own:
        raise KitUsageError(f"dtype={dtype!r} given but the module runs in {own}; the kit never converts it: "
                            "convert it yourself (module.to(dtype)) and drop dtype=...")
    if update is not None or inference is not None:
        raise KitUsageError("update_running/forward_inference are for functions; a module has its own buffers")
    if momentum is not None or convention != "pytorch" or unbiased is not True:
        raise KitUsageError(f"{type(module).__name__} (a {own} module) is checked with its own momentum, PyTorch's "
                            "convention and the unbiased running variance: drop momentum=, momentum_convention= and "
                            "running_var_unbiased=")


def route_layout(module: Any) -> bool:
    """Whether ``module`` is itself a torch normalization (it takes its own layout) rather than a wrapper.

    >>> import torch
    >>> route_layout(torch.nn.BatchNorm2d(2)), route_layout(torch.nn.Sequential(torch.nn.BatchNorm1d(2)))
    (True, False)
    """
    from .norm_adapters import torch_kind

    return torch_kind(module) is not None


_NUMPY = {"float64": np.float64, "float32": np.float32}


def module_dtype(module: Any) -> str:
    """The dtype a module runs in: that of its first floating-point parameter or buffer (torch's default dtype
    when it has none), as a name.

    >>> import torch
    >>> module_dtype(torch.nn.BatchNorm1d(2)), module_dtype(torch.nn.BatchNorm1d(2, dtype=torch.bfloat16))
    ('float32', 'bfloat16')
    """
    torch = _torch()
    tensors = [t for t in [*module.parameters(), *module.buffers()] if t.is_floating_point()]
    return str(tensors[0].dtype if tensors else torch.get_default_dtype()).removeprefix("torch.")


class TorchModuleAdapter(Adapter):
    """A module called like ``torch.nn.BatchNorm1d``, run in its own dtype (float32 or float64) through
    ``torch.func.functional_call`` with the kit's tensors for ``γ``, ``β`` and the buffers: the module is never
    changed (no ``eps`` set, no conversion). A module in eval mode runs on a copy switched to training mode (and
    a training module's inference mode on a copy switched to eval mode); ``ε`` is read, never set."""

    can_set_eps = False  # scale invariance: the ε-deviation comes from the reference

    def __init__(self, module: Any, *, eps: float | None = None, momentum: Any = "module", dtype: Any = None,
                 **kwargs) -> None:
        torch = _torch()
        if torch is None or not isinstance(module, torch.nn.Module):
            raise KitUsageError(f"module must be a torch.nn.Module, got {type(module).__name__}")
        own = module_dtype(module)
        if own not in _NUMPY:
            raise KitUsageError(f"{type(module).__name__} runs in {own}: check it with check_batchnorm(module=...) "
                                "or check_normalization('batch', module=..., layout='NC')")
        if dtype is not None:
            try:
                given = np.dtype(dtype)
            except (TypeError, ValueError):
                raise KitUsageError(f"dtype must be a NumPy float dtype, got {dtype!r}") from None
            if given != np.dtype(_NUMPY[own]):
                raise KitUsageError(f"dtype={given} given but the module runs in {own}; the kit never converts it: "
                                    "convert it yourself (module.to(dtype)) and drop dtype=...")
        module_eps = getattr(module, "eps", None)
        if module_eps is not None:
            module_eps = check_real(module_eps, f"the eps attribute of {type(module).__name__}", low=0.0)
        if eps is None:
            if module_eps is None:
                raise KitUsageError(f"{type(module).__name__} has no attribute eps: pass eps=... to the kit")
            eps = module_eps
        elif module_eps is not None and check_real(eps, "eps", low=0.0) != module_eps:
            raise KitUsageError(f"eps={eps!r} given but the module uses eps={module_eps!r}")
        params = dict(module.named_parameters())
        weight, bias = params.get("weight"), params.get("bias")
        self.affine = weight is not None
        if weight is not None and (bias is None or weight.ndim != 1 or bias.shape != weight.shape):  # self.affine
            raise KitUsageError("the module's weight and bias must both be 1-d parameters of shape (features,)")
        self.features = getattr(module, "num_features", None) or (int(weight.shape[0]) if weight is not None else None)
        if momentum == "module":
            momentum = getattr(module, "momentum", 0.1)
        # PyTorch's momentum=None is a cumulative average: after one batch (counter reset) the batch statistics
        super().__init__(eps=eps, momentum=1.0 if momentum is None else momentum, dtype=_NUMPY[own], **kwargs)
        self._module, self._torch_dtype = module, getattr(torch, own)
        self._buffers = dict(module.named_buffers())
        tensors = [*module.parameters(), *module.buffers()]
        self._device = tensors[0].device if tensors else None  # test a GPU module on its own device
        self._tracks = (self._buffers.get("running_mean") is not None
                        and self._buffers.get("running_var") is not None)
        self._modes: dict[bool, Any] = {module.training: module}  # the other mode: a copy, switched on the copy
        self.description = f"torch module {type(module).__name__}"

    @property
    def has_running(self) -> bool:
        return self._tracks

    def _mode(self, training: bool):
        if training not in self._modes:
            self._modes[training] = copy.deepcopy(self._module).train(training)
        return self._modes[training]

    def _x(self, a, grad=False):
        return _torch().tensor(np.asarray(a, np.float64), dtype=self._torch_dtype, device=self._device,
                               requires_grad=grad)

    def _call(self, x, gamma, beta, eps, *, grad=False, running=None, training=True):
        """``(y, x tensor, parameter tensors, buffers)``: the module run on the kit's tensors, never changed."""
        if eps != self.eps:  # never: the properties give a module its own ε (scale invariance uses the reference)
            raise KitUsageError(f"{self.description} runs with its own eps={self.eps!r}, not {eps!r}")
        torch = _torch()
        state = {k: v.detach().clone() for k, v in self._buffers.items()}
        if running is not None:
            state["running_mean"], state["running_var"] = self._x(running[0]), self._x(running[1])
            if state.get("num_batches_tracked") is not None:
                state["num_batches_tracked"].zero_()
        params = {"weight": self._x(gamma, grad), "bias": self._x(beta, grad)} if self.affine else {}
        xt = self._x(x, grad)
        y = torch.func.functional_call(self._mode(training), {**params, **state}, (xt,))
        return y, xt, params, state

    def _forward(self, x, gamma, beta, eps):
        with _torch().no_grad():
            return self._call(x, gamma, beta, eps)[0]

    def _backward(self, dy, x, gamma, beta, eps):
        torch = _torch()
        y, xt, params, _ = self._call(x, gamma, beta, eps, grad=True)
        wrt = [xt, *params.values()]
        got = torch.autograd.grad(y, wrt, self._x(dy), allow_unused=True)
        got = [torch.zeros_like(w) if g is None else g for w, g in zip(wrt, got, strict=True)]
        return (got[0], got[1], got[2]) if self.affine else (got[0], None, None)

    def _running(self, x, gamma, beta, running_mean, running_var) -> RunningResult:
        with _torch().no_grad():
            _, _, _, state = self._call(x, gamma, beta, self.eps, running=(running_mean, running_var))
            mean, var = state["running_mean"], state["running_var"]
            y = self._call(x, gamma, beta, self.eps, running=(real_array(mean, "running_mean"),
                                                              real_array(var, "running_var")), training=False)[0]
            mean, var = real_array(mean, "running_mean"), real_array(var, "running_var")
            y_eval = real_array(y, "the module's output in eval mode")
        f = (x.shape[1],)
        return RunningResult(shaped(mean, f, "running_mean"), shaped(var, f, "running_var"),
                             shaped(y_eval, x.shape, "the module's output in eval mode"))
