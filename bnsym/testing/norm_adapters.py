"""Adapters of :func:`~bnsym.testing.check_normalization`: a torch module (any kind, any dtype) or NumPy functions,
behind one interface on canonical float64 arrays.

The module is never changed: it runs through ``torch.func.functional_call`` with the kit's own tensors for
``γ``, ``β`` and the buffers (its parameters, ``eps``, dtype, training flag and ``state_dict`` stay as they
were). Only ``training=`` different from the module's own flag makes the kit work on a deep copy, switched on the
copy. ``ε`` is read from the module (or the one normalization module inside a wrapper); ``eps=`` is needed when
there is none, and must agree when there is.

>>> NormModule(object(), "batch")
Traceback (most recent call last):
...
bnsym.errors.KitUsageError: module must be a torch.nn.Module, got object
"""
from __future__ import annotations

import copy
from typing import Any
from collections.abc import Callable

import numpy as np

from ..errors import KitUsageError
from .adapter_base import ImplementationCrash, _check_signature, _name, _torch
from .arguments import check_eps, check_real, real_array
from .kinds import KINDS, LAYOUTS, Spec, from_layout, to_layout

__all__ = ["NormAdapter", "NormModule", "NormFunctions", "torch_kind", "round_to"]

#: torch class name -> (kind, canonical layout)
_TORCH = {"BatchNorm1d": ("batch", "NC"), "BatchNorm2d": ("batch", "NCHW"), "BatchNorm3d": ("batch", "NCDHW"),
          "LayerNorm": ("layer", None), "RMSNorm": ("rms", None), "GroupNorm": ("group", "NCL"),
          "InstanceNorm1d": ("instance", "NCL"), "InstanceNorm2d": ("instance", "NCHW"),
          "InstanceNorm3d": ("instance", "NCDHW")}
_ALLOWED = {"BatchNorm1d": ("NC", "NCL")}


def torch_kind(module: Any) -> tuple[str, str, str | None] | None:
    """``(kind, class name, canonical layout)`` of a torch normalization module, else ``None``.

    >>> import torch
    >>> torch_kind(torch.nn.GroupNorm(2, 4))
    ('group', 'GroupNorm', 'NCL')
    """
    torch = _torch()
    for name, (kind, layout) in _TORCH.items():
        cls = getattr(torch.nn, name, None) if torch is not None else None
        if cls is not None and isinstance(module, cls):
            return kind, name, layout
    return None


def round_to(a: np.ndarray, dtype: str) -> np.ndarray:
    """``a`` rounded to ``dtype`` (a torch or NumPy float name), as float64.

    >>> round_to(np.array([1.0 + 2.0**-30]), "float32").tolist()
    [1.0]
    """
    if dtype in ("float64", "float32", "float16"):
        with np.errstate(over="ignore"):
            return np.asarray(a, np.float64).astype(dtype).astype(np.float64)
    torch = _torch()
    return torch.tensor(np.asarray(a, np.float64)).to(getattr(torch, dtype)).to(torch.float64).numpy()


def _unit_roundoff(dtype: str) -> float:
    if dtype in ("float64", "float32", "float16"):
        return float(np.finfo(dtype).eps)
    return float(_torch().finfo(getattr(_torch(), dtype)).eps)


class NormAdapter:
    """What the properties see: ``spec`` (canonical geometry, the shape varies per case), ``eps``, ``dtype``,
    ``u`` (unit roundoff), ``affine``/``bias``, ``training``, ``tracks`` (running statistics), ``momentum``."""

    description = "implementation"
    eps = 0.0
    dtype = "float64"
    affine = True
    bias = True
    training = True
    tracks = False
    momentum: float | None = 0.1
    layout: str | None = None

    @property
    def u(self) -> float:
        """The unit roundoff of the dtype the implementation runs in."""
        return _unit_roundoff(self.dtype)

    def __repr__(self) -> str:
        layout = f", layout {self.layout}" if self.layout else ""
        return f"<{self.description} ({self.dtype}, eps={self.eps!r}{layout})>"

    def run(self, spec: Spec, x, gamma, beta, dy=None, running=None) -> dict:  # pragma: no cover - abstract
        raise NotImplementedError


