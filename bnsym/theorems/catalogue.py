"""The theorem catalogue (bn-math.md §1–§8) and :func:`prove`.

>>> [t.name for t in theorems()][:3]
['scale_invariance_forward', 'scale_invariance_input_grad', 'scale_invariance_weight_grad']
>>> p = prove("scale_invariance_input_grad")
>>> p.holds, [c.text for c in p.conditions]
(True, ['a > 0', 'ε = 0', 'm ≥ 2', 'batch not constant (σ > 0)'])
>>> prove("scale_invariance_input_grad", assume={"a": "negative"}).holds
False
"""
from __future__ import annotations

from collections.abc import Mapping

import dataclasses
import functools
import numbers
from fractions import Fraction

import sympy
from sympy import S, Symbol

from ..errors import ConditionError, TheoremError
from . import concrete_proofs, general
from .algebra import epsilon, m as m_symbol
from .checks import residual
from .general import Options, Outcome
from .proof import Condition, Proof, Theorem

__all__ = ["theorems", "prove", "get_theorem"]

_a = Symbol("a", real=True)
A_POS = Condition("a > 0", "a > 0", _a > 0)
A_NEG = Condition("a < 0", "a < 0", _a < 0)
C_POS = Condition("c > 0", "c > 0", Symbol("c", real=True) > 0)
EPS0 = Condition("ε = 0", r"\epsilon = 0", sympy.Eq(Symbol("epsilon", real=True), 0))
EPS_POS = Condition("ε > 0", r"\epsilon > 0", Symbol("epsilon", real=True) > 0)
EPS_ANY = Condition("ε ≥ 0", r"\epsilon \geq 0", Symbol("epsilon", real=True) >= 0)
M2 = Condition("m ≥ 2", r"m \geq 2", m_symbol >= 2)
NONCONST = Condition("batch not constant (σ > 0)", r"\sigma > 0", Symbol("sigma", real=True) > 0)

IS = "Ioffe & Szegedy 2015 (arXiv 1502.03167)"
SANT = "Santurkar, Tsipras, Ilyas & Madry 2018 (arXiv 1805.11604), Theorem 4.1"
ALL = "van Laarhoven 2017 (arXiv 1706.05350); Arora, Li & Lyu 2018 (arXiv 1812.03981)"

