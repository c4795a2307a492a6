"""Strict validation at the kit's boundary: its arguments, a :class:`~bnsym.testing.case.BNCase`, and the
values the code under test returns.

Misuse raises :class:`~bnsym.errors.KitUsageError` before anything runs: a string where a number or a flag is
expected is refused, never interpreted (``running_var_unbiased="no"`` is not ``True``); a malformed case is refused
instead of being reported as a failure of the implementation under test; a complex, ``None`` or non-numeric
output is refused (never cut to its real part, never parsed).

>>> check_flag(False, "running_var_unbiased")
False
>>> check_flag("no", "running_var_unbiased")
Traceback (most recent call last):
...
bnsym.errors.KitUsageError: running_var_unbiased must be True or False, got 'no' (str)
>>> check_count(2.5, "features", 1, MAX_FEATURES)
Traceback (most recent call last):
...
bnsym.errors.KitUsageError: features must be an integer, got 2.5 (float)
"""
from __future__ import annotations

import math
import numbers
import sys
from typing import Any

import numpy as np

from ..errors import KitUsageError

__all__ = ["MAX_FEATURES", "MAX_BATCH", "check_flag", "check_real", "check_count", "eps_range", "check_eps",
           "check_case", "real_array", "shaped", "complex_error"]

MAX_FEATURES = 256
"""The most features the strategies draw in reasonable time (an implementation is the same code for fewer)."""
MAX_BATCH = 256
"""The largest ``max_batch`` (batch size ``m``) the strategies draw."""

# the scale-invariance property evaluates the implementation at ε/a² with |a| up to 2^6 (strategies.scales)
_SCALE_RANGE = 2.0**12


def _shown(value: Any) -> str:
    text = repr(value)
    return (text if len(text) <= 60 else text[:57] + "...") + f" ({type(value).__name__})"


def check_flag(value: Any, name: str) -> bool:
    """``value`` as a ``bool``; only ``True``/``False`` (also NumPy's) are accepted.

    >>> check_flag(True, "flag")
    True
    """
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise KitUsageError(f"{name} must be True or False, got {_shown(value)}")


def check_real(value: Any, name: str, *, low: float | None = None, high: float | None = None,
               positive: bool = False) -> float:
    """``value`` as a finite ``float`` in ``[low, high]`` (``> 0`` when ``positive``); strings and booleans are
    refused.

    >>> check_real(0.5, "momentum", low=0, high=1)
    0.5
    >>> check_real("0.1", "momentum", low=0, high=1)
    Traceback (most recent call last):
    ...
    bnsym.errors.KitUsageError: momentum must be a real number, got '0.1' (str)
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise KitUsageError(f"{name} must be a real number, got {_shown(value)}")
    try:
        number = float(value)
    except (OverflowError, ValueError, TypeError):
        raise KitUsageError(f"{name} must be a finite real number, got {_shown(value)}") from None
    if not math.isfinite(number):
        raise KitUsageError(f"{name} must be a finite real number, got {value!r}")
    if positive and not number > 0:
        raise KitUsageError(f"{name} must be > 0, got {value!r}")
    if low is not None and number < low:
        raise KitUsageError(f"{name} must be >= {low:g}" + (f" and <= {high:g}" if high is not None else "")
                            + f", got {value!r}")
    if high is not None and number > high:
        raise KitUsageError(f"{name} must be <= {high:g}, got {value!r}")
    return number


def check_count(value: Any, name: str, low: int, high: int) -> int:
    """``value`` as an ``int`` in ``[low, high]``; floats, strings and booleans are refused.

    >>> check_count(3, "features", 1, 256)
    3
    >>> check_count(10**4, "features", 1, 256)
    Traceback (most recent call last):
    ...
    bnsym.errors.KitUsageError: features must be between 1 and 256, got 10000
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise KitUsageError(f"{name} must be an integer, got {_shown(value)}")
    if not low <= int(value) <= high:
        raise KitUsageError(f"{name} must be between {low} and {high}, got {int(value)}")
    return int(value)


