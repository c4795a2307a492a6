"""SymPy functions the CAS lacks, in SymPy's own idiom: ``eval``, ``fdiff`` and printer hooks.

``sympy.diff``, ``sympy.latex``, ``sympy.cse`` and ``sympy.lambdify`` work on them unchanged:

>>> import sympy
>>> z = sympy.Symbol("z", real=True)
>>> sympy.diff(relu(z), z)
ReLU'(z)
>>> sympy.latex(sympy.diff(relu(z), z))
"\\\\mathrm{ReLU}'\\\\left(z\\\\right)"
>>> f = sympy.lambdify(z, sympy.diff(sigmoid(z), z))
>>> round(float(f(0.0)), 6)
0.25
>>> sympy.lambdify(z, 1 / sigmoid(z), modules="math")(0.0)
2.0

Each has a NumPy, math, mpmath and PyTorch printer (``lambdify(..., modules="torch")`` gives ``torch.relu``,
``torch.sigmoid`` and ReLU' with ``ReLU'(0) = 0``, PyTorch's convention); each prints as one term.

The batch statistics of a feature over ``m`` samples (biased variance, as in Ioffe & Szegedy 2015,
Algorithm 1) are plain expressions built by :func:`batch_mean`, :func:`batch_variance` and
:func:`batch_normalize` for a concrete batch.
"""
from __future__ import annotations

import numbers
import re
from collections.abc import Sequence

import sympy
from sympy import Expr, Function, S

from .errors import ConditionError, ValuesError

__all__ = [
    "Entry",
    "Partial",
    "relu",
    "relu_prime",
    "sigmoid",
    "ReLU",
    "ReLUPrime",
    "Sigmoid",
    "batch_mean",
    "batch_variance",
    "batch_normalize",
    "as_expression",
]


class ReLUPrime(Function):
    """Derivative of ReLU, with PyTorch's convention at the kink: ``ReLU'(0) = 0``.

    >>> ReLUPrime(0), ReLUPrime(3), ReLUPrime(-2)
    (0, 1, 0)
    """

    nargs = 1

    @classmethod
    def eval(cls, x):
        if x.is_extended_positive:
            return S.One
        if x.is_extended_nonpositive:
            return S.Zero
        return None

    def fdiff(self, argindex: int = 1):
        return S.Zero  # almost everywhere; undefined at 0 like ReLU' itself

    def _eval_is_real(self):
        return True

    def _eval_is_nonnegative(self):
        return True

    def _eval_rewrite_as_Piecewise(self, x, **kwargs):
        return sympy.Piecewise((S.One, x > 0), (S.Zero, True))

    def _latex(self, printer, exp=None):
        s = r"\mathrm{ReLU}'\left(%s\right)" % printer._print(self.args[0])
        return s if exp is None else r"\left(%s\right)^{%s}" % (s, printer._print(exp))

    def _sympystr(self, printer):
        return "ReLU'(%s)" % printer._print(self.args[0])

    def _numpycode(self, printer):
        arg = printer._print(self.args[0])
        return "%s((%s) > 0, 1.0, 0.0)" % (printer._module_format("numpy.where"), arg)

    def _pythoncode(self, printer):
        return "(1.0 if (%s) > 0 else 0.0)" % printer._print(self.args[0])

    _mpmathcode = _pythoncode

    def _torchcode(self, printer):
        # 1 where x > 0, else 0 (so ReLU'(0) = 0, as torch.relu's backward has it), in x's dtype and device
        arg = printer._print(self.args[0])
        ones, zeros = printer._module_format("torch.ones_like"), printer._module_format("torch.zeros_like")
        return "%s((%s) > 0, %s(%s), %s(%s))" % (printer._module_format("torch.where"), arg, ones, arg, zeros, arg)


