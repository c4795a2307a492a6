"""Per-sample normalization over groups of consecutive features: the shared math of layer, group, instance and
RMS normalization (:mod:`~bnsym.layers.layernorm`, :mod:`~bnsym.layers.groupnorm`, :mod:`~bnsym.layers.rmsnorm`).

The ``n`` features of a sample fall into ``G`` groups of ``w = n/G`` consecutive columns; group ``q`` holds the
columns ``(q − 1)w + 1 … qw`` and feature ``r`` lies in group ``g(r) = ⌊(r − 1)/w⌋ + 1``. Index form (sample
``i``; one group: the statistics carry the sample index only):

* centred (LN, GN, IN): ``μ[i, q] := (1/w) Σ_s z[i, (q−1)w + s]``,
  ``σ[i, q] := √((1/w) Σ_s (z[i, (q−1)w + s] − μ[i, q])² + ε)`` (biased), ``x̂[i, r] := (z[i, r] − μ)/σ`` at
  ``q = g(r)``; VJP ``z̄[i, r] = (ȳ[i, r] − (1/w) Σ_s ȳ[i, ·] − x̂[i, r] (1/w) Σ_s ȳ[i, ·] x̂[i, ·])/σ[i, g(r)]``
  (the sums over the group of ``r``);
* not centred (RMSNorm): ``ν[i] := √((1/w) Σ_s z[i, s]² + ε)``, ``y[i, r] := z[i, r]/ν[i]``; VJP
  ``z̄[i, r] = (ȳ[i, r] − y[i, r] (1/w) Σ_s ȳ[i, s] y[i, s])/ν[i]``.

No output entry depends on another sample (``couples_batch = False``), so the batch size ``m`` only counts rows.

>>> import sympy
>>> from bnsym.layers.base import Port, index_symbol
>>> m = sympy.Symbol("m", integer=True, positive=True)
>>> ln = SampleNormalize("zhat1", features=3, statistic="1")
>>> [str(d.lhs) for d in ln.index_forward(Port("z1", 3, m), Port("zhat1", 3, m), index_symbol("i"), index_symbol("r"))]
['mu1[i]', 'sigma1[i]', 'zhat1[i, r]']
"""
from __future__ import annotations

import copy

import numpy as np
import sympy
from sympy import Expr, IndexedBase, Matrix, Sum, Symbol

from ..errors import NetworkSpecError
from .base import IndexDefinition, Layer, Port, array_module, check_eps, entry_symbols, index_symbol
from .batchnorm import expand_entries

__all__ = ["SampleNormalize"]

_S = index_symbol("s")  # a column of the group, summed over
_Q = index_symbol("q")  # a group (the statistics' second index when there are several groups)
_I, _R = index_symbol("i"), index_symbol("r")
_M = Symbol("m", integer=True, positive=True)


