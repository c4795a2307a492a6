"""One BN feature over a batch of symbolic size ``m``: the symbols, the definitions, the kernel contexts.

Every theorem is stated and proved in a :class:`~bnsym.kernel.core.Context` built here, so the batch
statistics are defined once (Ioffe & Szegedy 2015, Algorithm 1, biased variance):

* ``μ := (1/m) Σ_j z_j``, ``σ := √((1/m) Σ_j (z_j − μ)²)``, ``x̂_t := (z_t − μ)/√(σ² + ε)``;
* optionally ``z_t := Σ_q W_q u_{tq}`` (a unit with ``n`` inputs, weights ``W``), and the statistics of a
  second batch ``z̃`` (the batch scaled by ``a``, or computed with weights ``V`` evaluated at ``V = aW``).

:func:`check_library_tie` checks that these definitions are :func:`bnsym.functions.batch_normalize`'s.

>>> ctx = context(Options())
>>> [str(d.symbol) for d in ctx.definitions]
['mu', 'sigma', 'xhat']
"""
from __future__ import annotations

from dataclasses import dataclass

import sympy
from sympy import Expr, S, Sum, Symbol

from ..kernel import core as K
from ..kernel.index import index_symbol

__all__ = ["Options", "context", "m", "n", "i", "j", "k", "l", "r", "q", "t", "z", "u", "W", "V", "xhat", "g",
           "zt", "xt", "mu", "sigma", "mut", "sigmat", "epsilon", "epsilon_pos", "gamma", "beta", "std",
           "jacobian_closed_form", "check_library_tie"]

m = Symbol("m", integer=True, positive=True)
n = Symbol("n", integer=True, positive=True)  # inputs per unit
i, j, k, l, r, q, t = (index_symbol(x) for x in "ijklrqt")  # noqa: E741  l is the math index, as in the proofs
z = sympy.IndexedBase("z", real=True)
u = sympy.IndexedBase("u", real=True)
W = sympy.IndexedBase("W", real=True)
V = sympy.IndexedBase("V", real=True)
g = sympy.IndexedBase("g", real=True)
xhat = sympy.IndexedBase("xhat", real=True)
zt = sympy.IndexedBase("ztilde", real=True)
xt = sympy.IndexedBase("xtilde", real=True)
mu = Symbol("mu", real=True)
sigma = Symbol("sigma", positive=True)
mut = Symbol("mutilde", real=True)
sigmat = Symbol("sigmatilde", positive=True)
epsilon = Symbol("epsilon", nonnegative=True)
epsilon_pos = Symbol("epsilon", positive=True)
gamma = Symbol("gamma", real=True)
beta = Symbol("beta", real=True)


@dataclass(frozen=True)
class Options:
    """What :func:`bnsym.prove` was asked: batch size, sign of the scale, ``ε``, width, printed coefficient.

    ``eps`` is ``0``, an exact positive rational, ``"positive"`` (a symbol ``ε > 0``) or ``"any"`` (a symbol
    ``ε ≥ 0``: one proof for every ``ε``, ``0`` included).

    >>> Options().eps_symbol, Options(eps="positive").eps_symbol.is_positive
    (epsilon, True)
    """

    batch: int | str = "m"
    sign: str = "positive"
    eps: Expr | int | str = S.Zero
    width: int = 2
    coefficient: str = "1/m"
    constant: bool = False
    witness_m: int = 3  # batch size of counterexamples (the requested m for a concrete proof)

    @property
    def a(self) -> Symbol:
        """The scale ``a`` with its sign as a SymPy assumption."""
        return Symbol("a", positive=True) if self.sign == "positive" else Symbol("a", negative=True)

    @property
    def eps_symbol(self) -> Symbol:
        """The symbol ``ε`` stands for in this proof's expressions."""
        return epsilon_pos if self.eps == "positive" else epsilon

    @property
    def eps_is_zero(self) -> bool:
        """Whether ``ε = 0`` exactly."""
        return not isinstance(self.eps, str) and sympy.sympify(self.eps) == 0


def std(opts: Options, var=None) -> sympy.Expr:
    """``√(σ² + ε)`` (of ``var`` instead of ``σ²`` if given).

    >>> std(Options())
    sqrt(epsilon + sigma**2)
    """
    return sympy.sqrt((sigma**2 if var is None else var) + opts.eps_symbol)


