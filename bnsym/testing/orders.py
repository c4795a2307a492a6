"""Derivative orders in the kit: ``orders=(1,)`` (the default) checks the first-order properties; orders 2, 3
(and 4) add :func:`bnsym.testing.higher_order.check_higher_order` on the same module (or NumPy-style
``routines``), in every differentiation mode the framework offers, and name a failure's order and mode.

>>> split_orders((1, 2, 3))
(True, (2, 3))
>>> split_orders((2,))
(False, (2,))
>>> split_orders((0,))
Traceback (most recent call last):
...
bnsym.errors.KitUsageError: orders must be distinct integers from 1 to 4, e.g. (1, 2, 3); got (0,)
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ..errors import KitUsageError

__all__ = ["split_orders", "check_orders", "DEFAULT_ORDERS"]

#: The default: the first-order properties only (the higher orders cost seconds per module: see
#: ``benchmarks/bench_higher_order.py``), so ``orders=(1, 2, 3)`` is one option away.
DEFAULT_ORDERS = (1,)


def split_orders(orders: Any) -> tuple[bool, tuple[int, ...]]:
    """``(whether order 1 is asked, the higher orders asked)``; anything else is a
    :class:`~bnsym.errors.KitUsageError`. See the module's example."""
    bad = KitUsageError(f"orders must be distinct integers from 1 to 4, e.g. (1, 2, 3); got {orders!r}")
    if isinstance(orders, (str, bytes)) or not isinstance(orders, Sequence) or not orders:
        raise bad
    if any(isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= 4 for k in orders):
        raise bad
    if len(set(orders)) != len(orders):
        raise bad
    return 1 in orders, tuple(sorted(k for k in orders if k > 1))


def check_orders(kind: str, higher: tuple[int, ...], *, module: Any = None, routines: Mapping[str, Callable] | None,
                 training: bool, eps: float | None, groups: int | None, features: int | None) -> list[str]:
    """Run the higher orders of ``kind`` on ``module`` (or ``routines``); the ``"order k (mode)"`` labels that
    passed, or :class:`~bnsym.testing.higher_order.HigherOrderMismatch` naming the failing order and mode.

    >>> check_orders("spectral", (2,), module=None, routines=None, training=True, eps=None, groups=None,
    ...              features=None)
    Traceback (most recent call last):
    ...
    bnsym.errors.KitUsageError: orders 2 and above are checked for 'batch', ..., 'weight', not 'spectral'
    """
    __tracebackhide__ = True
    from .higher_order import KINDS, check_higher_order

    if kind not in KINDS:
        raise KitUsageError(f"orders 2 and above are checked for {', '.join(map(repr, KINDS))}, "
                            f"not {kind!r}")
    if module is None and routines is None:
        raise KitUsageError("orders 2 and above need module=... (a torch module: every torch mode is checked) or "
                            "routines={mode: f(order, point, direction, cotangent)} for functions")
    options: dict[str, Any] = {}
    if routines is not None:
        options = {"eps": 1e-5 if eps is None else float(eps)}
        if features is not None:
            options["features"] = features
        if groups is not None:
            options["groups"] = groups
    report = check_higher_order(kind, module=module if routines is None else None, routines=routines,
                                orders=higher, training=training, **options)
    return [f"order {k} ({mode})" for k, mode in report.passed]
