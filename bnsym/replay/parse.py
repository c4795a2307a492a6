"""A safe reader for SymPy ``srepr`` strings: an allow-list walk over Python's AST, never ``eval``.

Certificates may come from untrusted files, so an expression string is parsed with
``ast.parse(text, mode="eval")`` and rebuilt node by node: only calls to the SymPy constructors named in
:data:`CONSTRUCTORS` (and ``Function('name')(...)`` for undefined functions), the constants in
:data:`CONSTANTS`, literal ``int``/``str`` arguments where a constructor takes them, and literal ``True`` /
``False`` for assumptions. Sizes are bounded (text, nesting depth, nodes, integer digits, numeric powers).

>>> parse_expr("Add(Symbol('x', positive=True), Integer(1))")
x + 1
>>> parse_expr("__import__('os').system('true')")
Traceback (most recent call last):
...
bnsym.replay.report.ReplayError: expression refused: calls only named SymPy constructors, got a call of Attribute
"""
from __future__ import annotations

import ast
import re
from typing import Any
from collections.abc import Callable

import sympy
from sympy.core.assumptions import _assume_defined
from sympy.core.function import AppliedUndef

from ..functions import Entry, Partial, ReLU, ReLUPrime, Sigmoid
from .report import ReplayError

__all__ = ["parse_expr", "CONSTRUCTORS", "CONSTANTS", "MAX_TEXT", "MAX_DEPTH"]

MAX_TEXT = 4_000_000  #: characters in one expression string
MAX_DEPTH = 150  #: nesting of calls
MAX_NODES = 1_000_000  #: AST nodes in one expression
MAX_DIGITS = 400  #: digits of one integer literal
MAX_NAME = 200  #: characters of a symbol or function name
MAX_POWER_BITS = 100_000  #: bits of an exact numeric power ``b**e`` before it is built
_NAME = re.compile(r"^[^\x00-\x1f\x7f]+$")
_FLOAT = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d{1,6})?$")

CONSTANTS: dict[str, Any] = {
    "pi": sympy.pi, "E": sympy.E, "I": sympy.I, "oo": sympy.oo, "zoo": sympy.zoo, "nan": sympy.nan,
    "true": sympy.true, "false": sympy.false, "EulerGamma": sympy.EulerGamma,
    "Half": sympy.S.Half, "One": sympy.S.One, "Zero": sympy.S.Zero, "NegativeOne": sympy.S.NegativeOne,
    "Infinity": sympy.oo, "NegativeInfinity": -sympy.oo, "ComplexInfinity": sympy.zoo, "NaN": sympy.nan,
    "ImaginaryUnit": sympy.I, "Pi": sympy.pi, "Exp1": sympy.E,
    "BooleanTrue": sympy.true, "BooleanFalse": sympy.false,
}


def _refuse(message: str) -> ReplayError:
    return ReplayError(f"expression refused: {message}")


def _int(node: ast.AST) -> int:
    sign = 1
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        sign, node = -1, node.operand
    if not (isinstance(node, ast.Constant) and type(node.value) is int):
        raise _refuse(f"expected an integer literal, got {type(node).__name__}")
    if len(str(node.value)) > MAX_DIGITS:
        raise _refuse(f"integer literal longer than {MAX_DIGITS} digits")
    return sign * node.value


def _str(node: ast.AST, pattern: re.Pattern = _NAME) -> str:
    if not (isinstance(node, ast.Constant) and type(node.value) is str):
        raise _refuse(f"expected a string literal, got {type(node).__name__}")
    if len(node.value) > MAX_NAME or not pattern.match(node.value):
        raise _refuse(f"bad name {node.value[:40]!r}")
    return node.value


def _assumptions(keywords: dict[str, ast.AST]) -> dict[str, bool]:
    out = {}
    for key, node in keywords.items():
        if key not in _assume_defined:
            raise _refuse(f"unknown keyword {key!r}")
        if not (isinstance(node, ast.Constant) and type(node.value) is bool):
            raise _refuse(f"assumption {key}= must be True or False")
        out[key] = node.value
    return out


