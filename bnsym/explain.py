"""``bnsym explain``: every measurement of the report, on built-in defaults, in one call.

:func:`run_explain` runs the learning-rate sweeps (bnsym and, when installed, PyTorch), the curvature and
norm-growth measurements and Goodfellow's example, and returns an :class:`Explanation`: typed results
(:mod:`bnsym.results`) and figures looked up by name (:meth:`Explanation.figure`).
:func:`bnsym.report.build_report` writes the answer around it, :func:`bnsym.report.write_report` the files.

>>> settings = ExplainSettings.tiny()
>>> settings.depths
(2, 3)
"""
from __future__ import annotations

import importlib.util
import time
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any
from collections.abc import Mapping, Sequence

import numpy as np

from . import dynamics as dyn
from .errors import BnsymError
from .layers import Normalize, ScaleShift
from .numeric import init_mlp
from .outdir import LOCK_NAME, output_lock, prepare_output
from .results import (Agreement, Counterexample, Curvature, CurvatureRow, CurvatureScaling, Goodfellow,
                      GradientNormIdentity, GradientNorms, HessianAtPoint, LossCurves, RateCap, Results,
                      StableRates, Statement, SweepKey, SweepResult, SymbolicCurvature, TwoLayerBN, WeightNormGrowth)
from .sweep import SweepConfig, outcome, run_sweep
from .vectorized import reference_mlp

if TYPE_CHECKING:
    from concurrent.futures import Executor

    from .config import ExplainConfig
    from .plots import Figure

#: The report's grid: 25 rates, four per decade from 10⁻⁴ to 10², past the rates where BN fails.
EXPLAIN_GRID: tuple[float, ...] = tuple(float(v) for v in np.logspace(-4, 2, 25))

__all__ = ["EXPLAIN_GRID", "ExplainSettings", "Explanation", "find_figure", "run_explain", "sweep_configs",
           "prepare_output", "output_lock", "LOCK_NAME"]


@dataclass(frozen=True)
class ExplainSettings:
    """What ``explain`` measures. The defaults (20 seeds, a grid from 10⁻⁴ to 10² that reaches the rates where
    BN fails, both outcomes "does not diverge" and "trains") aim at under 3 minutes on 2 cores.

    >>> ExplainSettings().depths, ExplainSettings().scale_depth, len(ExplainSettings().seeds)
    ((2, 4, 8, 16), 4, 20)
    """

    depths: tuple[int, ...] = (2, 4, 8, 16)
    seeds: tuple[int, ...] = tuple(range(20))
    scales: tuple[float, ...] = (0.5, 2.0)      # extra init scales, swept at ``scale_depth``
    scale_depth: int = 4
    lrs: tuple[float, ...] = EXPLAIN_GRID
    train_fraction: float = 0.5                 # "trains": final loss ≤ train_fraction × J₀
    torch_seeds: int = 10                       # seeds per configuration rerun with PyTorch
    cap_seeds: int = 20                         # seeds of the rate-cap measurement
    smoke: bool = False                         # a smoke run (--quick): not a measurement
    steps: int = 200
    width: int = 8
    batch: int = 32
    torch: bool = True                          # the PyTorch reference sweep (skipped without PyTorch)
    curve_depth: int = 8
    hessian_depths: tuple[int, ...] = (2, 4)
    goodfellow_depth: int = 5
    workers: int | None = None
    progress: bool = True
    pdf: bool = True
    normalized: tuple[bool, ...] = (False, True)  # the sweeps without and with BN
    options: tuple[tuple[str, Any], ...] = ()     # further SweepConfig fields (bnsym.config: optimizer, data...)
    later: bool = True                          # the later-work experiments (bnsym.laterwork; quick ones if smoke)

    @classmethod
    def tiny(cls) -> ExplainSettings:
        """Settings for tests: two shallow depths, one seed, a coarse grid, few steps.

        >>> ExplainSettings.tiny().steps
        20
        """
        return cls(depths=(2, 3), seeds=(0, 1), scales=(2.0,), scale_depth=2, lrs=tuple(np.logspace(-3, 2, 6)),
                   steps=20, batch=8, curve_depth=3, hessian_depths=(2,), torch_seeds=1, cap_seeds=1,
                   goodfellow_depth=3, workers=1, progress=False, pdf=False, smoke=True)


