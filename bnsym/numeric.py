"""Numbers from bnsym's symbolic derivations: ``lambdify(..., cse=True)`` to NumPy (and PyTorch).

Here: the safe compilation and checked values every numeric route shares (:func:`lambdify_safely`,
:func:`real_array`, :func:`check_divisors`, :data:`NEGLIGIBLE`), the MLP's seeded initialization
(:func:`init_mlp`) and parameter vectors (:func:`flatten`, :func:`unflatten`). A toy
:class:`~bnsym.network.Network`'s own closed forms — the loss and the reverse-accumulated gradients with their
shared subexpressions — are compiled by :func:`~bnsym.compiled.compile_network` (:mod:`bnsym.compiled`,
re-exported here with :class:`~bnsym.compiled.CompiledNetwork`). Networks too big for per-entry expressions
(the reference MLP at any width, depth and batch) run on the layers' own vectorized kernels instead
(:mod:`bnsym.vectorized`).

>>> import numpy as np
>>> from bnsym import chain
>>> f = compile_network(chain(2, loss="mse"))
>>> loss, grads = f.loss_and_gradients({"w1": 2.0, "w2": 3.0}, x=[[1.0]], t=[[5.0]])
>>> loss, float(grads["w1"][0, 0])
(1.0, 6.0)
"""
from __future__ import annotations

import decimal
import numbers
import re
from collections import Counter
from typing import Any
from collections.abc import Callable, Mapping

import numpy as np
import sympy
from sympy import Expr, Symbol
from sympy.core.function import AppliedUndef

from .compiled import CompiledNetwork, compile_network
from .errors import ValuesError

__all__ = [
    "lambdify_safely",
    "real_array",
    "check_divisors",
    "NEGLIGIBLE",
    "CompiledNetwork",
    "compile_network",
    "init_mlp",
    "flatten",
    "unflatten",
]


# ---------------------------------------------------------------------------------------------------------
# Safe compilation and checked values, shared by bnsym.compiled, bnsym.derive, bnsym.dynamics, ...
# ---------------------------------------------------------------------------------------------------------
_LAMBDIFY_OPTIONS = ("modules", "printer", "use_imps", "docstring_limit")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _walk(obj, leaf):
    return [_walk(item, leaf) for item in obj] if isinstance(obj, (list, tuple)) else leaf(obj)


