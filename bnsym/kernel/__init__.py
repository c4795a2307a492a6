"""The proof kernel: the exact zero decision, the index calculus for batch sums, and checked proof steps.

Everything that says ``holds=True`` in bnsym passes through :mod:`bnsym.kernel.core`.
"""
from .zero import Decision, decide_zero
