r"""What users may hand the printers, made safe: allow-lists for LaTeX, plain text as LaTeX text, names as LaTeX.

Nothing is refused by name: a LaTeX string may only contain the characters, commands and environments listed
here (:data:`NAME_COMMANDS`, :data:`MATH_COMMANDS`, :data:`MATH_ENVIRONMENTS`), so a command TeX or a package
adds later (``\UseName``, ``\ExpandArgs``, ``\AddToHook`` ...) is refused because it is not on the list.

>>> check_name(r"\input{secret}")
Traceback (most recent call last):
...
bnsym.errors.LatexError: refused LaTeX for a name: the command \input is not allowed
"""
from __future__ import annotations

import re
import unicodedata
from typing import TYPE_CHECKING

import sympy

from ..errors import LatexError

if TYPE_CHECKING:
    from .notation import Notation

__all__ = ["check_name", "check_math", "escape_text", "NAME_COMMANDS", "MATH_COMMANDS", "MATH_ENVIRONMENTS",
           "NAME_LENGTH", "MATH_LENGTH"]

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
    "substack", "quad", "qquad", "displaystyle", "textstyle", "scriptstyle", "limits", "nolimits",
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
    bnsym.errors.LatexError: refused LaTeX: \end{align*} is not allowed (only \begin/\end of matrix, ...)
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


def _text(text: str, notation: Notation) -> str:
    """Plain text for a ``\\text{…}`` in math: escaped for TeX, or kept as Unicode for MathJax (notebooks)."""
    if notation.environment == "aligned":  # MathJax shows \text{...} literally, except braces, $, % and #
        text = str(text).replace("&", "and").replace("%", " percent").replace("\n", " ")
        return re.sub(r"[\\{}$#]", " ", text)
    return escape_text(text)


def _breakable(text: str) -> str:
    r"""Plain text (:func:`escape_text`) with ``\allowbreak`` after ``*``, ``/``, ``,``, ``(`` and ``=`` inside words,
    so that a long formula written as text (``590295810358705651712*gamma**2*(…``) can wrap."""
    return re.sub(r"([*/,=(])(?=[^\s*])", r"\1\\allowbreak{}", escape_text(text))


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
    out: list[str] = []
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
