"""Batch normalization (Ioffe & Szegedy 2015, Algorithm 1): the one home of BN's math in bnsym.

BN is two layers: :class:`Normalize` (``x̂ = (z − μ)/σ`` per feature over the batch) and :class:`ScaleShift`
(``γ x̂ + β``). Index form, for a batch of ``m`` samples (``m`` a symbol or an integer), feature ``r``:

* ``μ_r := (1/m) Σ_j z[j, r]``, ``σ_r := √((1/m) Σ_j (z[j, r] − μ_r)² + ε)`` (the **biased** batch variance);
* ``x̂[i, r] := (z[i, r] − μ_r)/σ_r``;
* Jacobian ``∂x̂[i, r]/∂z[k, r] = (δ_ik − 1/m − x̂[i, r] x̂[k, r]/m)/σ_r`` (theorem ``bn_jacobian`` proves it
  from the definitions, for every ``m``);
* vector-Jacobian product ``z̄[i, r] = (ḡ[i, r] − (1/m) Σ_k ḡ[k, r] − x̂[i, r] (1/m) Σ_k ḡ[k, r] x̂[k, r])/σ_r``,
  i.e. ``(1/(mσ))(m ḡ − Σ ḡ − x̂ Σ ḡ x̂)``.

The per-entry forms for a concrete batch are these expressions written out (:func:`expand_entries`), and the
NumPy kernel is the same formula on arrays; tests tie all of them to ``sympy.diff`` and to PyTorch.

>>> import sympy
>>> from bnsym.layers.base import Port, index_symbol
>>> m = sympy.Symbol("m", integer=True, positive=True)
>>> i, r = index_symbol("i"), index_symbol("r")
>>> bn = Normalize("zhat1", samples=m, features=1, statistic="1")
>>> [str(d.lhs) for d in bn.index_forward(Port("z1", 1, m), Port("zhat1", 1, m), i, r)]
['mu1', 'sigma1', 'zhat1[i]']
>>> g, zhat = sympy.IndexedBase("g", real=True), sympy.IndexedBase("zhat1", real=True)
>>> k = index_symbol("k")
>>> paper = (g[i] - Sum(g[k], (k, 1, m)) / m - zhat[i] * Sum(g[k] * zhat[k], (k, 1, m)) / m) / bn.sigma_of(r)
>>> bn.index_vjp(Port("z1", 1, m), Port("zhat1", 1, m), Port("g", 1, m), i, r) == paper
True
"""
from __future__ import annotations

import numpy as np
import sympy
from sympy import Expr, IndexedBase, KroneckerDelta, Matrix, Sum, Symbol

from ..errors import NetworkSpecError
from ..kernel.index import expand_concrete, substitute
from .base import IndexDefinition, Layer, Port, array_module, check_eps, entry_symbols, index_symbol, parameter_entry

__all__ = ["Normalize", "ScaleShift", "expand_entries"]

_J, _K = index_symbol("j"), index_symbol("k")


def expand_entries(expr: Expr, m: int | None, entries: dict, free: dict | None = None) -> Expr:
    """``expr`` (index form) at a concrete batch: sums written out, free indices given values, and each
    ``base[i, r]`` replaced by ``entries[base][i − 1, r − 1]`` (a one-feature base: ``entries[base][i − 1, 0]``;
    a per-feature statistic ``base[r]``: ``entries[base][0, r − 1]``).

    >>> g = IndexedBase("g", real=True)
    >>> G = sympy.Matrix(sympy.symbols("g1:3"))
    >>> expand_entries(Sum(g[_K], (_K, 1, 2)) - g[index_symbol("i")], 2, {g: G}, {index_symbol("i"): 1})
    g2
    """
    out = substitute(expr, dict(free or {}))
    out = _written_out(out, sympy.Integer(m)) if m is not None else out

    def pick(e):
        matrix = entries[e.base]
        idx = [int(v) - 1 for v in e.indices]
        if len(idx) == 2:
            return matrix[idx[0], idx[1]]
        column = matrix.cols == 1 and matrix.rows > 1 or matrix.shape == (1, 1)
        return matrix[idx[0], 0] if column else matrix[0, idx[0]]

    return out.replace(lambda e: isinstance(e, sympy.Indexed) and e.base in entries
                       and all(v.is_Integer for v in e.indices), pick)


