"""The proof kernel: the exact zero decision, the index calculus for batch sums, and checked proof steps.

* :mod:`bnsym.kernel.zero` — :func:`decide_zero`, sound by construction (``True`` only on the whole admissible
  domain, ``False`` only with an admissible witness, ``None`` otherwise);
* :mod:`bnsym.kernel.index` — sums over a batch of symbolic size ``m``: δ-sifting, capture-avoiding renaming,
  canonical forms;
* :mod:`bnsym.kernel.context` — what a proof's symbols mean (definitions, hypotheses, positivity facts) and the
  canonical form both sides of a step are compared in;
* :mod:`bnsym.kernel.core` — :class:`~bnsym.kernel.core.Fact` and the inference rules: the only way a proof
  step comes into being.

Everything that says ``holds=True`` in bnsym passes through :mod:`bnsym.kernel.core`.

>>> import sympy
>>> decide_zero(sympy.sqrt(sympy.Symbol("x", positive=True)) ** 2 - sympy.Symbol("x", positive=True)).value
True
"""
from .zero import Decision, decide_zero

__all__ = ["Decision", "decide_zero"]
