"""Convolution-style batch normalization: statistics per **channel** over the ``N = m·P`` entries of a batch of
``m`` samples with ``P`` spatial positions each (``torch.nn.BatchNorm2d`` over ``N·H·W``, ``BatchNorm1d`` over
``(N, C, L)``).

A node of the engine is an ``(m, features)`` grid; a channel-major layout puts channel ``c`` on the ``P``
consecutive columns ``(c − 1)P + 1 … cP`` (``features = C·P``; :mod:`bnsym.layouts` converts NCHW and the other
layouts). With ``ch(r) = ⌊(r − 1)/P⌋ + 1`` the channel of column ``r``, index form:

* ``μ_c := (1/(mP)) Σ_j Σ_p z[j, (c − 1)P + p]``, ``σ_c := √((1/(mP)) Σ_j Σ_p (z[j, (c − 1)P + p] − μ_c)² + ε)``;
* ``x̂[i, r] := (z[i, r] − μ_ch(r))/σ_ch(r)``;
* ``z̄[i, r] = (ḡ[i, r] − (1/N) Σ_{k,p} ḡ[k, ·] − x̂[i, r] (1/N) Σ_{k,p} ḡ[k, ·] x̂[k, ·])/σ_ch(r)``: BN's VJP with
  the sums over the channel's ``N`` entries.

``positions=1`` is :class:`~bnsym.layers.batchnorm.Normalize` (a separate class so that one stays unchanged).

>>> import sympy
>>> cn = ChannelNormalize("zhat1", samples=2, channels=1, positions=2, statistic="1")
>>> cn.forward(sympy.Matrix([[0, 2], [4, 6]])) * sympy.sqrt(5)  # μ = 3, σ² = 5 over the 4 entries
Matrix([
[-3, -1],
[ 1,  3]])
"""
from __future__ import annotations

import numpy as np
import sympy
from sympy import Expr, IndexedBase, Matrix, Sum, Symbol

from ..errors import NetworkSpecError
from .base import IndexDefinition, Layer, Port, array_module, check_eps, entry_symbols, index_symbol, parameter_entry
from .batchnorm import _M, expand_entries

__all__ = ["ChannelNormalize", "channel_of"]

_J, _K, _P = index_symbol("j"), index_symbol("k"), index_symbol("l")


def channel_of(r, positions: int) -> Expr:
    """The channel ``⌊(r − 1)/P⌋ + 1`` of column ``r`` in the channel-major layout.

    >>> channel_of(5, 2), channel_of(index_symbol("r"), 1)
    (3, r)
    """
    if positions == 1:
        return sympy.sympify(r)
    return sympy.floor((r - 1) / sympy.Integer(positions)) + 1