def _power(base: sympy.Basic, exponent: sympy.Basic) -> sympy.Basic:
    """``Pow``, refusing exact numeric powers too large to compute (``2**(10**9)``)."""
    if base.is_Rational and exponent.is_Rational:
        bits = max(abs(base.p).bit_length(), base.q.bit_length(), 1)
        if bits * abs(exponent.p) > MAX_POWER_BITS or exponent.q > 1000:
            raise _refuse("numeric power too large")
    elif exponent.is_Integer and abs(exponent) > 10_000:
        raise _refuse("integer exponent larger than 10000")
    return sympy.Pow(base, exponent)


class _Builder:
    def __init__(self) -> None:
        self.nodes = 0

    def expr(self, node: ast.AST, depth: int) -> Any:
        self.nodes += 1
        if depth > MAX_DEPTH:
            raise _refuse(f"nested deeper than {MAX_DEPTH}")
        if isinstance(node, ast.Name):
            if node.id not in CONSTANTS:
                raise _refuse(f"unknown name {node.id[:40]!r}")
            return CONSTANTS[node.id]
        if not isinstance(node, ast.Call):
            raise _refuse(f"expected a SymPy constructor call, got {type(node).__name__}")
        if any(isinstance(a, ast.Starred) for a in node.args) or any(k.arg is None for k in node.keywords):
            raise _refuse("no * or ** arguments")
        keywords = {k.arg: k.value for k in node.keywords}
        if isinstance(node.func, ast.Call):  # Function('f')(args): an undefined function applied
            inner = node.func
            if not (isinstance(inner.func, ast.Name) and inner.func.id == "Function" and len(inner.args) == 1):
                raise _refuse("only Function('name')(...) may be called on a call")
            if inner.keywords or keywords:
                raise _refuse("Function takes no keywords")
            function = sympy.Function(_str(inner.args[0]))
            return function(*[self.expr(a, depth + 1) for a in node.args])
        if not isinstance(node.func, ast.Name):
            raise _refuse(f"calls only named SymPy constructors, got a call of {type(node.func).__name__}")
        name = node.func.id
        if name in CONSTANTS and not node.args and not keywords:
            return CONSTANTS[name]
        if name not in CONSTRUCTORS:
            raise _refuse(f"{name[:40]!r} is not an allowed constructor")
        try:
            return CONSTRUCTORS[name](self, node.args, keywords, depth + 1)
        except ReplayError:
            raise
        except (TypeError, ValueError, AttributeError, IndexError, ArithmeticError) as error:
            raise _refuse(f"{name}(...) could not be built: {error}") from None

    def args(self, nodes: list[ast.AST], depth: int) -> list[Any]:
        return [self.expr(a, depth) for a in nodes]


Rule = Callable[[_Builder, list, dict, int], Any]


def _plain(function: Callable, arity: tuple[int, int] | None = None) -> Rule:
    """A constructor of expressions only, no keywords; ``arity`` bounds the argument count."""

    def build(b: _Builder, args: list, kw: dict, depth: int) -> Any:
        if kw:
            raise _refuse(f"{function.__name__} takes no keywords")
        if arity and not arity[0] <= len(args) <= arity[1]:
            raise _refuse(f"{getattr(function, '__name__', function)} takes {arity[0]}..{arity[1]} arguments")
        return function(*b.args(args, depth))

    return build


def _symbol(cls: Callable) -> Rule:
    def build(b: _Builder, args: list, kw: dict, depth: int) -> Any:
        if len(args) != 1:
            raise _refuse("a symbol takes one name")
        return cls(_str(args[0]), **_assumptions(kw))

    return build


def _dummy(b: _Builder, args: list, kw: dict, depth: int) -> Any:
    index = kw.pop("dummy_index", None)
    if len(args) != 1:
        raise _refuse("Dummy takes one name")
    extra = {} if index is None else {"dummy_index": _int(index)}
    return sympy.Dummy(_str(args[0]), **extra, **_assumptions(kw))