def find_figure(figures: Sequence[Figure], name: str) -> Figure:
    """The figure called ``name`` (its file name, with or without ``.png``); an unknown name raises
    :class:`~bnsym.errors.BnsymError`.

    >>> from bnsym.plots import Figure
    >>> find_figure([Figure("loss_curves.png", "Loss.", None)], "loss_curves").caption
    'Loss.'
    >>> find_figure([], "loss")
    Traceback (most recent call last):
    ...
    bnsym.errors.BnsymError: no figure called 'loss' (the figures: none)
    """
    for figure in figures:
        if name in (figure.name, Path(figure.name).stem):
            return figure
    raise BnsymError(f"no figure called {name!r} (the figures: "
                     + (", ".join(Path(f.name).stem for f in figures) or "none") + ")")


@dataclass(frozen=True)
class Explanation:
    """The numbers and figures of a report: the settings, the typed :class:`~bnsym.results.Results`, the
    figures in the order they are saved (look one up by name with :meth:`figure`), seconds per part.

    >>> [f.name for f in fields(Explanation)]
    ['settings', 'results', 'figures', 'timings']
    """

    settings: ExplainSettings
    results: Results
    figures: tuple[Figure, ...] = ()
    timings: Mapping[str, float] = field(default_factory=dict)

    def figure(self, name: str) -> Figure:
        """The figure called ``name`` (``"lr_vs_depth"`` or ``"lr_vs_depth.png"``), see :func:`find_figure`.

        >>> from bnsym.plots import Figure
        >>> ex = Explanation(ExplainSettings.tiny(), None, (Figure("lr_vs_depth.png", "Rates.", None),))
        >>> ex.figure("lr_vs_depth").caption, ex.figure("lr_vs_depth.png").name
        ('Rates.', 'lr_vs_depth.png')
        """
        return find_figure(self.figures, name)


def sweep_configs(s: ExplainSettings) -> list[SweepConfig]:
    """The sweeps' configurations: every depth without and with BN for every seed, then the extra init scales
    at ``scale_depth``; ``s.options`` (from :func:`bnsym.config.load_config`) fill in the other fields.

    >>> [(c.depth, c.bn, c.scale) for c in sweep_configs(ExplainSettings.tiny()) if c.seed == 0]
    [(2, False, 1.0), (2, True, 1.0), (3, False, 1.0), (3, True, 1.0), (2, False, 2.0), (2, True, 2.0)]
    """
    common: dict[str, Any] = dict(width=s.width, batch=s.batch, steps=s.steps, train_fraction=s.train_fraction,
                                  **dict(s.options))
    configs = [SweepConfig(depth=d, bn=bn, seed=seed, **common) for d in s.depths for bn in s.normalized
               for seed in s.seeds]
    configs += [SweepConfig(depth=s.scale_depth, bn=bn, seed=seed, scale=c, **common)
                for c in s.scales for bn in s.normalized for seed in s.seeds]
    return configs


def _sweeps(s: ExplainSettings, outdir: Path | None, executor: Executor | None = None) -> SweepResult:
    """Both outcomes per configuration over the seeds; summary and training rates by cell."""
    configs = sweep_configs(s)
    path = outdir / "sweep.jsonl" if outdir is not None else None
    records = run_sweep(configs, s.lrs, results=path, workers=s.workers, progress=s.progress,
                        label="learning-rate sweep (bnsym)", executor=executor)
    stable: dict[SweepKey, list] = {}
    training: dict[SweepKey, list] = {}
    for r in records:
        c = r["config"]
        key = SweepKey(c["depth"], c["bn"], c["scale"])
        stable.setdefault(key, []).append(r["largest_stable"])
        training.setdefault(key, []).append(r.get("largest_training"))
    return SweepResult({k: StableRates.of(v) for k, v in stable.items()}, (), tuple(records),
                       {k: StableRates.of(v) for k, v in training.items()}, s.train_fraction)


