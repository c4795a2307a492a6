"""The theorem units, one module per group of the math reference (``docs/math.md``) and of the normalization
family (``docs/normalization.md``).

Importing this package registers every unit in :mod:`bnsym.theorems.registry`, in catalogue order.
"""
from . import scale, jacobian, backward, norm, weights, goodfellow  # noqa: F401
from . import layernorm, rmsnorm, weightnorm, groupnorm, evalnorm  # noqa: F401