class ChannelNormalize(Layer):
    """BN's normalizing step with statistics per channel over ``m·P`` entries (module docstring).

    >>> cn = ChannelNormalize("zhat1", samples=2, channels=2, positions=2, statistic="1")
    >>> cn.output_width(4), cn.mu.shape
    (4, (1, 2))
    """

    kind = "channel_normalize"
    latex_name = r"\mathrm{BN}"
    normalizes = True
    couples_batch = True

    def __init__(self, name: str, *, samples, channels: int, positions: int, eps: Expr | float = 0,
                 statistic: str = "") -> None:
        super().__init__(name)
        if not isinstance(positions, int) or isinstance(positions, bool) or positions < 1:
            raise NetworkSpecError(f"positions must be an integer >= 1, got {positions!r}")
        if not isinstance(channels, int) or isinstance(channels, bool) or channels < 1:
            raise NetworkSpecError(f"channels must be an integer >= 1, got {channels!r}")
        if not isinstance(samples, sympy.Symbol) and samples * positions < 2:
            raise NetworkSpecError(f"batch normalization needs at least 2 entries per channel (m·P = {samples}·"
                                   f"{positions}): pass batch=m with m >= 2 or positions >= 2")
        self.samples, self.channels, self.positions = samples, channels, positions
        self.features = channels * positions
        self.eps = check_eps(eps)
        self.statistic = statistic
        self.mu = entry_symbols(f"mu{statistic}", None, channels)
        self.sigma = entry_symbols(f"sigma{statistic}", None, channels, positive=True)
        if channels == 1:
            self.mu_base, self.sigma_base = self.mu[0, 0], self.sigma[0, 0]
        else:
            self.mu_base = IndexedBase(f"mu{statistic}", real=True)
            self.sigma_base = IndexedBase(f"sigma{statistic}", positive=True)

    def entry_terms(self, m: int, width: int) -> int:
        return (m * m * self.positions + 40) * width

    def at(self, batch) -> ChannelNormalize:
        return ChannelNormalize(self.name, samples=batch, channels=self.channels, positions=self.positions,
                                eps=self.eps, statistic=self.statistic)

    # -- index form ------------------------------------------------------------------------------------
    def mu_of(self, c) -> Expr:
        """``μ_c`` (a symbol for one channel)."""
        return parameter_entry(self.mu_base, c if self.channels > 1 else None)

    def sigma_of(self, c) -> Expr:
        """``σ_c`` (a symbol for one channel)."""
        return parameter_entry(self.sigma_base, c if self.channels > 1 else None)

    def _column(self, c, p) -> Expr:
        return (c - 1) * self.positions + p

    def _over_channel(self, term, c, j) -> Expr:
        """``Σ_j Σ_p term(j, column)`` over the channel ``c``'s entries."""
        inner = term(j, self._column(c, _P)) if self.positions > 1 else term(j, c)
        inner = Sum(inner, (_P, 1, self.positions)) if self.positions > 1 else inner
        return inner

    def index_forward(self, x: Port, y: Port, i, r) -> list[IndexDefinition]:
        m, c = x.m, index_symbol("c")
        count = m * self.positions
        one = (c,) if self.channels > 1 else ()
        mean = Sum(self._over_channel(lambda j, col: x.entry(j, col), c, _J), (_J, 1, m)) / count
        square = Sum(self._over_channel(lambda j, col: (x.entry(j, col) - self.mu_of(c)) ** 2, c, _J), (_J, 1, m))
        ch = channel_of(r, self.positions)
        return [
            IndexDefinition(self.mu_base, one, mean, "channel mean over the batch and positions"),
            IndexDefinition(self.sigma_base, one, sympy.sqrt(square / count + self.eps),
                            "channel standard deviation (biased variance, plus ε)"),
            IndexDefinition(y.base, y.indices(i, r), (x.entry(i, r) - self.mu_of(ch)) / self.sigma_of(ch),
                            "normalized batch"),
        ]

    def index_vjp(self, x: Port, y: Port, ybar: Port, i, r) -> Expr:
        ch, count = channel_of(r, self.positions), x.m * self.positions
        total = Sum(self._over_channel(lambda k, col: ybar.entry(k, col), ch, _K), (_K, 1, x.m))
        along = Sum(self._over_channel(lambda k, col: ybar.entry(k, col) * y.entry(k, col), ch, _K), (_K, 1, x.m))
        return (ybar.entry(i, r) - total / count - y.entry(i, r) * along / count) / self.sigma_of(ch)

    # -- per entry: the index form written out ---------------------------------------------------------
    def _ports(self):
        return Port("_x", self.features, _M), Port("_y", self.features, _M), Port("_g", self.features, _M)

    def statistic_entries(self) -> dict:
        """``{σ base: σ row, μ base: μ row}`` for several channels."""
        return {} if self.channels == 1 else {self.sigma_base: self.sigma, self.mu_base: self.mu}

    def statistics(self, x: Matrix) -> list[tuple[Symbol, Expr]]:
        """``(μ_c, value), (σ_c, value in μ_c)`` per channel."""
        m = x.rows
        px, py, _ = self._ports()
        c = index_symbol("c")
        mean, deviation, _ = self.index_forward(px, py, index_symbol("i"), index_symbol("r"))
        entries = {px.base: x, **self.statistic_entries()}
        named = []
        for channel in range(self.channels):
            named.append((self.mu[0, channel], expand_entries(mean.value, m, entries, {c: channel + 1})))
            sigma = expand_entries(deviation.value, m, entries, {c: channel + 1})
            named.append((self.sigma[0, channel], sympy.sqrt(sympy.expand(sigma**2, deep=False))))
        return named

    def definition(self, x: Matrix) -> Matrix:
        P = self.positions
        return Matrix(x.rows, x.cols, lambda i, j: (x[i, j] - self.mu[j // P]) / self.sigma[j // P])

    def divisors(self, x: Matrix) -> list[tuple[Symbol, list[Expr]]]:
        P = self.positions
        return [(self.sigma[c], list(x[:, c * P:(c + 1) * P])) for c in range(self.channels)]

    def forward(self, x: Matrix) -> Matrix:
        resolved: dict[Symbol, Expr] = {}
        for symbol, value in self.statistics(x):
            resolved[symbol] = value.xreplace(resolved)
        return self.definition(x).xreplace(resolved)

    def vjp(self, x: Matrix, y: Matrix, upstream: Matrix) -> Matrix:
        """:meth:`index_vjp` written out for the batch."""
        m, n = x.shape
        px, py, pg = self._ports()
        i, r = index_symbol("i"), index_symbol("r")
        entries = {px.base: x, py.base: y, pg.base: upstream, **self.statistic_entries()}
        out = sympy.zeros(m, n)
        for col in range(n):
            generic = expand_entries(self.index_vjp(px, py, pg, i, r), m, entries, {r: col + 1})
            for k in range(m):
                out[k, col] = expand_entries(generic, None, entries, {i: k + 1})
        return out

    # -- numerics --------------------------------------------------------------------------------------
    def numpy_forward(self, x, params: dict):
        xp, m = array_module(x), x.shape[0]
        grid = x.reshape(m, self.channels, self.positions)
        count = m * self.positions
        centred = grid - xp.add.reduce(xp.add.reduce(grid, axis=2, keepdims=True), axis=0, keepdims=True) / count
        square = xp.add.reduce(xp.add.reduce(centred * centred, axis=2, keepdims=True), axis=0, keepdims=True)
        sigma = xp.sqrt(square / count + float(self.eps))
        y = centred / sigma
        return y.reshape(m, self.features), (y, sigma)

    def numpy_vjp(self, saved, g, params: dict):
        y, sigma = saved
        xp, m = array_module(g), g.shape[0]
        grid, count = g.reshape(y.shape), m * self.positions

        def total(a):
            return xp.add.reduce(xp.add.reduce(a, axis=2, keepdims=True), axis=0, keepdims=True)

        out = (grid - total(grid) / count - y * total(grid * y) / count) / sigma
        return out.reshape(m, self.features), {}

    def numpy_undefined(self, x, saved) -> str | None:
        """With ``ε = 0``, undefined when a channel is constant over the batch and its positions.

        >>> cn = ChannelNormalize("y", samples=2, channels=2, positions=2)
        >>> x = np.array([[1.0, 2.0, 5.0, 5.0], [3.0, 4.0, 5.0, 5.0]])
        >>> with np.errstate(invalid="ignore"):
        ...     saved = cn.numpy_forward(x, {})[1]
        >>> print(cn.numpy_undefined(x, saved))
        batch normalization 'y' is undefined for this batch: channel 2 is constant (σ = 0) and ε = 0
        """
        if float(self.eps) > 0:
            return None
        sigma = np.asarray(saved[1]).reshape(-1)
        scale = np.max(np.abs(np.asarray(x).reshape(x.shape[0], self.channels, self.positions)), axis=(0, 2))
        constant = [str(c + 1) for c in range(self.channels) if not sigma[c] > 1e-12 * scale[c]]
        if not constant:
            return None
        which = ("channel " if len(constant) == 1 else "channels ") + ", ".join(constant)
        verb = "is" if len(constant) == 1 else "are"
        return (f"batch normalization {self.name!r} is undefined for this batch: {which} {verb} constant (σ = 0) "
                "and ε = 0")

    def torch_forward(self, x, params: dict):
        import torch

        m = x.shape[0]
        grid = x.reshape(m, self.channels, self.positions)
        if self.eps > 0:
            out = torch.nn.functional.batch_norm(grid, None, None, training=True, eps=float(self.eps))
        else:
            centred = grid - grid.mean(dim=(0, 2), keepdim=True)
            out = centred / torch.sqrt((centred**2).mean(dim=(0, 2), keepdim=True))
        return out.reshape(m, self.features)
