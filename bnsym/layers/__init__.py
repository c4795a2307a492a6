"""Layer kinds, one module each: :mod:`~bnsym.layers.linear`, :mod:`~bnsym.layers.activation` (with the
activation registry), :mod:`~bnsym.layers.batchnorm` (BN's normalize and scale-shift steps), the per-sample
normalizations (:mod:`~bnsym.layers.layernorm`, :mod:`~bnsym.layers.groupnorm`, :mod:`~bnsym.layers.rmsnorm`,
sharing :mod:`~bnsym.layers.samplenorm`), :mod:`~bnsym.layers.weightnorm`, :mod:`~bnsym.layers.evalnorm`
(eval-mode BN, the running statistics' update), :mod:`~bnsym.layers.convnorm` (per-channel BN) and
:mod:`~bnsym.layers.loss`; :mod:`~bnsym.layers.base` holds what they share.

Each kind states its forward pass and its vector-Jacobian product side by side: in index form over a batch of
symbolic or concrete size ``m``, per entry for a concrete batch, as a NumPy kernel and through PyTorch. Adding a
kind means adding a module here; the engines never test which kind they have.

>>> import sympy
>>> x = sympy.Matrix([[sympy.Symbol("x", real=True)]])
>>> Linear("h1", weight="a", n_in=1, n_out=1).forward(x)
Matrix([[a*x]])
"""
from .activation import ACTIVATIONS, Activation, ActivationKind, activation_kind
from .base import (NAME_PATTERN, Entry, IndexDefinition, Layer, Port, check_eps, check_name, entry_symbols, flat,
                   index_symbol, parameter_entry, sparse_vjp)
from .batchnorm import Normalize, ScaleShift, expand_entries
from .convnorm import ChannelNormalize
from .evalnorm import EvalNormalize, running_update
from .groupnorm import GroupNorm, InstanceNorm
from .layernorm import LayerNorm
from .linear import Linear
from .loss import MSELoss
from .rmsnorm import RMSNorm
from .samplenorm import SampleNormalize
from .weightnorm import WeightNormLinear

__all__ = ["ACTIVATIONS", "ActivationKind", "activation_kind", "Layer", "Linear", "Activation", "Normalize",
           "ScaleShift", "LayerNorm", "GroupNorm", "InstanceNorm", "RMSNorm", "SampleNormalize", "MSELoss", "Entry",
           "NAME_PATTERN", "check_name", "check_eps", "entry_symbols", "sparse_vjp", "flat", "Port", "IndexDefinition",
           "index_symbol", "parameter_entry", "expand_entries", "ChannelNormalize", "EvalNormalize", "running_update",
           "WeightNormLinear"]