class SampleNormalize(Layer):
    """Normalize each sample over each group of ``features/groups`` consecutive features (``centre=False``: divide
    by the root mean square only). The statistics are named ``mu``/``sigma`` (or ``nu``) plus ``statistic``.

    >>> ln = SampleNormalize("zhat1", features=2, statistic="1")
    >>> ln.forward(sympy.Matrix([[1, 3]]))
    Matrix([[-1, 1]])
    """

    kind = "sample_normalize"
    latex_name = r"\mathrm{Norm}"
    normalizes = True
    couples_batch = False
    #: how messages name the layer
    what = "per-sample normalization"

    def __init__(self, name: str, *, features: int, groups: int = 1, centre: bool = True, eps=0,
                 statistic: str = "") -> None:
        super().__init__(name)
        for value, label in ((features, "features"), (groups, "groups")):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise NetworkSpecError(f"{self.what} {name!r}: {label} must be a positive integer, got {value!r}")
        if features % groups:
            raise NetworkSpecError(f"{self.what} {name!r}: {groups} groups do not divide {features} features")
        self.features, self.groups, self.centre = features, groups, centre
        self.width = features // groups  # the columns of one group
        self.eps = check_eps(eps)
        if centre and self.width < 2 and self.eps == 0:
            raise NetworkSpecError(
                f"{self.what} {name!r} with eps = 0 needs at least 2 features per group (got {self.width}): a group "
                "of one feature has σ = 0 for every input; use more features (or fewer groups) or eps > 0")
        if not isinstance(statistic, str):
            raise NetworkSpecError(f"statistic must be a string suffix, got {statistic!r}")
        self.statistic = statistic
        self.batch: int | None = None  # set by at(): the per-entry statistics' symbols depend on it
        self.names = ("mu", "sigma") if centre else ("nu",)
        positive = {"mu": False, "sigma": True, "nu": True}
        self.bases = [IndexedBase(f"{n}{statistic}", **({"positive": True} if positive[n] else {"real": True}))
                      for n in self.names]

    # -- index form ------------------------------------------------------------------------------------
    def group_of(self, r) -> Expr:
        """The group ``g(r) = ⌊(r − 1)/w⌋ + 1`` of feature ``r`` (``1`` with one group).

        >>> gn = SampleNormalize("y", features=4, groups=2)
        >>> [gn.group_of(r) for r in (1, 2, 3, 4)], gn.column(2, 1), gn.stat(gn.bases[0], 1, 2)
        ([1, 1, 2, 2], 3, mu[1, 2])
        """
        return sympy.S.One if self.groups == 1 else sympy.floor((r - 1) / self.width) + 1

    def column(self, q, s) -> Expr:
        """The ``s``-th column of group ``q``: ``(q − 1)w + s``."""
        return s if self.groups == 1 else (q - 1) * self.width + s

    def stat(self, base: IndexedBase, i, q) -> Expr:
        """The statistic ``base`` of sample ``i``, group ``q`` (``base[i]`` with one group)."""
        return base[i] if self.groups == 1 else base[i, q]

    def _sum(self, body: Expr) -> Expr:
        return Sum(body, (_S, 1, self.width))

    def index_forward(self, x: Port, y: Port, i, r) -> list[IndexDefinition]:
        q, w = _Q, self.width
        own = (i,) if self.groups == 1 else (i, q)
        member = x.entry(i, self.column(q, _S))
        g = self.group_of(r)
        if not self.centre:
            (nu,) = self.bases
            return [IndexDefinition(nu, own, sympy.sqrt(self._sum(member**2) / w + self.eps),
                                    "root mean square of the sample (plus ε)"),
                    IndexDefinition(y.base, y.indices(i, r), x.entry(i, r) / self.stat(nu, i, g),
                                    "sample divided by its root mean square")]
        mu, sigma = self.bases
        return [
            IndexDefinition(mu, own, self._sum(member) / w, "mean of the sample's group"),
            IndexDefinition(sigma, own, sympy.sqrt(self._sum((member - self.stat(mu, i, q)) ** 2) / w + self.eps),
                            "standard deviation of the sample's group (biased variance, plus ε)"),
            IndexDefinition(y.base, y.indices(i, r), (x.entry(i, r) - self.stat(mu, i, g)) / self.stat(sigma, i, g),
                            "normalized sample"),
        ]

    def index_vjp(self, x: Port, y: Port, ybar: Port, i, r) -> Expr:
        g, w = self.group_of(r), self.width
        col = self.column(g, _S)
        along = self._sum(ybar.entry(i, col) * y.entry(i, col)) / w
        if not self.centre:
            return (ybar.entry(i, r) - y.entry(i, r) * along) / self.stat(self.bases[0], i, g)
        total = self._sum(ybar.entry(i, col)) / w
        return (ybar.entry(i, r) - total - y.entry(i, r) * along) / self.stat(self.bases[1], i, g)

    # -- per entry: the index form written out ----------------------------------------------------------
    def _matrices(self, m: int) -> dict:
        """``{statistic base: m × groups matrix of its per-entry symbols}`` (one group: a 1 × m row)."""
        out = {}
        for name, base in zip(self.names, self.bases, strict=True):
            assumptions = {"positive": True} if name != "mu" else {"real": True}
            symbols = entry_symbols(f"{name}{self.statistic}", m if m > 1 else None, self.groups, **assumptions)
            out[base] = symbols.T if self.groups == 1 else symbols
        return out

    def statistic_entries(self) -> dict:
        """The per-entry symbols of the statistics at the layer's batch (:meth:`at`; none before).

        >>> from bnsym.layers import LayerNorm
        >>> LayerNorm("zhat1", features=2, statistic="1").at(2).statistic_entries()
        {mu1: Matrix([[mu1^(1), mu1^(2)]]), sigma1: Matrix([[sigma1^(1), sigma1^(2)]])}
        """
        return {} if self.batch is None else self._matrices(self.batch)

    def _entries(self, x: Matrix) -> tuple[Port, dict]:
        px = Port("_x", self.features, _M)
        return px, {px.base: x, **self._matrices(x.rows)}

    def _symbol(self, matrices: dict, k: int, a: int, q: int) -> Expr:
        matrix = matrices[self.bases[k]]
        return matrix[0, a] if self.groups == 1 else matrix[a, q]

    def statistics(self, x: Matrix) -> list[tuple[Symbol, Expr]]:
        """Each sample's (and group's) statistics, in order: :meth:`index_forward` written out.

        >>> from bnsym.layers import RMSNorm
        >>> RMSNorm("y1", features=2, statistic="1").statistics(sympy.Matrix([[3, 4]]))
        [(nu1, 5*sqrt(2)/2)]
        """
        self._check(x)
        px, entries = self._entries(x)
        definitions = self.index_forward(px, Port("_y", self.features, _M), _I, _R)[:-1]
        named = []
        for a in range(x.rows):
            for q in range(self.groups):
                for k, d in enumerate(definitions):
                    value = expand_entries(d.value, x.rows, entries, {_I: a + 1, _Q: q + 1})
                    named.append((self._symbol(entries, k, a, q), value))
        return named

    def definition(self, x: Matrix) -> Matrix:
        self._check(x)
        _, entries = self._entries(x)

        def entry(a: int, j: int) -> Expr:
            q = j // self.width
            if not self.centre:
                return x[a, j] / self._symbol(entries, 0, a, q)
            return (x[a, j] - self._symbol(entries, 0, a, q)) / self._symbol(entries, 1, a, q)

        return Matrix(x.rows, x.cols, entry)

    def forward(self, x: Matrix) -> Matrix:
        resolved: dict[Symbol, Expr] = {}
        for symbol, value in self.statistics(x):
            resolved[symbol] = value.xreplace(resolved)
        return self.definition(x).xreplace(resolved)

    def divisors(self, x: Matrix) -> list[tuple[Symbol, list[Expr]]]:
        """Each sample's (and group's) divisor next to the values it is computed from."""
        _, entries = self._entries(x)
        k = len(self.names) - 1
        return [(self._symbol(entries, k, a, q), list(x[a, q * self.width:(q + 1) * self.width]))
                for a in range(x.rows) for q in range(self.groups)]

    def vjp(self, x: Matrix, y: Matrix, upstream: Matrix) -> Matrix:
        """:meth:`index_vjp` written out for the batch."""
        px, entries = self._entries(x)
        py, pg = Port("_y", self.features, _M), Port("_g", self.features, _M)
        entries.update({py.base: y, pg.base: upstream})
        generic = self.index_vjp(px, py, pg, _I, _R)
        return Matrix(x.rows, x.cols,
                      lambda a, j: expand_entries(generic, x.rows, entries, {_I: a + 1, _R: j + 1}))

    def jacobian_entries(self, x: Matrix, y: Matrix) -> dict[tuple[int, int], Expr]:
        """``∂y[a, s]/∂x[a, r] = (δ_sr − 1/w − y[a, s] y[a, r]/w)/σ`` within a group (RMS: without ``1/w``, over
        ``ν``); zero across samples and groups.

        >>> from bnsym.layers import RMSNorm
        >>> x, y = sympy.Matrix([sympy.symbols("x1:3")]), sympy.Matrix([sympy.symbols("y1:3")])
        >>> RMSNorm("y", features=2).jacobian_entries(x, y)[(0, 1)]
        -y1*y2/(2*nu)
        """
        _, entries = self._entries(x)
        n, w, out = self.features, self.width, {}
        for a in range(x.rows):
            for q in range(self.groups):
                divisor = self._symbol(entries, len(self.names) - 1, a, q)
                for s in range(q * w, (q + 1) * w):
                    for r in range(q * w, (q + 1) * w):
                        value = (1 if r == s else 0) - y[a, s] * y[a, r] / w
                        value = value - sympy.Rational(1, w) if self.centre else value
                        out[(a * n + s, a * n + r)] = value / divisor
        return out

    def _check(self, x: Matrix) -> None:
        if x.cols != self.features:
            raise NetworkSpecError(f"{self.what} {self.name!r} has {self.features} features, its input {x.cols}")

    def entry_terms(self, m: int, width: int) -> int:
        """Each entry's backward sums over its group, plus the statistics."""
        return m * width * (2 * self.width + 10)

    def at(self, batch) -> SampleNormalize:
        out = copy.copy(self)
        out.batch = batch if isinstance(batch, int) else None
        return out

    # -- numerics --------------------------------------------------------------------------------------
    def numpy_forward(self, x, params: dict):
        xp, m = array_module(x), x.shape[0]
        z = x.reshape(m, self.groups, self.width)
        if self.centre:
            z = z - xp.add.reduce(z, axis=2, keepdims=True) / self.width
        scale = xp.sqrt(xp.add.reduce(z * z, axis=2, keepdims=True) / self.width + self._eps_float)
        y = z / scale
        return y.reshape(m, self.features), (y, scale)

    def numpy_vjp(self, saved, g, params: dict):
        y, scale = saved
        xp, m = array_module(g), g.shape[0]
        g3 = g.reshape(m, self.groups, self.width)
        out = g3 - y * (xp.add.reduce(g3 * y, axis=2, keepdims=True) / self.width)
        if self.centre:
            out = out - xp.add.reduce(g3, axis=2, keepdims=True) / self.width
        return (out / scale).reshape(m, self.features), {}

    def numpy_undefined(self, x, saved) -> str | None:
        """With ``ε = 0`` the layer is undefined where a sample's group is constant (centred) or all zero (RMS):
        a divisor that rounding left at ``1e-12`` of the group's scale or below counts as 0.

        >>> from bnsym.layers import LayerNorm
        >>> ln = LayerNorm("zhat1", features=2)
        >>> x = np.array([[1.0, 2.0], [3.0, 3.0]])
        >>> with np.errstate(invalid="ignore"):   # 0/0 in the constant sample
        ...     saved = ln.numpy_forward(x, {})[1]
        >>> print(ln.numpy_undefined(x, saved))
        layer normalization 'zhat1' is undefined for this batch: sample 2 is constant over its features (σ = 0) and
        ε = 0; give the features different values or use eps > 0
        """
        if self._eps_float > 0:
            return None
        m = np.asarray(x).shape[0]
        scale = np.asarray(saved[1]).reshape(m, self.groups)
        size = np.max(np.abs(np.asarray(x).reshape(m, self.groups, self.width)), axis=2)
        bad = [(a, q) for a in range(m) for q in range(self.groups) if not scale[a, q] > 1e-12 * size[a, q]]
        if not bad:
            return None
        where = ", ".join(f"{a + 1}" if self.groups == 1 else f"{a + 1} (group {q + 1})" for a, q in bad)
        samples = "sample " if len(bad) < 2 else "samples "
        verb = "is" if len(bad) < 2 else "are"
        state, sym, fix = ("constant over its features", "σ", "different values") if self.centre else \
            ("zero in every feature", "ν", "a nonzero value")
        if self.groups > 1:
            state = state.replace("its features", "the features of its group")
        return (f"{self.what} {self.name!r} is undefined for this batch: {samples}{where} {verb} {state} "
                f"({sym} = 0) and ε = 0; give the features {fix} or use eps > 0")

    def torch_formula(self, x):
        """The output for a torch tensor ``x`` by the explicit formula (any ``ε``, including 0)."""
        z = x.reshape(x.shape[0], self.groups, self.width)
        if self.centre:
            z = z - z.mean(dim=2, keepdim=True)
        return (z / (z.pow(2).mean(dim=2, keepdim=True) + float(self.eps)).sqrt()).reshape(x.shape)

    def torch_forward(self, x, params: dict):
        return self.torch_formula(x)