def jacobian_closed_form(opts: Options, row=i, col=k) -> sympy.Expr:
    """``(δ_ik − 1/m − x̂_i x̂_k/m)/√(σ² + ε)``: the statement of theorem ``bn_jacobian``, taken from the engine's
    own BN layer (:meth:`bnsym.layers.batchnorm.Normalize.index_jacobian`, whose ``σ`` includes ``ε``), so the
    theorem proves the rule the engine uses.

    >>> from sympy import KroneckerDelta
    >>> jacobian_closed_form(Options()) == (KroneckerDelta(i, k) - 1 / m - xhat[i] * xhat[k] / m) / std(Options())
    True
    """
    from ..layers.base import Port
    from ..layers.batchnorm import Normalize

    layer = Normalize("xhat", samples=m, features=1)
    rule = layer.index_jacobian(Port("xhat", 1, m, xhat), row, col, None)
    return rule.xreplace({layer.sigma_of(None): std(opts)})


def _stats(ctx: K.Context, batch, mean, sd, normalized, eps, size) -> K.Context:
    ctx = ctx.define(mean, Sum(batch[j], (j, 1, size)) / size, text="batch mean")
    ctx = ctx.define(sd, sympy.sqrt(Sum((batch[j] - mean) ** 2, (j, 1, size)) / size),
                     text="biased batch standard deviation")
    return ctx.define(normalized, (batch[t] - mean) / sympy.sqrt(sd**2 + eps), index=t, text="normalized batch")


def context(opts: Options, *, free=(i, k), linear: bool = False, scaled: str | None = None,
            bias: sympy.Symbol | None = None, constant_ok: bool = False) -> K.Context:
    """The kernel context of one BN feature for ``opts`` (``m`` symbolic, or ``opts.batch``).

    ``linear``: ``z_t := Σ_q W_q u_{tq}`` (``+ bias``); ``scaled="batch"``: ``z̃_t := a z_t``;
    ``scaled="weights"``: ``z̃_t := Σ_q V_q u_{tq}`` evaluated at ``V = aW``. Hypotheses: the batch is not
    constant (``σ² > 0``), the fixed ``ε`` if numeric; with ``constant_ok`` (and ``ε > 0``) only
    ``σ² + ε > 0``, which holds for a constant batch too.
    """
    size = m if opts.batch == "m" else sympy.Integer(opts.batch)
    eps = opts.eps_symbol
    ctx = K.Context(m=size, free=tuple(free), size=m)
    if linear:
        ctx = ctx.define(z, Sum(W[q] * u[t, q], (q, 1, n)) + (bias if bias is not None else 0), index=t,
                         text="pre-activations of one unit")
    ctx = _stats(ctx, z, mu, sigma, xhat, eps, size)
    if not isinstance(opts.eps, str):
        ctx = ctx.fix(eps, sympy.sympify(opts.eps))
    if constant_ok:
        if opts.eps_is_zero or opts.eps == "any":
            raise K.KernelError("a constant batch needs ε > 0")
        ctx = ctx.assume_positive(sigma**2 + eps, "σ² + ε > 0 (σ² ≥ 0, ε > 0)")
    else:
        ctx = ctx.assume_positive(sigma**2, "batch not constant (σ > 0)")
        ctx = K.positive_fact(ctx, sigma**2 + eps, "σ² + ε > 0")
    if scaled == "batch":
        ctx = ctx.define(zt, opts.a * z[t], index=t, text="the batch scaled by a")
    elif scaled == "weights":
        ctx = ctx.define(zt, Sum(V[q] * u[t, q], (q, 1, n)), index=t, text="pre-activations with weights V")
    if scaled:
        ctx = _stats(ctx, zt, mut, sigmat, xt, eps, size)
        if scaled == "weights":
            ctx = ctx.define(V, opts.a * W[t], index=t, text="evaluated at V = aW", at=True)
        ctx = K.positive_fact(ctx, sigmat**2 + eps, "σ̃² + ε > 0")
    return ctx


def check_library_tie(size: int = 3) -> bool:
    """The definitions above, unfolded at a concrete batch, are :func:`bnsym.functions.batch_normalize`'s.

    >>> check_library_tie()
    True
    """
    from ..functions import batch_normalize
    from ..kernel.zero import decide_zero

    opts = Options(batch=size, eps="any")
    ctx = context(opts, free=())
    values = [z[p] for p in range(1, size + 1)]
    library = batch_normalize(values, epsilon)
    return all(decide_zero(K.canonical(xhat[p + 1], ctx) - K.canonical(library[p], ctx),
                           positive=ctx.positive).value is True
               for p in range(size))