class ReLU(Function):
    """The rectified linear unit ``max(x, 0)``; its derivative is :class:`ReLUPrime`.

    >>> x = sympy.Symbol("x", real=True)
    >>> ReLU(-1), ReLU(sympy.Rational(5, 2)), ReLU(x).diff(x)
    (0, 5/2, ReLU'(x))
    """

    nargs = 1

    @classmethod
    def eval(cls, x):
        if x.is_extended_nonnegative:
            return x
        if x.is_extended_nonpositive:
            return S.Zero
        return None

    def fdiff(self, argindex: int = 1):
        return ReLUPrime(self.args[0])

    def _eval_is_real(self):
        return self.args[0].is_real

    def _eval_is_nonnegative(self):
        return True if self.args[0].is_real else None

    def _eval_rewrite_as_Piecewise(self, x, **kwargs):
        return sympy.Piecewise((x, x > 0), (S.Zero, True))

    def _eval_rewrite_as_Max(self, x, **kwargs):
        return sympy.Max(x, 0)

    def _latex(self, printer, exp=None):
        s = r"\mathrm{ReLU}\left(%s\right)" % printer._print(self.args[0])
        return s if exp is None else r"%s^{%s}" % (s, printer._print(exp))

    def _sympystr(self, printer):
        return "ReLU(%s)" % printer._print(self.args[0])

    def _numpycode(self, printer):
        arg = printer._print(self.args[0])
        return "%s(%s, 0.0)" % (printer._module_format("numpy.maximum"), arg)

    def _pythoncode(self, printer):
        return "max((%s), 0.0)" % printer._print(self.args[0])

    _mpmathcode = _pythoncode

    def _torchcode(self, printer):
        return "%s(%s)" % (printer._module_format("torch.relu"), printer._print(self.args[0]))


class Sigmoid(Function):
    """The logistic sigmoid ``1/(1 + exp(-x))``, with ``sigmoid' = sigmoid(1 - sigmoid)``.

    Printed as ``\\sigma`` in LaTeX, as in the deep-learning literature.

    >>> x = sympy.Symbol("x", real=True)
    >>> Sigmoid(0), Sigmoid(x).diff(x)
    (1/2, (1 - sigmoid(x))*sigmoid(x))
    """

    nargs = 1

    @classmethod
    def eval(cls, x):
        if x.is_zero:
            return S.Half
        if x.is_Number:
            return 1 / (1 + sympy.exp(-x))
        return None

    def fdiff(self, argindex: int = 1):
        return self * (1 - self)

    def _eval_is_real(self):
        return self.args[0].is_real

    def _eval_is_positive(self):
        return True if self.args[0].is_real else None

    def _eval_rewrite_as_exp(self, x, **kwargs):
        return 1 / (1 + sympy.exp(-x))

    def _eval_evalf(self, prec):
        if self.args[0].is_number:
            return (1 / (1 + sympy.exp(-self.args[0])))._eval_evalf(prec)
        return None

    def _latex(self, printer, exp=None):
        s = r"\sigma\left(%s\right)" % printer._print(self.args[0])
        return s if exp is None else r"%s^{%s}" % (s, printer._print(exp))

    def _sympystr(self, printer):
        return "sigmoid(%s)" % printer._print(self.args[0])

    # each code form is one parenthesized term, so that 1/sigmoid(x) or sigmoid(x)**2 print correctly
    def _numpycode(self, printer):
        arg = printer._print(self.args[0])
        return "(1.0/(1.0 + %s(-(%s))))" % (printer._module_format("numpy.exp"), arg)

    def _pythoncode(self, printer):
        return "(1.0/(1.0 + %s(-(%s))))" % (printer._module_format("math.exp"), printer._print(self.args[0]))

    def _mpmathcode(self, printer):
        return "(1/(1 + %s(-(%s))))" % (printer._module_format("mpmath.exp"), printer._print(self.args[0]))

    def _torchcode(self, printer):
        return "%s(%s)" % (printer._module_format("torch.sigmoid"), printer._print(self.args[0]))


_ENTRY = re.compile(r"^(?P<head>[^\[]+)\[(?P<index>[0-9,]+)\]$")