def eps_range(dtype) -> tuple[float, float]:
    """The positive ``ε`` the kit supports in ``dtype``: ``(σ² + ε)^(±3/2)``, which backward passes compute,
    stays a normal number of ``dtype`` for every ``ε/a²`` the scale-invariance property uses, even on a constant
    batch (``σ² = 0``). ``ε = 0`` is supported too.

    >>> low, high = eps_range(np.float64)
    >>> 1e-203 < low < 1e-201 and 1e201 < high < 1e202
    True
    """
    info = np.finfo(dtype)
    return _SCALE_RANGE * float(info.tiny) ** (2 / 3), float(info.max) ** (2 / 3) / _SCALE_RANGE


def check_eps(eps: Any, dtype) -> float:
    """``eps`` as a ``float``: 0 or inside :func:`eps_range` for ``dtype``.

    >>> check_eps(1e-5, np.float32)
    1e-05
    >>> check_eps(1e-220, np.float64)
    Traceback (most recent call last):
    ...
    bnsym.errors.KitUsageError: eps=1e-220 is outside the range the kit supports in float64: eps = 0 or ...
    """
    value = check_real(eps, "eps", low=0.0)
    low, high = eps_range(dtype)
    if value != 0 and not low <= value <= high:
        raise KitUsageError(
            f"eps={eps!r} is outside the range the kit supports in {np.dtype(dtype)}: eps = 0 or {low:.3g} <= eps "
            f"<= {high:.3g}. Beyond it (σ² + ε)^(±3/2), which backward passes compute, leaves the {np.dtype(dtype)} "
            "range on a constant batch (also at the ε/a² of the scale-invariance property); an ε that small "
            "is numerically 0: test with eps=0")
    return value


def _field(case, name: str, required: bool = True) -> np.ndarray | None:
    value = getattr(case, name)
    if value is None and not required:
        return None
    arr = np.asarray(value) if isinstance(value, np.ndarray) else None
    if arr is None or arr.dtype.kind not in "biuf":
        raise KitUsageError(f"the case is malformed: {name} must be a real NumPy array, got {_shown(value)}"
                            + (f" of dtype {arr.dtype}" if arr is not None else ""))
    if not np.isfinite(arr).all():
        raise KitUsageError(f"the case is malformed: {name} holds non-finite values (NaN or infinity)")
    return arr


def check_case(case, impl, *, eps: float | None = None, running: bool = False) -> None:
    """Refuse a malformed case (:class:`~bnsym.errors.KitUsageError` "the case is malformed: ..."), so that a
    property failure always means the implementation is wrong: arrays of the right shapes, finite, representable
    in the implementation's dtype, ``m ≥ 2``, a normalizable batch when ``ε = 0``, reference values the kit can
    compute.

    >>> from bnsym.testing.case import BNCase
    >>> from bnsym.testing.adapters import adapt
    >>> from bnsym.testing.implementations import bn_implementations
    >>> ref = bn_implementations["reference"]
    >>> impl = adapt(forward=ref.forward, backward=ref.backward)
    >>> check_case(BNCase(np.zeros((3, 2)), np.ones(3), np.zeros(2), np.zeros((3, 2))), impl)
    Traceback (most recent call last):
    ...
    bnsym.errors.KitUsageError: the case is malformed: gamma must have shape (2,) (one value per feature), got (3,)
    """
    from . import reference as ref
    from .case import BNCase
    from .strategies import nondegenerate

    if not isinstance(case, BNCase):
        raise KitUsageError(f"the case must be a bnsym.testing.BNCase, got {type(case).__name__}")
    x = _field(case, "x")
    assert x is not None  # a required field is an array or refused
    if x.ndim != 2 or x.shape[0] < 2 or x.shape[1] < 1:
        raise KitUsageError(f"the case is malformed: x must have shape (m, features) with m >= 2 samples and at "
                            f"least one feature, got {x.shape}")
    m, f = x.shape
    shapes = {"gamma": (f,), "beta": (f,), "dy": (m, f), "running_mean": (f,), "running_var": (f,)}
    arrays: dict[str, Any] = {"x": x}  # gamma, beta, dy always arrays; the running statistics when running
    for name, shape in shapes.items():
        arr = _field(case, name, required=name in ("gamma", "beta", "dy") or running)
        if arr is not None and arr.shape != shape:
            what = "like x" if name == "dy" else "(one value per feature)"
            raise KitUsageError(f"the case is malformed: {name} must have shape {shape} {what}, got {arr.shape}")
        arrays[name] = arr
    if running and (arrays["running_var"] < 0).any():
        raise KitUsageError("the case is malformed: running_var must be >= 0")
    if impl.features is not None and f != impl.features:
        raise KitUsageError(f"the case is malformed: it has {f} features, {impl!r} has {impl.features}")
    for name, arr in arrays.items():
        if arr is not None and not np.array_equal(arr.astype(impl.dtype).astype(np.float64), arr):
            raise KitUsageError(f"the case is malformed: {name} holds values not representable in {impl.dtype}, "
                                f"the implementation's dtype (its inputs would be rounded, the reference not): "
                                f"round the case first, e.g. a.astype(np.{impl.dtype}).astype(np.float64)")
    eps = impl.eps if eps is None else eps
    if eps == 0 and not nondegenerate(x, impl.dtype):
        raise KitUsageError("the case is malformed: with eps = 0 every feature of x needs a spread well above "
                            "rounding (a constant feature has no normalization, 0/0)")
    with np.errstate(all="ignore"):
        values = (*ref.statistics(x, eps), ref.forward(x, arrays["gamma"], arrays["beta"], eps),
                  *ref.backward(arrays["dy"], x, arrays["gamma"], arrays["beta"], eps))
    if not all(np.isfinite(v).all() for v in values):  # e.g. σ² overflows, and x̂ would silently be 0
        raise KitUsageError(f"the case is outside the range the kit computes reliably: its reference values "
                            f"overflow (|x| up to {np.abs(x).max():.3g}, eps = {eps!r})")


