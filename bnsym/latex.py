r"""Paper-ready LaTeX for :class:`~bnsym.derive.Derivation`\ s and :class:`~bnsym.theorems.Proof`\ s.

:func:`to_latex` walks the chain rule step by step (the symbolic product of local partials, each factor
substituted, the gradient in the named intermediates and the closed form), or a proof's hypotheses and its
chain of equalities. Every formula is printed by SymPy's own LaTeX printer from the very expression the
object holds; this module only lays the rows out and breaks long ones so that no line is wider than the text
block (:attr:`Notation.width`). :func:`compile_pdf` checks the result with a real TeX engine.

>>> from bnsym import chain
>>> print(to_latex(chain(2, names="ab").gradient("a")))
\begin{align*}
\frac{\partial J}{\partial a} &= \frac{\partial J}{\partial \hat{y}}\,\frac{\partial \hat{y}}{\partial h_{1}}\,\frac{\partial h_{1}}{\partial a}\\
 &= \frac{\partial J}{\partial \hat{y}} \cdot b \cdot x\\
 &= \frac{\partial J}{\partial \hat{y}} b x
\end{align*}

User-supplied LaTeX is refused when it could do more than typeset math:

>>> Notation(names={"a": r"\input{secret}"})
Traceback (most recent call last):
...
bnsym.errors.LatexError: refused LaTeX for the name 'a': the command \input is not allowed
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import sympy
from sympy.printing.latex import LatexPrinter

from . import budget
from .errors import LatexError

__all__ = ["Notation", "to_latex", "repr_latex", "document", "compile_pdf", "escape_text", "check_math", "check_name",
           "break_latex", "latex_width", "print_latex"]

# -- markers: SymPy's printer output with the places where a line may break -------------------------------
# Both characters are whitespace for ``str.split``, so SymPy's word counts (used to decide on long
# fractions) are the same with and without them.
_ADD_MARK = "\x1f"
_MUL_MARK = "\x1e"
_MARKS = _ADD_MARK + _MUL_MARK


class _BreakingPrinter(LatexPrinter):
    """SymPy's LaTeX printer, marking where sums and products may be broken (the text is otherwise SymPy's)."""

    def __init__(self, settings=None, hadamard: str = r"\odot"):
        super().__init__(settings)
        self._settings["mul_symbol_latex"] = self._settings["mul_symbol_latex"] + _MUL_MARK
        self._hadamard = hadamard

    def _print_Add(self, expr, order=None):
        # LatexPrinter._print_Add, with a break mark before each " + " / " - " between the terms
        tex = ""
        for i, term in enumerate(self._as_ordered_terms(expr, order=order)):
            if i == 0:
                pass
            elif term.could_extract_minus_sign():
                tex += _ADD_MARK + " - "
                term = -term
            else:
                tex += _ADD_MARK + " + "
            term_tex = self._print(term)
            if self._needs_add_brackets(term):
                term_tex = r"\left(%s\right)" % term_tex
            tex += term_tex
        return tex

    def _print_Derivative(self, expr):
        # an abstract quantity (a bare symbol such as ℓ or J) depends on many variables: its derivative is a
        # partial one, whatever SymPy's single-free-symbol test says; d is kept for true total derivatives
        if not isinstance(expr.expr, sympy.Symbol):
            return super()._print_Derivative(expr)
        saved = self._settings["diff_operator_latex"]
        self._settings["diff_operator_latex"] = r"\partial"
        try:
            return super()._print_Derivative(expr)
        finally:
            self._settings["diff_operator_latex"] = saved

    def _print_HadamardProduct(self, expr):
        prec = sympy.printing.precedence.PRECEDENCE["Pow"]
        return (r" %s " % self._hadamard).join(self.parenthesize(a, prec, strict=True) for a in expr.args)


# -- what users may hand us: allow-lists ------------------------------------------------------------------
# Nothing is refused by name: a LaTeX string may only contain the characters, commands and environments
# listed here, so a command TeX or a package adds later (\UseName, \ExpandArgs, \AddToHook ...) is refused
# because it is not on the list.
_SAFE_NAME = re.compile(r"[A-Za-z0-9_^(),.'/]+")  # symbol names SymPy may print as they are (re.fullmatch)
_GREEK = {
    "alpha", "beta", "gamma", "delta", "epsilon", "varepsilon", "zeta", "eta", "theta", "vartheta", "iota",
    "kappa", "lambda", "mu", "nu", "xi", "pi", "varpi", "rho", "varrho", "sigma", "varsigma", "tau", "upsilon",
    "phi", "varphi", "chi", "psi", "omega", "Gamma", "Delta", "Theta", "Lambda", "Xi", "Pi", "Sigma",
    "Upsilon", "Phi", "Psi", "Omega",
}
#: Commands a name (``Notation.names``, ``hadamard``, ``bn``) may use: Greek letters, accents, math fonts and
#: a few symbols and binary operators.
NAME_COMMANDS = frozenset(_GREEK | {
    "hat", "widehat", "bar", "overline", "underline", "tilde", "widetilde", "vec", "dot", "ddot", "breve",
    "check", "acute", "grave", "mathring",
    "mathrm", "mathbf", "mathit", "mathsf", "mathtt", "mathcal", "mathbb", "mathfrak", "boldsymbol",
    "operatorname",
    "ell", "partial", "nabla", "infty", "prime", "top", "star", "ast", "dagger", "hbar", "imath", "jmath",
    "circ", "cdot", "odot", "otimes", "oplus", "times", "bullet", "diamond", "ominus", "oslash",
})
#: Commands :func:`check_math` allows besides :data:`NAME_COMMANDS`: fractions, roots, big operators,
#: relations, delimiters, spacing and ``\text``.
MATH_COMMANDS = frozenset(NAME_COMMANDS | {
    "frac", "dfrac", "tfrac", "sqrt", "binom", "sum", "prod", "int", "lim", "max", "min", "sup", "inf", "log",
    "ln", "exp", "sin", "cos", "tan", "sinh", "cosh", "tanh", "det", "ker", "dim", "arg", "sgn", "Pr",
    "leq", "geq", "le", "ge", "neq", "ne", "approx", "equiv", "sim", "simeq", "cong", "propto", "in", "notin",
    "ni", "subset", "subseteq", "supset", "supseteq", "perp", "parallel", "mid", "to", "rightarrow",
    "leftarrow", "Rightarrow", "Leftarrow", "Leftrightarrow", "iff", "implies", "mapsto", "ll", "gg",
    "pm", "mp", "div", "wedge", "vee", "cap", "cup", "setminus", "neg", "lnot", "forall", "exists",
    "emptyset", "surd", "cdots", "ldots", "dots", "vdots", "ddots", "backslash",
    "left", "right", "big", "Big", "bigg", "Bigg", "bigl", "bigr", "Bigl", "Bigr", "biggl", "biggr", "Biggl",
    "Biggr", "langle", "rangle", "lvert", "rvert", "lVert", "rVert", "vert", "Vert", "lfloor", "rfloor",
    "lceil", "rceil",
    "quad", "qquad", "displaystyle", "textstyle", "scriptstyle", "limits", "nolimits",
    "text", "textrm", "textit", "textbf", "mathop", "begin", "end",
})
#: Environments of :func:`check_math`; not ``array``, whose column specification can repeat (``*{N}{c}``).
MATH_ENVIRONMENTS = frozenset({"matrix", "pmatrix", "bmatrix", "Bmatrix", "vmatrix", "Vmatrix", "smallmatrix",
                               "cases", "aligned", "gathered", "split"})
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 _^{}()[],.'+-*/|:;!<>=")
_NAME_ESCAPES = frozenset(",;!{}|_")  # \, \; \! \{ \} \| \_
_MATH_ESCAPES = _NAME_ESCAPES | frozenset(": \\&%#$")  # \: \  \\ \& \% \# \$
NAME_LENGTH = 100  #: characters of a name's LaTeX, at most
MATH_LENGTH = 20_000  #: characters of a formula given to :func:`check_math`, at most
_TOKEN = re.compile(r"\\([A-Za-z]+)|\\(.)|\\\Z|([{}])|(.)", re.S)


def _check(latex, what: str, *, commands, escapes, environments, chars, length: int) -> str:
    if not isinstance(latex, str):
        raise LatexError(f"refused {what}: expected a string of LaTeX, got {type(latex).__name__}")
    if len(latex) > length:
        raise LatexError(f"refused {what}: longer than {length} characters")
    if "^^" in latex:
        raise LatexError(f"refused {what}: ^^ character escapes are not allowed")
    depth = 0
    for match in _TOKEN.finditer(latex):
        word, symbol, brace, char = match.groups()
        if brace:
            depth += 1 if brace == "{" else -1
            if depth < 0:
                raise LatexError(f"refused {what}: unbalanced braces")
        elif word is not None:
            if word not in commands:
                raise LatexError(f"refused {what}: the command \\{word} is not allowed")
            if word in ("begin", "end"):
                env = re.match(r"\{([A-Za-z]+\*?)\}", latex[match.end():])
                if not env or env.group(1) not in environments:
                    shown = env.group(0) if env else ""
                    raise LatexError(f"refused {what}: \\{word}{shown} is not allowed (only \\begin/\\end of "
                                     "matrix, cases, aligned, ...)")
        elif symbol is not None:
            if symbol not in escapes:
                raise LatexError(f"refused {what}: the control symbol \\{symbol!r} is not allowed"
                                 if not symbol.isprintable() else
                                 f"refused {what}: the control symbol \\{symbol} is not allowed")
        elif char is not None:
            if char not in chars:
                why = {"%": "comments (%)", "#": "parameters (#)", "$": "math shifts ($)"}.get(char)
                raise LatexError(f"refused {what}: " + (f"{why} are not allowed" if why else
                                                         f"the character {char!r} is not allowed"))
        else:
            raise LatexError(f"refused {what}: a lone backslash at the end")
    if depth != 0:
        raise LatexError(f"refused {what}: unbalanced braces")
    return latex


_MATH_CHARS = frozenset(chr(c) for c in range(32, 127)) - frozenset("%#$\\") | frozenset("\n\t")


def check_name(latex: str, what: str = "LaTeX for a name") -> str:
    r"""Return ``latex`` if it is allowed as the LaTeX of a name, else raise :class:`~bnsym.errors.LatexError`.

    A name's LaTeX (``Notation.names``, ``Notation.hadamard``, ``Notation.bn``) is at most
    :data:`NAME_LENGTH` characters of: ASCII letters, digits, spaces and ``_ ^ { } ( ) [ ] , . ' + - * / | :
    ; ! < > =``; the escapes ``\, \; \! \{ \} \| \_``; and the commands of :data:`NAME_COMMANDS` (Greek
    letters, accents such as ``\hat``, fonts such as ``\mathrm`` and ``\operatorname``, a few symbols).
    Braces must balance; ``^^`` is refused. Nothing else: no environments, no other commands.

    >>> check_name(r"\hat{\omega}_{1}")
    '\\hat{\\omega}_{1}'
    >>> check_name(r"\UseName{input}{secret}")
    Traceback (most recent call last):
    ...
    bnsym.errors.LatexError: refused LaTeX for a name: the command \UseName is not allowed
    """
    return _check(latex, what, commands=NAME_COMMANDS, escapes=_NAME_ESCAPES, environments=frozenset(),
                  chars=_NAME_CHARS, length=NAME_LENGTH)


def check_math(latex: str, what: str = "LaTeX") -> str:
    r"""Return ``latex`` if it only typesets math, else raise :class:`~bnsym.errors.LatexError`.

    An allow-list: printable ASCII (and newlines, tabs) except ``%``, ``#`` and ``$``; the escapes
    ``\, \; \: \! \  \\ \{ \} \| \_ \& \% \# \$``; the commands of :data:`MATH_COMMANDS`
    (:data:`NAME_COMMANDS` plus fractions, roots, big operators, relations, delimiters, spacing, ``\text``);
    ``\begin``/``\end`` only of the environments of :data:`MATH_ENVIRONMENTS`; balanced braces; no ``^^``;
    at most :data:`MATH_LENGTH` characters. A command that is not listed is refused, whatever it does.

    >>> check_math(r"\frac{\partial J}{\partial w_{1}} \geq 0")
    '\\frac{\\partial J}{\\partial w_{1}} \\geq 0'
    >>> check_math(r"x \end{align*} \write18{rm -rf /}")
    Traceback (most recent call last):
    ...
    bnsym.errors.LatexError: refused LaTeX: \end{align*} is not allowed (only \begin/\end of matrix, cases, aligned, ...)
    """
    return _check(latex, what, commands=MATH_COMMANDS, escapes=_MATH_ESCAPES, environments=MATH_ENVIRONMENTS,
                  chars=_MATH_CHARS, length=MATH_LENGTH)


_TEXT_SPECIALS = {
    "\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "$": r"\$", "&": r"\&", "#": r"\#", "%": r"\%",
    "_": r"\_", "^": r"\textasciicircum{}", "~": r"\textasciitilde{}", "<": r"$<$", ">": r"$>$",
    "|": r"$|$",
}
_UNICODE_MATH = {
    "α": r"\alpha", "β": r"\beta", "γ": r"\gamma", "δ": r"\delta", "ε": r"\varepsilon", "ϵ": r"\epsilon",
    "ζ": r"\zeta", "η": r"\eta", "θ": r"\theta", "κ": r"\kappa", "λ": r"\lambda", "μ": r"\mu", "ν": r"\nu",
    "ξ": r"\xi", "π": r"\pi", "ρ": r"\rho", "σ": r"\sigma", "τ": r"\tau", "φ": r"\varphi", "χ": r"\chi",
    "ψ": r"\psi", "ω": r"\omega", "Γ": r"\Gamma", "Δ": r"\Delta", "Θ": r"\Theta", "Λ": r"\Lambda",
    "Σ": r"\Sigma", "Π": r"\Pi", "Φ": r"\Phi", "Ψ": r"\Psi", "Ω": r"\Omega", "∂": r"\partial",
    "∇": r"\nabla", "≤": r"\leq", "≥": r"\geq", "≠": r"\neq", "≈": r"\approx", "≡": r"\equiv",
    "→": r"\to", "←": r"\leftarrow", "⇒": r"\Rightarrow", "⇔": r"\Leftrightarrow", "∞": r"\infty",
    "∑": r"\sum", "∏": r"\prod", "√": r"\surd", "·": r"\cdot", "×": r"\times", "−": "-", "±": r"\pm",
    "∈": r"\in", "∉": r"\notin", "⊆": r"\subseteq", "⊂": r"\subset", "⟂": r"\perp", "⊥": r"\perp",
    "‖": r"\|", "⟨": r"\langle", "⟩": r"\rangle", "∘": r"\circ", "⊙": r"\odot", "∀": r"\forall",
    "∃": r"\exists", "ℓ": r"\ell", "ᵀ": r"^{\top}", "²": "^{2}", "³": "^{3}", "¹": "^{1}", "⁻": "^{-}",
    "₀": "_{0}", "₁": "_{1}", "₂": "_{2}", "₃": "_{3}", "₄": "_{4}", "ᵢ": "_{i}", "ₖ": "_{k}", "ⱼ": "_{j}",
    "ₘ": "_{m}", "ₗ": "_{l}", "ℝ": r"\mathbb{R}", "∧": r"\wedge", "∨": r"\vee", "¬": r"\neg",
}
_UNICODE_TEXT = {"–": "--", "—": "---", "‘": "`", "’": "'", "“": "``", "”": "''", "…": r"\dots{}",
                 "\u00a0": "~", "§": "Sec. ", "é": r"\'e", "è": r"\`e", "ü": r"\"u", "ö": r"\"o", "ä": r"\"a"}
_COMBINING = {"\u0302": r"\hat", "\u0303": r"\tilde", "\u0304": r"\bar", "\u0305": r"\bar", "\u0307": r"\dot",
              "\u20d7": r"\vec"}


def escape_text(text: str) -> str:
    r"""Plain text (titles, reasons, statements) as LaTeX text: specials escaped, Unicode math transliterated.

    Nothing in ``text`` can become a TeX command: backslashes, braces, ``%``, ``#``, ``$``, ``&``, ``_``,
    ``^``, ``~`` are printed as characters; Greek letters and math signs become ``$\sigma$``-style math.

    >>> print(escape_text(r"a_1 \input{x} 50% σ ≥ 0, x̂"))
    a\_1 \textbackslash{}input\{x\} 50\% $\sigma$ $\geq$ 0, $\hat{x}$
    """
    if not isinstance(text, str):
        text = str(text)
    text = unicodedata.normalize("NFC", text)
    out: list[str] = []
    chars = list(text)
    i = 0
    while i < len(chars):
        char = chars[i]
        accents = []
        while i + 1 < len(chars) and chars[i + 1] in _COMBINING:
            accents.append(_COMBINING[chars[i + 1]])
            i += 1
        if accents:
            base = _UNICODE_MATH.get(char, char if char.isascii() and char.isalnum() else "{}")
            for accent in accents:
                base = f"{accent}{{{base}}}"
            out.append(f"${base}$")
        elif char in _TEXT_SPECIALS:
            out.append(_TEXT_SPECIALS[char])
        elif char in ("\n", "\r", "\t"):
            out.append(" ")
        elif ord(char) < 32 or ord(char) == 127:
            pass
        elif char.isascii():
            out.append(char)
        elif char in _UNICODE_MATH:
            out.append(f"${_UNICODE_MATH[char]}$")
        elif char in _UNICODE_TEXT:
            out.append(_UNICODE_TEXT[char])
        else:
            ascii_form = unicodedata.normalize("NFKD", char).encode("ascii", "ignore").decode()
            out.append(escape_text(ascii_form) if ascii_form else "?")
        i += 1
    return "".join(out)


# -- notation ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Notation:
    r"""Typesetting choices a paper needs; the formulas themselves always come from SymPy's printer.

    * ``d`` — ``"italic"`` (``d``) or ``"upright"`` (``\mathrm{d}``) for total derivatives; partial
      derivatives are always ``\partial``.
    * ``hadamard`` — the elementwise-product sign (``\odot``); a diagonal Jacobian in a chain-rule product is
      written as an elementwise product with its diagonal.
    * ``names`` — LaTeX for symbol names (``{"w1": r"\omega_1"}``); each must pass :func:`check_name` (an
      allow-list: letters, digits, Greek letters, accents, math fonts; at most :data:`NAME_LENGTH` characters).
    * ``width`` — the text block width in pt (345 pt: LaTeX's ``article`` at 10 pt); longer lines are broken.
    * ``environment`` — ``"align*"`` (a display block for a document) or ``"aligned"`` (to sit inside
      ``$$ … $$``, as notebooks want).
    * ``long_frac_ratio`` — SymPy's own setting: a fraction whose numerator is much longer than its
      denominator is printed as ``\frac{1}{d} (…)`` so it can be broken.
    * ``bn`` — the batch-norm operator's name (checked like ``names``, as is ``hadamard``).

    >>> Notation(d="upright").sympy_settings()["diff_operator"]
    'rd'
    >>> Notation(d="slanted")
    Traceback (most recent call last):
    ...
    bnsym.errors.LatexError: Notation.d must be 'italic' or 'upright', got 'slanted'
    """

    d: str = "italic"
    hadamard: str = r"\odot"
    names: Mapping[str, str] = field(default_factory=dict)
    width: float = 345.0
    environment: str = "align*"
    long_frac_ratio: float | None = 2.0
    bn: str = r"\operatorname{BN}"

    def __post_init__(self) -> None:
        if not isinstance(self.d, str) or self.d not in ("italic", "upright"):
            raise LatexError(f"Notation.d must be 'italic' or 'upright', got {self.d!r}")
        if not isinstance(self.environment, str) or self.environment not in ("align*", "aligned"):
            raise LatexError(f"Notation.environment must be 'align*' or 'aligned', got {self.environment!r}")
        if isinstance(self.width, bool) or not isinstance(self.width, (int, float)) or not 100 <= self.width <= 2000:
            raise LatexError(f"Notation.width is the text width in pt, between 100 and 2000, got {self.width!r}")
        ratio = self.long_frac_ratio
        if ratio is not None and (isinstance(ratio, bool) or not isinstance(ratio, (int, float))
                                  or not 0 < ratio < float("inf")):
            raise LatexError(f"Notation.long_frac_ratio must be None or a positive finite number, got {ratio!r}")
        if not isinstance(self.names, Mapping):
            raise LatexError("Notation.names must map symbol names to LaTeX strings")
        names = dict(self.names)
        for name, value in names.items():
            if not isinstance(name, str):
                raise LatexError(f"Notation.names must map symbol names (strings) to LaTeX, got the key {name!r}")
            check_name(value, f"LaTeX for the name {name!r}")
        object.__setattr__(self, "names", MappingProxyType(names))  # a later change to the caller's dict is not seen
        check_name(self.hadamard, "LaTeX for the Hadamard product")
        check_name(self.bn, "LaTeX for the batch-norm operator")

    def sympy_settings(self) -> dict[str, Any]:
        """The keyword arguments for :func:`sympy.latex` that this notation stands for."""
        return {"diff_operator": "rd" if self.d == "upright" else "d", "long_frac_ratio": self.long_frac_ratio}


def _symbol_names(expr, notation: Notation) -> dict:
    """Check every name SymPy will print; map those the user renamed.  Unsafe names are refused."""
    renamed = {}
    atoms = expr.atoms(sympy.Symbol) if isinstance(expr, sympy.Basic) else set()
    if isinstance(expr, sympy.MatrixBase):
        atoms = set().union(*(e.atoms(sympy.Symbol) for e in expr)) if len(expr) else set()
    for symbol in atoms:
        if "^^" in symbol.name:
            raise LatexError(f"refused the symbol name {symbol.name!r}: ^^ is TeX's character escape")
        if symbol.name in notation.names:
            renamed[symbol] = notation.names[symbol.name]
        elif not _SAFE_NAME.fullmatch(symbol.name) or "'" in symbol.name:
            renamed[symbol] = _name_latex(symbol.name)
    functions = expr.atoms(sympy.core.function.AppliedUndef) if isinstance(expr, sympy.Basic) else set()
    for function in functions:
        if not _SAFE_NAME.fullmatch(function.func.__name__):
            raise LatexError(f"refused the function name {function.func.__name__!r}")
    return renamed


_NAME_SPECIALS = {"\\": r"\backslash{}", "{": r"\{", "}": r"\}", "%": r"\%", "#": r"\#", "$": r"\$",
                  "&": r"\&", "~": r"\sim{}"}
def _balanced(text: str) -> bool:
    depth = 0
    for char in text:
        depth += {"{": 1, "}": -1}.get(char, 0)
        if depth < 0:
            return False
    return depth == 0


_PRIMED = re.compile(r"([A-Za-z]+)('+)(.*)", re.S)


def _name_latex(name: str) -> str:
    r"""LaTeX for a symbol name SymPy would print badly: primes after Greek names, Unicode letters and signs.

    TeX specials are escaped, so a name prints as the characters it has and cannot run TeX commands.

    >>> print(_name_latex("mu'"), _name_latex("Σ_i g_i"))
    \mu' {\Sigma}_i\ g_i
    >>> print(_name_latex("a}\\input{x}"))
    a\}\backslash{}input\{x\}
    """
    if any(ord(c) < 32 or ord(c) == 127 for c in name) or "^^" in name:
        raise LatexError(f"refused the symbol name {name!r}: it contains control characters or ^^")
    balanced = _balanced(name)
    primed = _PRIMED.fullmatch(name)
    if primed and _SAFE_NAME.fullmatch(name):
        base, primes, rest = primed.groups()
        base_tex = sympy.latex(sympy.Symbol(base))
        full = sympy.latex(sympy.Symbol(base + rest))
        if full.startswith(base_tex):
            return base_tex + primes + full[len(base_tex):]
    out = []
    for char in unicodedata.normalize("NFC", name):
        if char in _COMBINING.keys() and out:
            out[-1] = "%s{%s}" % (_COMBINING[char], out[-1])
        elif char in "{}" and balanced:
            out.append(char)  # grouping: without a backslash no TeX command can be formed
        elif char in _NAME_SPECIALS:
            out.append(_NAME_SPECIALS[char])
        elif char.isascii():
            out.append(r"\ " if char == " " else char)
        elif char in _UNICODE_MATH:
            out.append("{%s}" % _UNICODE_MATH[char])
        else:
            out.append("?")
    return check_math("".join(out), f"LaTeX for the name {name!r}")


def print_latex(expr, notation: Notation | None = None) -> str:
    r"""``sympy.latex(expr)`` with the notation's settings: the one place formulas are printed.

    >>> import sympy
    >>> x = sympy.Symbol("x")
    >>> print_latex(sympy.Derivative(sympy.Function("f")(x), x), Notation(d="upright"))
    '\\frac{\\mathrm{d}}{\\mathrm{d} x} f{\\left(x \\right)}'
    """
    return _strip(_marked(expr, notation or Notation()))


def _marked(expr, notation: Notation) -> str:
    return _marked_settings(expr, notation)


def _marked_settings(expr, notation: Notation, **extra) -> str:
    settings = {**notation.sympy_settings(), **extra}
    names = _symbol_names(expr, notation)
    if names:
        settings["symbol_names"] = names
    return _BreakingPrinter(settings, hadamard=notation.hadamard).doprint(expr)


def _strip(text: str) -> str:
    return text.translate({ord(c): None for c in _MARKS})


# -- widths -------------------------------------------------------------------------------------------------
# Rough natural widths (pt) of Computer Modern math at 10 pt; calibrated against pdflatex's boxes.
_ZERO = {"left", "right", "bigl", "bigr", "Bigl", "Bigr", "biggl", "biggr", "Biggl", "Biggr", "mathrm",
         "operatorname", "hat", "tilde", "bar", "dot", "vec", "displaystyle", "textstyle", "mathbf", "mathit",
         "limits", "nolimits", "mathbb", "boldsymbol", "phantom", "nonumber"}
_SPACES = {",": 1.7, ";": 2.8, ":": 2.2, "!": -1.7, " ": 3.3, "quad": 10.0, "qquad": 20.0}
_BINARY = {"cdot", "times", "odot", "circ", "pm", "mp", "wedge", "vee"}
_SAFETY = 1.2  # the estimate is within about 20 % of TeX's box widths (measured on the seed networks)
_RELATIONS = {"leq", "geq", "neq", "approx", "equiv", "to", "in", "notin", "subseteq", "perp", "Rightarrow",
              "mapsto", "le", "ge", "ne", "sim"}


def latex_width(tex: str, scale: float = 1.0) -> float:
    r"""Estimated natural width (pt) of display math ``tex`` at 10 pt, to decide where to break lines.

    >>> latex_width("a + b") < latex_width(r"\frac{\partial J}{\partial w_{1}} + \mathrm{ReLU}'\left(z\right)")
    True
    """
    return _measure(_strip(tex), scale) * _SAFETY


def _measure(tex: str, scale: float) -> float:
    return _Width(tex).measure(scale)


class _Width:
    def __init__(self, tex: str) -> None:
        self.tex, self.i = tex, 0

    def group(self) -> str:
        """The text of a ``{...}`` group (or a single token) at the cursor, and advance past it."""
        tex = self.tex
        while self.i < len(tex) and tex[self.i] == " ":
            self.i += 1
        if self.i >= len(tex):
            return ""
        if tex[self.i] == "{":
            depth, start = 0, self.i
            while self.i < len(tex):
                if tex[self.i] == "\\":
                    self.i += 2
                    continue
                depth += {"{": 1, "}": -1}.get(tex[self.i], 0)
                self.i += 1
                if depth == 0:
                    return tex[start + 1:self.i - 1]
            return tex[start + 1:]
        if tex[self.i] == "\\":
            match = re.match(r"\\([A-Za-z]+|.)", tex[self.i:])
            self.i += match.end()
            return match.group(0)
        self.i += 1
        return tex[self.i - 1]

    def measure(self, scale: float) -> float:
        tex, width = self.tex, 0.0
        while self.i < len(tex):
            char = tex[self.i]
            if char == "\\":
                match = re.match(r"\\([A-Za-z]+|.)", tex[self.i:])
                word = match.group(1)
                self.i += match.end()
                if word in ("frac", "dfrac", "tfrac"):
                    top, bottom = self.group(), self.group()
                    inner = scale if scale == 1.0 else scale * 0.75
                    width += max(_measure(top, inner), _measure(bottom, inner)) + 2.4 * scale
                elif word == "sqrt":
                    width += _measure(self.group(), scale) + 8.3 * scale
                elif word in ("text", "textbf", "textit", "mathrm", "operatorname") and word.startswith("text"):
                    width += len(self.group()) * 5.0 * scale
                elif word in ("mathrm", "operatorname"):
                    width += len(re.sub(r"\\.", "x", self.group())) * 6.2 * scale
                elif word in ("begin",):
                    env = self.group()
                    end = tex.find(r"\end{%s}" % env, self.i)
                    body = tex[self.i:end if end >= 0 else len(tex)]
                    self.i = (end + len(r"\end{%s}" % env)) if end >= 0 else len(tex)
                    width += _matrix_width(body, scale)
                elif word in _ZERO:
                    pass
                elif word in _SPACES:
                    width += _SPACES[word] * scale
                elif word in _BINARY:
                    width += 7.8 * scale
                elif word in _RELATIONS:
                    width += 13.4 * scale
                elif word in ("sum", "prod"):
                    width += 14.0 * scale
                elif word == "cdots" or word == "ldots" or word == "dots":
                    width += 13.4 * scale
                elif word in ("{", "}", "|"):
                    width += 5.0 * scale
                else:  # greek letters, \partial, \infty ...
                    width += 6.0 * scale
            elif char in "^_":
                self.i += 1
                width += _measure(self.group(), scale * 0.7 if scale > 0.6 else scale)
            elif char in "{}":
                self.i += 1
            elif char in "+-=<>":
                self.i += 1
                width += (13.4 if char in "=<>" else 12.0) * scale
            elif char == " ":
                self.i += 1
            elif char == "&":
                self.i += 1
            elif char in "()[]|":
                self.i += 1
                width += 3.9 * scale
            elif char in ",;":
                self.i += 1
                width += 4.4 * scale
            elif char == "'":
                self.i += 1
                width += 2.8 * scale
            elif char.isdigit():
                self.i += 1
                width += 5.0 * scale
            else:
                self.i += 1
                width += 5.8 * scale
        return width


def _matrix_width(body: str, scale: float) -> float:
    rows = [r for r in body.split(r"\\") if r.strip()]
    columns: list[float] = []
    for row in rows:
        for k, cell in enumerate(row.split("&")):
            w = _measure(cell, scale)
            if k >= len(columns):
                columns.append(w)
            else:
                columns[k] = max(columns[k], w)
    return sum(columns) + 10.0 * scale * max(len(columns) - 1, 0) + 2.0


# -- line breaking ------------------------------------------------------------------------------------------
def _break_points(marked: str) -> tuple[list[tuple[int, int]], list[tuple[int, int, list[int]]]]:
    """Break candidates ``(index, depth)`` outside braces/environments, and the ``\\left…\\right`` pairs."""
    points: list[tuple[int, int]] = []
    pairs: list[tuple[int, int, list[int]]] = []
    stack: list[tuple[int, int]] = []
    brace = env = 0
    i = 0
    while i < len(marked):
        char = marked[i]
        if char == "\\":
            match = re.match(r"\\([A-Za-z]+|.)", marked[i:])
            word = match.group(1)
            if word == "left":
                stack.append((i, brace))
            elif word == "right" and stack:
                start, _ = stack.pop()
                pairs.append((start, i, []))
            elif word == "begin":
                env += 1
            elif word == "end":
                env -= 1
            i += match.end()
            continue
        if char == "{":
            brace += 1
        elif char == "}":
            brace -= 1
        elif char in _MARKS and brace == 0 and env == 0 and all(b == 0 for _, b in stack):
            points.append((i, len(stack)))
        i += 1
    return points, pairs


def break_latex(tex_or_expr, width: float, notation: Notation | None = None, first: float | None = None) -> list[str]:
    r"""Split SymPy's LaTeX of an expression into lines no wider than ``width`` pt (where it can).

    Lines break before a ``+``/``-`` of a sum or between the factors of a product, at any depth outside
    ``\frac``, ``\sqrt``, sub-/superscripts and matrices; a ``\left(…\right)`` pair split across lines
    becomes ``\Bigl(…\Bigr)``. Joined back (with ``\Bigl``→``\left``), the lines are exactly
    :func:`print_latex` of the expression. ``first`` is the width available on the first line.

    >>> import sympy
    >>> x = sympy.symbols("x1:30")
    >>> lines = break_latex(sum(x), 120)
    >>> len(lines) > 1 and "".join(lines).replace(" ", "") == sympy.latex(sum(x)).replace(" ", "")
    True
    """
    notation = notation or Notation()
    marked = tex_or_expr if isinstance(tex_or_expr, str) else _marked(tex_or_expr, notation)
    first = width if first is None else first
    if latex_width(marked) <= first:
        return [_strip(marked)]
    points, pairs = _break_points(marked)
    cuts: list[int] = []
    start, budget = 0, first
    while latex_width(marked[start:]) > budget:
        fitting: list[tuple[int, int, float]] = []
        for index, depth in points:
            if index <= start:
                continue
            used = latex_width(marked[start:index])
            if used > budget:
                if not fitting:
                    fitting.append((index, depth, used))  # nothing fits: overflow as little as possible
                break
            fitting.append((index, depth, used))
        if not fitting:
            break
        # prefer the shallowest break (outside parentheses) among those that fill at least half the line
        full = [f for f in fitting if f[2] >= 0.5 * budget] or fitting
        cut = min(full, key=lambda f: (f[1], -f[0]))[0]
        cuts.append(cut)
        start, budget = cut, width
    text = marked
    # \left ... \right pairs that a cut separates become \Bigl ... \Bigr (or \biggl when they hold fractions)
    replacements: dict[int, tuple[int, str]] = {}
    for left, right, _ in pairs:
        if any(left < c < right for c in cuts):
            size = "bigg" if r"\frac" in marked[left:right] else "Big"
            replacements[left] = (len(r"\left"), rf"\{size}l")
            replacements[right] = (len(r"\right"), rf"\{size}r")
    boundaries = sorted(set(cuts))
    lines: list[str] = []
    line_start = 0
    for cut in boundaries + [len(text)]:
        segment, pos = [], line_start
        for where in sorted(k for k in replacements if line_start <= k < cut):
            segment.append(text[pos:where])
            length, new = replacements[where]
            segment.append(new)
            pos = where + length
        segment.append(text[pos:cut])
        lines.append(_strip("".join(segment)).strip())
        line_start = cut
    return [line for line in lines if line]


def _unbreak(lines: Sequence[str]) -> str:
    """Join broken lines back into one string (test helper: must equal :func:`print_latex`)."""
    joined = " ".join(lines)
    return re.sub(r"\\(?:bigg|Big)([lr])", lambda m: r"\left" if m.group(1) == "l" else r"\right", joined)


# -- rows of an align block ---------------------------------------------------------------------------------
_HUGE = 150  # operations: beyond this a right-hand side is printed with named common subexpressions


@dataclass
class _Rows:
    r"""The rows of one ``align*`` block, laid out when rendered (the left column's width is known then).

    Every row is an equation on its own: it has a left-hand side, or it continues the chain of ``=`` of the
    row above, whose left-hand side it shares. An equation marked ``again`` repeats its left-hand side
    unless the chain above is about that same quantity. Common subexpressions named to make a long form fit
    (``\kappa_1 = …``) are defined after the chain that uses them, so that they never interrupt it. A
    formula over :data:`bnsym.budget.LATEX_NODES` nodes is summarized, and rendering stops (saying so) when
    :data:`bnsym.budget.SECONDS` have passed.
    """

    notation: Notation
    numbered: bool = False
    entries: list[tuple] = field(default_factory=list)
    cache: dict = field(default_factory=dict)

    def equation(self, lhs: str, rhs, *, relation: str = "=", note: str = "", optional: bool = False,
                 again: bool = False, fallback: Sequence[tuple] = (), what: str = "an expression",
                 hint: str = "") -> None:
        r"""Add the row ``lhs &= rhs``; ``rhs`` is an expression or (marked) LaTeX, broken when rendered.

        ``again``: ``lhs`` is left out when the row above continues a chain about ``lhs``. ``fallback``: rows
        printed instead when ``rhs`` cannot be typeset to fit without abbreviations, each ``(lhs, rhs)`` (the
        first continues this row's chain when its ``lhs`` is ``""``) or ``(None, latex)``, a row of ready LaTeX.
        ``what``, ``hint``: the words of :func:`bnsym.budget.summary` when ``rhs`` is over the node budget."""
        self.entries.append(("eq", lhs, dict(rhs=rhs, relation=relation, note=note, optional=optional,
                                             fallback=tuple(fallback), what=what, hint=hint), again))

    def add(self, text: str) -> None:
        """Add a row of ready LaTeX (short: it is not broken)."""
        self.entries.append(("raw", text))

    def text(self, text: str) -> None:
        self.add(r"&\text{%s}" % text)

    def render(self) -> str:
        left = max([latex_width(e[1]) for e in self.entries if e[0] == "eq"] + [0.0])
        deadline = budget.Deadline()
        for _attempt in range(3):
            self.rows: list[str] = []
            self.abbreviations = 0
            self.widest_left = left
            self.chain: str | None = None  # the left-hand side the last row's chain of "=" is about
            self.pending: list[tuple] = []  # abbreviations to define after the current chain
            for k, entry in enumerate(self.entries):
                if deadline.passed():
                    self._flush(left)
                    self._remark(deadline.left_out(len(self.entries) - k, "rows of this block"), left)
                    break
                self._entry(entry, left)
            self._flush(left)
            if self.widest_left <= left + 0.5 or deadline.passed():
                break
            left = self.widest_left
        if self.notation.environment == "aligned":
            env = "aligned"
        else:
            env = "align" if self.numbered else "align*"
        return f"\\begin{{{env}}}\n" + "\\\\\n".join(self.rows) + f"\n\\end{{{env}}}"

    def _entry(self, entry: tuple, left: float) -> None:
        kind = entry[0]
        if kind == "raw":
            self._add(entry[1], number=False)
        elif kind == "note":  # a long reason, set as a paragraph in the right-hand column
            self._add(self._paragraph("(%s)" % entry[1], left), number=False)
        else:
            lhs, row, again = entry[1:]
            shown = "" if again and self.chain == lhs else lhs
            if shown or not row["relation"]:  # a new equation: the chain above is complete; define its abbreviations
                self._flush(left)
            previous = self.chain
            self.chain = lhs if shown else (self.chain if row["relation"] else None)
            if not self._equation(shown, left=left, **row):
                self.chain = previous

    def _paragraph(self, text: str, left: float) -> str:
        room = int(self.notation.width - left - 60)
        return r"&\qquad\parbox[t]{%dpt}{\raggedright %s}" % (room, text)

    def _remark(self, text: str, left: float, lhs: str = "") -> None:
        """A row of words: a paragraph in a document, ``\\text`` in a notebook (MathJax has no ``\\parbox``)."""
        if self.notation.environment == "aligned":
            row = r"%s&\quad\text{(%s)}" % (lhs, _text(text, self.notation))
        else:
            row = lhs + self._paragraph("(%s)" % escape_text(text), left)
        self._add(row, number=False)

    def _flush(self, left: float) -> None:
        """Define the abbreviations of the chain just printed (``where κ₁ = …``)."""
        first = True
        while self.pending:
            symbol, value, depth = self.pending.pop(0)
            head = (r"\text{where }" if first else "") + print_latex(symbol, self.notation)
            self._equation(head, value, left=left, depth=depth)
            first = False
            self.chain = None

    def _add(self, text: str, number: bool = True) -> None:
        if self.numbered and self.notation.environment == "align*" and not number:
            text += r" \nonumber"
        self.rows.append(text)

    def _fit(self, rhs, width: float, first: float):
        """Lines of ``rhs`` that fit, trying SymPy's ``root_notation=False`` (breakable roots) second."""
        if isinstance(rhs, str):
            variants = [lambda: rhs]
        else:
            variants = [lambda: self._print(rhs, True), lambda: self._print(rhs, False)]
        best = None
        for variant in variants:
            marked = variant()
            lines = break_latex(marked, width, self.notation, first=first)
            fits = all(latex_width(line) <= (first if k == 0 else width) for k, line in enumerate(lines))
            if fits:
                return lines, True
            best = best or lines
        return best, False

    def _print(self, expr, roots: bool) -> str:
        key = (sympy.ImmutableMatrix(expr) if _is_matrix(expr) else expr, roots)
        if key not in self.cache:
            extra = {} if roots else {"root_notation": False}
            self.cache[key] = _marked_settings(expr, self.notation, **extra)
        return self.cache[key]

    def _equation(self, lhs: str, rhs, relation: str = "=", note: str = "", optional: bool = False, *,
                  left: float, depth: int = 0, fallback: Sequence[tuple] = (), what: str = "an expression",
                  hint: str = "") -> bool:
        r"""Lay out ``lhs &= rhs``; return whether a row was printed. A right-hand side that cannot be broken
        to fit is replaced by ``fallback``'s rows, or printed with its common subexpressions named
        (``\kappa_1, \kappa_2, …`` from :func:`sympy.cse`, defined by :meth:`_flush`); one over the node budget
        is summarized; an ``optional`` row that does not fit is left out."""
        if not isinstance(rhs, str) and not budget.fits(rhs, budget.LATEX_NODES):
            if optional:
                return False
            if fallback:
                return self._fallback(lhs, fallback, left)
            self.widest_left = max(self.widest_left, latex_width(lhs))
            self._remark(budget.summary(budget.size(rhs), what=what, hint=hint), left, lhs=lhs)
            return True
        self.widest_left = max(self.widest_left, latex_width(lhs))
        right = self.notation.width - left - 13.4 - 20.0
        first = right - (latex_width(note) if note else 0.0)
        rest = right - 20.0
        huge = isinstance(rhs, sympy.Expr) and depth == 0 and sympy.count_ops(rhs) > _HUGE
        lines, fits = (None, False) if huge else self._fit(rhs, max(rest, 60.0), max(first, 60.0))
        if not fits and optional:
            return False
        if not fits and fallback:
            return self._fallback(lhs, fallback, left)
        if not fits and isinstance(rhs, sympy.Expr) and depth < 2:
            taken = {s.name for s in rhs.free_symbols}
            names = (sympy.Symbol(f"kappa{k}") for k in range(self.abbreviations + 1, 10**6))
            replacements, (reduced,) = sympy.cse(rhs, symbols=(s for s in names if s.name not in taken),
                                                 optimizations=None)
            if replacements:
                self.abbreviations += len(replacements)
                self._equation(lhs, reduced, relation, note, left=left, depth=depth + 1)
                self.pending.extend((symbol, value, depth + 1) for symbol, value in replacements)
                return True
        if lines is None:  # a long form with nothing in common for cse to name: broken as well as it can be
            lines, _ = self._fit(rhs, max(rest, 60.0), max(first, 60.0))
        for k, line in enumerate(lines):
            if k == 0:
                text = f"{lhs} &{relation} {line}" if relation else f"{lhs} & {line}"
                if note:
                    text += note
            else:
                text = rf" &\qquad {{}}{line}"
            self._add(text, number=(k == len(lines) - 1))
        return True

    def _fallback(self, lhs: str, rows: Sequence[tuple], left: float) -> bool:
        for k, (row_lhs, row_rhs) in enumerate(rows):
            if row_lhs is None:  # a row of ready LaTeX
                self._flush(left)
                self._add(row_rhs, number=False)
                continue
            if k and row_lhs:
                self._flush(left)
            if self._equation(lhs if k == 0 and not row_lhs else row_lhs, row_rhs, left=left) and row_lhs:
                self.chain = row_lhs
        return True


def _partial(of, wrt, notation: Notation) -> str:
    return r"\frac{\partial %s}{\partial %s}" % (print_latex(of, notation), print_latex(wrt, notation))


def _is_matrix(value) -> bool:
    return isinstance(value, sympy.MatrixBase)


def _sigma_prime(value) -> sympy.Expr | None:
    """The argument ``z`` when ``value`` is the sigmoid's derivative ``σ(z)(1 − σ(z))``, else None."""
    from .functions import Sigmoid

    sigmoids = value.atoms(Sigmoid) if isinstance(value, sympy.Basic) else set()
    if len(sigmoids) == 1:
        (s,) = sigmoids
        if sympy.expand(value - s.fdiff()) == 0:
            return s.args[0]
    return None


# -- derivations --------------------------------------------------------------------------------------------
def _symbols_in(expr) -> set:
    """The symbols of ``expr`` (or of a matrix's entries), found on SymPy's DAG: cheap on huge shared forms."""
    out, seen = set(), set()
    stack = list(expr) if _is_matrix(expr) else [expr]
    while stack:
        e = stack.pop()
        if id(e) in seen or not isinstance(e, sympy.Basic):
            continue
        seen.add(id(e))
        if e.is_Symbol:
            out.add(e)
        else:
            stack.extend(e.args)
    return out


def _adjoint_form(d, notation: Notation) -> tuple:
    r"""The gradient in the adjoints ``\bar v = \partial J/\partial v`` (how reverse accumulation computes it):
    ``(raw, rows)``, ``raw`` the gradient in the adjoints and ``rows`` their definitions, from the output back
    (the ones ``raw`` needs); ``(None, ())`` when ``d`` does not come with its reverse sweep."""
    gradients = getattr(d, "gradients", None)
    raw = getattr(gradients, "raw", {}).get(d.parameter_name) if gradients is not None else None
    adjoints = list(getattr(gradients, "adjoints", None) or [])
    if raw is None:
        return None, ()
    defined = dict(adjoints)
    needed: set = set()
    stack = list(_symbols_in(raw))
    while stack:
        s = stack.pop()
        if s in defined and s not in needed:
            needed.add(s)
            stack.extend(_symbols_in(defined[s]))
    raw = raw[0, 0] if _is_matrix(raw) and raw.shape == (1, 1) else raw
    rows = [(None, r"&\text{with the adjoints }\bar{v} = \frac{\partial J}{\partial v}\text{:}")] if needed else []
    rows += [(print_latex(s, notation), e) for s, e in adjoints if s in needed]
    return raw, tuple(rows)


def _derivation_rows(d, rows: _Rows) -> None:
    r"""The rows of a derivation; each is an equation (or continues the chain of ``=`` of the row above,
    about the same quantity): the forward definitions, ``\partial J/\partial p`` as the symbolic chain-rule
    product, the factors, the product substituted, the gradient in the named intermediates and explicit."""
    notation = rows.notation
    J = getattr(d, "loss_symbol", sympy.Symbol("J"))
    param = sympy.Symbol(d.parameter_name)
    target = _partial(J, param, notation)
    factors = list(d.factors)
    compact = d.compact
    # 1. the forward definitions the derivation uses
    used = set()
    pending = [compact] + [f.value for f in factors]
    definitions = list(getattr(d, "definitions", []))
    defined = {s: e for s, e in definitions}
    while pending:
        for s in _symbols_in(pending.pop()):
            if s in defined and s not in used:
                used.add(s)
                pending.append(defined[s])
    involved = {f.of for f in factors} | {f.wrt for f in factors}
    nodes = list(getattr(getattr(d, "network", None), "nodes", []))
    for previous, node in zip(nodes, nodes[1:]):  # name the batch-norm steps the chain passes through
        if getattr(getattr(node, "layer", None), "kind", None) == "normalize" and node.label in involved:
            rows.equation(print_latex(node.label, notation),
                          r"%s\left(%s\right)" % (notation.bn, print_latex(previous.label, notation)))
    for symbol, expr in definitions:
        if symbol in used:
            rows.equation(print_latex(symbol, notation), expr)
    # 2. the symbolic chain-rule product
    symbolic = [_partial(f.of, f.wrt, notation) for f in factors]
    rows.equation(target, r"\,".join(symbolic).replace(r"\,", r"\," + _MUL_MARK))
    # 3. each factor substituted (the product substituted only when every factor is within the budget)
    small = all(budget.fits(f.value, budget.LATEX_NODES) for f in factors)
    if not any(_is_matrix(f.value) for f in factors):
        if small:
            rows.equation(target, (r" \cdot" + _MUL_MARK + " ").join(_scalar_factor(f.value, notation)
                                                                      for f in factors), again=True)
        else:
            for f in factors:
                _factor_rows(f, rows)
    else:
        for f in factors:
            _factor_rows(f, rows)
        if small:
            rows.equation(target, _hadamard_product(factors, notation), optional=True, again=True)
    # 4. multiplied out in the named intermediates (or in the adjoints), then explicit
    raw, adjoint_rows = _adjoint_form(d, notation)
    _compact_rows(d, compact, raw, adjoint_rows, rows, target)
    closed = d.closed_form
    fits = budget.fits(closed, budget.LATEX_NODES)
    if closed is not compact and (not fits or not budget.fits(compact, budget.LATEX_NODES) or closed != compact):
        _value_rows(d, closed, rows, target, what="explicit in the inputs and parameters, this is an expression",
                    hint="substituting the definitions above into the form above gives it")


def _scalar_factor(value, notation: Notation) -> str:
    arg = _sigma_prime(value)
    if arg is not None:
        return r"\sigma'\left(%s\right)" % _marked(arg, notation)
    body = _marked(value, notation)
    return r"\left(" + body + r"\right)" if isinstance(value, sympy.Add) else body


def _compact_rows(d, compact, raw, adjoint_rows, rows: _Rows, target: str) -> None:
    """The gradient in the named intermediates; in the adjoints when that form cannot be typeset unabbreviated."""
    if not _is_matrix(compact):
        rows.equation(target, compact, again=True, fallback=(("", raw),) + adjoint_rows if raw is not None else ())
        return
    typesettable = budget.fits(compact, budget.LATEX_NODES) and all(sympy.count_ops(e) <= _HUGE for e in compact)
    if typesettable or raw is None:
        _value_rows(d, compact, rows, target)
        return
    _value_rows(d, raw, rows, target)
    for lhs, rhs in adjoint_rows:
        if lhs is None:
            rows.add(rhs)
        else:
            rows.equation(lhs, rhs)


def _value_rows(d, value, rows: _Rows, target: str, what: str = "an expression", hint: str = "") -> None:
    notation = rows.notation
    if not _is_matrix(value) or not budget.fits(value, budget.LATEX_NODES) and not all(
            budget.fits(e, budget.LATEX_NODES) for e in value):
        if _is_matrix(value):
            what = "%s (a %d by %d matrix)" % (what, value.rows, value.cols)
        rows.equation(target, value, again=True, what=what, hint=hint)
        return
    if budget.fits(value, budget.LATEX_NODES) and latex_width(print_latex(value, notation)) <= notation.width - 60:
        rows.equation(target, value, again=True, what=what, hint=hint)
        return
    symbols = d.parameter if _is_matrix(d.parameter) else None
    for index in range(len(value)):
        i, j = divmod(index, value.cols)
        if symbols is not None and symbols.shape == value.shape:
            lhs = _partial(getattr(d, "loss_symbol", sympy.Symbol("J")), symbols[i, j], notation)
        else:
            lhs = r"\left[%s\right]_{%d %d}" % (target, i + 1, j + 1)
        rows.equation(lhs, value[i, j], again=True, what=what, hint=hint)


def _factor_rows(f, rows: _Rows) -> None:
    notation = rows.notation
    lhs = _partial(f.of, f.wrt, notation)
    value = f.value
    if not budget.fits(value, budget.LATEX_NODES):
        rows.equation(lhs, value, what="a Jacobian" if _is_matrix(value) else "an expression")
        return
    if not _is_matrix(value):
        arg = _sigma_prime(value)
        if arg is not None:
            prime = r"\sigma'\left(%s\right) = " % print_latex(arg, notation)
            rows.equation(lhs, prime + _MUL_MARK + _marked(value, notation))
            return
        rows.equation(lhs, value)
        return
    if value.is_diagonal() and value.rows == value.cols and value.rows > 1:
        diagonal = [value[k, k] for k in range(value.rows)]
        if len(set(diagonal)) == 1:
            rows.equation(lhs, _marked(diagonal[0], notation) + r" I")
        else:
            rows.equation(lhs, r"\operatorname{diag}\left(" + ("," + _MUL_MARK + " ").join(
                _marked(e, notation) for e in diagonal) + r"\right)")
        return
    if latex_width(print_latex(value, notation)) <= notation.width - latex_width(lhs) - 40:
        rows.equation(lhs, value)
        return
    for index in range(len(value)):
        i, j = divmod(index, value.cols)
        if value[i, j] != 0:
            rows.equation(r"\left[%s\right]_{%d %d}" % (lhs, i + 1, j + 1), value[i, j])
    rows.text(r"(the other entries are 0)")


def _hadamard_product(factors, notation: Notation) -> str:
    r"""The chain-rule product with each factor substituted, read left to right: a row vector times each
    Jacobian; a diagonal Jacobian acts as an elementwise product with its diagonal (``\odot``)."""
    out, previous = "", "start"
    for k, f in enumerate(factors):
        value = f.value
        kind = "matrix" if _is_matrix(value) else "scalar"
        if kind == "matrix" and value.rows == value.cols and value.rows > 1 and value.is_diagonal():
            diagonal = [value[i, i] for i in range(value.rows)]
            if len(set(diagonal)) == 1:
                value, kind = diagonal[0], "scalar"
            else:
                value, kind = sympy.Matrix([diagonal]), "hadamard"
        piece = _marked(value, notation)
        if kind == "scalar" and isinstance(value, sympy.Add):
            piece = r"\left(" + piece + r"\right)"
        if k == 0:
            out = piece
        elif kind == "hadamard":
            if previous == "matrix":
                out = r"\left(" + out + r"\right)"
            out += f" {_MUL_MARK}{notation.hadamard} " + piece
        else:
            out += f" {_MUL_MARK}" + piece
        if k:
            previous = kind
    return out


# -- proofs -------------------------------------------------------------------------------------------------
_RELATIONS_TEX = {"==": "=", "!=": r"\neq", "<": "<", "<=": r"\leq", ">": ">", ">=": r"\geq"}


def _text(text: str, notation: Notation) -> str:
    """Plain text for a ``\\text{…}`` in math: escaped for TeX, or kept as Unicode for MathJax (notebooks)."""
    if notation.environment == "aligned":  # MathJax shows \text{...} literally, except braces, $, % and #
        text = str(text).replace("&", "and").replace("%", " percent").replace("\n", " ")
        return re.sub(r"[\\{}$#]", " ", text)
    return escape_text(text)


_SUBSCRIPTED = re.compile(r"(?<![A-Za-z\u0300-\u036f])([A-Za-zΣδμσγβεηλ][\u0300-\u036f]?)_([A-Za-z0-9]{1,3})"
                         r"(?![A-Za-z0-9_])")


def _reason(text: str, notation: Notation) -> str:
    """A step's reason: text, with subscripted symbols (``Σ_j``, ``δ_ik``, ``x̂_l``) typeset as math.

    >>> print(_reason("Σ_l δ_il = 1 (theorem bn_jacobian)", Notation()))
    $\\Sigma_{l}$ $\\delta_{il}$ = 1 (theorem bn\\_jacobian)
    """
    if notation.environment == "aligned":
        return _text(text, notation)
    out, last = [], 0
    for match in _SUBSCRIPTED.finditer(str(text)):
        out.append(_text(text[last:match.start()], notation))
        base = escape_text(match.group(1))
        base = base[1:-1] if base.startswith("$") and base.endswith("$") else base
        out.append(f"${base}_{{{match.group(2)}}}$")
        last = match.end()
    out.append(_text(text[last:], notation))
    return "".join(out)


def _mark_free(latex: str, deep: bool = False) -> str:
    """Break marks before the top-level ``=``, ``+``, ``-`` (and relations) of LaTeX written by hand; ``deep``
    marks them inside ``\\left … \\right`` pairs too (:func:`break_latex` resizes a pair it splits)."""
    out, depth, i = [], 0, 0
    while i < len(latex):
        char = latex[i]
        if char == "\\":
            word = re.match(r"\\([A-Za-z]+|.)", latex[i:]).group(0)
            if word == r"\begin" or (word == r"\left" and not deep):
                depth += 1
            elif word == r"\end" or (word == r"\right" and not deep):
                depth -= 1
            elif depth == 0 and word in (r"\leq", r"\geq", r"\le", r"\ge", r"\neq", r"\approx") and i > 0:
                out.append(_ADD_MARK)
            out.append(word)
            i += len(word)
            continue
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
        elif depth == 0 and char in "=+-<>" and i > 0 and latex[i - 1] == " ":
            out.append(_ADD_MARK)
        out.append(char)
        i += 1
    return "".join(out)


def _proof_rows(proof, rows: _Rows) -> None:
    """Statement, hypotheses, then the chain of equalities, each step with its reason."""
    notation = rows.notation
    rows.equation("", _mark_free(check_math(proof.statement_latex, "statement_latex")), relation="")
    conditions = [check_math(c.latex, "a condition's LaTeX") for c in proof.conditions]
    if conditions:
        line, current = [], []
        for c in conditions:
            trial = current + [c]
            if current and latex_width(r"\text{if }" + r",\ ".join(trial)) > notation.width - 60:
                line.append(r",\ ".join(current))
                current = [c]
            else:
                current = trial
        line.append(r",\ ".join(current))
        for k, part in enumerate(line):
            rows.add((r"&\text{if } " if k == 0 else r"&\qquad ") + part + ("," if k < len(line) - 1 else ""))
    previous = None
    for step in proof.steps:
        expr = step.expr
        if expr is None:  # a remark: narrative, on its own line, never part of a chain of equalities
            rows.entries.append(("note", "Remark: " + _reason(step.reason, notation)))
            previous = None
            continue
        reason = _reason(step.reason, notation) if step.reason else ""
        short = reason and latex_width(r"\text{(%s)}" % reason) < 0.35 * notation.width
        note = r"\qquad\text{(%s)}" % reason if short else ""
        if isinstance(expr, sympy.core.relational.Relational):
            relation = _RELATIONS_TEX[expr.rel_op]
            if previous is not None and expr.lhs == previous:
                rows.equation("", expr.rhs, relation=relation, note=note)
            elif budget.fits(expr.lhs, budget.LATEX_NODES) and \
                    latex_width(print_latex(expr.lhs, notation)) < 0.3 * notation.width:
                rows.equation(print_latex(expr.lhs, notation), expr.rhs, relation=relation, note=note)
            else:
                rows.equation("", expr.lhs, relation="")
                rows.equation("", expr.rhs, relation=relation, note=note)
            previous = expr.rhs
        elif isinstance(expr, sympy.logic.boolalg.Boolean):
            # a fact that is not an equality (e.g. L ∈ {1, …, 6}): its own line, not "= …"
            rows.equation("", expr, relation="", note=note)
            previous = None
        else:
            rows.equation("", expr, note=note)
            previous = expr
        if reason and not short:
            if notation.environment == "aligned":
                rows.add(r"&\qquad\text{(%s)}" % reason)
            else:
                rows.entries.append(("note", reason))


def _group(latex: str, start: int) -> int:
    """The index just past the ``{…}`` group that opens at ``latex[start]`` (escaped braces skipped)."""
    depth, i = 0, start
    while i < len(latex):
        if latex[i] == "\\":
            i += 2
            continue
        depth += {"{": 1, "}": -1}.get(latex[i], 0)
        i += 1
        if depth == 0:
            return i
    return len(latex)


def _open_fractions(latex: str, wide: float) -> str:
    r"""Each top-level ``\frac{N}{D}`` whose numerator is wider than ``wide`` pt written ``\frac{1}{D} \left(N\right)``
    (the same value), so that the numerator can be broken across lines."""
    out, depth, i = [], 0, 0
    while i < len(latex):
        if latex.startswith(r"\frac{", i) and depth == 0:
            top_end = _group(latex, i + 5)
            if top_end < len(latex) and latex[top_end] == "{":
                bottom_end = _group(latex, top_end)
                top, bottom = latex[i + 6:top_end - 1], latex[top_end:bottom_end]
                if latex_width(top) > wide:
                    out.append(r"\frac{1}%s %s\left(%s\right)" % (bottom, _MUL_MARK, _open_fractions(top, wide)))
                    i = bottom_end
                    continue
        if latex[i] == "\\":
            out.append(latex[i:i + 2])
            i += 2
            continue
        depth += {"{": 1, "}": -1}.get(latex[i], 0)
        out.append(latex[i])
        i += 1
    return "".join(out)


def _display(latex: str, notation: Notation) -> str:
    r"""Ready LaTeX as display math: ``\[ … \]`` when it fits the text block, else an ``align*`` block broken at
    its first top-level relation and at its sums (a wide fraction opened by :func:`_open_fractions`)."""
    if latex_width(latex) <= notation.width - 20:
        return r"\[ %s \]" % latex
    marked = _mark_free(latex)
    lhs, relation, rhs = "", "", latex
    relations = {"=": "=", "<": "<", ">": ">", "\\leq": r"\leq", "\\geq": r"\geq", "\\le": r"\le",
                 "\\ge": r"\ge", "\\neq": r"\neq", "\\approx": r"\approx"}
    if _ADD_MARK in marked:
        head, tail = marked.split(_ADD_MARK, 1)
        rel = re.match(r"\s*(=|<|>|\\(?:leq|geq|le|ge|neq|approx)(?![A-Za-z]))", tail)
        if rel and head.strip():
            lhs, relation = head.strip(), relations[rel.group(1)]
            rhs = _strip(tail[rel.end():]).strip()
    rows = _Rows(notation)
    rows.equation(lhs, _mark_free(_open_fractions(rhs, 0.5 * notation.width), deep=True), relation=relation)
    return rows.render()


def _breakable(text: str) -> str:
    r"""Plain text (:func:`escape_text`) with ``\allowbreak`` after ``*``, ``/``, ``,``, ``(`` and ``=`` inside words,
    so that a long formula written as text (``590295810358705651712*gamma**2*(…``) can wrap."""
    return re.sub(r"([*/,=(])(?=[^\s*])", r"\1\\allowbreak{}", escape_text(text))


def _proof_verdict(proof, text) -> str:
    if proof.holds is True:
        return "Holds: proved (" + text(proof.method) + ")."
    if proof.holds is False:
        verdict = "Does not hold as stated"
        if proof.replacement:
            verdict += "; what holds instead: " + text(proof.replacement)
        return verdict + "."
    return "Could not be completed" + (": " + text(proof.reason) if proof.reason else "") + "."


def _proof_block(proof, notation: Notation, numbered: bool) -> str:
    rows = _Rows(notation, numbered)
    _proof_rows(proof, rows)
    math = rows.render()
    if notation.environment == "aligned":
        head = r"&\textbf{%s}\\&\text{(%s)}\\" % (_text(proof.title, notation), _text(proof.source, notation))
        verdict = r"\\&\text{%s}" % _proof_verdict(proof, lambda t: _text(t, notation))
        if proof.holds is False and proof.replacement_latex:
            verdict += r"\\& %s" % check_math(proof.replacement_latex, "replacement_latex")
        return math.replace(r"\begin{aligned}" + "\n", r"\begin{aligned}" + "\n" + head + "\n", 1).replace(
            "\n" + r"\end{aligned}", verdict + "\n" + r"\end{aligned}")
    batch = "" if str(proof.batch) == "m" else r"; batch size $m = %s$" % escape_text(str(proof.batch))
    parts = [r"\noindent\textbf{%s.} %s%s." % (escape_text(proof.title), escape_text(proof.source), batch)]
    parts.append(math)
    parts.append(r"\noindent %s" % _proof_verdict(proof, _breakable))
    if proof.holds is False and proof.replacement_latex:
        parts.append(_display(check_math(proof.replacement_latex, "replacement_latex"), notation))
    if proof.holds is False and proof.counterexample:
        items = ", ".join(f"{escape_text(str(k))} = {_breakable(_short(v))}" for k, v in proof.counterexample.items())
        parts.append(r"\noindent Counterexample: %s." % items)
    return "\n".join(parts)


def _short(value) -> str:
    text = str(value)
    return text if len(text) <= 60 else text[:57] + "..."


# -- public entry points ------------------------------------------------------------------------------------
def _is_derivation(obj) -> bool:
    if hasattr(obj, "graph") and hasattr(obj, "parameter_name"):  # a derivation in index form
        return True
    return all(hasattr(obj, a) for a in ("factors", "compact", "closed_form", "parameter_name"))


def _is_proof(obj) -> bool:
    return all(hasattr(obj, a) for a in ("statement_latex", "conditions", "steps", "holds"))


def _items(obj) -> list:
    if _is_derivation(obj) or _is_proof(obj):
        return [obj]
    if isinstance(obj, Mapping):
        obj = list(obj.values())
    if isinstance(obj, (list, tuple)) and obj and all(_is_derivation(o) or _is_proof(o) for o in obj):
        return list(obj)
    raise LatexError(
        f"to_latex renders a Derivation, a Proof, or a list or mapping of them; got {type(obj).__name__}"
    )


def _block(obj, notation: Notation, numbered: bool) -> str:
    if _is_proof(obj):
        return _proof_block(obj, notation, numbered)
    rows = _Rows(notation, numbered)
    if hasattr(obj, "graph"):  # index form over the batch
        from .latex_index import index_rows

        for lhs, rhs in index_rows(obj, notation):
            rows.equation(lhs, rhs)
        if obj.proof is not None:
            rows.text(_text("(proved by the kernel for every batch size m, if:", notation))
            for condition in obj.proof.conditions:
                rows.text(_text(f"  {condition.text})", notation))
        return rows.render()
    _derivation_rows(obj, rows)
    return rows.render()


def _heading(obj) -> str:
    if _is_proof(obj):
        return escape_text(obj.title)
    network = getattr(obj, "network", None)
    where = getattr(network, "description", "") or "the network"
    return r"$\partial J/\partial %s$ in the %s" % (print_latex(sympy.Symbol(obj.parameter_name)), escape_text(where))


def to_latex(obj, standalone: bool = False, numbered: bool = False, notation: Notation | None = None) -> str:
    r"""LaTeX for a :class:`~bnsym.derive.Derivation`, a :class:`~bnsym.theorems.Proof`, or a list/mapping of them.

    A derivation is an ``align*`` block: the forward definitions it uses, the symbolic chain-rule product
    ``\frac{\partial J}{\partial w_1} = \frac{\partial J}{\partial \hat y}\,\frac{\partial \hat y}{\partial z_2}
    \cdots``, the factors substituted, then the gradient in the named intermediates and explicitly. A proof
    is its statement, hypotheses and chain of equalities (each with its reason), then the verdict.
    ``numbered=True`` numbers the equations (``align``); ``standalone=True`` returns a complete document.

    >>> from bnsym import two_layer
    >>> tex = to_latex(two_layer().gradient("w1"))
    >>> r"\mathrm{ReLU}'\left(z_{2}\right) \cdot w_{2} \cdot \mathrm{ReLU}'\left(z_{1}\right) \cdot x" in tex
    True
    >>> to_latex("w1")
    Traceback (most recent call last):
    ...
    bnsym.errors.LatexError: to_latex renders a Derivation, a Proof, or a list or mapping of them; got str
    """
    notation = notation or Notation()
    if not isinstance(notation, Notation):
        raise LatexError(f"notation must be a bnsym.latex.Notation, got {type(notation).__name__}")
    items = _items(obj)
    if standalone:
        return document(items, numbered=numbered, notation=notation)
    return "\n\n".join(_block(item, notation, numbered) for item in items)


def repr_latex(obj) -> str:
    r"""What ``_repr_latex_`` returns in a notebook: an ``aligned`` block inside ``$$ … $$``.

    >>> from bnsym import chain
    >>> text = repr_latex(chain(2).gradient("w2"))
    >>> text.startswith("$$\\begin{aligned}") and text.endswith("\\end{aligned}$$")
    True
    """
    return "$$" + to_latex(obj, notation=Notation(environment="aligned")) + "$$"


_PREAMBLE = r"""\documentclass[10pt]{article}
\usepackage{amsmath}
\usepackage{amssymb}
\allowdisplaybreaks
\sloppy
\begin{document}
"""


def document(items, *, numbered: bool = False, notation: Notation | None = None, title: str | None = None) -> str:
    r"""A complete LaTeX document (``article``, ``amsmath``, ``amssymb``) with one section per item.

    >>> from bnsym import chain
    >>> tex = document([chain(2).gradient("w1")], title="Goodfellow's chain")
    >>> tex.startswith("\\documentclass") and tex.rstrip().endswith("\\end{document}")
    True
    """
    notation = notation or Notation()
    if notation.environment != "align*":
        raise LatexError("a standalone document needs Notation(environment='align*')")
    items = _items(items)
    preamble = _PREAMBLE
    if notation.width != Notation.width:  # the text block the lines were broken for
        preamble = preamble.replace(r"\usepackage{amsmath}",
                                    "\\usepackage[textwidth=%gpt]{geometry}\n\\usepackage{amsmath}" % notation.width)
    body = []
    if title:
        body.append(r"\section*{%s}" % escape_text(title))
    for item in items:
        body.append(r"\subsection*{%s}" % _heading(item))
        body.append(_block(item, notation, numbered))
    return preamble + "\n\n".join(body) + "\n\\end{document}\n"


def compile_pdf(tex: str, workdir, *, name: str = "bnsym", timeout: float = 120.0) -> Path:
    r"""Compile ``tex`` with ``pdflatex`` (no shell escape, paranoid file access) and return the PDF's path.

    ``pdflatex -no-shell-escape`` runs in ``workdir`` with ``openin_any=p`` and ``openout_any=p``: the document
    cannot run programs, nor read or write files outside ``workdir`` (no absolute paths, no ``..``, no dot
    files). ``name`` (the job name) is a letter or digit and then letters, digits, ``_`` or ``-``.

    Raises :class:`~bnsym.errors.LatexError` with an excerpt of the log on any LaTeX error and on any
    overfull box (an equation wider than the text block), or when ``pdflatex`` is not installed.

    >>> import shutil, tempfile
    >>> if shutil.which("pdflatex"):
    ...     with tempfile.TemporaryDirectory() as tmp:
    ...         pdf = compile_pdf(document([__import__("bnsym").chain(2).gradient("w1")]), tmp)
    ...         ok = pdf.stat().st_size > 1000
    ... else:
    ...     ok = True
    >>> ok
    True
    """
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}", name):
        # an allow-list: the name is pdflatex's job name, so it must not start with "-" (an option)
        raise LatexError(f"the document name must be a letter or digit followed by at most 63 letters, digits, "
                         f"_ or -, got {name!r}")
    if not isinstance(tex, str):
        raise LatexError(f"compile_pdf needs the LaTeX source as a string, got {type(tex).__name__}")
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout < float("inf"):
        raise LatexError(f"timeout must be a positive number of seconds, got {timeout!r}")
    exe = shutil.which("pdflatex")
    if exe is None:
        raise LatexError("pdflatex is not installed (Debian: apt-get install texlive-latex-base "
                         "texlive-latex-recommended)")
    workdir = Path(workdir)
    source = workdir / f"{name}.tex"
    try:
        workdir.mkdir(parents=True, exist_ok=True)
        source.write_text(tex, encoding="utf-8")
    except OSError as exc:
        raise LatexError(f"cannot write {source}: {exc.strerror or exc}") from None
    env = dict(os.environ, openin_any="p", openout_any="p", shell_escape="f")
    try:
        result = subprocess.run(
            [exe, "-no-shell-escape", "-halt-on-error", "-interaction=nonstopmode", "-file-line-error", source.name],
            cwd=workdir, env=env, capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as exc:
        raise LatexError(f"pdflatex took longer than {timeout:.0f} s on {source}") from exc
    log_path = workdir / f"{name}.log"
    log = log_path.read_text(encoding="latin-1") if log_path.exists() else result.stdout.decode("latin-1")
    problems = [m.start() for m in re.finditer(r"^(! |.*:\d+: |Overfull \\[hv]box)", log, re.M)]
    pdf = workdir / f"{name}.pdf"
    if result.returncode != 0 or problems or not pdf.exists():
        at = problems[0] if problems else max(len(log) - 1500, 0)
        excerpt = log[at:at + 1500].strip()
        raise LatexError(f"pdflatex failed on {source} (exit {result.returncode}):\n{excerpt}")
    return pdf
