"""Batch normalization in evaluation mode, and the running statistics' update (the training step that feeds it).

In evaluation mode BN normalizes with **running** statistics, constants of the layer rather than statistics of
the batch: ``y[i, r] = (z[i, r] − μ_run[r])/√(var_run[r] + ε)``, an affine map of each sample alone (no
coupling across the batch, no scale invariance). Index form, feature ``r``:

* ``y[i, r] := (z[i, r] − μ_run[r])/√(var_run[r] + ε)``;
* ``z̄[i, r] = ȳ[i, r]/√(var_run[r] + ε)``; no parameters.

**How the engine treats the running statistics.** They are not parameters: :attr:`Layer.parameters` does not
hold them, so ``gradients()`` never includes them. Given as numbers (``running_mean=[…]``) they are exact
constants of the layer; left out (``None``) they are named symbols ``murun<statistic>`` and
``varrun<statistic>`` (one feature; ``murun1f2`` for feature 2 of several) which the per-entry network carries
as constants, like a symbolic ``ε``: :func:`bnsym.evaluation.named_symbols` lists them and ``evaluate`` needs
a value for each. The NumPy and torch routes need numbers. In the index form they are ``murun1[r]``,
``varrun1[r]`` (a plain symbol for one feature).

:func:`running_update` is the momentum update of the running statistics, a separate step.

>>> import sympy
>>> ev = EvalNormalize("zhat1", features=1, statistic="1")
>>> ev.forward(sympy.Matrix([[sympy.Symbol("z", real=True)]]))
Matrix([[(-murun1 + z)/sqrt(varrun1)]])
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import sympy
from sympy import Expr, IndexedBase, Matrix, Symbol

from ..errors import NetworkSpecError
from .base import IndexDefinition, Layer, Port, check_eps, parameter_entry

__all__ = ["EvalNormalize", "running_update"]


def _constant_row(value, name: str, features: int, nonnegative: bool) -> Matrix:
    if isinstance(value, (sympy.MatrixBase, np.ndarray, Sequence)) and not isinstance(value, str):
        entries = list(np.asarray(value, dtype=object).reshape(-1)) if not isinstance(value, sympy.MatrixBase) \
            else list(value)
    else:
        entries = [value] * features
    if len(entries) != features:
        raise NetworkSpecError(f"{name} needs {features} value(s) (one per feature), got {len(entries)}")
    out = []
    for entry in entries:
        if nonnegative:
            out.append(check_eps(entry))  # a finite real number >= 0 (or a nonnegative expression), exact
        elif isinstance(entry, sympy.Basic) and not entry.is_number:
            out.append(entry + check_eps(0))  # a symbolic mean: any real expression
        else:
            try:
                negative = bool(entry < 0)
            except TypeError as error:
                raise NetworkSpecError(f"{name} must hold finite real numbers, got {entry!r}") from error
            magnitude = check_eps(-entry if negative else entry)
            out.append(-magnitude if negative else magnitude)
    return Matrix(1, features, out)


class EvalNormalize(Layer):
    """BN's normalizing step in evaluation mode: ``(z − μ_run)/√(var_run + ε)`` per feature (module docstring).

    ``running_mean`` / ``running_var``: numbers (one, or one per feature) or ``None`` for named symbols.

    >>> ev = EvalNormalize("zhat1", features=2, statistic="1", running_mean=[1, 2], running_var=[4, 1])
    >>> ev.forward(sympy.Matrix([[3, 3]]))
    Matrix([[1, 1]])
    """

    kind = "eval_normalize"
    latex_name = r"\mathrm{BN}_{\mathrm{eval}}"
    normalizes = True
    affine = True

    def __init__(self, name: str, *, features: int, eps: Expr | float = 0, statistic: str = "",
                 running_mean=None, running_var=None) -> None:
        super().__init__(name)
        self.features, self.eps, self.statistic = features, check_eps(eps), statistic
        self.mean_name, self.var_name = f"murun{statistic}", f"varrun{statistic}"
        self.symbolic = running_mean is None or running_var is None
        if (running_mean is None) != (running_var is None):
            raise NetworkSpecError("give both running_mean and running_var, or neither (named symbols)")
        if self.symbolic:
            self.running_mean = self._symbols(self.mean_name, real=True)
            self.running_var = self._symbols(self.var_name, nonnegative=True)
        else:
            self.running_mean = _constant_row(running_mean, "running_mean", features, nonnegative=False)
            self.running_var = _constant_row(running_var, "running_var", features, nonnegative=True)
        if features == 1:
            self.mean_base, self.var_base = self.running_mean[0, 0], self.running_var[0, 0]
        else:
            self.mean_base = IndexedBase(self.mean_name, real=True)
            self.var_base = IndexedBase(self.var_name, nonnegative=True)

    def _symbols(self, name: str, **assumptions) -> Matrix:
        if self.features == 1:
            return Matrix([[Symbol(name, **assumptions)]])
        return Matrix(1, self.features, lambda _, j: Symbol(f"{name}f{j + 1}", **assumptions))

    def _scale(self, j: int) -> Expr:
        return sympy.sqrt(self.running_var[j] + self.eps)

    # -- per entry -------------------------------------------------------------------------------------
    def forward(self, x: Matrix) -> Matrix:
        return Matrix(x.rows, x.cols, lambda i, j: (x[i, j] - self.running_mean[j]) / self._scale(j))

    def statistic_entries(self) -> dict:
        """``{murun base: its row, varrun base: its row}`` for several features (per-entry values of the index form).

        >>> list(EvalNormalize("y", features=2, statistic="1").statistic_entries())
        [murun1, varrun1]
        """
        return {} if self.features == 1 else {self.mean_base: self.running_mean, self.var_base: self.running_var}

    # -- index form ------------------------------------------------------------------------------------
    def _mean(self, r) -> Expr:
        return parameter_entry(self.mean_base, r if self.features > 1 else None)

    def _denominator(self, r) -> Expr:
        return sympy.sqrt(parameter_entry(self.var_base, r if self.features > 1 else None) + self.eps)

    def index_forward(self, x: Port, y: Port, i, r) -> list[IndexDefinition]:
        return [IndexDefinition(y.base, y.indices(i, r), (x.entry(i, r) - self._mean(r)) / self._denominator(r),
                                "normalized with the running statistics")]

    def index_vjp(self, x: Port, y: Port, ybar: Port, i, r) -> Expr:
        return ybar.entry(i, r) / self._denominator(r)

    # -- numerics --------------------------------------------------------------------------------------
    def _floats(self):
        if self.symbolic or any(not e.is_number for e in list(self.running_mean) + list(self.running_var)):
            raise NetworkSpecError(f"the numeric routes need numbers for the running statistics of {self.name!r}: "
                                   "build EvalNormalize with running_mean=[...] and running_var=[...]")
        mean = np.array([float(e) for e in self.running_mean]).reshape(1, -1)
        scale = np.sqrt(np.array([float(e) for e in self.running_var]).reshape(1, -1) + float(self.eps))
        return mean, scale

    def numpy_forward(self, x, params: dict):
        mean, scale = self._floats()
        return (x - mean) / scale, scale

    def numpy_vjp(self, saved, g, params: dict):
        return g / saved, {}

    def numpy_undefined(self, x, saved) -> str | None:
        """Undefined when a feature's ``var_run + ε`` is 0.

        >>> import numpy as np
        >>> ev = EvalNormalize("y", features=1, running_mean=0, running_var=0)
        >>> with np.errstate(invalid="ignore"):
        ...     saved = ev.numpy_forward(np.zeros((2, 1)), {})[1]
        >>> print(ev.numpy_undefined(np.zeros((2, 1)), saved))
        eval-mode batch normalization 'y' is undefined: feature 1 has running_var + ε = 0
        """
        zero = [str(j + 1) for j in range(np.size(saved)) if not np.asarray(saved).reshape(-1)[j] > 0]
        if not zero:
            return None
        return (f"eval-mode batch normalization {self.name!r} is undefined: feature{'s' if len(zero) > 1 else ''} "
                f"{', '.join(zero)} {'have' if len(zero) > 1 else 'has'} running_var + ε = 0")

    def torch_forward(self, x, params: dict):
        import torch

        mean, scale = self._floats()
        mean_t = torch.as_tensor(mean.reshape(-1), dtype=x.dtype)
        var_t = torch.as_tensor(scale.reshape(-1) ** 2 - float(self.eps), dtype=x.dtype)
        return torch.nn.functional.batch_norm(x, mean_t, var_t, training=False, eps=float(self.eps))


def running_update(running_mean, running_var, batch, momentum=0.1, convention: str = "pytorch"):
    """One momentum update of BN's running statistics from a training ``batch`` (``m × features``).

    ``convention="pytorch"`` (``torch.nn.BatchNorm*``): ``new = (1 − momentum)·running + momentum·batch_stat``,
    and ``running_var`` takes the **unbiased** batch variance (``Σ(z − μ)²/(m − 1)``) although the training
    forward normalizes with the biased one. ``convention="keras"`` (``keras.layers.BatchNormalization``):
    ``moving = momentum·moving + (1 − momentum)·batch_stat`` with the biased variance (Keras' own default
    momentum is 0.99). Returns ``(new_mean, new_var)``: NumPy arrays of shape ``(features,)``, or SymPy
    ``1 × features`` matrices when any input is SymPy (then exact).

    >>> import numpy as np
    >>> running_update(np.zeros(1), np.ones(1), np.array([[1.0], [3.0]]), momentum=0.5)
    (array([1.]), array([1.5]))
    >>> running_update(np.zeros(1), np.ones(1), np.array([[1.0], [3.0]]), momentum=0.5, convention="keras")
    (array([1.]), array([1.]))
    >>> z1, z2 = sympy.symbols("z1 z2", real=True)
    >>> mean, var = running_update(0, 1, sympy.Matrix([[z1], [z2]]), momentum=sympy.Rational(1, 10))
    >>> mean[0], sympy.factor(var[0] - sympy.Rational(9, 10))
    (z1/20 + z2/20, (z1 - z2)**2/20)
    """
    if convention not in ("pytorch", "keras"):
        raise NetworkSpecError(f"unknown convention {convention!r}; choose 'pytorch' or 'keras'")
    symbolic = any(isinstance(v, (sympy.Basic, sympy.MatrixBase)) for v in (running_mean, running_var, batch,
                                                                          momentum))
    if symbolic:
        rows = Matrix(batch)
        m, n = rows.shape
        mean_b = Matrix(1, n, lambda _, c: sympy.Add(*rows[:, c]) / m)
        biased = Matrix(1, n, lambda _, c: sympy.Add(*[(rows[j, c] - mean_b[c]) ** 2 for j in range(m)]) / m)
        old_mean = _sympy_row(running_mean, n)
        old_var = _sympy_row(running_var, n)
        momentum = sympy.nsimplify(momentum) if isinstance(momentum, float) else sympy.sympify(momentum)
    else:
        rows = np.asarray(batch, dtype=float)
        if rows.ndim != 2:
            raise NetworkSpecError(f"batch must be an m × features array, got shape {rows.shape}")
        m, n = rows.shape
        mean_b = rows.mean(axis=0)
        biased = rows.var(axis=0)
        old_mean = np.broadcast_to(np.asarray(running_mean, dtype=float), (n,))
        old_var = np.broadcast_to(np.asarray(running_var, dtype=float), (n,))
    if convention == "keras":
        return momentum * old_mean + (1 - momentum) * mean_b, momentum * old_var + (1 - momentum) * biased
    if m < 2:
        raise NetworkSpecError("the PyTorch running variance is unbiased (divides by m − 1): it needs m >= 2 samples")
    unbiased = biased * m / (m - 1)
    return (1 - momentum) * old_mean + momentum * mean_b, (1 - momentum) * old_var + momentum * unbiased


def _sympy_row(value, n: int) -> Matrix:
    if isinstance(value, sympy.MatrixBase):
        return Matrix(1, n, list(value))
    array = np.asarray(value, dtype=object).reshape(-1)
    entries = list(array) if array.size == n else [array[0]] * n
    return Matrix(1, n, [sympy.sympify(e) if not isinstance(e, float) else sympy.Rational(str(e)) for e in entries])
