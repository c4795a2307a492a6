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

from .model import FigureRef, Math, Report, Section, Table, Text
from .write import MATH_PLACEHOLDER

if TYPE_CHECKING:
    from ..explain import Explanation
    from ..results import CurvatureRow

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
    above = [x for x in rows if x.measured is not None and x.measured > x.critical_lr]
    text = (f"In {len(above)} of {len(rows)} rows the measured largest stable rate is above 2/λ_max at "
            "initialization: the quadratic model at the starting point is a local estimate, and gradient descent "
            "leaves that point. ")
    by = {(x.depth, x.bn): x.critical_lr for x in rows}
    depths = sorted({x.depth for x in rows})
    if len(depths) > 1 and all((d, b) in by for d in depths for b in (False, True)):
        lo, hi = depths[0], depths[-1]
        text += (f"From depth {lo} to {hi}, 2/λ_max fell by a factor {by[(lo, False)] / by[(hi, False)]:.3g} "
                 f"without BN and {by[(lo, True)] / by[(hi, True)]:.3g} with BN.")
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


# -- the sections -----------------------------------------------------------------------------------------
def _introduction(ex: Explanation) -> Section:
    """The question and the short answer, with the sweep's medians at init scale 1."""
    s, sweep, top = ex.settings, ex.results.sweep, _top(ex)
    depths = sweep.depths
    no_bn = [sweep.rates(d, False).median for d in depths]
    bn = [sweep.rates(d, True).median for d in depths]
    return Section("The question and the short answer", [Text(
        "A learner asked how batch normalization (BN) enables larger learning rates, following the logic of "
        "Ioffe & Szegedy (2015). This report answers each part of the question from bnsym's own symbolic "
        "derivations and from gradient-descent runs driven by those derivations (compiled to NumPy with "
        "sympy.lambdify; checked against PyTorch autograd)."), Text(
        "Short answer. Without BN, the scale of every layer multiplies into the gradient of every other layer, "
        "so the largest learning rate that does not diverge depends on the weights and falls with depth: for "
        f"the reference MLP it went from {_lr(no_bn[0], top)} at depth {depths[0]} to {_lr(no_bn[-1], top)} at "
        f"depth {depths[-1]} (median over {len(s.seeds)} seeds). With BN before every activation it was "
        + ", ".join(_lr(v, top) for v in bn) + " at depths " + ", ".join(map(str, depths)) + ". BN makes each "
        "layer's output independent of the scale of its weights (for a > 0 and ε = 0, BN(aWu) = BN(Wu)), so the "
        "gradient with respect to W scales like 1/a, the curvature like 1/a², and gradient descent enlarges the "
        "weights it is applied to, which lowers their effective step η/‖W‖². Each claim below is derived "
        "symbolically and measured.")])


def _sweep_tables(ex: Explanation) -> tuple[Table, Table | None]:
    s, sweep, top = ex.settings, ex.results.sweep, _top(ex)
    rows = []
    for d in sweep.depths:
        a, b = sweep.rates(d, False), sweep.rates(d, True)
        rows.append([str(d), _lr(a.median, top), f"{_lr(a.min, top)} … {_lr(a.max, top)}", _lr(b.median, top),
                     f"{_lr(b.min, top)} … {_lr(b.max, top)}"])
    depth_table = Table(["depth", "no BN (median)", "no BN (seeds' range)", "BN (median)", "BN (seeds' range)"],
                        rows, f"Largest stable learning rate, {len(s.seeds)} seeds, init scale 1.")
    scale_rows = []
    for key, v in sorted(sweep.summary.items(), key=lambda kv: (kv[0].bn, kv[0].scale)):
        if key.depth == s.scale_depth:
            scale_rows.append([f"{key.scale:g}", "with BN" if key.bn else "without BN", _lr(v.median, top),
                               f"{_lr(v.min, top)} … {_lr(v.max, top)}"])
    scale_table = Table(["init scale", "network", "median", "seeds' range"], scale_rows,
                        f"Depth {s.scale_depth}: weights initialized with the standard deviation multiplied by "
                        "the init scale.") if scale_rows else None
    return depth_table, scale_table


