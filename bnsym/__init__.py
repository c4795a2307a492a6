"""bnsym: how batch normalization lets us use larger learning rates — derived, proved, measured.

>>> import bnsym
>>> bnsym.chain(5, names="abcde").gradient("a").closed_form
dJ/dyhat*b*c*d*e*x
>>> bnsym.prove("scale_invariance_input_grad").holds
True

Everything but the error classes loads on first use, so ``import bnsym`` (and the pytest plugin of
``bnsym.testing``) stays cheap. ``bnsym.testing`` needs Hypothesis: ``pip install bnsym[testing]``.
"""
from importlib import import_module
from typing import Any

from .errors import (
    BnsymError,
    ConditionError,
    ConfigError,
    KitUsageError,
    LatexError,
    MissingDependencyError,
    NetworkSpecError,
    TheoremError,
    UnknownParameterError,
    ValuesError,
)

#: public name -> module that defines it (loaded on first access)
_EXPORTS = {
    "Derivation": "derive",
    "Factor": "derive",
    "Gradients": "derive",
    "Network": "network",
    "chain": "builders",
    "mlp": "builders",
    "two_layer": "builders",
    "Proof": "theorems",
    "Theorem": "theorems",
    "Condition": "theorems",
    "Step": "theorems",
    "prove": "theorems",
    "Notation": "latex",
}
_SUBMODULES = {"theorems", "numeric", "dynamics", "testing", "sweep", "latex", "plots", "report", "exact", "functions",
               "layers", "network", "derive", "explain", "kernel", "replay",
               "vectorized", "batchform", "gradient_zero", "builders", "spec", "evaluation", "pretty", "config",
               "optimizers", "hessian", "laterwork", "layouts"}

__all__ = [  # literal, so static tools see it; _EXPORTS' names are all in it (see __getattr__'s doctest)
    "BnsymError",
    "ConditionError",
    "ConfigError",
    "KitUsageError",
    "LatexError",
    "MissingDependencyError",
    "NetworkSpecError",
    "TheoremError",
    "UnknownParameterError",
    "ValuesError",
    "Derivation",
    "Factor",
    "Gradients",
    "Network",
    "chain",
    "mlp",
    "two_layer",
    "Proof",
    "Theorem",
    "Condition",
    "Step",
    "prove",
    "Notation",
    "theorems",
    "replay",
    "to_latex",
    "numeric",
    "dynamics",
    "testing",
]
__version__ = "0.1.0"  # the one version: pyproject.toml reads it (tool.setuptools.dynamic)


def to_latex(obj: Any, **options: Any) -> str:
    """LaTeX for a :class:`Derivation` or a :class:`Proof` (see :func:`bnsym.latex.to_latex`).

    >>> print(to_latex(chain(2).gradient("w2")).splitlines()[0])
    \\begin{align*}
    """
    from .latex import to_latex as render

    return render(obj, **options)


def __getattr__(name: str) -> Any:
    """A public name or submodule, loaded on first access.

    >>> [n for n in _EXPORTS if n not in __all__]
    []
    """
    if name in _EXPORTS:
        module = import_module(f".{_EXPORTS[name]}", __name__)
        value = getattr(module, name)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        return import_module(f".{name}", __name__)
    raise AttributeError(f"module 'bnsym' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