def complex_error(what: str, imag: np.ndarray) -> KitUsageError:
    """The error for a complex output (with the size of its imaginary part).

    >>> print(complex_error("forward's output y", np.array([0.0, 5.0])))
    forward's output y is complex (imaginary parts up to 5): batch norm of real inputs is real; ...
    """
    return KitUsageError(
        f"{what} is complex (imaginary parts up to {float(np.abs(imag).max(initial=0.0)):.3g}): batch norm of real "
        "inputs is real; return a real array (the kit never drops an imaginary part)")


def real_array(value: Any, what: str) -> np.ndarray:
    """An output of the code under test as a float64 array (torch tensors included); ``None``, complex and
    non-numeric values are refused, never cut or parsed.

    >>> real_array([[1, 2]], "y").dtype
    dtype('float64')
    >>> real_array(np.array(["1", "2"]), "forward's output y")
    Traceback (most recent call last):
    ...
    bnsym.errors.KitUsageError: forward's output y must be a real numeric array, got ndarray of dtype <U1
    """
    if value is None:
        raise KitUsageError(f"{what} is None: return an array")
    torch = sys.modules.get("torch")  # the kit never imports torch on its own
    try:
        if torch is not None and isinstance(value, torch.Tensor):
            value = value.detach().cpu()
            if value.is_complex():
                raise complex_error(what, value.imag.to(torch.float64).numpy())
            value = value.to(torch.float64).numpy()
        arr = np.asarray(value)
    except KitUsageError:
        raise
    except Exception:  # broad on purpose: anything that is not an array-like
        raise KitUsageError(f"{what} must be a numeric array, got {type(value).__name__}") from None
    if arr.dtype.kind == "c":
        raise complex_error(what, arr.imag)
    if arr.dtype.kind not in "biuf":  # strings, objects, dates: refused, never parsed
        raise KitUsageError(f"{what} must be a real numeric array, got {type(value).__name__} of dtype {arr.dtype}")
    return arr.astype(np.float64)


def shaped(arr: np.ndarray, shape: tuple, what: str, *, also: tuple = ()) -> np.ndarray:
    """``arr`` if it has ``shape`` (or one of ``also``); a ``keepdims=True`` shape ``(1, ...)`` is reshaped.

    >>> shaped(np.ones((1, 3)), (3,), "dgamma").shape
    (3,)
    >>> shaped(np.ones(2), (3,), "dgamma")
    Traceback (most recent call last):
    ...
    bnsym.errors.KitUsageError: dgamma must have shape (3,), got (2,)
    """
    if arr.shape == shape or arr.shape in also:
        return arr
    if arr.size == int(np.prod(shape)) and arr.ndim == len(shape) + 1 and arr.shape[0] == 1:
        return arr.reshape(shape)  # keepdims=True style (1, features)
    raise KitUsageError(f"{what} must have shape {shape}, got {arr.shape}")