def _sweep_section(ex: Explanation) -> Section:
    """The largest stable learning rate against depth and init scale, and the PyTorch cross-check."""
    s, agreement = ex.settings, ex.results.sweep.agreement
    depth_table, scale_table = _sweep_tables(ex)
    sec = Section("Largest stable learning rate against depth, with and without BN", [Text(
        f"Setting: an MLP with 2 inputs, {s.width} units per hidden layer, ReLU, one output, mean squared error "
        f"on a fixed batch of {s.batch} samples (targets x₁·x₂), full-batch gradient descent for {s.steps} "
        f"steps; weights drawn from N(0, (gain/√fan_in)²) with gain 2, biases 0, BN with γ = 1, β = 0 and "
        f"ε = 10⁻⁵ before every hidden activation. A run diverges when its loss becomes non-finite or exceeds "
        f"1000 × max(J₀, 1) within the step budget. The grid has {len(s.lrs)} rates, log-spaced from "
        f"{min(s.lrs):.3g} to {max(s.lrs):.3g}; for each seed the largest rate that does not diverge is "
        "found by scanning the grid from the top."), depth_table, _figure(ex, "lr_vs_depth")])
    if scale_table is not None:
        sec.blocks.append(scale_table)
    if agreement:
        within = sum(1 for a in agreement if a.grid_steps_apart is not None and a.grid_steps_apart <= 1)
        same = sum(1 for a in agreement if a.grid_steps_apart == 0)
        sec.blocks.append(Text(
            f"PyTorch cross-check: the same configurations run with torch.nn.Linear, BatchNorm1d and SGD "
            f"(float64), from the same initialization and data, gave largest stable rates within one grid step "
            f"of bnsym's in {within} of {len(agreement)} runs (every depth, network and seed of the table), "
            f"on the same grid point in {same}."))
    return sec


def _goodfellow_section(ex: Explanation) -> Section:
    """Goodfellow's chain ŷ = x·a·b·c·d·e: the chain rule, the stepped output's polynomial, BN's effect."""
    from ..network import chain

    s, gf = ex.settings, ex.results.goodfellow
    d_a = chain(5, names="abcde").gradient("a")
    coeff_rows = [[f"η{_sup(k)}", f"{c:+.4g}"] for k, c in gf.coefficients]
    return Section("1. Goodfellow's simplest network ŷ = x·a·b·c·d·e", [Text(
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
             "their sign. Measured on the loss (MSE on a batch of 8), the first-order "
             "prediction −η‖∇J‖² of the one-step change stays within 10% of the actual change up to η = "
             f"{_within(gf.without)} without BN and up to η = {_within(gf.with_bn)} with BN; at the largest "
             f"rate of the figure, η = {gf.without.lrs[-1]:g}, its relative error is "
             f"{gf.without.relative_error[-1]:.3g} without BN and {gf.with_bn.relative_error[-1]:.3g} with BN."),
        _figure(ex, "goodfellow")])


def _gradients_section(ex: Explanation) -> Section:
    """Does normalization keep gradients from exploding: per-layer gradient norms and loss curves."""
    s, gn, cv = ex.settings, ex.results.gradient_norms, ex.results.curves
    largest = {k: max(v) for k, v in gn.norms.items()}
    diverged = [k for k, tr in cv.traces.items() if tr.diverged]
    return Section("2. Does normalization keep gradients from exploding?", [Text(
        "Measured on the reference MLP: the per-layer gradient norms at initialization (depth "
        f"{gn.depth}), and loss curves. The largest per-layer gradient norm was "
        + "; ".join(f"{k}: {v:.3g}" for k, v in largest.items()) + "."),
        _figure(ex, "gradient_norm_per_layer"),
        Text(f"Loss curves at depth {s.curve_depth} at the two learning rates the sweep found largest-stable for "
             "seed " + str(s.seeds[0]) + " (" + ", ".join(f"{v:.3g}" for v in cv.rates) + "); runs that "
             "diverged: " + (", ".join(diverged) if diverged else "none") + ". Loss at the start → at the end of "
             "the others: " + "; ".join(f"{k}: {tr.loss[0]:.3g} → {tr.loss[-1]:.3g}" for k, tr in cv.traces.items()
                                       if not tr.diverged)
             + ". Not diverging is not the same as training well: a rate at the edge of stability can keep the "
             "loss bounded without lowering it much."),
        _figure(ex, "loss_curves"),
        Text("In the sense measured here the intuition holds: with BN the same learning rate is stable at every "
             "depth and the gradients' scale no longer depends on the initialization as strongly, because each "
             "layer's gradient is rescaled by γ/σ of its own pre-activations (next section) instead of carrying "
             "the product of the other layers' scales.")])