class NormFunctions(NormAdapter):
    """NumPy functions ``forward(x, gamma, beta, eps)``, ``backward(dy, x, gamma, beta, eps)`` on arrays in
    ``layout`` (``gamma``/``beta`` ``None`` when ``affine=False``)."""

    def __init__(self, forward: Callable, backward: Callable | None, *, eps: float, dtype: str = "float64",
                 layout: str | None = None, affine: bool = True, bias: bool = True) -> None:
        _check_signature(forward, 4, "forward", "x, gamma, beta, eps")
        if backward is None:
            raise KitUsageError("backward=... is required with NumPy-style functions")
        _check_signature(backward, 5, "backward", "dy, x, gamma, beta, eps")
        if dtype not in ("float64", "float32"):
            raise KitUsageError(f"dtype must be float32 or float64 for NumPy functions, got {dtype!r}")
        self.dtype, self.eps = dtype, check_eps(eps, np.dtype(dtype))
        self._fwd, self._bwd, self.layout, self.affine, self.bias = forward, backward, layout, affine, bias
        self.description = f"NumPy functions {_name(forward)} / {_name(backward)}"

    def run(self, spec: Spec, x, gamma, beta, dy=None, running=None) -> dict:
        def cast(a):
            return (None if a is None else np.asarray(a, np.float64).astype(self.dtype))
        args = (cast(to_layout(x, self.layout)), cast(gamma), cast(beta), self.eps)
        out: dict = {}
        try:
            out["y"] = self._fwd(*args)
            if dy is not None:
                out["grads"] = self._bwd(cast(to_layout(dy, self.layout)), *args)
        except KitUsageError:
            raise
        except Exception as exc:  # broad on purpose: a crash of the code under test fails the property
            raise ImplementationCrash(f"{type(exc).__name__}: {exc}") from exc
        return _canonical(out, self.layout)


def _canonical(out: dict, layout: str | None) -> dict:
    res = {"y": from_layout(real_array(out["y"], "the output y"), layout)}
    if "grads" in out:
        grads = out["grads"]
        if not isinstance(grads, (tuple, list)) or len(grads) != 3:
            raise KitUsageError("backward must return (dx, dgamma, dbeta)")
        dx, dg, db = grads
        res["grads"] = (from_layout(real_array(dx, "dx"), layout),
                        None if dg is None else real_array(dg, "dgamma"),
                        None if db is None else real_array(db, "dbeta"))
    for key in ("running_mean", "running_var"):
        if key in out:
            res[key] = real_array(out[key], key)
    return res