def _decisive(record: Mapping[str, Any], grid: Sequence[float]) -> list[float]:
    """The rates that decide a record's two outcomes: each largest rate and the grid rate above it."""
    grid = sorted(grid)
    rates: set[float] = set()
    for name in ("largest_stable", "largest_training"):
        v = record.get(name)
        k = grid.index(v) if v is not None else -1
        rates.update(grid[i] for i in (k, k + 1) if 0 <= i < len(grid))
    return sorted(rates)


def _torch_check(config: SweepConfig, record: Mapping[str, Any], grid: Sequence[float]) -> Agreement:
    from .sweep import trains

    same, diff = True, []
    tconfig = replace(config, backend="torch")
    for lr in _decisive(record, grid):
        ours, theirs = outcome(config, lr), outcome(tconfig, lr)
        fraction = config.train_fraction or 0.5
        same &= (ours["diverged"] == theirs["diverged"]
                 and trains(ours, fraction) == trains(theirs, fraction))
        if ours["final_loss"] is not None and theirs["final_loss"] is not None and not ours["diverged"]:
            diff.append(abs(ours["final_loss"] - theirs["final_loss"]) / max(abs(ours["final_loss"]), 1e-300))
    return Agreement(config.depth, config.bn, config.seed, tuple(_decisive(record, grid)), bool(same),
                     max(diff) if diff else None)


def _torch(s: ExplainSettings, sweep: SweepResult, executor: Executor | None = None) -> SweepResult:
    """The PyTorch rerun, per configuration (first ``torch_seeds`` seeds, init scale 1), in a process pool."""
    if not s.torch or importlib.util.find_spec("torch") is None:
        return sweep
    jobs = []
    for r in sweep.records:
        c = r["config"]
        if c["scale"] == 1.0 and c["seed"] in s.seeds[:s.torch_seeds]:
            jobs.append((SweepConfig(**dict(c.items())), r, s.lrs))
    return replace(sweep, agreement=tuple(_pooled(s, _torch_check, jobs, executor)))


def _pooled(s: ExplainSettings, fn, jobs: Sequence[tuple], executor: Executor | None = None) -> list:
    """``[fn(*job) for job in jobs]``, on ``executor`` or in a process pool of ``s.workers`` (default: every
    core)."""
    import os
    from concurrent.futures import ProcessPoolExecutor

    if executor is not None and jobs:
        return list(executor.map(fn, *zip(*jobs, strict=True)))
    workers = min(s.workers or os.cpu_count() or 1, len(jobs))
    if workers <= 1:
        return [fn(*job) for job in jobs]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(fn, *zip(*jobs, strict=True)))


def _unnormalized(names: Sequence[str], depth: int) -> list[str]:
    """The parameters no BN layer normalizes: the last layer's weight and bias, every γ and β."""
    return [n for n in names if n in (f"W{depth}", f"b{depth}") or n.startswith(("gamma", "beta"))]


def _masked_diverges(engine, params, x, t, lr: float, steps: int, trained: set[str]) -> bool:
    """Gradient descent updating only ``trained`` (the others keep their initial values): does it diverge?"""
    from .dynamics import DIVERGENCE_FACTOR

    p, x, t = engine.check(params, x, t)
    bound = None
    with np.errstate(all="ignore"):
        for _ in range(steps + 1):
            loss, grads = engine.run(p, x, t)
            bound = DIVERGENCE_FACTOR * max(float(loss), 1.0) if bound is None else bound
            if not np.isfinite(loss) or loss > bound:
                return True
            for name in trained:
                p[name] = p[name] - lr * np.asarray(grads[name], dtype=float).reshape(p[name].shape)
    return False