def _two_layer_section(ex: Explanation) -> Section:
    """The two-layer network: where BN's Jacobian enters the chain rule, and the bias before BN dropping out."""
    from ..network import two_layer

    d_plain = two_layer().gradient("w1")
    tl = ex.results.two_layer_bn
    return Section("3. The two-layer network: where BN enters the chain rule", [Text(
        "Without BN, ∂J/∂w₁ is the product of the local partials, ReLU' ∈ {0, 1} included:"),
        _derivation_math(d_plain, r"\frac{\partial J}{\partial w_1}"), Text(
        "With BN before the activation, g(BN(z₁)), the chain gains the BN Jacobian of the batch (one feature, "
        "m samples, ε ≥ 0), a projection scaled by 1/σ:"),
        Math(r"\frac{\partial \hat{x}_i}{\partial z_k} = \frac{1}{\sigma}\left(\delta_{ik} - \frac{1}{m} "
             r"- \frac{\hat{x}_i \hat{x}_k}{m}\right)"),
        Text("Its compact backward form, which bnsym's vectorized engine derives by reverse accumulation through "
             "the batch mean and variance (and tests against sympy.diff of the fully expanded forward pass and "
             "against PyTorch):"),
        Math(r"\frac{\partial \ell}{\partial z_i} = \frac{\gamma}{m\,\sigma}\left(m g_i - \sum_k g_k - "
             r"\hat{x}_i \sum_k g_k \hat{x}_k\right)"),
        Text("So ReLU' being 0 or 1 does not matter: the factor γ/σ is where normalization rescales the gradient, "
             "and σ is proportional to the scale of w₁. In the seed's one-unit layers z₁ = w₁x + b₁ is only "
             "rescaled and shifted, which BN undoes: with ε = 0 the gradients with respect to w₁ and b₁ vanish. "
             "Evaluated from the network's compiled closed forms (batch of 4, ε = 0): with one input, "
             f"|∂J/∂w₁| = {tl.one_input['w1']:.1e} and |∂J/∂b₁| = {tl.one_input['b1']:.1e} (zero up to rounding); "
             f"with two inputs per unit, max |∂J/∂w₁| = {tl.two_inputs['w1']:.3g} while |∂J/∂b₁| = "
             f"{tl.two_inputs['b1']:.1e}: the 1/σ effect acts on the direction of w₁, and the bias before BN still "
             "drops out.")])


def _identities_section(ex: Explanation) -> Section:
    """The paper's identities: scale invariance, curvature (2/λ_max), the 1/c² law, weight-norm growth."""
    cur, growth, top = ex.results.curvature, ex.results.growth.growth, _top(ex)
    crow = [[str(x.depth), "with BN" if x.bn else "without BN", str(x.parameters), f"{x.lambda_max:.4g}",
             f"{x.critical_lr:.3g}", _lr(x.measured, top)] for x in cur.rows]
    sym = cur.symbolic
    return Section("4. The paper's identities: scale invariance, curvature and the effective learning rate", [
        Text("For a > 0 and ε = 0, BN(aWu) = BN(Wu), so the loss J is unchanged when the weights W feeding a BN "
             "layer are multiplied by c > 0. Differentiating J(cW) = J(W) gives the paper's identities and two "
             "consequences:"),
        Math(r"\nabla J(cW) = \frac{1}{c}\nabla J(W), \qquad \nabla^2 J(cW) = \frac{1}{c^2}\nabla^2 J(W), "
             r"\qquad \langle W, \nabla J(W)\rangle = 0"),
        Text("Curvature: the critical learning rate of gradient descent on the local quadratic model is 2/λ_max of "
             "the loss Hessian. bnsym computes it exactly (sympy.hessian of the seed's two-layer network with two "
             f"inputs and a batch of 4: 2/λ_max = {sym.without_bn.critical_lr:.3g} without BN, "
             f"{sym.with_bn.critical_lr:.3g} with BN at the same point) and numerically for the reference "
             "MLP at initialization (central differences of the compiled gradients):"),
        Table(["depth", "network", "parameters", "λ_max", "2/λ_max", "measured largest stable rate (seed 0)"],
              crow, "Critical learning rate from curvature at initialization vs the sweep."),
        Text(_curvature_comment(cur.rows)),
        Text("Scaling law, measured: multiplying the weights feeding BN by c scales the largest eigenvalue of their "
             "Hessian block by 1/c² (fitted log-log slopes: "
             + "; ".join(f"{k}: {v.slope:.4f}" for k, v in cur.scaling.items()) + "), so the critical "
             "rate 2/λ_max of those weights grows like c²: the same η is a smaller step, relative to the "
             "curvature, for larger weights."),
        _figure(ex, "curvature_scaling"),
        Text("Weight-norm growth: since ⟨W, ∇J⟩ = 0, one step W − η∇J only adds an orthogonal component:"),
        Math(r"\|W_{t+1}\|^2 = \|W_t\|^2 + \eta^2 \|\nabla J(W_t)\|^2"),
        Text(f"Measured step by step on the first-layer weights of a BN network (ε = 0, η = {growth.lr:g}, "
             f"{len(growth.measured) - 1} steps): largest relative deviation from the identity "
             f"{growth.max_relative_error:.2e} (rounding); ‖W₁‖² grew from {growth.measured[0]:.4g} to "
             f"{growth.measured[-1]:.4g}. A too-large η inflates ‖W‖, which lowers the effective learning rate "
             "η/‖W‖² of the direction W/‖W‖ — BN's automatic rate tuning (van Laarhoven 2017; Arora, Li & Lyu "
             "2018)."),
        _figure(ex, "weight_norm_effective_lr")])