class NormModule(NormAdapter):
    """A torch module of ``kind`` (a ``torch.nn`` normalization, a wrapper around exactly one, or your own module
    with ``weight``/``bias`` and ``eps=`` given), run in its own dtype through ``torch.func.functional_call``."""

    def __init__(self, module: Any, kind: str, *, eps: float | None = None, layout: str | None = None,
                 training: bool | None = None) -> None:
        torch = _torch()
        if torch is None or not isinstance(module, torch.nn.Module):
            raise KitUsageError(f"module must be a torch.nn.Module, got {type(module).__name__}")
        self._module, self.kind = module, kind
        found = [(name, sub, k) for name, sub in module.named_modules() if (k := torch_kind(sub)) is not None]
        if len(found) > 1:
            raise KitUsageError(f"{type(module).__name__} holds {len(found)} normalization modules "
                                f"({', '.join(f[2][1] for f in found)}): check each one on its own")
        self.core = found[0][1] if found else None
        prefix = (found[0][0] + ".") if found and found[0][0] else ""
        if found:
            core_kind, cls, natural = found[0][2]
            if core_kind != kind:
                raise KitUsageError(f"{type(module).__name__} is a {cls} (kind={core_kind!r}), not kind={kind!r}: "
                                    f"pass kind={core_kind!r}")
            if self.core is module:
                layout = self._own_layout(cls, natural, layout)
            elif layout is None:
                layout = natural
        self.layout = layout
        self._prefix, self.description = prefix, f"torch module {type(module).__name__}"
        tensors = [t for t in [*module.parameters(), *module.buffers()] if t.is_floating_point()]
        self.dtype = str(tensors[0].dtype if tensors else torch.get_default_dtype()).removeprefix("torch.")
        self._device = tensors[0].device if tensors else None
        self.eps = self._eps(eps)
        params = dict(module.named_parameters())
        self._w, self._b = prefix + "weight", prefix + "bias"
        self.affine, self.bias = self._w in params, self._b in params
        self.weight_shape = tuple(params[self._w].shape) if self.affine else None
        self._buffers = dict(module.named_buffers())
        core = self.core
        self.tracks = kind == "batch" and f"{prefix}running_mean" in self._buffers
        self.momentum = getattr(core, "momentum", 0.1) if core is not None else 0.1
        want = module.training if training is None else training
        if not isinstance(want, bool):
            raise KitUsageError(f"training must be True or False, got {training!r}")
        self.training = want
        # the user's module is never switched: a different mode runs on a copy
        self._work = module if want == module.training else copy.deepcopy(module).train(want)
        if not want and kind != "batch":
            if kind == "instance" and getattr(core, "track_running_stats", False):
                raise KitUsageError("InstanceNorm with track_running_stats in eval mode is not checked by the kit: "
                                    "check it in training mode (training=True)")
        if not want and kind == "batch" and not self.tracks:
            self.training = True  # BatchNorm without running statistics uses the batch statistics in eval mode too

    def _own_layout(self, cls: str, natural: str | None, layout: str | None) -> str | None:
        allowed = _ALLOWED.get(cls, (natural,))
        if layout is None:
            return natural
        if layout not in allowed:
            shown = " or ".join(f"layout={a!r}" for a in allowed) if natural else "no layout (it takes (N, *shape))"
            raise KitUsageError(f"torch.nn.{cls} takes channels-first inputs: pass {shown}, not layout={layout!r} "
                                "(a channels-last layout is for your own implementations)")
        return layout

    def _eps(self, eps: float | None) -> float:
        torch = _torch()
        core = self.core
        own = getattr(core if core is not None else self._module, "eps", None)
        if own is None and core is not None and self.kind == "rms":
            own = float(torch.finfo(getattr(torch, self.dtype)).eps)  # RMSNorm(eps=None): the dtype's eps
        if own is not None:
            own = check_real(own, f"the eps of {type(core or self._module).__name__}", low=0.0)
            if eps is not None and check_real(eps, "eps", low=0.0) != own:
                raise KitUsageError(f"eps={eps!r} given but the module uses eps={own!r}")
            return own
        if eps is None:
            raise KitUsageError(f"{type(self._module).__name__} has no eps the kit can read: pass eps=... (the ε "
                                "your module adds to the variance)")
        return check_real(eps, "eps", low=0.0)

    def run(self, spec: Spec, x, gamma, beta, dy=None, running=None) -> dict:
        torch = _torch()
        dt = getattr(torch, self.dtype)
        def t(a, grad=False):
            return (torch.tensor(np.asarray(a, np.float64), dtype=dt, device=self._device,
                                                         requires_grad=grad))
        grad = dy is not None
        xt = t(to_layout(x, self.layout), grad)
        state = {k: v.detach().clone() for k, v in self._buffers.items()}
        p = self._prefix
        if running is not None:
            state[p + "running_mean"], state[p + "running_var"] = t(running[0]), t(running[1])
            if p + "num_batches_tracked" in state:
                state[p + "num_batches_tracked"].zero_()
        params = {}
        if self.affine:
            params[self._w] = t(gamma, grad)
        if self.bias:
            params[self._b] = t(beta, grad)
        try:
            y = torch.func.functional_call(self._work, {**params, **state}, (xt,))
            out: dict = {"y": y.detach()}
            if grad:
                wrt = [xt, *params.values()]
                got = torch.autograd.grad(y, wrt, t(to_layout(dy, self.layout)), allow_unused=True)
                got = [torch.zeros_like(w) if gr is None else gr for w, gr in zip(wrt, got, strict=True)]
                out["grads"] = (got[0], got[1] if self.affine else None,
                                got[2 if self.affine else 1] if self.bias else None)
        except KitUsageError:
            raise
        except Exception as exc:  # broad on purpose: a crash of the code under test fails the property
            raise ImplementationCrash(f"{type(exc).__name__}: {exc}") from exc
        if running is not None:
            out["running_mean"], out["running_var"] = state[p + "running_mean"], state[p + "running_var"]
        return _canonical(out, self.layout)


def check_kind(kind: Any) -> str:
    """``kind`` if it is one of :data:`~bnsym.testing.kinds.KINDS`.

    >>> check_kind("batchnorm")
    Traceback (most recent call last):
    ...
    bnsym.errors.KitUsageError: unknown kind 'batchnorm'; choose one of ['batch', 'layer', 'rms', ...]
    """
    if not isinstance(kind, str) or kind not in KINDS:
        raise KitUsageError(f"unknown kind {kind!r}; choose one of {list(KINDS)}")
    return kind


def check_layout(layout: Any) -> str | None:
    """``layout`` if known (or ``None``).

    >>> check_layout("NWHC")
    Traceback (most recent call last):
    ...
    bnsym.errors.KitUsageError: unknown layout 'NWHC'; choose one of ['NC', 'NCL', 'NCHW', ...]
    """
    if layout is not None and (not isinstance(layout, str) or layout not in LAYOUTS):
        raise KitUsageError(f"unknown layout {layout!r}; choose one of {list(LAYOUTS)}")
    return layout