def _written_out(expr: Expr, m) -> Expr:
    """``m`` given and every sum written out, bottom up (so ``√(Σ/m)`` becomes ``√(Σ_j (…)/m)``, as SymPy
    writes the explicit sum, not ``√m⁻¹·√Σ``)."""
    if expr == _M:
        return m
    if not expr.args:
        return expr
    if isinstance(expr, Sum):
        limits = [(v, lo.xreplace({_M: m}), hi.xreplace({_M: m})) for v, lo, hi in expr.limits]
        return expand_concrete(Sum(_written_out(expr.function, m), *limits))
    return expr.func(*[_written_out(a, m) for a in expr.args])


_M = Symbol("m", integer=True, positive=True)


class Normalize(Layer):
    """Batch normalization's normalizing step ``x̂_i = (z_i − μ)/σ`` per feature over the batch.

    ``μ`` is the batch mean, ``σ = sqrt(σ²_B + ε)`` with the **biased** batch variance (Ioffe & Szegedy
    2015, Alg. 1); both are named statistics (``mu1``, ``sigma1``). ``samples`` is the batch size: an integer
    ``m ≥ 2`` or a positive integer symbol (a network over a symbolic batch, index form only).

    >>> bn = Normalize("zhat1", samples=2, features=1, statistic="1", eps=0)
    >>> bn.forward(sympy.Matrix([[1], [3]])).T
    Matrix([[-1, 1]])
    """

    kind = "normalize"
    latex_name = r"\mathrm{BN}"
    couples_batch = True  # its statistics mix the samples of the batch
    normalizes_batch = True

    def __init__(self, name: str, *, samples, features: int, eps: Expr | float = 0,
                 statistic: str = "") -> None:
        super().__init__(name)
        symbolic = isinstance(samples, sympy.Symbol)
        if not symbolic and samples < 2:
            raise NetworkSpecError(
                f"batch normalization needs a batch of m >= 2 samples (got m = {samples}): "
                "pass batch=m with m >= 2"
            )
        self.samples, self.features = samples, features
        self.eps = check_eps(eps)
        self.statistic = statistic  # the suffix of μ's and σ's names (the builders give the layer's index: μ1, σ1)
        self.mu = entry_symbols(f"mu{self.statistic}", None, features)
        self.sigma = entry_symbols(f"sigma{self.statistic}", None, features, positive=True)
        # index form: a symbol for one feature, an IndexedBase over features otherwise
        if features == 1:
            self.mu_base, self.sigma_base = self.mu[0, 0], self.sigma[0, 0]
        else:
            self.mu_base = IndexedBase(f"mu{self.statistic}", real=True)
            self.sigma_base = IndexedBase(f"sigma{self.statistic}", positive=True)

    def entry_terms(self, m: int, width: int) -> int:
        """Its backward sums over the batch for each of the ``m`` entries, plus its statistics."""
        return (m * m + 40) * width

    def at(self, batch) -> Normalize:
        return Normalize(self.name, samples=batch, features=self.features, eps=self.eps, statistic=self.statistic)

    # -- index form: the definitions, the Jacobian and the VJP ----------------------------------------
    def mu_of(self, r) -> Expr:
        """``μ_r`` (a symbol for one feature)."""
        return parameter_entry(self.mu_base, r if self.features > 1 else None)

    def sigma_of(self, r) -> Expr:
        """``σ_r`` (a symbol for one feature)."""
        return parameter_entry(self.sigma_base, r if self.features > 1 else None)

    def index_forward(self, x: Port, y: Port, i, r) -> list[IndexDefinition]:
        m, mu, sigma = x.m, self.mu_of(r), self.sigma_of(r)
        one = (r,) if self.features > 1 else ()
        return [
            IndexDefinition(self.mu_base, one, Sum(x.entry(_J, r), (_J, 1, m)) / m, "batch mean"),
            IndexDefinition(self.sigma_base, one,
                            sympy.sqrt(Sum((x.entry(_J, r) - mu) ** 2, (_J, 1, m)) / m + self.eps),
                            "batch standard deviation (biased variance, plus ε)"),
            IndexDefinition(y.base, y.indices(i, r), (x.entry(i, r) - mu) / sigma, "normalized batch"),
        ]

    def positivity(self, graph) -> list[tuple[Expr, Expr, Expr]]:
        """``(σ_r, σ_r², ε)`` for this layer in the index form ``graph``: a proof dividing by ``σ_r`` needs
        ``σ_r² > 0`` (a batch that is not constant in feature ``r``, or ``ε > 0``)."""
        k = next(n for n, layer in enumerate(graph.network.layers) if layer is self)
        x, r = graph.ports[k], index_symbol("r")
        variance = Sum((x.entry(_J, r) - self.mu_of(r)) ** 2, (_J, 1, x.m)) / x.m
        return [(self.sigma_of(r), variance + self.eps, self.eps)]

    def index_jacobian(self, y: Port, i, k, r) -> Expr:
        """``∂x̂[i, r]/∂z[k, r] = (δ_ik − 1/m − x̂[i, r] x̂[k, r]/m)/σ_r`` (other features: 0)."""
        m = y.m
        return (KroneckerDelta(i, k) - 1 / m - y.entry(i, r) * y.entry(k, r) / m) / self.sigma_of(r)

    def index_vjp(self, x: Port, y: Port, ybar: Port, i, r) -> Expr:
        m = x.m
        total = Sum(ybar.entry(_K, r), (_K, 1, m))
        along = Sum(ybar.entry(_K, r) * y.entry(_K, r), (_K, 1, m))
        return (ybar.entry(i, r) - total / m - y.entry(i, r) * along / m) / self.sigma_of(r)

    # -- per entry: the index form written out ----------------------------------------------------------
    def _ports(self, m):
        del m  # the forms are built for a symbolic batch and written out for the concrete one (_written_out)
        return Port("_x", self.features, _M), Port("_y", self.features, _M), Port("_g", self.features, _M)

    def statistics(self, x: Matrix) -> list[tuple[Symbol, Expr]]:
        """``(μ_r, its value), (σ_r, its value in μ_r)`` per feature: :meth:`index_forward` written out."""
        m = x.rows
        px, py, _ = self._ports(m)
        r = index_symbol("r")
        mean, deviation, _ = self.index_forward(px, py, index_symbol("i"), r)
        entries = {px.base: x, **self.statistic_entries()}
        named = []
        for col in range(x.cols):
            named.append((self.mu[0, col], expand_entries(mean.value, m, entries, {r: col + 1})))
            sigma = expand_entries(deviation.value, m, entries, {r: col + 1})  # √m⁻¹·√Σ: written back as √(Σ/m)
            named.append((self.sigma[0, col], sympy.sqrt(sympy.expand(sigma**2, deep=False))))
        return named

    def definition(self, x: Matrix) -> Matrix:
        return Matrix(x.rows, x.cols, lambda i, j: (x[i, j] - self.mu[j]) / self.sigma[j])

    def divisors(self, x: Matrix) -> list[tuple[Symbol, list[Expr]]]:
        """Each feature's ``σ`` next to its batch values (a numerically constant batch makes ``1/σ`` noise).

        >>> Normalize("zhat1", samples=2, features=1, statistic="1").divisors(sympy.Matrix(sympy.symbols("z1:3")))
        [(sigma1, [z1, z2])]
        """
        return [(self.sigma[j], list(x[:, j])) for j in range(x.cols)]

    def forward(self, x: Matrix) -> Matrix:
        resolved: dict[Symbol, Expr] = {}
        for symbol, value in self.statistics(x):  # μ, then σ in terms of μ
            resolved[symbol] = value.xreplace(resolved)
        return self.definition(x).xreplace(resolved)

    def statistic_entries(self) -> dict:
        """``{μ base: μ row, σ base: σ row}`` when the layer has several features (one feature: plain symbols).

        >>> list(Normalize("zhat1", samples=2, features=2, statistic="1").statistic_entries())
        [sigma1, mu1]
        """
        return {} if self.features == 1 else {self.sigma_base: self.sigma, self.mu_base: self.mu}

    def vjp(self, x: Matrix, y: Matrix, upstream: Matrix) -> Matrix:
        """:meth:`index_vjp` written out for the batch (docs/math.md §4).

        >>> bn = Normalize("zhat1", samples=2, features=1, statistic="1")
        >>> g = sympy.Matrix(sympy.symbols("g1:3", real=True))
        >>> bn.vjp(sympy.Matrix(sympy.symbols("z1:3")), sympy.Matrix(sympy.symbols("h1:3")), g)[0]
        (g1/2 - g2/2 - h1*(g1*h1 + g2*h2)/2)/sigma1
        """
        m, n = x.shape
        px, py, pg = self._ports(m)
        i, r = index_symbol("i"), index_symbol("r")
        entries = {px.base: x, py.base: y, pg.base: upstream, **self.statistic_entries()}
        out = sympy.zeros(m, n)
        for col in range(n):
            generic = expand_entries(self.index_vjp(px, py, pg, i, r), m, entries, {r: col + 1})
            for k in range(m):
                out[k, col] = expand_entries(generic, None, entries, {i: k + 1})
        return out

    def jacobian_entries(self, x: Matrix, y: Matrix) -> dict[tuple[int, int], Expr]:
        m, n = x.shape
        _, py, _ = self._ports(m)
        i, k, r = index_symbol("i"), index_symbol("k"), index_symbol("r")
        entries = {py.base: y, **self.statistic_entries()}
        out = {}
        for col in range(n):
            for a in range(m):
                for b in range(m):
                    out[(a * n + col, b * n + col)] = expand_entries(self.index_jacobian(py, i, k, r), m, entries,
                                                                     {i: a + 1, k: b + 1, r: col + 1})
        return out

    # -- numerics --------------------------------------------------------------------------------------
    def numpy_forward(self, x, params: dict):
        xp, m = array_module(x), x.shape[0]
        centred = x - xp.add.reduce(x, axis=0, keepdims=True) / m  # add.reduce: .mean() costs more per call
        sigma = xp.sqrt(xp.add.reduce(centred * centred, axis=0, keepdims=True) / m + self._eps_float)
        y = centred / sigma
        return y, (y, sigma)

    def numpy_vjp(self, saved, g, params: dict):
        y, sigma = saved
        xp, m = array_module(g), g.shape[0]
        along = xp.add.reduce(g * y, axis=0, keepdims=True) / m
        return (g - xp.add.reduce(g, axis=0, keepdims=True) / m - y * along) / sigma, {}

    def numpy_undefined(self, x, saved) -> str | None:
        """With ``ε = 0``, BN is undefined on a batch in which a feature is constant (``σ = 0``); a ``σ`` that
        rounding left at ``1e-12`` of the batch's scale or below counts as 0.

        >>> import numpy as np
        >>> bn = Normalize("zhat1", samples=3, features=2)
        >>> x = np.array([[1.0, 0.1], [2.0, 0.1], [4.0, 0.1]])
        >>> print(bn.numpy_undefined(x, bn.numpy_forward(x, {})[1]))
        batch normalization 'zhat1' is undefined for this batch: feature 2 is constant (σ = 0) and ε = 0;
        give the samples different values or use eps > 0
        >>> bn.numpy_undefined(x[:, :1], bn.numpy_forward(x[:, :1], {})[1]) is None
        True
        """
        if self._eps_float > 0:
            return None
        sigma = np.asarray(saved[1]).reshape(-1)
        scale = np.max(np.abs(np.asarray(x)), axis=0).reshape(-1)
        constant = [j + 1 for j in range(sigma.size) if not sigma[j] > 1e-12 * scale[j]]
        if not constant:
            return None
        which = "feature " + ", ".join(map(str, constant)) if len(constant) < 2 else \
            "features " + ", ".join(map(str, constant))
        verb = "is" if len(constant) < 2 else "are"
        return (f"batch normalization {self.name!r} is undefined for this batch: {which} {verb} constant (σ = 0) "
                f"and ε = 0; give the samples different values or use eps > 0")

    def torch_forward(self, x, params: dict):
        import torch

        if self.eps > 0:  # PyTorch's own op (it refuses ε = 0 in training)
            return torch.nn.functional.batch_norm(x, None, None, training=True, eps=float(self.eps))
        centred = x - x.mean(dim=0, keepdim=True)
        return centred / torch.sqrt((centred**2).mean(dim=0, keepdim=True))