def _santurkar_section(ex: Explanation) -> Section:
    """The later explanation (Santurkar et al. 2018): the gradient-norm identity through BN, measured."""
    st = ex.results.santurkar
    ce = st.counterexample
    return Section("5. The later explanation: a smoother loss (Santurkar et al. 2018)", [
        Text("With ε = 0 the BN Jacobian is γ/σ times an orthogonal projector that removes the components of the "
             "upstream gradient g along 1 and along x̂, which gives an exact identity for the gradient that "
             "reaches the pre-normalization values z, and hence the bound ‖∂ℓ/∂z‖ ≤ (γ/σ)‖g‖:"),
        Math(r"\left\|\frac{\partial \ell}{\partial z}\right\|^2 = \frac{\gamma^2}{\sigma^2}\left(\|g\|^2 - "
             r"\frac{\langle 1, g\rangle^2}{m} - \frac{\langle g, \hat{x}\rangle^2}{m}\right)"),
        Text(f"Measured with bnsym's BN kernel on a batch of m = {st.m}: relative difference between the two "
             f"sides {st.relative_error:.1e}. "
             + (f"A variant with ⟨g, x̂⟩²/√m in the last term is not an upper bound: at a drawn g it gives "
                f"{ce.variant:.4g} while the exact value is {ce.exact:.4g}." if ce else ""))])


def _method_section(ex: Explanation) -> Section:
    """Notation and method, how the HTML renders math (filled in when written) and the time per part."""
    timings = "; ".join(f"{k} {v:.1f} s" for k, v in ex.timings.items())
    return Section("6. Notation and method", [
        Text("Partial derivatives are written with ∂ throughout, and every formula shown is printed by SymPy from "
             "an expression bnsym derived. The toy networks' gradients are their reverse-accumulated closed forms "
             "compiled with sympy.lambdify(cse=True). The reference MLP is run by composing per-layer kernels, "
             "each derived symbolically once: the Linear layer's vector-Jacobian products by SymPy's matrix "
             "calculus of tr(Gᵀ(AWᵀ + 1b)), the activation's by sympy.diff, BN's by reverse accumulation through "
             "its batch statistics, the loss's by sympy.diff; each lambdified into a vectorized NumPy kernel."),
        Text(f"Math in the HTML version: {MATH_PLACEHOLDER}. Time per part: {timings}.")])


#: The report's sections, in order: each makes one :class:`~bnsym.report.model.Section` from an Explanation.
SECTIONS: tuple[Callable[[Explanation], Section], ...] = (
    _introduction, _sweep_section, _goodfellow_section, _gradients_section, _two_layer_section,
    _identities_section, _santurkar_section, _method_section)


def build_report(ex: Explanation) -> Report:
    """The answer to the question, section by section (:data:`SECTIONS`), around the measurements of ``ex``.

    >>> from bnsym.explain import ExplainSettings, run_explain
    >>> rep = build_report(run_explain(ExplainSettings.tiny()))  # doctest: +SKIP
    >>> [s.title for s in rep.sections][1]  # doctest: +SKIP
    'Largest stable learning rate against depth, with and without BN'
    >>> len(SECTIONS)
    8
    """
    return Report(TITLE, [section(ex) for section in SECTIONS])