def lambdify_safely(args, outputs, shared=(), **options: Any) -> Callable:
    """``sympy.lambdify(args, outputs)`` in which no symbol's name reaches the generated code.

    Every symbol is renamed before printing — the arguments ``_a0, _a1, …``, the ``shared`` subexpressions
    (``[(symbol, definition), …]``, evaluated first in order, handed to ``lambdify`` as its ``cse``)
    ``_v0, …``, bound variables ``_b0, …`` — so a symbol named ``__import__('os')``, ``e`` or ``pi`` is
    only an argument. ``args`` are symbols or nested lists of them; ``outputs`` expressions, matrices or
    numbers, possibly in nested lists. Refused with a :class:`~bnsym.errors.ValuesError`: an argument that is
    not a symbol or repeats one, an output that is not an expression, an undefined function (``lambdify``
    would look its name up), a function or object whose name is not an identifier, a free symbol that is
    neither an argument nor shared, an option other than ``modules``, ``printer``, ``use_imps``,
    ``docstring_limit``.

    >>> x = Symbol("__import__('os').system('echo pwned')")
    >>> lambdify_safely([x], [2 * x])(3.0)
    [6.0]
    >>> lambdify_safely([Symbol("w")], [x])
    Traceback (most recent call last):
    ...
    bnsym.errors.ValuesError: the outputs use symbols that are not among the arguments:
    __import__('os').system('echo pwned')
    """
    unknown = sorted(set(options) - set(_LAMBDIFY_OPTIONS))
    if unknown:
        raise ValuesError(f"unknown lambdify option(s): {', '.join(unknown)}; allowed: {', '.join(_LAMBDIFY_OPTIONS)}")
    arguments: list[Symbol] = []

    def take_argument(symbol):
        if not isinstance(symbol, Symbol):
            raise ValuesError(f"lambdify's args must be SymPy symbols (or lists of them), got {symbol!r}")
        arguments.append(symbol)

    _walk(args, take_argument)
    repeated = sorted(str(s) for s, count in Counter(arguments).items() if count > 1)
    if repeated:
        raise ValuesError(f"lambdify's args repeat the symbol(s): {', '.join(repeated)}")
    shared = list(shared)
    expressions: list[Expr] = [d for _, d in shared]

    def take_output(value):
        entries = list(value) if isinstance(value, sympy.MatrixBase) else [value]
        for entry in entries:
            if isinstance(entry, bool) or not isinstance(entry, (Expr, numbers.Real)):
                raise ValuesError(f"lambdify's outputs must be SymPy expressions, matrices or numbers, got {entry!r}")
            expressions.append(sympy.sympify(entry))
        return value

    _walk(outputs, take_output)
    for expression in expressions:
        for function in expression.atoms(sympy.Function):
            if isinstance(function, AppliedUndef) or not _IDENTIFIER.fullmatch(type(function).__name__):
                raise ValuesError(f"lambdify cannot evaluate the function {type(function).__name__!r} in the outputs "
                                  "(an undefined function, or a name that is not an identifier)")
    free = set().union(set(), *(e.free_symbols for e in expressions))
    named = sorted(str(s) for s in free if not isinstance(s, Symbol))
    if named:
        raise ValuesError(f"lambdify cannot evaluate these objects in the outputs: {', '.join(named)}")
    defined = set(arguments) | {symbol for symbol, _ in shared}
    missing = sorted(str(s) for s in free - defined)
    if missing:
        raise ValuesError(f"the outputs use symbols that are not among the arguments: {', '.join(missing)}")
    bound = set().union(set(), *(e.atoms(Symbol) for e in expressions)) - defined
    safe = {s: Symbol(f"_a{i}", **s.assumptions0) for i, s in enumerate(arguments)}
    safe.update({s: Symbol(f"_v{i}", **s.assumptions0) for i, (s, _) in enumerate(shared)})
    safe.update({s: Symbol(f"_b{i}") for i, s in enumerate(sorted(bound, key=str))})
    replacements = [(safe[s], d.xreplace(safe)) for s, d in shared]
    cse = (lambda exprs: (replacements, exprs)) if shared else True

    def rename(e):
        return e.xreplace(safe) if isinstance(e, (sympy.Basic, sympy.MatrixBase)) else e

    try:
        return sympy.lambdify(_walk(args, rename), _walk(outputs, rename), cse=cse, **options)
    except (NameError, ImportError, TypeError, SyntaxError, ValueError) as exc:
        raise ValuesError(f"sympy.lambdify could not compile these outputs: {exc}") from exc


def _real_scalar(name: str, value) -> float:
    if isinstance(value, (bool, np.bool_)) or value is None or isinstance(value, (str, bytes)):
        raise ValuesError(f"value for {name!r} must be numeric, got {value!r}")
    if isinstance(value, sympy.Basic):
        if not value.is_number:
            raise ValuesError(f"value for {name!r} must be numeric, got {value!r}")
        if value.is_extended_real is not True:
            raise ValuesError(f"value for {name!r} must be a real number (complex values are refused), got {value!r}")
    elif isinstance(value, (numbers.Complex, np.complexfloating)) and not isinstance(value, numbers.Real):
        raise ValuesError(f"value for {name!r} must be a real number (complex values are refused), got {value!r}")
    elif not isinstance(value, (numbers.Real, decimal.Decimal)):
        raise ValuesError(f"value for {name!r} must be numeric, got {value!r}")
    try:
        return float(value)
    except OverflowError:
        raise ValuesError(f"value for {name!r} is too large for float64 arithmetic, got {value!r}") from None
    except (TypeError, ValueError) as exc:
        raise ValuesError(f"value for {name!r} must be numeric, got {value!r}") from exc