class Entry(sympy.Symbol):
    """A symbol for one entry of a vector or matrix quantity, named ``head[j]`` or ``head[j,k]``.

    The index is printed in brackets after the head's usual form, so ``W1[1,2]`` (layer 1, entry (1, 2))
    is never confused with ``W_{112}``.

    ``Entry(head, index)`` holds the two as data (the builders make entries so); ``Entry("W1[1,2]")``, the form
    certificates write, reads them from the name.

    >>> w = Entry("W1", "1,2", real=True)
    >>> print(w, sympy.latex(w), sympy.pretty(w))
    W1[1,2] W_{1}[1,2] W₁[1,2]
    >>> w.head, w.index, w == Entry("W1[1,2]", real=True)
    ('W1', '1,2', True)
    >>> print(sympy.latex(Entry("zhat1^(3)", "2")))
    \\hat{z}^{(3)}_{1}[2]
    """

    def __new__(cls, name: str, index: str | None = None, **assumptions):
        if index is None:  # one name, "head[index]" (as a certificate writes it)
            match = _ENTRY.match(name) if isinstance(name, str) else None
            if match is None:
                raise ValueError(f"an Entry is Entry(head, index) or named 'head[index]', got {name!r}")
            head, index = match.group("head"), match.group("index")
        else:
            head = name
        obj = super().__new__(cls, f"{head}[{index}]", **assumptions)
        obj._head_index = (head, index)
        return obj

    @property
    def head(self) -> str:
        """The name of the quantity (``"W1"``)."""
        return self._head_index[0]

    @property
    def index(self) -> str:
        """The entry's index as printed (``"1,2"``)."""
        return self._head_index[1]

    def _parts(self) -> tuple[sympy.Symbol, str]:
        return sympy.Symbol(self.head), self.index

    def _latex(self, printer, exp=None):
        head, index = self._parts()
        text = f"{printer._print(head)}[{index}]"
        return text if exp is None else f"\\left({text}\\right)^{{{printer._print(exp)}}}"

    def _pretty(self, printer):
        from sympy.printing.pretty.stringpict import prettyForm

        head, index = self._parts()
        return prettyForm(f"{printer._print(head)}[{index}]")


class Partial(sympy.Symbol):
    r"""A partial derivative kept abstract, such as the upstream gradient ``∂J/∂ŷ`` of an unspecified loss.

    ``Partial(of, wrt)`` holds the names of the two quantities as data (:attr:`of`, :attr:`wrt`); its symbol name
    ``"d<of>/d<wrt>"`` is only how it prints as plain text (and what ``lambdify`` would see, renamed first).
    In LaTeX it is a ``\frac{\partial J}{\partial ...}``.

    >>> p = Partial("J", "yhat")
    >>> print(p, sympy.latex(2 * p))
    dJ/dyhat 2 \frac{\partial J}{\partial \hat{y}}
    >>> p.of, p.wrt
    ('J', 'yhat')
    >>> Partial("J", "yhat") == Partial.from_name("dJ/dyhat")
    True
    """

    def __new__(cls, of: str, wrt: str | None = None, **assumptions):
        if wrt is None:  # the one-name form, "dJ/dyhat" (as earlier certificates write it)
            return cls.from_name(of)
        for part in (of, wrt):
            if not isinstance(part, str) or not part or "/d" in part:
                raise ValueError(f"a Partial is Partial(of, wrt) with two names, got {of!r}, {wrt!r}")
        obj = super().__new__(cls, f"d{of}/d{wrt}", real=True)
        obj._of_wrt = (of, wrt)
        return obj

    @classmethod
    def from_name(cls, name: str) -> Partial:
        """The partial whose plain-text name is ``name`` (``"dJ/dyhat"``): for reading earlier certificates.

        >>> Partial.from_name("dJ/dz1[2]").wrt
        'z1[2]'
        """
        if not isinstance(name, str) or "/d" not in name or not name.startswith("d"):
            raise ValueError(f"a Partial is named 'dJ/d<node>', got {name!r}")
        of, wrt = name[1:].split("/d", 1)
        return cls(of, wrt)

    def __getnewargs_ex__(self):
        return (self._of_wrt, {})

    def _sympyrepr(self, printer):
        return f"Partial({self._of_wrt[0]!r}, {self._of_wrt[1]!r})"

    @property
    def of(self) -> str:
        """The name of the differentiated quantity (``"J"``)."""
        return self._of_wrt[0]

    @property
    def wrt(self) -> str:
        """The name of the quantity differentiated by (``"yhat"``, or an entry's name such as ``"z1[2]"``)."""
        return self._of_wrt[1]

    @property
    def parts(self) -> tuple[sympy.Symbol, sympy.Symbol]:
        """The symbols ``(J, node)`` of ``∂J/∂node`` (an :class:`Entry` when the node names one entry)."""
        of, wrt = self._of_wrt
        return sympy.Symbol(of, real=True), (Entry if _ENTRY.match(wrt) else sympy.Symbol)(wrt, real=True)

    def _latex(self, printer, exp=None):
        of, wrt = self.parts
        s = r"\frac{\partial %s}{\partial %s}" % (printer._print(of), printer._print(wrt))
        return s if exp is None else r"\left(%s\right)^{%s}" % (s, printer._print(exp))

    def _pretty(self, printer):
        from sympy.printing.pretty.stringpict import prettyForm

        of, wrt = self.parts
        return prettyForm("∂%s/∂%s" % (printer._print(of), printer._print(wrt)))