def _cap_one(s: ExplainSettings, depth: int, seed: int) -> tuple[float | None, float | None, float]:
    x, t = dyn.reference_data(batch=s.batch)
    widths = [2] + [s.width] * (depth - 1) + [1]
    engine = reference_mlp(widths, bn=True, eps=1e-5)
    params = init_mlp(widths, bn=True, seed=seed)
    rest = _unnormalized(list(params), depth)
    out: list[float | None] = []
    for trained in (set(params) - set(rest), set(rest)):
        found = None
        for lr in sorted(s.lrs, reverse=True):
            if not _masked_diverges(engine, params, x, t, lr, s.steps, trained):
                found = float(lr)
                break
        out.append(found)
    lam = dyn.lambda_max(dyn.hessian(engine, params, x, t, rest))
    return out[0], out[1], 2.0 / lam if lam > 0 else float("inf")


def _cap(s: ExplainSettings, sweep: SweepResult, executor: Executor | None = None) -> tuple[RateCap, ...]:
    """What caps BN's rate, by measurement: train only the normalized weights, or only the others."""
    seeds = s.seeds[:s.cap_seeds]
    jobs = [(depth, seed) for depth in s.depths for seed in seeds]
    done = dict(zip(jobs, _pooled(s, _cap_one, [(s, d, seed) for d, seed in jobs], executor), strict=True))
    caps = []
    for depth in s.depths:
        rows = [done[(depth, seed)] for seed in seeds]
        full = [r["largest_stable"] for r in sweep.records if r["config"]["depth"] == depth and r["config"]["bn"]
                and r["config"]["scale"] == 1.0 and r["config"]["seed"] in seeds]
        caps.append(RateCap(depth, StableRates.of(full), StableRates.of([r[0] for r in rows]),
                            StableRates.of([r[1] for r in rows]), tuple(r[2] for r in rows)))
    return tuple(caps)


#: The theorems whose statements the report displays.
DISPLAYED_THEOREMS = ("scale_invariance_forward", "scale_invariance_weight_grad", "gradient_scaling",
                      "hessian_block_scaling", "weight_orthogonality", "weight_norm_growth", "bn_jacobian",
                      "bn_jacobian_null_space", "backward_compact", "gradient_norm_identity", "bias_gradient_zero",
                      "goodfellow_bn")


def _statements() -> dict[str, Statement]:
    """Prove (for every batch size) the theorems whose statements the report displays."""
    from .theorems import prove

    out = {}
    for name in DISPLAYED_THEOREMS:
        proof = prove(name)
        out[name] = Statement(name, proof.statement_latex, tuple(c.text for c in proof.conditions),
                              proof.source, proof.holds)
    return out


def _curves(s: ExplainSettings, sweep: SweepResult) -> LossCurves:
    """Loss curves at seed 0's largest rates that do not diverge and that train, without and with BN (from the
    sweep), for both networks."""
    x, t = dyn.reference_data(batch=s.batch)
    widths = [2] + [s.width] * (s.curve_depth - 1) + [1]
    mine = [r for r in sweep.records if r["config"]["depth"] == s.curve_depth and r["config"]["seed"] == s.seeds[0]
            and r["config"]["scale"] == 1.0]
    stable = {r["config"]["bn"]: r["largest_stable"] for r in mine}
    # the rates that decide both outcomes of both networks: each largest rate that does not diverge, that trains
    found = {r.get(k) for r in mine for k in ("largest_stable", "largest_training")}
    rates: list[float] = sorted(float(v) for v in found if v is not None) or [min(s.lrs)]
    traces = {}
    for bn in (False, True):
        engine = reference_mlp(widths, bn=bn, eps=1e-5)
        params = init_mlp(widths, bn=bn, seed=s.seeds[0])
        for lr in rates:
            traces[f"{'BN' if bn else 'no BN'}, η = {lr:.3g}"] = dyn.gradient_descent(
                engine, params, x, t, lr=lr, steps=s.steps)
    return LossCurves(traces, tuple(rates), stable)