_CAT = [
    Theorem("scale_invariance_forward", "Scale invariance of the forward pass",
            "BN(aWu) = BN(Wu)",
            r"\mathrm{BN}(aWu) = \mathrm{BN}(Wu)", f"{IS}, §3.3",
            (A_POS, EPS0, M2, NONCONST), 1, general.scale_forward, concrete_proofs.scale_forward),
    Theorem("scale_invariance_input_grad", "Scale invariance of the input gradient",
            "∂BN(aWu)/∂u = ∂BN(Wu)/∂u",
            r"\frac{\partial \mathrm{BN}(aWu)}{\partial u} = \frac{\partial \mathrm{BN}(Wu)}{\partial u}",
            f"{IS}, §3.3", (A_POS, EPS0, M2, NONCONST), 1, general.scale_input_grad,
            concrete_proofs.scale_input_grad),
    Theorem("scale_invariance_weight_grad", "Larger weights get smaller gradients",
            "∂BN((aW)u)/∂(aW) = (1/a)·∂BN(Wu)/∂W",
            r"\frac{\partial \mathrm{BN}((aW)u)}{\partial (aW)} = \frac{1}{a} "
            r"\frac{\partial \mathrm{BN}(Wu)}{\partial W}",
            f"{IS}, §3.3", (A_POS, EPS0, M2, NONCONST), 1, general.scale_weight_grad,
            concrete_proofs.scale_weight_grad),
    Theorem("bn_jacobian", "The BN Jacobian in closed form",
            "∂x̂_i/∂z_k = (δ_ik − 1/m − x̂_i x̂_k/m)/√(σ² + ε)",
            r"\frac{\partial \hat{x}_{i}}{\partial z_{k}} = \frac{\delta_{ik} - \frac{1}{m} - "
            r"\frac{\hat{x}_{i}\hat{x}_{k}}{m}}{\sqrt{\sigma^{2} + \epsilon}}",
            f"{IS}, §3.1 (Alg. 1), in closed form; bn-math §2", (EPS_ANY, M2, NONCONST), 2, general.jacobian,
            concrete_proofs.jacobian),
    Theorem("bn_jacobian_null_space", "1 and x̂ span the null space of the BN Jacobian",
            "J·1 = 0 and J·x̂ = 0; null J = span{1, x̂}; the gradient reaching z is orthogonal to 1 and x̂",
            r"J\mathbf{1} = 0,\; J\hat{x} = 0,\; \ker J = \operatorname{span}\{\mathbf{1}, \hat{x}\}",
            f"{IS}, §3.1; bn-math §2", (EPS0, M2, NONCONST), 2, general.null_space, concrete_proofs.null_space),
    Theorem("backward_formulas", "The backward formulas of Ioffe & Szegedy",
            "∂ℓ/∂x̂_i, ∂ℓ/∂σ², ∂ℓ/∂μ, ∂ℓ/∂z_i, ∂ℓ/∂γ, ∂ℓ/∂β of §3.1 are the true derivatives",
            r"\frac{\partial \ell}{\partial z_{i}} = \frac{\partial \ell}{\partial \hat{x}_{i}}\frac{1}{s} + "
            r"\frac{\partial \ell}{\partial \sigma^{2}}\frac{2(z_{i}-\mu)}{m} + \frac{\partial \ell}{\partial \mu}"
            r"\frac{1}{m} = \sum_{k} g_{k}\gamma\frac{\partial \hat{x}_{k}}{\partial z_{i}}",
            f"{IS}, §3.1", (EPS_ANY, M2, NONCONST), 3, general.backward_formulas,
            concrete_proofs.backward_formulas),
    Theorem("backward_compact", "The compact backward formula",
            "∂ℓ/∂z = (γ/(m s))(m·g − Σg − x̂·Σ(g x̂))",
            r"\frac{\partial \ell}{\partial z} = \frac{\gamma}{m s}\left(m g - \mathbf{1}\sum_{k} g_{k} - "
            r"\hat{x}\sum_{k} g_{k}\hat{x}_{k}\right)",
            f"{IS}, §3.1, rearranged; bn-math §4", (EPS_ANY, M2, NONCONST), 3, general.backward_compact,
            concrete_proofs.backward_compact),
    Theorem("gradient_norm_identity", "Gradient norm through BN (exact equality)",
            "‖∂ℓ/∂z‖² = (γ²/σ²)(‖g‖² − ⟨1,g⟩²/m − ⟨g,x̂⟩²/m)",
            r"\left\|\frac{\partial \ell}{\partial z}\right\|^{2} = \frac{\gamma^{2}}{\sigma^{2}}\left(\|g\|^{2} - "
            r"\frac{\langle \mathbf{1}, g\rangle^{2}}{m} - \frac{\langle g, \hat{x}\rangle^{2}}{m}\right)",
            SANT, (EPS0, M2, NONCONST), 4, general.gradient_norm_identity, concrete_proofs.gradient_norm_identity),
    Theorem("gradient_norm_bound", "Gradient norm through BN (the inequality)",
            "‖∂ℓ/∂z‖ ≤ (γ/σ)‖g‖",
            r"\left\|\frac{\partial \ell}{\partial z}\right\| \leq \frac{|\gamma|}{\sigma}\|g\|",
            SANT, (EPS0, M2, NONCONST), 4, general.gradient_norm_bound, concrete_proofs.gradient_norm_bound),
    Theorem("weight_orthogonality", "Weights feeding BN are orthogonal to their gradient",
            "⟨W, ∂J/∂W⟩ = 0",
            r"\left\langle W, \frac{\partial J}{\partial W}\right\rangle = 0",
            f"{ALL}; Euler's theorem for degree-0 homogeneous functions", (EPS0, M2, NONCONST), 5, general.euler,
            concrete_proofs.euler),
    Theorem("weight_norm_growth", "One gradient step grows the weight norm",
            "‖W − η∇J‖² = ‖W‖² + η²‖∇J‖²",
            r"\|W - \eta\nabla J\|^{2} = \|W\|^{2} + \eta^{2}\|\nabla J\|^{2}",
            ALL, (EPS0, M2, NONCONST), 5, general.norm_growth, concrete_proofs.norm_growth),
    Theorem("gradient_scaling", "Gradient scales as 1/c: effective learning rate η/‖W‖²",
            "∇J(cW) = ∇J(W)/c for c > 0; the effective learning rate is η/‖W‖²",
            r"\nabla J(cW) = \frac{1}{c}\nabla J(W)",
            ALL + "; Hoffer et al. 2018 (arXiv 1803.01814)", (C_POS, EPS0, M2, NONCONST), 5,
            general.gradient_scaling, concrete_proofs.gradient_scaling),
    Theorem("bias_gradient_zero", "A bias before BN has gradient 0",
            "BN(Wu + b) = BN(Wu), so ∂J/∂b = 0",
            r"\frac{\partial J}{\partial b} = 0",
            f"{IS}, §3.2 (the bias can be ignored); bn-math §1", (EPS_ANY, M2, NONCONST), 6, general.bias,
            concrete_proofs.bias),
    Theorem("goodfellow_expansion", "One gradient step on a deep linear chain, in powers of η",
            "for ŷ = x·w_1⋯w_L, one simultaneous GD step gives ŷ' = Σ_S (−η)^|S| x Π_{i∈S} g_i Π_{j∉S} w_j "
            "(first order −η gᵀg); with BN on h_{L−1} the change is exactly −η g_L ĥ (no η², η³, … terms)",
            r"\hat{y}' = \sum_{S \subseteq \{1..L\}} (-\eta)^{|S|} x \prod_{i\in S} g_{i}\prod_{j \notin S} w_{j}",
            "Goodfellow, Bengio & Courville 2016, Deep Learning, §8.7.1", (EPS0, M2, NONCONST), 7,
            general.goodfellow, concrete_proofs.goodfellow),
]
_CAT = [dataclasses.replace(t, numeric=functools.partial(residual, t.name)) for t in _CAT]
_BY_NAME = {t.name: t for t in _CAT}
EPS_NONNEG = Symbol("epsilon", nonnegative=True)  # proves "every ε ≥ 0" at once, ε = 0 included
_SCALE = {"scale_invariance_forward", "scale_invariance_input_grad", "scale_invariance_weight_grad",
          "gradient_scaling"}