class ScaleShift(Layer):
    """Batch normalization's learnable affine step ``y = γ x̂ + β`` per feature.

    ``shift=False`` (with ``beta=None``) drops ``β``: the scale-only affine of ``torch.nn.RMSNorm`` (it has only a
    weight). ``positions=P > 1`` shares ``γ_c``, ``β_c`` over the ``P`` columns of channel ``c`` in the
    channel-major layout (:mod:`bnsym.layers.convnorm`; ``features = C·P``, parameters of length ``C``);
    ``positions=1`` is one ``γ``, ``β`` per feature.

    >>> ss = ScaleShift("ztilde1", gamma="gamma1", beta="beta1", features=1)
    >>> ss.forward(sympy.Matrix([[sympy.Symbol("zhat1", real=True)]]))
    Matrix([[beta1 + gamma1*zhat1]])
    >>> ScaleShift("y", gamma="g", features=4, positions=2, shift=False).forward(sympy.Matrix([[1, 2, 3, 4]]))
    Matrix([[g[1], 2*g[1], 3*g[2], 4*g[2]]])
    """

    kind = "scale_shift"
    latex_name = r"\mathrm{BN}_{\gamma,\beta}"
    affine = True

    def __init__(self, name: str, *, gamma: str, beta: str | None = None, features: int, shift: bool = True,
                 positions: int = 1) -> None:
        super().__init__(name)
        if shift and beta is None:
            raise NetworkSpecError(f"ScaleShift {name!r} needs a name for beta (or shift=False for a scale only)")
        if not shift and beta is not None:
            raise NetworkSpecError(f"ScaleShift {name!r} has shift=False but a beta name {beta!r}: give beta=None")
        if isinstance(positions, bool) or not isinstance(positions, int) or positions < 1 or features % positions:
            raise NetworkSpecError(f"positions must be an integer >= 1 dividing features = {features}, "
                                   f"got {positions!r}")
        self.gamma, self.beta = gamma, beta
        self.shift, self.positions = shift, positions
        self.features = features
        self.channels = features // positions
        self.parameters[gamma] = entry_symbols(gamma, None, self.channels)
        if beta is not None:
            self.parameters[beta] = entry_symbols(beta, None, self.channels)

    def forward(self, x: Matrix) -> Matrix:
        gamma, P = self.parameters[self.gamma], self.positions
        if self.beta is None:
            return Matrix(x.rows, x.cols, lambda i, j: gamma[j // P] * x[i, j])
        beta = self.parameters[self.beta]
        if P > 1:
            return Matrix(x.rows, x.cols, lambda i, j: gamma[j // P] * x[i, j] + beta[j // P])
        return Matrix(x.rows, x.cols, lambda i, j: gamma[j] * x[i, j] + beta[j])

    # index form
    def index_parameters(self) -> dict:
        def base(name):
            return Symbol(name, real=True) if self.channels == 1 else IndexedBase(name, real=True)
        out = {self.gamma: (base(self.gamma), (self.channels,))}
        if self.beta is not None:
            out[self.beta] = (base(self.beta), (self.channels,))
        return out

    def _p(self, name, r) -> Expr:
        if self.positions > 1:
            from .convnorm import channel_of

            r = channel_of(r, self.positions)
        return parameter_entry(self.index_parameters()[name][0], r if self.channels > 1 else None)

    def index_forward(self, x: Port, y: Port, i, r) -> list[IndexDefinition]:
        value = self._p(self.gamma, r) * x.entry(i, r)
        if self.beta is not None:
            value = value + self._p(self.beta, r)
        return [IndexDefinition(y.base, y.indices(i, r), value, "scale and shift" if self.shift else "scale")]

    def index_vjp(self, x: Port, y: Port, ybar: Port, i, r) -> Expr:
        return self._p(self.gamma, r) * ybar.entry(i, r)

    def index_parameter_vjp(self, x: Port, y: Port, ybar: Port, name: str, indices: tuple) -> Expr:
        (r,) = indices
        if self.positions > 1:  # r is the channel: sum over its columns too
            P, l_ = self.positions, index_symbol("l")
            c = r if r is not None else 1
            col = (c - 1) * P + l_
            term = ybar.entry(_J, col) * x.entry(_J, col) if name == self.gamma else ybar.entry(_J, col)
            return Sum(Sum(term, (l_, 1, P)), (_J, 1, x.m))
        if name == self.gamma:
            return Sum(ybar.entry(_J, r) * x.entry(_J, r), (_J, 1, x.m))
        return Sum(ybar.entry(_J, r), (_J, 1, x.m))

    # numerics
    def _per_column(self, p):
        if self.positions == 1:
            return p.reshape(1, -1)
        return array_module(p).repeat(p.reshape(-1), self.positions).reshape(1, -1)

    def _per_channel(self, total, like):
        if self.positions == 1:
            return total.reshape(like.shape)
        return array_module(total).add.reduce(total.reshape(self.channels, self.positions), axis=1).reshape(like.shape)

    def numpy_forward(self, x, params: dict):
        gamma = params[self.gamma]
        if self.beta is None:
            return self._per_column(gamma) * x, x
        beta = params[self.beta]
        if self.positions > 1:
            return self._per_column(gamma) * x + self._per_column(beta), x
        return gamma.reshape(1, -1) * x + beta.reshape(1, -1), x

    def numpy_vjp(self, saved, g, params: dict):
        gamma, xp = params[self.gamma], array_module(g)
        if self.beta is None or self.positions > 1:
            grads = {self.gamma: self._per_channel(xp.add.reduce(g * saved, axis=0), gamma)}
            if self.beta is not None:
                grads[self.beta] = self._per_channel(xp.add.reduce(g, axis=0), params[self.beta])
            return self._per_column(gamma) * g, grads
        return gamma.reshape(1, -1) * g, {self.gamma: xp.add.reduce(g * saved, axis=0).reshape(gamma.shape),
                                          self.beta: xp.add.reduce(g, axis=0).reshape(params[self.beta].shape)}

    def torch_forward(self, x, params: dict):
        P = self.positions
        gamma = params[self.gamma].reshape(-1).repeat_interleave(P).reshape(1, -1) if P > 1 else \
            params[self.gamma].reshape(1, -1)
        if self.beta is None:
            return gamma * x
        beta = params[self.beta].reshape(-1).repeat_interleave(P).reshape(1, -1) if P > 1 else \
            params[self.beta].reshape(1, -1)
        return gamma * x + beta