def real_array(name: str, value) -> np.ndarray:
    """``value`` (a number, nested lists or an array) as a finite float64 array.

    Refused with a :class:`~bnsym.errors.ValuesError`, never cut or rounded to something else: complex
    values (even with a zero imaginary part), booleans, strings, symbols, ragged lists, numbers too large
    for float64 (such as ``10**400``), NaN and infinities.

    >>> real_array("x", [[1, 2]])
    array([[1., 2.]])
    >>> real_array("x", 2 + 5j)
    Traceback (most recent call last):
    ...
    bnsym.errors.ValuesError: value for 'x' must be a real number (complex values are refused), got (2+5j)
    """
    if value is None or isinstance(value, (str, bytes, bool, np.bool_)):
        raise ValuesError(f"value for {name!r} must be numeric, got {value!r}")
    try:
        array = np.asarray(value)
    except (TypeError, ValueError, OverflowError) as exc:
        raise ValuesError(
            f"value for {name!r} must be numeric (a number or a rectangular array), got {value!r}") from exc
    kind = array.dtype.kind
    if kind == "c":
        raise ValuesError(f"value for {name!r} must be a real number (complex values are refused), got {value!r}")
    if kind == "O":
        array = np.array([_real_scalar(name, v) for v in array.ravel()], dtype=float).reshape(array.shape)
    elif kind in "iuf":
        array = array.astype(float)
    else:
        raise ValuesError(f"value for {name!r} must be numeric, got {value!r}")
    if not np.all(np.isfinite(array)):
        raise ValuesError(f"value for {name!r} must be finite (and within float64's range), got {value!r}")
    return array


#: A divisor such as BN's ``σ`` at most this fraction of ``max |z|`` over its batch is refused when
#: evaluating. The centred values ``z − μ`` carry a rounding error of about ``m·u·max|z|`` (``u = 2⁻⁵³``),
#: so ``x̂ = (z − μ)/σ`` and every gradient through BN's ``1/σ`` have a relative error of about
#: ``m·u·max|z|/σ``: above the threshold that is below ``m·1.1e-9`` (at least 7 significant digits for the
#: batches the builders allow), while a constant batch computes ``σ ≈ 1e-16·max|z|`` or 0, nine orders
#: of magnitude below it. With ``ε > 0``, ``σ ≥ √ε`` keeps a constant batch well above it unless
#: ``√ε < 1e-7·max|z|``.
NEGLIGIBLE = 1e-7


def check_divisors(divisors, computed) -> None:
    """Refuse a numerically constant batch: ``computed[k] = [d, *values]`` for ``divisors[k] = (layer, d, values)``.

    >>> check_divisors([("zhat1", Symbol("sigma1"), [])], [[1.0, 2.0, 3.0]])
    >>> check_divisors([("zhat1", Symbol("sigma1"), [])], [[4e-16, 3.5, 3.5]])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    bnsym.errors.ValuesError: the batch entering layer 'zhat1' is numerically a constant batch: sigma1 = 4e-16 ...
    """
    for (layer, symbol, _), row in zip(divisors, computed, strict=False):
        d = float(row[0])
        scale = max((abs(float(v)) for v in row[1:]), default=0.0)
        if d <= NEGLIGIBLE * scale:
            raise ValuesError(
                f"the batch entering layer {layer!r} is numerically a constant batch: {symbol} = {d:.3g} is at most "
                f"{NEGLIGIBLE:g}·max|z| = {NEGLIGIBLE * scale:.3g}, so BN's 1/{symbol} would turn float64 rounding "
                "into the result (with eps = 0 a constant batch cannot be normalized); use samples that differ, "
                f"or an eps with sqrt(eps) above {NEGLIGIBLE:g}·max|z|"
            )


# ---------------------------------------------------------------------------------------------------------
# The reference MLP's parameters: seeded initialization and parameter vectors
# ---------------------------------------------------------------------------------------------------------
#: the normalizations :func:`init_mlp` knows, each with the parameters it adds to a hidden layer
_NORM_PARAMETERS = {None: (), "batch": ("gamma", "beta"), "layer": ("gamma", "beta"), "group": ("gamma", "beta"),
                    "rms": ("gamma",), "weight": ("g",)}