def theorems() -> tuple[Theorem, ...]:
    """The catalogue, in the order of bn-math.md.

    >>> len(theorems()) >= 14 and all(t.source for t in theorems())
    True
    """
    return tuple(_CAT)


def get_theorem(name: str) -> Theorem:
    """The catalogue entry called ``name``; :class:`~bnsym.errors.TheoremError` lists the names otherwise.

    >>> get_theorem("bn_jacobian").group
    2
    """
    if not isinstance(name, str) or name not in _BY_NAME:
        raise TheoremError(f"unknown theorem {name!r}; known: {', '.join(_BY_NAME)}")
    return _BY_NAME[name]


def _parse_eps(eps, assume) -> sympy.Expr:
    if assume.get("eps") is not None:
        eps = assume["eps"]
    if isinstance(eps, str):
        if eps in ("0", "zero"):
            return S.Zero
        if eps in ("positive", "symbolic"):
            return epsilon
        raise TheoremError(f"eps must be 0, a positive number or 'positive', got {eps!r}")
    if isinstance(eps, bool) or not isinstance(eps, (numbers.Number, sympy.Number, Fraction)):
        raise TheoremError(f"eps must be 0, a positive number or 'positive', got {eps!r}")
    value = sympy.Rational(eps) if not isinstance(eps, sympy.Number) else eps
    if value < 0:
        raise ConditionError(f"eps must be >= 0, got {eps}")
    return value


