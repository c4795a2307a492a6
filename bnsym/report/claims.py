"""The claims table: each claim about BN and learning rates, what bnsym derived, what it measured, a verdict.

A :class:`Claim` is one row, built from the run's results by :func:`build_claims` (never typed by hand);
rows for later work are appended from ``Results.later`` (each result read by
:func:`bnsym.laterwork.verdicts.claims`). A later-work claim whose result is absent from the run is a row whose
*measured* cell says :data:`NOT_RUN`.

>>> c = Claim("BN(aWu) = BN(Wu)", "Ioffe & Szegedy 2015, §3.3", "proved", "—", HOLDS_UNDER, "identities")
>>> c.verdict
'holds under stated conditions'
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from collections.abc import Sequence

from .model import Link

if TYPE_CHECKING:
    from ..explain import Explanation

__all__ = ["Claim", "build_claims", "LATER_WORK", "NOT_RUN", "HOLDS", "HOLDS_UNDER", "CONTRADICTED",
           "NOT_JUDGED"]

HOLDS = "holds"
HOLDS_UNDER = "holds under stated conditions"
CONTRADICTED = "contradicted"
NOT_JUDGED = "not judged"
#: The *measured* cell of a claim whose measurement this report did not run.
NOT_RUN = "not run in this report"

#: Later work whose results the report shows when the run has them: ``(key in Results.later, claim, source)``;
#: the keys are the field names of :class:`bnsym.laterwork.suite.LaterWork`.
LATER_WORK: tuple[tuple[str, str, str], ...] = (
    ("rate_speedup", "BN allows 5× and 30× larger learning rates (Inception on ImageNet)",
     "Ioffe & Szegedy 2015 (arXiv 1502.03167), §4.2.1"),
    ("gradient_explosion", "BN causes gradient explosion at initialization in deep networks",
     "Yang, Pennington, Rao, Sohl-Dickstein & Schoenholz 2019 (arXiv 1902.08129), §3–4"),
    ("edge_of_stability", "gradient descent trains at the edge of stability, λ_max ≈ 2/η",
     "Cohen, Kaur, Li, Kolter & Talwalkar 2021 (arXiv 2103.00065), §3"),
    ("auto_rate", "BN tunes its rate automatically: the weights' norm grows, η/‖W‖² falls",
     "Arora, Li & Lyu 2018 (arXiv 1812.03981), §2–3"),
    ("smoothness", "BN makes the loss landscape smoother (smaller gradient changes along a step)",
     "Santurkar, Tsipras, Ilyas & Madry 2018 (arXiv 1805.11604), §3.2"),
)


@dataclass(frozen=True)
class Claim:
    """One row of the claims table: the claim, its source, what bnsym derived, what it measured, the verdict
    (:data:`HOLDS`, :data:`HOLDS_UNDER`, :data:`CONTRADICTED`, :data:`NOT_JUDGED`) and the section it links to
    (a section key of :data:`bnsym.report.answer.SECTIONS`).

    >>> Claim("c", "s", "d", NOT_RUN, NOT_JUDGED, "").measured
    'not run in this report'
    """

    claim: str
    source: str
    derived: str
    measured: str
    verdict: str
    link: str


def _g(v: float | None) -> str:
    return "none of the grid" if v is None else f"{v:.3g}"


def _proved(ex: Explanation, *names: str) -> tuple[bool, str]:
    """Whether the kernel proved every named theorem, and their conditions as text."""
    statements = [ex.results.statements.get(n) for n in names]
    ok = all(st is not None and st.holds for st in statements)
    conditions = sorted({c for st in statements if st is not None for c in st.conditions})
    return ok, ("proved for every m" if ok else "not proved") + (f" ({', '.join(conditions)})" if conditions else "")


def _close(value: float | None, target: float, tolerance: float) -> bool:
    return value is not None and abs(value - target) <= tolerance


def _rates_claim(ex: Explanation) -> Claim:
    sweep = ex.results.sweep
    ratios = []
    for d in sweep.depths:
        a, b = sweep.trained(d, False).median, sweep.trained(d, True).median
        ratios.append((d, None if not a or not b else b / a))
    known = [(d, r) for d, r in ratios if r is not None]
    larger = [d for d, r in known if r > 1]
    verdict = (HOLDS if known and len(larger) == len(ratios) else
               HOLDS_UNDER if larger else CONTRADICTED)
    measured = ("BN / no-BN median largest training rate: "
                + ", ".join(f"depth {d}: {'—' if r is None else f'{r:.3g}×'}" for d, r in ratios))
    if verdict == HOLDS_UNDER:
        measured += f"; larger with BN at depths {', '.join(map(str, larger))} only"
    return Claim("BN enables higher learning rates", "Ioffe & Szegedy 2015 (arXiv 1502.03167), §3.3",
                 "—", measured, verdict, "sweep")


def _cap_claim(ex: Explanation) -> Claim:
    caps, top = ex.results.cap, max(ex.settings.lrs)
    if not caps:
        return Claim("BN's largest rate is capped by the parameters BN does not normalize (last layer, γ, β)",
                     "this report", "—", NOT_RUN, NOT_JUDGED, "sweep")
    free = [c.depth for c in caps if c.normalized.median is not None and c.normalized.median >= top]
    capped = [c.depth for c in caps if c.unnormalized.median is not None and c.full.median is not None
              and c.unnormalized.median <= 2 * c.full.median]
    verdict = HOLDS if len(free) == len(capped) == len(caps) else (HOLDS_UNDER if free and capped else CONTRADICTED)
    def one(v):
        return ("≥ " if v is not None and v >= top else "") + _g(v)

    measured = ("largest rate that does not diverge, median over seeds, updating all / only the normalized "
                "weights / only the others: "
                + "; ".join(f"depth {c.depth}: {one(c.full.median)} / {one(c.normalized.median)} / "
                            f"{one(c.unnormalized.median)}" for c in caps))
    return Claim("BN's largest rate is capped by the parameters BN does not normalize (last layer, γ, β)",
                 "this report", "BN's output is bounded whatever its input weights (BN(aWu) = BN(Wu))",
                 measured, verdict, "sweep")


def _critical_claim(ex: Explanation) -> Claim:
    rows = [r for r in ex.results.curvature.rows if r.measured is not None and r.critical_lr > 0]
    ratios = [float(r.measured or 0) / r.critical_lr for r in rows]
    within = sum(1 for q in ratios if 0.5 <= q <= 2)
    verdict = HOLDS if rows and within == len(rows) else CONTRADICTED
    measured = (f"measured / (2/λ_max) from {min(ratios):.3g} to {max(ratios):.3g}; within a factor 2 in "
                f"{within} of {len(rows)} rows" if rows else NOT_RUN)
    return Claim("2/λ_max of the loss Hessian at initialization predicts the largest stable rate",
                 "quadratic model of gradient descent (LeCun, Bottou, Orr & Müller 1998)",
                 "λ_max by central differences of the derived gradients (exact, sympy.hessian, for the two-layer "
                 "network)", measured, verdict, "identities")


def _jacobian_claim(ex: Explanation) -> Claim:
    gn = ex.results.gradient_norms
    ratios = {bn: [v[0] / v[-1] for k, v in gn.norms.items() if k.startswith(bn) and v[-1] > 0]
              for bn in ("with BN", "without BN")}
    bn = ratios["with BN"]
    ok, conditions = _proved(ex, "bn_jacobian_null_space")

    def median(values):
        import numpy as np

        return float(np.median(values)) if values else None

    level = bool(bn) and 1 / 3 <= (median(bn) or 0) <= 3  # the rule stated in the report's §3
    return Claim("BN may keep the layer Jacobians' singular values close to 1, so gradients keep their scale "
                 "through the layers", "Ioffe & Szegedy 2015 (arXiv 1502.03167), §3.3 (a conjecture)",
                 "the BN Jacobian is (γ/σ) × a projector with kernel span{1, x̂}: two singular values 0, the "
                 f"others γ/σ, not 1 ({conditions})",
                 f"‖∂J/∂W₁‖ / ‖∂J/∂W_L‖ at initialization, depth {gn.depth}, median over {len(bn)} seeds: "
                 f"with BN {_g(median(bn))}, without BN {_g(median(ratios['without BN']))} (the rule: within a "
                 "factor 3 of 1)",
                 HOLDS if level else CONTRADICTED, "gradients")


def _own_claims(ex: Explanation) -> list[Claim]:
    r = ex.results
    cur, growth, st = r.curvature, r.growth.growth, r.santurkar
    ok_si, cond_si = _proved(ex, "scale_invariance_forward")
    ok_g, cond_g = _proved(ex, "scale_invariance_weight_grad", "gradient_scaling")
    ok_h, cond_h = _proved(ex, "hessian_block_scaling")
    ok_w, cond_w = _proved(ex, "weight_orthogonality", "weight_norm_growth")
    ok_s, cond_s = _proved(ex, "gradient_norm_identity")
    ok_b, cond_b = _proved(ex, "bias_gradient_zero")
    block = [v.slope for v in cur.scaling.values()]
    full = cur.symbolic.full_scaling
    tl = r.two_layer_bn
    out = [
        Claim("BN(aWu) = BN(Wu): the layer's output does not depend on the scale of its weights",
              "Ioffe & Szegedy 2015 (arXiv 1502.03167), §3.3", cond_si,
              f"weight-norm identity, which follows from it, holds to {growth.max_relative_error:.1e}",
              HOLDS_UNDER if ok_si else NOT_JUDGED, "identities"),
        Claim("larger weights lead to smaller gradients: ∂J/∂(aW) = (1/a) ∂J/∂W",
              "Ioffe & Szegedy 2015 (arXiv 1502.03167), §3.3", cond_g,
              ("fitted slope of log ‖∂J/∂W₁‖ against log c: " + f"{cur.gradient_slope:.4f}")
              if cur.gradient_slope is not None else NOT_RUN,
              HOLDS_UNDER if ok_g and _close(cur.gradient_slope, -1.0, 0.05) else CONTRADICTED, "identities"),
        _rates_claim(ex),
        _jacobian_claim(ex),
        Claim("the bias before BN can be ignored: ∂J/∂b = 0", "Ioffe & Szegedy 2015 (arXiv 1502.03167), §3.2",
              cond_b, f"|∂J/∂b₁| = {tl.two_inputs['b1']:.1e} (two-layer network, two inputs)",
              HOLDS_UNDER if ok_b and tl.two_inputs["b1"] < 1e-8 else CONTRADICTED, "two_layer"),
        Claim("the curvature of the weights feeding BN scales like 1/c²",
              "van Laarhoven 2017 (arXiv 1706.05350); Arora, Li & Lyu 2018 (arXiv 1812.03981)",
              cond_h + "; the Hessian block of the rescaled weights only",
              "fitted slopes, block: " + ", ".join(f"{v:.4f}" for v in block)
              + (f"; full Hessian: {full.slope:.3f}" if full is not None else ""),
              HOLDS_UNDER if ok_h and all(_close(v, -2.0, 0.05) for v in block) else CONTRADICTED, "identities"),
        Claim("the weights' norm only grows: ‖W − η∇J‖² = ‖W‖² + η²‖∇J‖²",
              "van Laarhoven 2017 (arXiv 1706.05350); Arora, Li & Lyu 2018 (arXiv 1812.03981)", cond_w,
              f"largest relative deviation over {len(growth.measured) - 1} steps: {growth.max_relative_error:.1e}",
              HOLDS_UNDER if ok_w and growth.max_relative_error < 1e-6 else CONTRADICTED, "identities"),
        _critical_claim(ex),
        _cap_claim(ex),
        Claim("the gradient-norm identity through BN", "Santurkar, Tsipras, Ilyas & Madry 2018 "
              "(arXiv 1805.11604), Theorem 4.1", cond_s, f"relative difference of the two sides "
              f"{st.relative_error:.1e} (m = {st.m})", HOLDS_UNDER if ok_s and st.relative_error < 1e-8
              else CONTRADICTED, "santurkar"),
    ]
    if st.counterexample is not None:
        ce = st.counterexample
        out.append(Claim("the variant with ⟨g, x̂⟩²/√m in the last term bounds ‖∂ℓ/∂z‖² from above",
                         "a misprint of Santurkar et al. 2018, Theorem 4.1", "not the proved identity",
                         f"at a drawn g: variant {ce.variant:.4g} < exact {ce.exact:.4g}", CONTRADICTED,
                         "santurkar"))
    return out


def _later_claims(later: Any) -> list[Claim]:
    rows = []
    for key, claim, source in LATER_WORK:
        result = later.get(key) if later else None
        if result is None:
            rows.append(Claim(claim, source, "—", NOT_RUN, NOT_JUDGED, ""))
        elif isinstance(result, Claim):
            rows.append(result)
        else:
            from ..laterwork.verdicts import claims

            judged = claims(key, result)
            rows.extend(judged if judged is not None else
                        [Claim(claim, source, "—", "run: see its section", NOT_JUDGED, key)])
    return rows


def build_claims(ex: Explanation) -> list[Claim]:
    """Every claim of the table, from the run: Ioffe & Szegedy's, later findings, then later work
    (:data:`LATER_WORK`, a :data:`NOT_RUN` row for each one the run does not have).

    >>> from bnsym.explain import ExplainSettings, run_explain
    >>> claims = build_claims(run_explain(ExplainSettings.tiny()))  # doctest: +SKIP
    >>> claims[-1].measured  # doctest: +SKIP
    'not run in this report'
    >>> [row[0] for row in LATER_WORK][:2]
    ['rate_speedup', 'gradient_explosion']
    """
    return _own_claims(ex) + _later_claims(ex.results.later)


def claims_rows(claims: Sequence[Claim], numbers: dict[str, str]) -> list[list[str | Link]]:
    """The table's rows; ``numbers`` maps a section key to its number ("§2"), the last cell links to it.

    >>> claims_rows([Claim("c", "s", "d", "m", HOLDS, "sweep")], {"sweep": "§2"})[0][4:]
    ['holds', Link(text='§2', key='sweep')]
    """
    return [[c.claim, c.source, c.derived, c.measured, c.verdict,
             Link(numbers[c.link], c.link) if c.link in numbers else "—"] for c in claims]