def _partial(b: _Builder, args: list, kw: dict, depth: int) -> Any:
    _assumptions(kw)  # Partial is always real; its keywords are checked, then dropped
    if len(args) not in (1, 2):
        raise _refuse("Partial takes two names (or, in earlier certificates, one)")
    try:
        return Partial(*[_str(a) for a in args])
    except ValueError as exc:
        raise _refuse(str(exc)) from None


def _indexed_base(b: _Builder, args: list, kw: dict, depth: int) -> Any:
    if len(args) != 1:
        raise _refuse("IndexedBase takes one label")
    label = args[0]
    label = _str(label) if isinstance(label, ast.Constant) else b.expr(label, depth)
    if not isinstance(label, (str, sympy.Symbol)):
        raise _refuse("an IndexedBase label is a name or a Symbol")
    return sympy.IndexedBase(label, **_assumptions(kw))


def _integer(b: _Builder, args: list, kw: dict, depth: int) -> Any:
    if kw or len(args) != 1:
        raise _refuse("Integer takes one integer literal")
    return sympy.Integer(_int(args[0]))


def _rational(b: _Builder, args: list, kw: dict, depth: int) -> Any:
    if kw or len(args) != 2:
        raise _refuse("Rational takes two integer literals")
    p, q = _int(args[0]), _int(args[1])
    if q == 0:
        raise _refuse("Rational with denominator 0")
    return sympy.Rational(p, q)


def _float(b: _Builder, args: list, kw: dict, depth: int) -> Any:
    precision = kw.pop("precision", None)
    if kw or len(args) != 1:
        raise _refuse("Float takes one decimal string and precision=")
    bits = 53 if precision is None else _int(precision)
    if not 1 <= bits <= 4000:
        raise _refuse("Float precision must be 1..4000 bits")
    text = _str(args[0], _FLOAT)
    return sympy.Float(text, precision=bits)


def _pow(b: _Builder, args: list, kw: dict, depth: int) -> Any:
    if kw or len(args) != 2:
        raise _refuse("Pow takes two arguments")
    base, exponent = b.args(args, depth)
    return _power(sympy.sympify(base), sympy.sympify(exponent))


def _limit(b: _Builder, args: list, kw: dict, depth: int) -> Any:
    if kw or len(args) not in (3, 4):
        raise _refuse("Limit takes (expr, variable, point[, direction])")
    expr, variable, point = b.args(args[:3], depth)
    direction = _str(args[3], re.compile(r"^(\+|-|\+-)$")) if len(args) == 4 else "+"
    return sympy.Limit(expr, variable, point, direction)


def _tuple(b: _Builder, args: list, kw: dict, depth: int) -> Any:
    if kw:
        raise _refuse("Tuple takes no keywords")
    return sympy.Tuple(*b.args(args, depth))


def _derivative(b: _Builder, args: list, kw: dict, depth: int) -> Any:
    if kw or len(args) < 2:
        raise _refuse("Derivative takes an expression and variables")
    expr, *variables = b.args(args, depth)
    for v in variables:
        count = v[1] if isinstance(v, sympy.Tuple) and len(v) == 2 else sympy.S.One
        if not (count.is_Integer and 0 <= count <= 10):
            raise _refuse("a derivative order must be an integer 0..10")
    return sympy.Derivative(expr, *variables)


