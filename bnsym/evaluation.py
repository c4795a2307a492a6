"""Gradients at numbers: the values a user gives, checked and mapped onto a network's symbols, and the
gradients evaluated through their shared subexpressions (:meth:`bnsym.derive.Gradients.evaluate`).

>>> from bnsym import chain
>>> evaluate_gradients(chain(2).gradients(), {"x": 1.0, "w1": 2.0, "w2": 3.0, "dJ/dyhat": 1.0})
{'w1': 3.0, 'w2': 2.0}
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from sympy import Matrix, Symbol

from .errors import ValuesError
from .network import Network
from .numeric import check_divisors, real_array

__all__ = ["evaluate_gradients", "named_symbols"]


def evaluate_gradients(gradients, values: Mapping) -> dict[str, Any]:
    """Every gradient of ``gradients`` (a :class:`~bnsym.derive.Gradients`) at ``values``, name → float or array
    (a value shaped like its parameter); see :meth:`bnsym.derive.Derivation.evaluate` for the keys.

    >>> from bnsym import chain
    >>> evaluate_gradients(chain(1).gradients(), {"x": 2.0, "w1": 5.0, "dJ/dyhat": 1.0, "w9": 1.0})
    Traceback (most recent call last):
    ...
    bnsym.errors.ValuesError: unknown name 'w9'; give values for: w1, x, dJ/dyhat (or single symbols of these)
    """
    names, function = gradients._compiled
    substitution = _substitution(gradients.network, names, values)
    missing = [name for name, symbols in names.items() if any(s not in substitution for s in symbols)]
    if missing:
        raise ValuesError(f"missing values for: {', '.join(sorted(missing))}")
    try:
        with np.errstate(all="ignore"):
            results = function(*[substitution[s] for matrix in names.values() for s in matrix])
    except (OverflowError, ZeroDivisionError) as exc:
        raise ValuesError(f"the gradients overflow float64 at these values ({exc})") from None
    check_divisors(gradients.network.divisors, results[len(gradients.raw):])
    out = {}
    for name, result in zip(gradients.raw, results, strict=False):
        array = np.asarray(result, dtype=float)
        if not np.all(np.isfinite(array)):
            raise ValuesError(f"∂J/∂{name} is not finite at these values: float64 overflowed (an intermediate "
                              "value or the gradient exceeds about 1.8e308)")
        out[name] = float(array[0, 0]) if array.shape == (1, 1) else array
    return out


def _as_array(name: str, value, shape: tuple[int, int]) -> np.ndarray:
    array = real_array(name, value)
    if array.size == 1 and shape == (1, 1):
        array = array.reshape(1, 1)
    elif array.ndim == 1 and 1 in shape and array.size == shape[0] * shape[1]:
        array = array.reshape(shape)
    if array.shape != shape:
        raise ValuesError(f"value for {name!r} must have shape {shape}, got shape {array.shape}")
    return array


def named_symbols(network: Network) -> dict[str, Matrix]:
    """Every name a user can give a value for: parameters, ``x``, ``t``, the abstract ``dJ/d…`` and the
    network's symbolic constants (a symbolic ``ε``, by its name).

    >>> from bnsym import chain
    >>> list(named_symbols(chain(2)))
    ['w1', 'w2', 'x', 'dJ/dyhat']
    >>> import sympy
    >>> list(named_symbols(chain(2, bn=True, batch=2, eps=sympy.Symbol("epsilon", nonnegative=True))))
    ['w1', 'gamma1', 'beta1', 'w2', 'x', 'dJ/dyhat', 'epsilon']
    """
    names = dict(network.parameters)
    names["x"] = network.inputs
    if network.targets is not None:
        names["t"] = network.targets
    if not network.has_loss:
        from .derive import upstream_symbols

        names[f"dJ/d{network.nodes[-1].name}"] = upstream_symbols(network)
    for symbol in network.constants:
        names[symbol.name] = Matrix([[symbol]])
    return names


def _substitution(network: Network, names: dict[str, Matrix], values: Mapping) -> dict[Symbol, np.float64]:
    """Validate user values (keys: the names of :func:`named_symbols`, or single symbols among them) and map
    them onto the network's symbols; a value must respect its symbol's sign (a nonnegative ``ε``)."""
    if not isinstance(values, Mapping):
        raise ValuesError(f"values must be a mapping from names to numbers, got {type(values).__name__}")
    owner = {s: name for name, matrix in names.items() for s in matrix}
    substitution: dict[Symbol, np.float64] = {}
    unknown = [key for key in values if isinstance(key, str) and key not in names
               or not isinstance(key, (str, Symbol))]
    strangers = [key for key in values if isinstance(key, Symbol) and key not in owner]
    if unknown or strangers:
        said = [f"unknown name {str(key)!r}" for key in unknown]
        said += [f"unknown symbol {str(key)!r} (not one of this network's symbols: a symbol with the same name "
                 "but other assumptions is another symbol; give the name as a string instead)" for key in strangers]
        raise ValuesError(f"{'; '.join(said)}; give values for: {', '.join(names)} (or single symbols of these)")
    for key, value in values.items():
        symbols = [key] if isinstance(key, Symbol) else list(names[key])
        shape = (1, 1) if isinstance(key, Symbol) else names[key].shape
        array = _as_array(str(key), value, shape)
        for symbol, number in zip(symbols, array.flat, strict=True):
            if symbol in substitution:
                raise ValuesError(f"{symbol} is given twice (by {owner[symbol]!r} and by the symbol itself)")
            if symbol.is_nonnegative and number < 0 or symbol.is_positive and number <= 0:
                sign = "positive" if symbol.is_positive else "nonnegative"
                raise ValuesError(f"value for {symbol} must be {sign} (as its symbol is declared), got {number}")
            substitution[symbol] = np.float64(number)
    return substitution
