"""The exceptions bnsym raises. Every error a user can cause derives from :class:`BnsymError`.

>>> issubclass(UnknownParameterError, BnsymError) and issubclass(UnknownParameterError, KeyError)
True
"""
from __future__ import annotations

__all__ = [
    "BnsymError",
    "NetworkSpecError",
    "UnknownParameterError",
    "ValuesError",
    "TheoremError",
    "ConditionError",
    "LatexError",
    "KitUsageError",
    "MissingDependencyError",
    "ConfigError",
]


class BnsymError(Exception):
    """Base class of every error bnsym raises on bad input or an impossible request."""


class NetworkSpecError(BnsymError, ValueError):
    """A network builder got an impossible specification (depth, widths, activation, batch size...)."""


class UnknownParameterError(BnsymError, KeyError):
    """A parameter or symbol name that the network does not have."""

    def __str__(self) -> str:  # KeyError would print the repr of the message
        return str(self.args[0]) if self.args else ""


class ValuesError(BnsymError, ValueError):
    """Numeric values for evaluation are missing, non-numeric or non-finite."""


class TheoremError(BnsymError, ValueError):
    """An unknown theorem, or an option that the theorem does not take."""


class ConditionError(BnsymError, ValueError):
    """A request violates a mathematical condition (e.g. BN on a batch of one with eps = 0)."""


class LatexError(BnsymError, ValueError):
    """LaTeX output cannot be produced safely (e.g. a name that would inject TeX commands)."""


class KitUsageError(BnsymError, TypeError):
    """The property-test kit was called wrongly (signature, shapes) - not a failure of the code under test."""


class MissingDependencyError(BnsymError, ImportError):
    """An optional dependency is not installed (e.g. ``hypothesis`` for :mod:`bnsym.testing`:
    ``pip install bnsym[testing]``)."""


class ConfigError(BnsymError, ValueError):
    """A configuration file (``bnsym explain --config``) or a file it names is malformed: an unknown key, a
    value of the wrong type, a data set or parameter file of the wrong shape."""