CONSTRUCTORS: dict[str, Rule] = {
    "Symbol": _symbol(sympy.Symbol),
    "Entry": _symbol(Entry),
    "Dummy": _dummy,
    "Partial": _partial,
    "Integer": _integer,
    "Rational": _rational,
    "Float": _float,
    "Add": _plain(sympy.Add),
    "Mul": _plain(sympy.Mul),
    "Pow": _pow,
    "IndexedBase": _indexed_base,
    "Indexed": _plain(sympy.Indexed, (2, 10)),
    "Idx": _plain(sympy.Idx, (1, 2)),
    "Sum": _plain(sympy.Sum, (2, 10)),
    "Product": _plain(sympy.Product, (2, 10)),
    "KroneckerDelta": _plain(sympy.KroneckerDelta, (2, 2)),
    "Abs": _plain(sympy.Abs, (1, 1)),
    "sign": _plain(sympy.sign, (1, 1)),
    "Heaviside": _plain(sympy.Heaviside, (1, 2)),
    "exp": _plain(sympy.exp, (1, 1)),
    "log": _plain(sympy.log, (1, 2)),
    "sqrt": _plain(sympy.sqrt, (1, 1)),
    "Mod": _plain(sympy.Mod, (2, 2)),
    "floor": _plain(sympy.floor, (1, 1)),
    "ceiling": _plain(sympy.ceiling, (1, 1)),
    "Max": _plain(sympy.Max, (1, 1000)),
    "Min": _plain(sympy.Min, (1, 1000)),
    "Piecewise": _plain(sympy.Piecewise, (1, 1000)),
    "ExprCondPair": _plain(sympy.functions.elementary.piecewise.ExprCondPair, (2, 2)),
    "Derivative": _derivative,
    "Limit": _limit,
    "Tuple": _tuple,
    "ReLU": _plain(ReLU, (1, 1)),
    "ReLUPrime": _plain(ReLUPrime, (1, 1)),
    "Sigmoid": _plain(Sigmoid, (1, 1)),
    "And": _plain(sympy.And, (1, 1000)),
    "Or": _plain(sympy.Or, (1, 1000)),
    "Not": _plain(sympy.Not, (1, 1)),
}
for _name, _relation in {
    "Eq": sympy.Eq, "Equality": sympy.Eq, "Ne": sympy.Ne, "Unequality": sympy.Ne,
    "Le": sympy.Le, "LessThan": sympy.Le, "Lt": sympy.Lt, "StrictLessThan": sympy.Lt,
    "Ge": sympy.Ge, "GreaterThan": sympy.Ge, "Gt": sympy.Gt, "StrictGreaterThan": sympy.Gt,
}.items():
    CONSTRUCTORS[_name] = _plain(_relation, (2, 2))


def parse_expr(text: Any, what: str = "expression") -> Any:
    """The SymPy object an ``srepr`` string describes, built without ``eval`` (see the module docstring).

    >>> parse_expr("Indexed(IndexedBase(Symbol('z', real=True)), Symbol('j', integer=True))").is_real
    True
    >>> parse_expr("Symbol('x', positive='yes')")
    Traceback (most recent call last):
    ...
    bnsym.replay.report.ReplayError: expression refused: assumption positive= must be True or False
    """
    if not isinstance(text, str):
        raise ReplayError(f"{what} must be an srepr string, got {type(text).__name__}")
    if len(text) > MAX_TEXT:
        raise ReplayError(f"{what} refused: longer than {MAX_TEXT} characters")
    try:
        tree = ast.parse(text, mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as error:
        raise ReplayError(f"{what} refused: not an srepr expression ({type(error).__name__})") from None
    builder = _Builder()
    try:
        count = sum(1 for _ in ast.walk(tree))
        if count > MAX_NODES:
            raise _refuse(f"more than {MAX_NODES} syntax nodes")
        result = builder.expr(tree.body, 0)
    except RecursionError:
        raise ReplayError(f"{what} refused: nested too deeply") from None
    except ReplayError as error:
        raise ReplayError(f"{what} refused: {str(error).removeprefix('expression refused: ')}"
                          if what != "expression" else str(error)) from None
    if not isinstance(result, sympy.Basic):
        raise ReplayError(f"{what} refused: not a SymPy expression")
    return result


def is_undefined_function(expr: Any) -> bool:
    """Whether ``expr`` is an undefined function applied, like ``f(x)``.

    >>> is_undefined_function(parse_expr("Function('f')(Symbol('x'))"))
    True
    """
    return isinstance(expr, AppliedUndef)