def init_mlp(widths, *, bn: bool = False, seed: int = 0, gain: float = 2.0, scale: float = 1.0,
             norm: str | None = None) -> dict[str, np.ndarray]:
    """Seeded initialization: weights ``N(0, (scale·gain/√fan_in)²)``, biases 0, ``γ = 1``, ``β = 0``.

    Names follow :func:`bnsym.mlp`: ``W1, b1, gamma1, beta1, …``; biases and ``γ, β`` are ``1 × width`` rows.
    ``bn=True`` is ``norm="batch"``; ``norm=`` gives the parameters of another normalization of the hidden
    layers (:func:`~bnsym.vectorized.reference_mlp`): ``"layer"`` and ``"group"`` ``γ, β``, ``"rms"`` ``γ``
    only, ``"weight"`` a magnitude row ``g_k = ‖W_k[r, :]‖`` per hidden layer, so that the effective weight
    ``g·v/‖v‖`` is the plain draw ``W_k`` itself. The weights are the same draws for every kind.

    >>> p = init_mlp([2, 8, 1], bn=True, seed=0)
    >>> sorted(p), p["W1"].shape, p["b2"].shape
    (['W1', 'W2', 'b1', 'b2', 'beta1', 'gamma1'], (8, 2), (1, 1))
    >>> w = init_mlp([2, 3, 1], norm="weight")
    >>> list(w), bool(np.allclose(w["g1"][0], np.linalg.norm(w["W1"], axis=1)))
    (['W1', 'g1', 'b1', 'W2', 'b2'], True)
    >>> init_mlp([2, 3, 1], bn=True, norm="rms")
    Traceback (most recent call last):
    ...
    bnsym.errors.ValuesError: bn=True means norm='batch', but norm='rms' was given; give one of bn= or norm=
    """
    if norm is not None and not isinstance(norm, str) or norm not in _NORM_PARAMETERS:
        known = ", ".join(repr(k) for k in _NORM_PARAMETERS)
        raise ValuesError(f"init_mlp knows the normalizations {known}; got norm={norm!r}")
    if bn and norm not in (None, "batch"):
        raise ValuesError(f"bn=True means norm='batch', but norm={norm!r} was given; give one of bn= or norm=")
    kind = "batch" if bn else norm
    rng = np.random.default_rng(seed)
    params: dict[str, np.ndarray] = {}
    for k in range(1, len(widths)):
        fan_in, fan_out = widths[k - 1], widths[k]
        params[f"W{k}"] = rng.standard_normal((fan_out, fan_in)) * (scale * gain / np.sqrt(fan_in))
        hidden = k < len(widths) - 1
        if hidden and kind == "weight":
            params[f"g{k}"] = np.linalg.norm(params[f"W{k}"], axis=1).reshape(1, fan_out)
        params[f"b{k}"] = np.zeros((1, fan_out))
        if hidden and kind != "weight":
            for name in _NORM_PARAMETERS[kind]:
                params[f"{name}{k}"] = (np.ones if name == "gamma" else np.zeros)((1, fan_out))
    return params


def flatten(params: Mapping[str, np.ndarray], names=None) -> np.ndarray:
    """All parameters as one vector (in ``names`` order, default: the mapping's order).

    >>> flatten({"a": np.ones((1, 2)), "b": np.zeros((2, 1))})
    array([1., 1., 0., 0.])
    """
    names = list(params) if names is None else names
    return np.concatenate([np.asarray(params[n], dtype=float).ravel() for n in names])


def unflatten(vector: np.ndarray, like: Mapping[str, np.ndarray], names=None) -> dict[str, np.ndarray]:
    """Inverse of :func:`flatten`, shaped like ``like``.

    >>> unflatten(np.arange(3.0), {"a": np.ones((1, 2)), "b": np.ones((1, 1))})
    {'a': array([[0., 1.]]), 'b': array([[2.]])}
    """
    names = list(like) if names is None else names
    out, k = {}, 0
    for n in names:
        shape = np.shape(like[n])
        size = int(np.prod(shape))
        out[n] = np.asarray(vector[k:k + size], dtype=float).reshape(shape)
        k += size
    return out