def _norm_growth(s: ExplainSettings) -> WeightNormGrowth:
    x, t = dyn.reference_data(batch=s.batch)
    widths = [2, s.width, s.width, 1]
    engine = reference_mlp(widths, bn=True, eps=0.0)
    params = init_mlp(widths, bn=True, seed=0)
    lr = 0.5
    trace = dyn.gradient_descent(engine, params, x, t, lr=lr, steps=s.steps)
    growth = dyn.norm_growth(engine, params, x, t, weight="W1", lr=lr, steps=s.steps)
    return WeightNormGrowth(trace, growth, lr)


def _gradient_norms(s: ExplainSettings) -> GradientNorms:
    depth = max(s.depths)
    widths = [2] + [s.width] * (depth - 1) + [1]
    x, t = dyn.reference_data(batch=s.batch)
    out = {}
    for bn in (False, True):
        engine = reference_mlp(widths, bn=bn, eps=1e-5)
        for seed in s.seeds:
            _, grads = engine.loss_and_gradients(init_mlp(widths, bn=bn, seed=seed), x, t)
            out[f"{'with' if bn else 'without'} BN, seed {seed}"] = tuple(
                float(np.linalg.norm(grads[f"W{l}"])) for l in range(1, depth + 1))
    return GradientNorms(depth, out)


def _curvature(s: ExplainSettings, sweep: SweepResult) -> Curvature:
    x, t = dyn.reference_data(batch=s.batch)
    rows = []
    for depth in s.hessian_depths:
        widths = [2] + [s.width] * (depth - 1) + [1]
        for bn in (False, True):
            engine = reference_mlp(widths, bn=bn, eps=1e-5)
            start = init_mlp(widths, bn=bn, seed=0)
            H = dyn.hessian(engine, start, x, t)
            lam = dyn.lambda_max(H)
            measured = [r["largest_stable"] for r in sweep.records if r["config"]["depth"] == depth
                        and r["config"]["bn"] == bn and r["config"]["seed"] == 0 and r["config"]["scale"] == 1.0]
            rate = measured[0] if measured else None
            end = None
            if rate is not None:  # the curvature where the run at that rate ended
                run = dyn.gradient_descent(engine, start, x, t, lr=rate, steps=s.steps, record=False)
                final = run.final  # type: ignore[attr-defined]
                end = dyn.lambda_max(dyn.hessian(engine, {k: final[k] for k in start}, x, t))
            rows.append(CurvatureRow(depth, bn, parameters=int(H.shape[0]), lambda_max=lam,
                                     critical_lr=2.0 / lam if lam > 0 else float("inf"),
                                     measured=rate, lambda_end=end))
    # the scaling law, numerically on the MLP (eps = 0) ...
    widths = [2, s.width, s.width, 1]
    engine = reference_mlp(widths, bn=True, eps=0.0)
    scales = [0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0]
    base = init_mlp(widths, bn=True, seed=0)
    mlp_scaling = dyn.curvature_scaling(engine, base, x, t, "W1", scales)
    norms = [float(np.linalg.norm(engine.loss_and_gradients({**base, "W1": base["W1"] * c}, x, t)[1]["W1"]))
             for c in scales]
    gradient_slope = float(np.polyfit(np.log(scales), np.log(norms), 1)[0])
    # ... and from the exact Hessian of the seed's two-layer network with two inputs and BN (m = 4)
    symbolic = _symbolic_curvature(scales)
    return Curvature(tuple(rows), {
        "reference MLP, W1 (finite differences of compiled gradients)": CurvatureScaling.from_dict(mlp_scaling),
        "two-layer network, w1 (exact sympy.hessian)": symbolic.scaling}, symbolic, gradient_slope)


