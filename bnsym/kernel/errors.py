"""The kernel's exceptions (both are :class:`bnsym.errors.BnsymError`).

>>> issubclass(StepError, KernelError)
True
"""
from ..errors import BnsymError

__all__ = ["KernelError", "StepError"]


class KernelError(BnsymError, ValueError):
    """The kernel refused a request (an ill-formed context, a citation that is not a fact...)."""


class StepError(KernelError):
    """A proof step did not pass the kernel's check."""