def _options(name, batch, assume, eps, width) -> Options:
    if assume is not None and not isinstance(assume, Mapping):
        raise TheoremError(f"assume must be a dict such as {{'a': 'negative'}}, got {assume!r}")
    assume = dict(assume or {})
    for key in assume:
        if key not in ("a", "c", "eps", "batch", "coefficient"):
            raise TheoremError(f"unknown assumption {key!r}; use 'a', 'c', 'eps', 'batch' or 'coefficient'")
    sign = assume.get("a", assume.get("c", "positive"))
    if sign not in ("positive", "negative"):
        raise TheoremError(f"assume a/c must be 'positive' or 'negative', got {sign!r}")
    if sign == "negative" and name not in _SCALE:
        raise TheoremError(f"theorem {name!r} has no scale a to assume negative")
    coef = assume.get("coefficient", "1/m")
    if coef not in ("1/m", "1/sqrt(m)"):
        raise TheoremError(f"coefficient must be '1/m' or '1/sqrt(m)', got {coef!r}")
    if coef != "1/m" and name != "gradient_norm_bound":
        raise TheoremError("the coefficient option belongs to gradient_norm_bound")
    constant = assume.get("batch", "non-constant")
    if constant not in ("constant", "non-constant"):
        raise TheoremError(f"assume batch must be 'constant' or 'non-constant', got {constant!r}")
    if batch != "m":
        if isinstance(batch, bool) or not isinstance(batch, numbers.Integral):
            raise TheoremError(f"batch must be 'm' or an integer, got {batch!r}")
        if batch < 2:
            raise ConditionError(f"batch normalization needs a batch of m >= 2 samples, got m = {batch}")
        batch = int(batch)
    if width is not None and (isinstance(width, bool) or not isinstance(width, numbers.Integral) or width < 1):
        raise TheoremError(f"width must be a positive integer, got {width!r}")
    return Options(batch=batch, sign=sign, eps=_parse_eps(eps, assume), width=int(width or 2),
                   coefficient=coef, constant=constant == "constant")


def _conditions(thm: Theorem, opts: Options) -> tuple[Condition, ...]:
    out = []
    for cond in thm.hypotheses:
        if cond is A_POS and opts.sign == "negative":
            cond = A_NEG
        elif cond is C_POS and opts.sign == "negative":
            cond = Condition("c < 0", "c < 0", Symbol("c", real=True) < 0)
        elif cond is EPS0 and opts.eps != 0:
            cond = EPS_POS
        out.append(cond)
    return tuple(out)


def prove(name: str, *, batch: int | str = "m", assume: dict | None = None, eps=0,
          width: int | None = None) -> Proof:
    """Prove theorem ``name`` for symbolic ``m`` (``batch="m"``) or exactly for a concrete batch size.

    ``assume={"a": "negative"}`` (scale theorems), ``{"batch": "constant"}``, ``{"coefficient": "1/sqrt(m)"}``
    (gradient_norm_bound); ``eps`` is 0, a positive number or ``"positive"`` (symbolic ``ε > 0``).
    ``width`` is the number of inputs per unit in concrete checks (default 2).

    >>> prove("bn_jacobian", batch=4).holds
    True
    >>> prove("bn_jacobian", batch=1)
    Traceback (most recent call last):
    ...
    bnsym.errors.ConditionError: batch normalization needs a batch of m >= 2 samples, got m = 1
    """
    thm = get_theorem(name)
    opts = _options(name, batch, assume, eps, width)
    conds = _conditions(thm, opts)
    base = dict(name=thm.name, title=thm.title, statement=thm.statement, statement_latex=thm.statement_latex,
                source=thm.source, conditions=conds, batch=opts.batch)
    if opts.constant and (opts.eps == 0 or name != "bias_gradient_zero"):
        return Proof(**base, holds=None, steps=(), method="not attempted",
                     reason="constant batch: σ = 0, so with ε = 0 the normalization x̂ = (z − μ)/σ is undefined"
                     if opts.eps == 0 else "constant batch: the statement is about a non-degenerate batch")
    prover = thm.general if opts.batch == "m" else thm.concrete
    if opts.batch == "m" and opts.eps == 0 and EPS_ANY in thm.hypotheses:
        opts = dataclasses.replace(opts, eps=EPS_NONNEG)
    try:
        out: Outcome = prover(opts)
    except (ZeroDivisionError, NotImplementedError, RecursionError, sympy.PolynomialError) as exc:
        out = Outcome(None, [], reason=f"the proof could not be completed: {type(exc).__name__}: {exc}")
    return Proof(**base, holds=out.holds, steps=tuple(out.steps), method=out.method, reason=out.reason,
                 replacement=out.replacement, replacement_latex=out.replacement_latex,
                 counterexample=out.counterexample)


def check(name: str, draw: dict) -> float:
    """Numeric relative residual of theorem ``name`` on one draw (see :func:`bnsym.theorems.checks.residual`).

    >>> import numpy as np
    >>> check("bn_jacobian", {"u": np.array([[1.0], [2.0], [4.0]]), "W": np.array([1.5])}) < 1e-12
    True
    """
    get_theorem(name)
    return residual(name, draw)
