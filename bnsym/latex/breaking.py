r"""Line breaking: SymPy's LaTeX split at its sums and products into lines that fit (:func:`break_latex`), and
the break marks of LaTeX written by hand (:func:`_mark_free`, :func:`_open_fractions`).

>>> print(_strip(_open_fractions(r"\frac{a + b + c + d + e}{2}", 20)))
\frac{1}{2} \left(a + b + c + d + e\right)
"""
from __future__ import annotations


from .notation import Notation
from .printer import _ADD_MARK, _MARKS, _MUL_MARK, _marked, _strip
from .width import control_sequence, latex_width

__all__ = ["break_latex"]


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
            match = control_sequence(marked[i:])
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


def _mark_free(latex: str, deep: bool = False) -> str:
    """Break marks before the top-level ``=``, ``+``, ``-`` (and relations) of LaTeX written by hand; ``deep``
    marks them inside ``\\left … \\right`` pairs too (:func:`break_latex` resizes a pair it splits)."""
    out, depth, i = [], 0, 0
    while i < len(latex):
        char = latex[i]
        if char == "\\":
            command = control_sequence(latex[i:])
            word = command.group(0)
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
