"""bnsym: how batch normalization lets us use larger learning rates — derived, proved, measured.

>>> import bnsym
>>> bnsym.chain(5, names="abcde").gradient("a").closed_form
dJ/dyhat*b*c*d*e*x
"""
from .errors import (
    BnsymError,
    ConditionError,
    KitUsageError,
    LatexError,
    NetworkSpecError,
    TheoremError,
    UnknownParameterError,
    ValuesError,
)
from .derive import Derivation, Factor, Gradients
from .network import Network, chain, mlp, two_layer

__all__ = [
    "BnsymError",
    "ConditionError",
    "KitUsageError",
    "LatexError",
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
]
__version__ = "0.1.0"