def as_expression(value, what: str = "value") -> Expr:
    """A number or SymPy expression as a SymPy object; strings are refused, never parsed.

    >>> as_expression(2), as_expression(sympy.Symbol("z"))
    (2, z)
    >>> as_expression("__import__('os')")
    Traceback (most recent call last):
    ...
    bnsym.errors.ValuesError: value must be a number or a SymPy expression, got "__import__('os')"
    """
    if isinstance(value, bool) or not isinstance(value, (numbers.Number, sympy.Basic)):
        raise ValuesError(f"{what} must be a number or a SymPy expression, got {value!r}")
    return sympy.sympify(value)


relu = ReLU
relu_prime = ReLUPrime
sigmoid = Sigmoid


def batch_mean(values: Sequence[Expr]) -> Expr:
    """Batch mean ``(1/m) Σ z_i`` of a concrete batch.

    >>> z = sympy.symbols("z1:4", real=True)
    >>> batch_mean(z)
    z1/3 + z2/3 + z3/3
    """
    values = [as_expression(v, "a batch value") for v in values]
    if not values:
        raise ConditionError("batch_mean needs at least one sample")
    return sympy.Add(*values) / len(values)


def batch_variance(values: Sequence[Expr]) -> Expr:
    """Biased batch variance ``(1/m) Σ (z_i - μ)²`` (divide by ``m``, as in the original paper).

    >>> batch_variance([sympy.Integer(1), sympy.Integer(3)])
    1
    """
    values = [as_expression(v, "a batch value") for v in values]
    mu = batch_mean(values)
    return sympy.Add(*[(v - mu) ** 2 for v in values]) / len(values)


def batch_normalize(values: Sequence[Expr], eps: Expr | float = 0) -> list[Expr]:
    """Normalized batch ``x̂_i = (z_i - μ)/sqrt(σ² + ε)`` of a concrete batch (``m ≥ 2``): the forward pass of
    :class:`bnsym.layers.batchnorm.Normalize`, the engine's BN.

    With ``ε = 0`` a batch of one, or a constant batch, has ``σ = 0`` and no normalization: refused.

    >>> batch_normalize([sympy.Integer(1), sympy.Integer(3)])
    [-1, 1]
    >>> batch_normalize([sympy.Integer(2)])
    Traceback (most recent call last):
    ...
    bnsym.errors.ConditionError: batch normalization needs a batch of m >= 2 samples, got m = 1
    """
    values = [as_expression(v, "a batch value") for v in values]
    if len(values) < 2:
        raise ConditionError(f"batch normalization needs a batch of m >= 2 samples, got m = {len(values)}")
    eps = as_expression(eps, "eps")
    if eps.is_zero and all(sympy.expand(v - values[0]) == 0 for v in values[1:]):
        raise ConditionError("constant batch: its variance is 0 and with eps = 0 it cannot be normalized")
    from .layers.batchnorm import Normalize  # BN's one home: the layer's own forward pass

    return list(Normalize("zhat", samples=len(values), features=1, eps=eps).forward(sympy.Matrix(values)))