def _symbolic_curvature(scales: Sequence[float]) -> SymbolicCurvature:
    from .network import two_layer

    rng = np.random.default_rng(3)
    x = rng.standard_normal((4, 2))
    t = rng.standard_normal((4, 1))
    point: dict[str, Any] = {"w1": np.array([[0.8, -0.5]]), "b1": 0.1,
             "w2": 1.3, "b2": 0.4, "gamma1": 1.2, "beta1": 0.3}
    out = {}
    full = None
    for bn in (None, "pre"):
        net = two_layer(bn=bn, batch=4, inputs=2, loss="mse")
        H, f = dyn.symbolic_hessian(net)
        values = {"x": x, "t": t, **{k: v for k, v in point.items() if k in net.parameters}}
        lam = dyn.lambda_max(f(values))
        out[bn] = HessianAtPoint(lam, 2 / lam if lam > 0 else None, H.shape[0])
        full = f
    net = two_layer(bn="pre", batch=4, inputs=2, loss="mse")
    _, f = dyn.symbolic_hessian(net, ["w1"])

    def law(hessian_at) -> CurvatureScaling:
        lams = []
        for c in scales:
            values = {"x": x, "t": t, **{k: v for k, v in point.items() if k in net.parameters}}
            values["w1"] = point["w1"] * c
            lams.append(dyn.lambda_max(hessian_at(values)))
        slope = float(np.polyfit(np.log(scales), np.log(lams), 1)[0])
        return CurvatureScaling(tuple(scales), tuple(lams), tuple(2 / v for v in lams), slope)

    return SymbolicCurvature(without_bn=out[None], with_bn=out["pre"], scaling=law(f), full_scaling=law(full))


def _two_layer_bn() -> TwoLayerBN:
    """∂J/∂w₁ and ∂J/∂b₁ of the seed's network with BN before the activation (ε = 0, m = 4), 1 and 2 inputs."""
    from .network import two_layer
    from .numeric import compile_network

    rng = np.random.default_rng(3)
    out = {}
    for inputs in (1, 2):
        model = compile_network(two_layer(bn="pre", batch=4, inputs=inputs, loss="mse"))
        x, t = rng.standard_normal((4, inputs)), rng.standard_normal((4, 1))
        point = {"w1": np.array([[0.8, -0.5][:inputs]]), "b1": 0.1, "w2": 1.3, "b2": 0.4, "gamma1": 1.2,
                 "beta1": 0.3}
        _, grads = model.loss_and_gradients(point, x, t)
        out[inputs] = {name: float(np.max(np.abs(g))) for name, g in grads.items()}
    return TwoLayerBN(one_input=out[1], two_inputs=out[2])


def _goodfellow(s: ExplainSettings) -> Goodfellow:
    lrs = list(np.logspace(-4, 0, 9))
    without = dyn.goodfellow_step(lrs, depth=s.goodfellow_depth, bn=False)
    with_bn = dyn.goodfellow_step(lrs, depth=s.goodfellow_depth, bn=True)
    poly = dyn.goodfellow_polynomial(s.goodfellow_depth)
    weights = dyn.goodfellow_weights(s.goodfellow_depth)
    import sympy

    subs = {sympy.Symbol(k, real=True): v for k, v in weights.items()}
    subs[sympy.Symbol("x", real=True)] = 1.0
    coefficients = [(k, float(poly.coeff_monomial(poly.gen ** k).xreplace(subs)))
                    for k in range(1, poly.degree() + 1)]
    return Goodfellow(without, with_bn, tuple(coefficients), weights, poly.degree())


