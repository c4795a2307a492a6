"""The theorem units, one module per group of the math reference (``docs/math.md``).

Importing this package registers every unit in :mod:`bnsym.theorems.registry`, in catalogue order.
"""
from . import scale, jacobian, backward, norm, weights, goodfellow  # noqa: F401
from . import layernorm  # noqa: F401
from . import rmsnorm  # noqa: F401
from . import weightnorm  # noqa: F401
