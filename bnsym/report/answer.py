"""The answer's text: the report of ``bnsym explain``, one function per section, around an Explanation.

Each section reads the typed results of :mod:`bnsym.results` by field and the figures by name
(:meth:`bnsym.explain.Explanation.figure`); :func:`build_report` puts them in order. The writers
(:mod:`bnsym.report.write`) know nothing of this text.

>>> [section.__name__ for section in SECTIONS][:3]
['_introduction', '_sweep_section', '_goodfellow_section']
"""
from __future__ import annotations

from typing import TYPE_CHECKING
from collections.abc import Callable, Sequence

from .claims import build_claims, claims_rows
from .later import later_section
from .model import Block, FigureRef, Math, Report, Section, Table, Text
from ..dynamics import DIVERGENCE_FACTOR
from .write import MATH_PLACEHOLDER

if TYPE_CHECKING:
    from ..explain import Explanation
    from ..results import CurvatureRow, StableRates

__all__ = ["build_report", "SECTIONS", "TITLE"]

#: The report's title.
TITLE = "How batch normalization allows larger learning rates — derived and measured by bnsym"


# -- formatting -------------------------------------------------------------------------------------------
def _sup(k: int) -> str:
    """``k`` in superscript digits.

    >>> _sup(12)
    '¹²'
    """
    return str(k).translate(str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹"))


def _sub(k: int) -> str:
    """``k`` in subscript digits.

    >>> _sub(12)
    '₁₂'
    """
    return str(k).translate(str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉"))


def _lr(v: float | None, top: float) -> str:
    """A largest stable rate; ``top`` is the largest rate of the grid (a run stable there may go further).

    >>> _lr(0.0123, 1.0), _lr(1.0, 1.0), _lr(None, 1.0)
    ('0.0123', '≥ 1 (top of grid)', 'diverges at every rate')
    """
    if v is None:
        return "diverges at every rate"
    return f"≥ {v:.3g} (top of grid)" if v >= top else f"{v:.3g}"


def _top(ex: Explanation) -> float:
    return max(ex.settings.lrs)


def _curvature_comment(rows: Sequence[CurvatureRow]) -> str:
    """How far the measured largest stable rate is from 2/λ_max at initialization, from the rows."""
    rated = [x for x in rows if x.measured is not None and x.critical_lr > 0]
    if not rated:
        return "No row has a measured rate to compare with 2/λ_max."
    ratios = [float(x.measured or 0) / x.critical_lr for x in rated]
    above = sum(1 for q in ratios if q > 1)
    text = (f"The measured largest stable rate divided by 2/λ_max at initialization goes from {min(ratios):.3g} "
            f"to {max(ratios):.3g} over the {len(rated)} rows ({above} above 1). 2/λ_max is the rate at which "
            "gradient descent on the quadratic model at the starting point diverges; gradient descent leaves "
            "that point, and the curvature changes with it.")
    ends = [(x, float(x.measured or 0) * x.lambda_end) for x in rated if x.lambda_end is not None]
    if ends:
        below = sum(1 for _, v in ends if v <= 2)
        text += (" Measured where each run at its rate η ended: η·λ_max goes from "
                 f"{min(v for _, v in ends):.3g} to {max(v for _, v in ends):.3g} (at most 2 in {below} of "
                 f"{len(ends)} rows). "
                 + ("So the runs that do not diverge move to where the curvature allows their rate (η·λ_max ≤ 2): "
                    "the rate is set by where gradient descent goes, not by the curvature at the start."
                    if below == len(ends) else
                    "Where η·λ_max stays above 2 the run neither diverged nor settled in the quadratic sense "
                    "within the step budget."))
    by = {(x.depth, x.bn): x.critical_lr for x in rows}
    depths = sorted({x.depth for x in rows})
    if len(depths) > 1 and all((d, b) in by for d in depths for b in (False, True)):
        lo, hi = depths[0], depths[-1]
        text += (f" From depth {lo} to {hi}, 2/λ_max changed by a factor {by[(hi, False)] / by[(lo, False)]:.3g} "
                 f"without BN and {by[(hi, True)] / by[(lo, True)]:.3g} with BN.")
    return text


def _within(step, tolerance: float = 0.1) -> str:
    """The largest rate whose first-order prediction is within ``tolerance`` of the actual change.

    >>> from bnsym.dynamics import GoodfellowStep
    >>> _within(GoodfellowStep(False, [0.1, 1.0], [-1.0, -10.0], [-1.05, 5.0]))
    '0.1'
    """
    ok = [lr for lr, err in zip(step.lrs, step.relative_error, strict=False) if err <= tolerance]
    return f"{max(ok):.3g}" if ok else "none of the rates"


def _derivation_math(derivation, fallback: str) -> Math:
    """A derivation as display math: its compact form on one line; the full ``align*`` for the PDF."""
    import sympy

    from ..budget import LATEX_NODES, fits, size, summary
    from ..latex import escape_text, to_latex

    try:
        block = to_latex(derivation)
    except Exception:
        block = None
    compact = derivation.compact
    shown = sympy.latex(compact) if fits(compact, LATEX_NODES) else r"\text{%s}" % escape_text(summary(size(compact)))
    return Math(fallback + " = " + shown, block)


def _figure(ex: Explanation, name: str) -> FigureRef:
    figure = ex.figure(name)
    return FigureRef(figure.name, figure.caption)


def _theorem(ex: Explanation, name: str) -> list[Block]:
    """A proved theorem's statement as display math, and a line saying it was proved and under what."""
    st = ex.results.statement(name)
    how = "Proved by bnsym's kernel for every batch size m" if st.holds else "Not proved by the kernel"
    return [Math(st.latex), Text(f"{how} ({name}; {st.source}); conditions: " + ", ".join(st.conditions) + ".")]


def _rate_cell(r: StableRates, top: float) -> str:
    """Median and interquartile range of a cell's rates.

    >>> from bnsym.results import StableRates
    >>> _rate_cell(StableRates.of([0.1, 0.3, 1.0, 1.0]), 1.0)
    '0.3 [0.1 … ≥ 1]'
    """
    def one(v):
        return "none" if v is None else (f"≥ {v:.3g}" if v >= top else f"{v:.3g}")
    return f"{one(r.median)} [{one(r.q25)} … {one(r.q75)}]"


# -- the sections -----------------------------------------------------------------------------------------
def _introduction(ex: Explanation, numbers: dict[str, str]) -> Section:
    """The question, the short answer from the sweep's medians, and the claims table."""
    s, sweep, top = ex.settings, ex.results.sweep, _top(ex)
    depths = sweep.depths
    blocks: list[Block] = []
    if s.smoke:
        blocks.append(Text(f"SMOKE RUN (--quick): {len(s.seeds)} seed(s), {s.steps} steps, a grid of "
                           f"{len(s.lrs)} rates. It checks that the command works; its numbers are not "
                           "measurements and its verdicts mean nothing. Run bnsym explain without --quick "
                           "for the report."))
    no_bn = [sweep.trained(d, False).median for d in depths]
    bn = [sweep.trained(d, True).median for d in depths]
    blocks.append(Text(
        "How does batch normalization (BN) allow larger learning rates, following the logic of Ioffe & Szegedy "
        "(2015)? This report answers from bnsym's symbolic derivations, from theorems its kernel proves for "
        "every batch size, and from gradient-descent runs driven by those derivations (compiled to NumPy; "
        "rerun with PyTorch autograd)."))
    blocks.append(Text(
        "Short answer, measured on the reference MLP: the largest learning rate that trains (median over "
        f"{len(s.seeds)} seeds) was " + ", ".join(_lr(v, top) for v in no_bn) + " without BN and "
        + ", ".join(_lr(v, top) for v in bn) + " with BN, at depths " + ", ".join(map(str, depths))
        + ". The derived part: for a > 0 and ε = 0, BN(aWu) = BN(Wu), so the loss does not depend on the scale "
        "of the weights feeding BN; their gradient scales like 1/a and the Hessian block of those weights like "
        "1/a², and gradient descent only enlarges them, which lowers their effective step η/‖W‖². "
        + _cap_sentence(ex) + "The table below gives each claim, what bnsym derived, what it measured and the "
        "verdict, with the section that shows it."))
    claims = build_claims(ex)
    blocks.append(Table(["claim", "source", "derived by bnsym", "measured", "verdict", "section"],
                        claims_rows(claims, numbers),
                        "Claims about BN and learning rates. Verdicts: holds; holds under stated conditions "
                        "(those of the proof, or of the measurement); contradicted; not judged (not run)."))
    return Section("The question, the short answer and the claims", blocks, key="claims")


def _cap_sentence(ex: Explanation) -> str:
    """What caps BN's rate, from the cap measurement (empty when it was not run)."""
    caps, top = ex.results.cap, _top(ex)
    if not caps:
        return ""
    free = all(c.normalized.median is not None and c.normalized.median >= top for c in caps)
    same = all(c.unnormalized.median == c.full.median for c in caps)
    if free and same:
        return ("What caps BN's rate is what BN does not normalize: updating only the weights that feed BN never "
                "diverged on the grid, updating only the last layer, γ and β diverged at the same rate as "
                "updating everything (median over seeds, at every depth). ")
    return ("Updating only the weights that feed BN " + ("never diverged" if free else "diverged at some rates")
            + " on the grid; updating only the last layer, γ and β " + ("diverged at the same rate as updating "
            "everything" if same else "did not match the full network's rate at every depth") + ". ")


def _sweep_tables(ex: Explanation) -> tuple[Table, Table | None]:
    s, sweep, top = ex.settings, ex.results.sweep, _top(ex)
    rows = []
    for d in sweep.depths:
        rows.append([str(d), _rate_cell(sweep.rates(d, False), top), _rate_cell(sweep.trained(d, False), top),
                     _rate_cell(sweep.rates(d, True), top), _rate_cell(sweep.trained(d, True), top)])
    depth_table = Table(["depth", "no BN: does not diverge", "no BN: trains", "BN: does not diverge",
                         "BN: trains"], rows,
                        f"Largest learning rate per outcome, median [interquartile range] over {len(s.seeds)} "
                        "seeds, init scale 1.")
    scale_rows = []
    for key, v in sorted(sweep.summary.items(), key=lambda kv: (kv[0].bn, kv[0].scale)):
        if key.depth == s.scale_depth:
            scale_rows.append([f"{key.scale:g}", "with BN" if key.bn else "without BN", _rate_cell(v, top),
                               _rate_cell(sweep.trained(key.depth, key.bn, key.scale), top)])
    scale_table = Table(["init scale", "network", "does not diverge", "trains"], scale_rows,
                        f"Depth {s.scale_depth}: weights initialized with the standard deviation multiplied by "
                        "the init scale; median [interquartile range].") if scale_rows else None
    return depth_table, scale_table


def _cap_blocks(ex: Explanation) -> list[Block]:
    caps, top = ex.results.cap, _top(ex)
    if not caps:
        return []
    rows = [[str(c.depth), _rate_cell(c.full, top), _rate_cell(c.normalized, top), _rate_cell(c.unnormalized, top),
             f"{min(c.block_critical):.3g} … {max(c.block_critical):.3g}"] for c in caps]
    n = len(caps[0].full.per_seed)
    return [Text(
        "What caps BN's rate, measured: the same BN networks trained with gradient descent applied only to the "
        "weights that feed a BN layer (the last layer, γ and β keep their initial values), or only to the "
        f"parameters BN does not normalize (the last layer, γ, β), at every rate of the grid, {n} seeds. The "
        "last column is 2/λ_max of the loss Hessian's block of those unnormalized parameters at initialization."),
        Table(["depth", "all parameters", "normalized weights only", "unnormalized only",
               "2/λ_max, unnormalized block"], rows,
              "Largest rate that does not diverge, median [interquartile range]; ≥ marks the top of the grid.")]


def _agreement_blocks(ex: Explanation) -> list[Block]:
    rows = ex.results.sweep.agreement
    if not rows:
        return [Text("PyTorch rerun: not run (PyTorch is not installed or the rerun was switched off).")]
    same = sum(1 for a in rows if a.same_outcomes)
    diffs = [a.final_loss_difference for a in rows if a.final_loss_difference is not None]
    table = Table(["depth", "network", "seed", "rates rerun", "same outcomes", "largest relative difference of "
                   "final losses"],
                  [[str(a.depth), "with BN" if a.bn else "without BN", str(a.seed),
                    ", ".join(f"{v:.3g}" for v in a.rates), "yes" if a.same_outcomes else "no",
                    "—" if a.final_loss_difference is None else f"{a.final_loss_difference:.1e}"] for a in rows],
                  "The sweep rerun with PyTorch autograd, per configuration.")
    text = ("PyTorch rerun: the configurations of the first seeds rerun with torch.nn.Linear, BatchNorm1d and "
            f"SGD (float64) from the same initialization and data, at the rates that decide their two outcomes "
            f"(each largest rate and the grid rate above it). Same outcomes in {same} of {len(rows)} "
            "configurations")
    if diffs:
        import numpy as np

        worst = max((a for a in rows if a.final_loss_difference is not None),
                    key=lambda a: float(a.final_loss_difference or 0))
        text += (f"; relative difference of the final losses of runs that did not diverge: median "
                 f"{float(np.median(diffs)):.1e}, largest {worst.final_loss_difference:.1e} (depth {worst.depth}, "
                 f"{'with' if worst.bn else 'without'} BN, seed {worst.seed}, rates "
                 + ", ".join(f"{v:.3g}" for v in worst.rates) + ")")
    return [Text(text + "."), table]


def _sweep_section(ex: Explanation) -> Section:
    """Both outcomes against depth and init scale, what caps BN's rate, and the PyTorch rerun."""
    s = ex.settings
    depth_table, scale_table = _sweep_tables(ex)
    sec = Section("The largest learning rate against depth, with and without BN", [Text(
        f"Setting: an MLP with 2 inputs, {s.width} units per hidden layer, ReLU, one output, mean squared error "
        f"on a fixed batch of {s.batch} samples (targets x₁·x₂), full-batch gradient descent for {s.steps} "
        "steps; weights drawn from N(0, (gain/√fan_in)²) with gain 2, biases 0, BN with γ = 1, β = 0 and "
        f"ε = 10⁻⁵ before every hidden activation. Two outcomes per rate. A run diverges when its loss becomes "
        f"non-finite or exceeds {DIVERGENCE_FACTOR:g} × max(J₀, 1) within the step budget. A run trains when "
        f"it does not diverge and its final loss is at most {s.train_fraction:g} × J₀. The grid has "
        f"{len(s.lrs)} rates, log-spaced from {min(s.lrs):.3g} to {max(s.lrs):.3g}; for each seed the scan "
        "goes down from the top to the largest rate that does not diverge, then on to the largest that "
        "trains."), depth_table, _figure(ex, "lr_vs_depth")], key="sweep")
    if scale_table is not None:
        sec.blocks.append(scale_table)
    sec.blocks += _cap_blocks(ex)
    sec.blocks += _agreement_blocks(ex)
    return sec


def _goodfellow_section(ex: Explanation) -> Section:
    """Goodfellow's chain ŷ = x·a·b·c·d·e: the chain rule, the stepped output's polynomial, BN's effect."""
    from ..network import chain

    s, gf = ex.settings, ex.results.goodfellow
    d_a = chain(5, names="abcde").gradient("a")
    coeff_rows = [[f"η{_sup(k)}", f"{c:+.4g}"] for k, c in gf.coefficients]
    return Section("Goodfellow's simplest network ŷ = x·a·b·c·d·e", [Text(
        "The chain rule, derived by bnsym for the five one-unit layers: the gradient of the first weight is the "
        "product of all the others."), _derivation_math(d_a, r"\frac{\partial J}{\partial a}"), Text(
        "After one step w ← w − η∂ŷ/∂w, the new output is a polynomial in η of degree equal to the depth "
        "(Deep Learning §8.7.1). bnsym expands it symbolically; at the seeded weights "
        + ", ".join(f"{k} = {v:.3f}" for k, v in gf.weights.items())
        + " and x = 1 its coefficients are listed below. The first-order term is −η‖∇ŷ‖²; the higher-order terms "
        "couple the layers and grow with the product of the other weights."),
        Table(["term", "coefficient of ŷ(w − η∇ŷ) − ŷ(w)"], coeff_rows,
              "Exact coefficients from sympy.Poly of the stepped output."),
        Text(f"With BN after every layer but the last, the output is w{_sub(s.goodfellow_depth)} times the "
             f"normalized h{_sub(s.goodfellow_depth - 1)} (times γ, plus β): the lower weights enter only through "
             "their sign:"), *_theorem(ex, "goodfellow_bn"),
        Text("Measured on the loss (MSE on a batch of 8), the first-order "
             "prediction −η‖∇J‖² of the one-step change stays within 10% of the actual change up to η = "
             f"{_within(gf.without)} without BN and up to η = {_within(gf.with_bn)} with BN; at the largest "
             f"rate of the figure, η = {gf.without.lrs[-1]:g}, its relative error is "
             f"{gf.without.relative_error[-1]:.3g} without BN and {gf.with_bn.relative_error[-1]:.3g} with BN."),
        _figure(ex, "goodfellow")], key="goodfellow")


def _gradients_section(ex: Explanation) -> Section:
    """Does normalization keep gradients from exploding: per-layer gradient norms and loss curves."""
    import numpy as np

    s, gn, cv = ex.settings, ex.results.gradient_norms, ex.results.curves
    ratio = {bn: [v[0] / v[-1] for k, v in gn.norms.items() if k.startswith(bn) and v[-1] > 0]
             for bn in ("with BN", "without BN")}

    def trend(values: list[float]) -> str:
        if not values:
            return "not measured"
        q25, q, q75 = (float(v) for v in np.quantile(values, [0.25, 0.5, 0.75]))
        way = "grow toward the first layers" if q > 1 else "shrink toward the first layers"
        return f"{way}: ‖∂J/∂W₁‖/‖∂J/∂W_{gn.depth}‖ = {q:.3g} [{q25:.3g} … {q75:.3g}] (median [interquartile range])"

    diverged = [k for k, tr in cv.traces.items() if tr.diverged]
    return Section("Does normalization keep gradients from exploding?", [Text(
        f"Measured on the reference MLP at initialization (depth {gn.depth}, {len(ratio['with BN'])} seeds): the "
        "gradient norm of "
        "each layer's weights is shown in the next figure. With BN the norms "
        + trend(ratio["with BN"]) + "; without BN they " + trend(ratio["without BN"])
        + ". " + _level_sentence(ratio["with BN"])),
        _figure(ex, "gradient_norm_per_layer"),
        Text(f"Loss curves at depth {s.curve_depth}, seed {s.seeds[0]}, for both networks at the rates that "
             "decide the sweep's two outcomes for either (the largest that does not diverge, the largest that "
             "trains: " + ", ".join(f"{v:.3g}" for v in cv.rates) + ") are in the next figure. Runs that "
             "diverged: " + (", ".join(diverged) if diverged else "none") + ". Loss at the "
             "start → at the end of the others: "
             + "; ".join(f"{k}: {tr.loss[0]:.3g} → {tr.loss[-1]:.3g}" for k, tr in cv.traces.items()
                         if not tr.diverged)
             + f". A run that ends above {s.train_fraction:g} × its initial loss did not train, even though "
             "it did not diverge: that is why the sweep reports both outcomes."),
        _figure(ex, "loss_curves")], key="gradients")


def _level_sentence(ratios: Sequence[float]) -> str:
    """Whether BN kept the first and last layers' gradients within a factor 3 (the claims table's rule).

    >>> _level_sentence([6.9, 1.6, 5.0])[:40]
    'So at initialization BN did not keep the'
    """
    if not ratios:
        return ""
    import numpy as np

    within = sum(1 for q in ratios if 1 / 3 <= q <= 3)
    level = 1 / 3 <= float(np.median(ratios)) <= 3
    return ("So at initialization BN " + ("kept" if level else "did not keep") + " the first and the last layer's "
            f"gradient norms within a factor 3 of each other (median over seeds; {within} of {len(ratios)} seeds "
            "within it): the rule by which the claims table judges Ioffe & Szegedy's Jacobian conjecture.")


def _two_layer_section(ex: Explanation) -> Section:
    """The two-layer network: where BN's Jacobian enters the chain rule, and the bias before BN dropping out."""
    from ..network import two_layer

    d_plain = two_layer().gradient("w1")
    tl = ex.results.two_layer_bn
    return Section("The two-layer network: where BN enters the chain rule", [Text(
        "Without BN, ∂J/∂w₁ is the product of the local partials, ReLU' ∈ {0, 1} included:"),
        _derivation_math(d_plain, r"\frac{\partial J}{\partial w_1}"), Text(
        "With BN before the activation, g(BN(z₁)), the chain gains the BN Jacobian of the batch (one feature, "
        "m samples), a projection scaled by 1/σ:"),
        *_theorem(ex, "bn_jacobian"), *_theorem(ex, "bn_jacobian_null_space"),
        Text("Its compact backward form, which bnsym's vectorized engine uses (tested against sympy.diff of the "
             "expanded forward pass and against PyTorch):"),
        *_theorem(ex, "backward_compact"),
        Text("So ReLU' being 0 or 1 does not matter: the factor γ/σ is where normalization rescales the gradient, "
             "and σ is proportional to the scale of w₁. A bias before BN only shifts z₁, which BN undoes:"),
        *_theorem(ex, "bias_gradient_zero"),
        Text("Evaluated from the network's compiled closed forms (batch of 4, ε = 0): with one input, "
             f"|∂J/∂w₁| = {tl.one_input['w1']:.1e} and |∂J/∂b₁| = {tl.one_input['b1']:.1e}; with two inputs "
             f"per unit, max |∂J/∂w₁| = {tl.two_inputs['w1']:.3g} while |∂J/∂b₁| = {tl.two_inputs['b1']:.1e}.")],
        key="two_layer")


def _identities_section(ex: Explanation) -> Section:
    """The paper's identities: scale invariance, curvature (2/λ_max), the 1/c² law, weight-norm growth."""
    cur, growth, top = ex.results.curvature, ex.results.growth.growth, _top(ex)
    crow = [[str(x.depth), "with BN" if x.bn else "without BN", str(x.parameters), f"{x.lambda_max:.4g}",
             f"{x.critical_lr:.3g}", _lr(x.measured, top),
             "—" if x.measured is None or not x.critical_lr > 0 else f"{x.measured / x.critical_lr:.3g}",
             "—" if x.measured is None or x.lambda_end is None else f"{x.measured * x.lambda_end:.3g}"]
            for x in cur.rows]
    sym = cur.symbolic
    full = sym.full_scaling
    law = ("; ".join(f"{k}: {v.slope:.4f}" for k, v in cur.scaling.items()))
    full_text = ""
    if full is not None:
        lo, hi = full.lambda_max[0] * full.scales[0] ** 2, full.lambda_max[-1] * full.scales[-1] ** 2
        full_text = (f" The law is about that block only: for the full Hessian of the same two-layer network "
                     f"the fitted slope is {full.slope:.3f}, and λ_max·c² goes from {lo:.3g} to {hi:.3g} as c goes "
                     f"from {full.scales[0]:g} to {full.scales[-1]:g}, because the parameters BN does not "
                     "normalize keep their curvature.")
    return Section("The paper's identities: scale invariance, curvature and the effective learning rate", [
        Text("For a > 0 and ε = 0, the layer's output does not depend on the scale of its weights:"),
        *_theorem(ex, "scale_invariance_forward"),
        Text("Differentiating gives the paper's 'larger weights lead to smaller gradients', and for the loss:"),
        *_theorem(ex, "scale_invariance_weight_grad"), *_theorem(ex, "gradient_scaling"),
        Text("Measured on the reference MLP with BN (ε = 0): the fitted slope of log ‖∂J/∂W₁‖ against log c is "
             + (f"{cur.gradient_slope:.4f}." if cur.gradient_slope is not None else "not measured.")),
        *_theorem(ex, "hessian_block_scaling"),
        Text("Scaling law, measured: fitted log-log slopes of λ_max of the Hessian block of the weights feeding "
             f"BN against their scale c: {law}." + full_text),
        _figure(ex, "curvature_scaling"),
        Text("Curvature: the critical learning rate of gradient descent on the local quadratic model is 2/λ_max of "
             "the loss Hessian. bnsym computes it exactly (sympy.hessian of the two-layer network with two "
             f"inputs and a batch of 4: 2/λ_max = {sym.without_bn.critical_lr:.3g} without BN, "
             f"{sym.with_bn.critical_lr:.3g} with BN at the same point) and by central differences of the "
             "compiled gradients for the reference MLP at initialization:"),
        Table(["depth", "network", "parameters", "λ_max", "2/λ_max", "measured largest stable rate (seed 0)",
               "measured / (2/λ_max)", "η·λ_max at the run's end"], crow,
              "Critical learning rate from curvature at initialization vs the sweep, and the curvature where the "
              "run at the measured rate η ended."),
        Text(_curvature_comment(cur.rows)),
        Text("Weight-norm growth: the gradient of the weights feeding BN is orthogonal to them, so one step only "
             "adds an orthogonal component:"),
        *_theorem(ex, "weight_orthogonality"), *_theorem(ex, "weight_norm_growth"),
        Text(f"Measured step by step on the first-layer weights of a BN network (ε = 0, η = {growth.lr:g}, "
             f"{len(growth.measured) - 1} steps): largest relative deviation from the identity "
             f"{growth.max_relative_error:.2e}; ‖W₁‖² went from {growth.measured[0]:.4g} to "
             f"{growth.measured[-1]:.4g}. A larger ‖W‖ lowers the effective learning rate η/‖W‖² of the "
             "direction W/‖W‖ (van Laarhoven 2017; Arora, Li & Lyu 2018)."),
        _figure(ex, "weight_norm_effective_lr")], key="identities")


def _santurkar_section(ex: Explanation) -> Section:
    """The later explanation (Santurkar et al. 2018): the gradient-norm identity through BN, measured."""
    st = ex.results.santurkar
    ce = st.counterexample
    return Section("The later explanation: a smoother loss (Santurkar et al. 2018)", [
        Text("With ε = 0 the BN Jacobian is γ/σ times an orthogonal projector that removes the components of the "
             "upstream gradient g along 1 and along x̂, which gives an exact identity for the gradient that "
             "reaches the pre-normalization values z:"),
        *_theorem(ex, "gradient_norm_identity"),
        Text(f"Measured with bnsym's BN kernel on a batch of m = {st.m}: relative difference between the two "
             f"sides {st.relative_error:.1e}. "
             + (f"A variant with ⟨g, x̂⟩²/√m in the last term is not an upper bound: at a drawn g it gives "
                f"{ce.variant:.4g} while the exact value is {ce.exact:.4g}." if ce else ""))], key="santurkar")


def _method_section(ex: Explanation) -> Section:
    """Notation and method, how the HTML renders math (filled in when written) and the time per part."""
    timings = "; ".join(f"{k} {v:.1f} s" for k, v in ex.timings.items())
    return Section("Notation and method", [
        Text("Partial derivatives are written with ∂ throughout. Every displayed formula is either printed by "
             "SymPy from an expression bnsym derived, or the statement of a theorem bnsym's kernel proved in "
             "this run (named with its conditions below it). The toy networks' gradients are their "
             "reverse-accumulated closed forms compiled with sympy.lambdify(cse=True). The reference MLP is run "
             "by composing per-layer kernels, each derived symbolically once and lambdified into a vectorized "
             "NumPy kernel."),
        Text(f"Math in the HTML version: {MATH_PLACEHOLDER}. Time per part: {timings}.")],
        key="method")


#: The report's sections, in order: each makes one :class:`~bnsym.report.model.Section` from an Explanation
#: (the first also gets the section numbers, for the claims table's links).
SECTIONS: tuple[Callable[..., Section], ...] = (
    _introduction, _sweep_section, _goodfellow_section, _gradients_section, _two_layer_section,
    _identities_section, _santurkar_section, later_section, _method_section)

#: The key of each section after the first, in order (the claims table links to them).
KEYS = ("sweep", "goodfellow", "gradients", "two_layer", "identities", "santurkar", "later", "method")


def build_report(ex: Explanation) -> Report:
    """The answer to the question, section by section (:data:`SECTIONS`), around the measurements of ``ex``;
    the sections after the first are numbered, and the claims table links to them by number.

    >>> from bnsym.explain import ExplainSettings, run_explain
    >>> rep = build_report(run_explain(ExplainSettings.tiny()))  # doctest: +SKIP
    >>> [s.title for s in rep.sections][1]  # doctest: +SKIP
    '1. The largest learning rate against depth, with and without BN'
    >>> len(SECTIONS)
    9
    """
    numbers = {key: f"§{n}" for n, key in enumerate(KEYS, start=1)}
    rest = [section(ex) for section in SECTIONS[1:]]
    for n, section in enumerate(rest, start=1):
        section.title = f"{n}. {section.title}"
    title = ("SMOKE RUN — " if ex.settings.smoke else "") + TITLE
    return Report(title, [SECTIONS[0](ex, numbers), *rest])