def _santurkar(seed: int = 0, m: int = 16) -> GradientNormIdentity:
    """The gradient-norm identity through BN (ε = 0), measured with BN's own kernels, and the misprinted variant."""
    rng = np.random.default_rng(seed)
    z, g = rng.standard_normal((m, 1)) * 3 + 1, rng.standard_normal((m, 1))
    gamma = np.array([[1.7]])
    normalize = Normalize("zhat1", samples=m, features=1, eps=0)
    scale = ScaleShift("ztilde1", gamma="gamma1", beta="beta1", features=1)
    params = {"gamma1": gamma, "beta1": np.zeros((1, 1))}
    xhat, saved = normalize.numpy_forward(z, params)
    _, kept = scale.numpy_forward(xhat, params)
    v = float(np.var(z))  # the biased batch variance (σ² with ε = 0)

    def dz(upstream):
        """∂ℓ/∂z for ℓ = Σ upstream·y, y = γ x̂ + β: the VJPs of BN's two steps."""
        return normalize.numpy_vjp(saved, scale.numpy_vjp(kept, upstream, params)[0], params)[0]

    lhs = float(np.sum(dz(g) ** 2))
    rhs = float(gamma[0, 0] ** 2 / v * (np.sum(g ** 2) - np.sum(g) ** 2 / m - np.sum(g * xhat) ** 2 / m))
    # the variant with <g, x̂>²/√m can fall below the exact value, making "≤" false: search a few draws
    violated = None
    for k in range(200):
        gg = np.random.default_rng(1000 + k).standard_normal((m, 1)) + 0.5 * xhat
        exact = float(np.sum(dz(gg) ** 2))
        variant = float(gamma[0, 0] ** 2 / v * (np.sum(gg ** 2) - np.sum(gg) ** 2 / m
                                                - np.sum(gg * xhat) ** 2 / np.sqrt(m)))
        if variant < exact * (1 - 1e-9):
            violated = Counterexample(k, exact, variant)
            break
    return GradientNormIdentity(lhs, rhs, abs(lhs - rhs) / lhs, m, violated)


def run_explain(settings: ExplainSettings | None = None, outdir: str | Path | None = None, *,
                config: ExplainConfig | str | Path | None = None, executor: Executor | None = None) -> Explanation:
    """Run every measurement of the report and make its figures (the files are written by :mod:`bnsym.report`).

    ``config`` is an :class:`~bnsym.config.ExplainConfig` or the path of a TOML file for
    :func:`~bnsym.config.load_config` (instead of ``settings``). ``executor`` is any
    :class:`concurrent.futures.Executor` the sweeps, the PyTorch rerun and the rate-cap runs go to (default: a
    process pool, see :func:`~bnsym.sweep.run_sweep`), e.g. a ``dask.distributed`` client's ``get_executor()``.

    ``outdir`` holds the sweeps' JSON-lines result files, so an interrupted run resumes (damaged records are
    skipped with a warning and run again, see :func:`~bnsym.sweep.run_sweep`); a directory that cannot be
    created or written raises :class:`~bnsym.errors.BnsymError`. On 2 shared cores it took about 15 s with
    :meth:`ExplainSettings.tiny` and under 2 minutes with the defaults.

    >>> ex = run_explain(ExplainSettings.tiny())  # doctest: +SKIP
    >>> [f.name for f in ex.figures][:2]  # doctest: +SKIP
    ['lr_vs_depth.png', 'loss_curves.png']
    >>> run_explain.__annotations__["return"]
    'Explanation'
    """
    from . import plots

    plots.require_matplotlib()
    s = _chosen_settings(settings, config)
    outdir = prepare_output(outdir) if outdir is not None else None
    timings: dict[str, float] = {}

    def timed(name, fn, *args):
        start = time.perf_counter()
        value = fn(*args)
        timings[name] = time.perf_counter() - start
        return value

    from concurrent.futures import ProcessPoolExecutor

    began = time.perf_counter()
    with ProcessPoolExecutor(max_workers=1) as background:  # the proofs run alongside the measurements
        proofs = background.submit(_timed_statements)
        later = background.submit(_timed_later, s.smoke) if s.later else None
        sweep = timed("sweeps (bnsym)", _sweeps, s, outdir, executor)
        sweep = timed("PyTorch rerun", _torch, s, sweep, executor)
        results = Results(
            sweep=sweep, curves=timed("loss curves", _curves, s, sweep),
            growth=timed("weight-norm growth", _norm_growth, s),
            gradient_norms=timed("gradient norms", _gradient_norms, s),
            curvature=timed("curvature", _curvature, s, sweep),
            goodfellow=timed("Goodfellow's example", _goodfellow, s),
            santurkar=timed("gradient-norm identity", _santurkar),
            two_layer_bn=timed("two-layer network with BN", _two_layer_bn),
            cap=timed("what caps BN's rate", _cap, s, sweep, executor))
        statements, seconds = timed("waiting for the proofs", proofs.result)
        later_work, later_seconds = timed("waiting for the later work", later.result) if later else (None, 0.0)
    timings["proofs (in a separate process, alongside the rest)"] = seconds
    if later_work is not None:
        timings["later work (in the same separate process, after the proofs)"] = later_seconds
    timings["all measurements (wall clock)"] = time.perf_counter() - began
    later_results = {} if later_work is None else {f.name: getattr(later_work, f.name) for f in fields(later_work)
                                                   if f.name != "seconds"}
    results = replace(results, statements=statements, later=later_results)
    figures = _figures(s, results)
    if later_work is not None:
        from .laterwork.suite import figures_all

        figures += tuple(figures_all(later_work))
    return Explanation(s, results, figures, timings)


