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
  when it tracks running statistics), float32 or float64. It runs in its own dtype through
  ``torch.func.functional_call`` with the kit's tensors: yours is never modified (``eps`` is read, never set).

Every adapter takes and returns float64 NumPy arrays; inputs are rounded to the implementation's ``dtype`` first.
Misuse (wrong signature, wrong return type or shape) raises :class:`~bnsym.errors.KitUsageError`.
The base and NumPy adapters live in :mod:`bnsym.testing.adapter_base`, the torch ones in
:mod:`bnsym.testing.torch_adapters`; all are re-exported here.

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

from typing import Any

import numpy as np

from ..errors import KitUsageError
from .adapter_base import Adapter, NumpyAdapter, RunningResult, _torch
from .adapter_base import ImplementationCrash as ImplementationCrash  # re-exported (bnsym.testing.properties)
from .torch_adapters import TorchFunctionAdapter, TorchModuleAdapter

__all__ = ["Adapter", "NumpyAdapter", "TorchFunctionAdapter", "TorchModuleAdapter", "RunningResult", "adapt"]


def adapt(
    forward: Any = None,
    backward: Any = None,
    module: Any = None,
    *,
    eps: float | None = None,
    dtype: Any = None,
    **running: Any,
) -> Adapter:
    """Select the adapter for what was given (see the module docstring); ``dtype``: float64 for functions by
    default, a module's own (given, it must be the module's: the kit never converts one); ``running`` holds
    ``momentum``, ``momentum_convention``, ``running_var_unbiased``, ``update_running``, ``forward_inference``.

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
    dtype = np.float64 if dtype is None else dtype
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