def _chosen_settings(settings: ExplainSettings | None, config: ExplainConfig | str | Path | None) -> ExplainSettings:
    """The settings to run: ``settings``, or those of ``config`` (a path is loaded), else the defaults."""
    if config is not None and settings is not None:
        raise BnsymError("give run_explain either settings or config, not both")
    if isinstance(config, (str, Path)):
        from .config import load_config

        config = load_config(config)
    s = config.settings if config is not None else settings or ExplainSettings()
    if set(s.normalized) != {False, True}:
        raise BnsymError("the report compares the network without and with normalization, so it needs both; "
                         "for sweeps of one kind, run bnsym.sweep.run_sweep(bnsym.explain.sweep_configs(settings))")
    return s


def _timed_later(quick: bool):
    """The later-work experiments (:func:`bnsym.laterwork.suite.run_all`) and the seconds they took."""
    from .laterwork.suite import run_all

    start = time.perf_counter()
    return run_all(quick=quick), time.perf_counter() - start


def _timed_statements() -> tuple[dict[str, Statement], float]:
    start = time.perf_counter()
    return _statements(), time.perf_counter() - start


def _figures(s: ExplainSettings, r: Results) -> tuple[Figure, ...]:
    """The report's figures, in the order they are saved (each is looked up by its name)."""
    from . import plots

    def cells(summary):
        medians = {(d, bn): v.median for (d, bn, c), v in summary.items() if c == 1.0}
        quartiles = {(d, bn): (v.q25, v.q75) for (d, bn, c), v in summary.items() if c == 1.0}
        return medians, quartiles

    stable, spread = cells(r.sweep.summary)
    training, training_spread = cells(r.sweep.training)
    scaling = {k: v.as_dict() for k, v in r.curvature.scaling.items()}
    full = r.curvature.symbolic.full_scaling
    if full is not None:
        scaling["two-layer network, full Hessian (exact sympy.hessian)"] = full.as_dict()
    return (
        plots.lr_vs_depth(stable, spread, training, training_spread, grid=s.lrs, train_fraction=s.train_fraction),
        plots.loss_curves(r.curves.traces, title=f"Reference MLP, depth {s.curve_depth}, seed {s.seeds[0]}, at "
                          "the largest rates of the sweep that do not diverge, without and with BN."),
        plots.norm_and_effective_lr(r.growth.trace, "W1", r.growth.growth),
        plots.gradient_norms_per_layer(r.gradient_norms.norms, r.gradient_norms.depth),
        plots.goodfellow_figure(r.goodfellow.without, r.goodfellow.with_bn),
        plots.curvature_figure(scaling),
    )
