"""Learning-rate sweeps: the largest learning rate that does not diverge, with and without BN.

A :class:`SweepConfig` fixes one network (depth, BN or not, init scale, seed, width, batch, steps); for it,
:func:`largest_stable_lr` runs gradient descent at the rates of a log-spaced grid from the largest down and
returns the first (largest) rate whose run does not diverge within the step budget (divergence: a
non-finite loss, or a loss above ``DIVERGENCE_FACTOR × max(J₀, 1)``; see :mod:`bnsym.dynamics`). A second,
stricter outcome is asked for with ``train_fraction``: a run *trains* when it does not diverge and its final
loss is at most ``train_fraction × J₀``; the scan then goes on down the grid to the largest rate that trains
(``largest_training``). Not diverging is not training: a rate can keep the loss bounded and still raise it.
:func:`run_sweep` runs many configurations in a process pool across the machine's cores with a progress
bar, appending each result to a JSON-lines file it can resume from. :func:`summarize` takes, for each
(depth, BN, init scale), the smallest of the seeds' largest stable rates: the largest rate that is stable
for every seed.

The same runs can be made with PyTorch autograd (``backend="torch"``, same init and data, generated once
in NumPy) for the agreement check.

>>> cfg = SweepConfig(depth=2, bn=False, steps=20, batch=8)
>>> out = largest_stable_lr(cfg, lrs=[1e-3, 1e-2])
>>> out["largest_stable"]
0.01
"""
from __future__ import annotations

import json
import os
import sys
import warnings
from concurrent.futures import Executor, ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from collections.abc import Iterable, Sequence

import click
import numpy as np

from .datafiles import cached_npz
from .dynamics import DIVERGENCE_FACTOR, gradient_descent, reference_data
from .errors import BnsymError, ValuesError
from .numeric import init_mlp
from .optimizers import Optimizer, train
from .torchref import torch_gradient_descent
from .vectorized import VectorizedNetwork, reference_mlp

__all__ = ["LR_GRID", "SweepConfig", "largest_stable_lr", "trains", "outcome", "run_sweep", "summarize",
           "torch_gradient_descent", "sweep_data", "initial_parameters"]

#: The default grid: 17 rates, four per decade from 1e-4 to 1.
LR_GRID: tuple[float, ...] = tuple(float(v) for v in np.logspace(-4, 0, 17))


@dataclass(frozen=True)
class SweepConfig:
    """One network and training budget: an MLP ``[inputs, width × depth−1 …, 1]`` with ``depth`` Linear layers.

    ``bn`` puts BN (``ε = eps``) before every hidden activation (or after it: ``placement="post"``), or the
    normalization ``norm`` (``"layer"``, ``"rms"``, ``"group"`` with ``groups``, ``"weight"``: see
    :func:`~bnsym.vectorized.reference_mlp`); weights start as
    ``N(0, (scale·gain/√fan_in)²)`` from ``seed``; full-batch GD on :func:`~bnsym.dynamics.reference_data`.
    ``backend`` is ``"bnsym"`` (the layers' own kernels, :mod:`bnsym.vectorized`) or ``"torch"`` (PyTorch
    autograd). With ``train_fraction`` (in (0, 1)), :func:`largest_stable_lr` also finds the largest rate that
    trains: final loss ``≤ train_fraction × J₀``.

    >>> SweepConfig(depth=3).widths
    [2, 8, 8, 1]
    """

    depth: int
    bn: bool = False
    scale: float = 1.0
    seed: int = 0
    width: int = 8
    inputs: int = 2
    batch: int = 32
    steps: int = 200
    activation: str = "relu"
    eps: float = 1e-5
    gain: float = 2.0
    backend: str = "bnsym"
    train_fraction: float | None = None
    # added with configurable experiments; at these defaults they are left out of the key and the record
    placement: str = "pre"                 # BN before ("pre") or after ("post") each hidden activation
    outputs: int = 1
    optimizer: str = "gd"                  # see bnsym.optimizers
    minibatch: int | None = None
    momentum: float = 0.9
    beta1: float = 0.9
    beta2: float = 0.999
    adam_epsilon: float = 1e-8
    divergence_factor: float = DIVERGENCE_FACTOR
    data: str = "reference"                # or an .npz file with x, t
    data_digest: str = ""
    init: str = "seeded"                   # or an .npz file of initial parameters
    init_digest: str = ""
    # added with the normalization sweep: the kind of normalization bn=True puts on the hidden layers
    norm: str = "batch"                    # "batch", "layer", "rms", "group" (with groups) or "weight"
    groups: int | None = None              # GroupNorm's number of groups

    @property
    def widths(self) -> list[int]:
        """Layer widths, input first.

        >>> SweepConfig(depth=2, width=4).widths
        [2, 4, 1]
        """
        return [self.inputs] + [self.width] * (self.depth - 1) + [self.outputs]

    def key(self) -> str:
        """A stable string identifying the configuration (the results file's key).

        >>> SweepConfig(depth=2).key() == SweepConfig(depth=2).key() != SweepConfig(depth=3).key()
        True
        """
        return json.dumps(self.record(), sort_keys=True)

    def record(self) -> dict:
        """The configuration as the results file stores it: every field, but the ones added with configurable
        experiments only where they differ from their defaults (so older results files still resume). ``norm``
        and ``groups`` name the normalization ``bn=True`` builds, so without BN they are left out too (the same
        network).

        >>> "optimizer" in SweepConfig(depth=2).record(), SweepConfig(depth=2, optimizer="adam").record()["optimizer"]
        (False, 'adam')
        >>> SweepConfig(depth=2, bn=True, norm="rms").record()["norm"]
        'rms'
        >>> "norm" in SweepConfig(depth=2, norm="rms").record()   # no BN switched on: the plain network
        False
        """
        out = asdict(self)
        for name in _LATER_FIELDS:
            if out[name] == _DEFAULTS[name] or name in _NORM_FIELDS and not self.bn:
                del out[name]
        return out

    @property
    def normalization(self) -> str | None:
        """The normalization of the hidden layers: ``norm`` with BN's switch on, else ``None``.

        >>> SweepConfig(depth=2, bn=True, norm="layer").normalization, SweepConfig(depth=2, norm="layer").normalization
        ('layer', None)
        """
        return self.norm if self.bn else None

    @property
    def optimizer_rule(self) -> Optimizer:
        """The :class:`~bnsym.optimizers.Optimizer` of this configuration.

        >>> SweepConfig(depth=2, optimizer="sgd", minibatch=4).optimizer_rule.stochastic
        True
        """
        return Optimizer(self.optimizer, self.minibatch, self.momentum, self.beta1, self.beta2, self.adam_epsilon)


_LATER_FIELDS = ("placement", "outputs", "optimizer", "minibatch", "momentum", "beta1", "beta2", "adam_epsilon",
                 "divergence_factor", "data", "data_digest", "init", "init_digest", "norm", "groups")
_NORM_FIELDS = ("norm", "groups")
_DEFAULTS = {f.name: f.default for f in fields(SweepConfig)}


def _engine(config: SweepConfig) -> VectorizedNetwork:
    """The configuration's network (built once per process by :func:`~bnsym.vectorized.reference_mlp`)."""
    kind = config.normalization
    if kind in (None, "batch"):  # exactly the network bn= has always built
        return reference_mlp(config.widths, config.activation, bn=config.placement if kind else None, eps=config.eps)
    return reference_mlp(config.widths, config.activation, norm=kind, eps=config.eps,
                         placement=None if kind == "weight" else config.placement, groups=config.groups)


def sweep_data(config: SweepConfig) -> tuple[np.ndarray, np.ndarray]:
    """The configuration's data: :func:`~bnsym.dynamics.reference_data` or the ``x, t`` of its ``.npz`` file.

    >>> x, t = sweep_data(SweepConfig(depth=2, batch=4))
    >>> x.shape, t.shape
    ((4, 2), (4, 1))
    """
    if config.data == "reference":
        return reference_data(seed=0, batch=config.batch, inputs=config.inputs)
    arrays = cached_npz(config.data, config.data_digest, ("x", "t"), "the data set")
    return arrays["x"], arrays["t"]


def initial_parameters(config: SweepConfig) -> dict[str, np.ndarray]:
    """The starting point: :func:`~bnsym.numeric.init_mlp` from the seed (the parameters of the configuration's
    normalization), or the arrays of the ``init`` file (weights times ``scale``; without BN, its ``gamma``,
    ``beta`` are dropped).

    >>> sorted(initial_parameters(SweepConfig(depth=2, width=3)))
    ['W1', 'W2', 'b1', 'b2']
    >>> sorted(initial_parameters(SweepConfig(depth=2, width=3, bn=True, norm="rms")))
    ['W1', 'W2', 'b1', 'b2', 'gamma1']
    """
    if config.init == "seeded":
        return init_mlp(config.widths, norm=config.normalization, seed=config.seed, gain=config.gain,
                        scale=config.scale)
    arrays = cached_npz(config.init, config.init_digest, None, "the initial parameters")
    return {k: (v * config.scale if k.startswith("W") else v).copy() for k, v in arrays.items()
            if config.bn or not k.startswith(("gamma", "beta"))}


def _run(config: SweepConfig, lr: float) -> dict:
    x, t = sweep_data(config)
    params = initial_parameters(config)
    rule = config.optimizer_rule
    if config.backend == "torch":
        losses, diverged = torch_gradient_descent(config, params, x, t, lr)
    elif rule.kind == "gd" and config.divergence_factor == DIVERGENCE_FACTOR:
        trace = gradient_descent(_engine(config), params, x, t, lr=lr, steps=config.steps, record=False)
        losses, diverged = trace.loss, trace.diverged
    else:
        losses, diverged = train(_engine(config), params, x, t, rule, lr=lr, steps=config.steps, seed=config.seed,
                                 divergence_factor=config.divergence_factor)
    run = {"lr": float(lr), "diverged": bool(diverged), "steps_run": len(losses) - 1,
           "final_loss": float(losses[-1]) if np.isfinite(losses[-1]) else None, "initial_loss": float(losses[0])}
    if config.train_fraction is not None:
        run["trains"] = trains(run, config.train_fraction)
    return run


def trains(run: dict, fraction: float) -> bool:
    """The outcome *trains*: the run did not diverge and its final loss is at most ``fraction × J₀``.

    >>> trains({"diverged": False, "final_loss": 0.4, "initial_loss": 1.0}, 0.5)
    True
    >>> trains({"diverged": False, "final_loss": 36.7, "initial_loss": 2.02}, 0.5)  # bounded, not training
    False
    """
    final = run.get("final_loss")
    return (not run["diverged"] and final is not None
            and float(final) <= float(fraction) * float(run["initial_loss"]))


def largest_stable_lr(config: SweepConfig, lrs: Sequence[float] = LR_GRID) -> dict:
    """Scan ``lrs`` from the largest down; the first rate that does not diverge is the largest stable one.

    Returns ``{"key", "config", "runs", "largest_stable"}`` (``largest_stable`` is ``None`` when every rate
    diverges). With ``config.train_fraction`` the scan goes on down to the first rate that trains (see
    :func:`trains`) and the record also has ``largest_training`` (``None`` when no rate of the grid trains).

    >>> largest_stable_lr(SweepConfig(depth=2, steps=10, batch=8), lrs=[1e3])["largest_stable"] is None
    True
    >>> out = largest_stable_lr(SweepConfig(depth=2, steps=50, batch=8, train_fraction=0.5), lrs=[1e-4, 0.1, 1e3])
    >>> out["largest_stable"], out["largest_training"]
    (0.1, 0.1)
    """
    if not lrs or any(not (float(v) > 0) for v in lrs):
        raise ValuesError(f"the learning-rate grid must be a non-empty list of positive rates, got {lrs!r}")
    fraction = config.train_fraction
    if fraction is not None and not 0 < fraction < 1:
        raise ValuesError(f"train_fraction must be in (0, 1), got {fraction!r}")
    runs = []
    found = training = None
    for lr in sorted((float(v) for v in lrs), reverse=True):
        run = _run(config, lr)
        runs.append(run)
        if found is None and not run["diverged"]:
            found = lr
        if fraction is not None and run["trains"]:
            training = lr
        if found is not None and (fraction is None or training is not None):
            break
    record = {"key": config.key(), "config": config.record(), "runs": runs, "largest_stable": found}
    if fraction is not None:
        record["largest_training"] = training
    return record


def _well_formed(record) -> bool:
    """A record as :func:`largest_stable_lr` writes it: a key, a config, a grid and a rate from that grid."""
    if not isinstance(record, dict) or not isinstance(record.get("key"), str):
        return False
    config, grid, runs = record.get("config"), record.get("grid"), record.get("runs")
    if not isinstance(config, dict) or not isinstance(runs, list) or not isinstance(grid, list):
        return False
    if record["key"] != json.dumps(config, sort_keys=True):  # the key is made from the config
        return False
    if not all(isinstance(v, float) for v in grid):
        return False
    rates = [record.get("largest_stable", "missing")]
    if config.get("train_fraction") is not None:
        rates.append(record.get("largest_training", "missing"))
    return all(rate is None or (isinstance(rate, float) and rate in grid) for rate in rates)


def _load(path: Path) -> dict[str, dict]:
    """The records of a results file by key. Lines that are not UTF-8 JSON records of the right shape are
    skipped with a :class:`RuntimeWarning` (their configurations are run again); a results path that is a
    directory or cannot be read raises :class:`~bnsym.errors.BnsymError`."""
    if path.is_dir():
        raise BnsymError(f"the sweep results file {path} is a directory: remove it or choose another output "
                         "directory")
    if not path.exists():
        return {}
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise BnsymError(f"cannot read the sweep results file {path}: {exc.strerror or exc}") from None
    done: dict[str, dict] = {}
    bad: list[int] = []
    for number, raw in enumerate(data.split(b"\n"), start=1):
        if not raw.strip():
            continue
        try:
            record = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            bad.append(number)  # e.g. a line cut short by an interrupted run, or a damaged file
            continue
        if _well_formed(record):
            done[record["key"]] = record
        else:
            bad.append(number)
    if bad:
        shown = ", ".join(map(str, bad[:10])) + (", ..." if len(bad) > 10 else "")
        warnings.warn(f"{path}: skipped {len(bad)} unreadable or malformed line(s) ({shown}); those "
                      "configurations are run again", RuntimeWarning, stacklevel=3)
    return done


def _resumable(record: dict | None, config: SweepConfig, grid: list[float]) -> bool:
    return record is not None and record["config"] == config.record() and record["grid"] == grid


def _warm(configs: Iterable[SweepConfig]) -> None:
    """Build the configurations' networks once in the parent, so forked workers inherit them."""
    for config in configs:
        if config.backend != "torch":
            _engine(config)


def run_sweep(configs: Iterable[SweepConfig], lrs: Sequence[float] = LR_GRID, *,
              results: str | os.PathLike | None = None, workers: int | None = None, progress: bool = True,
              label: str = "sweep", executor: Executor | None = None) -> list[dict]:
    """Run :func:`largest_stable_lr` for every configuration, in parallel, resumably.

    ``results`` is a JSON-lines file: configurations already recorded there (same configuration, same grid)
    are not run again, and each new result is appended as soon as it is known. Lines of that file that are
    not well-formed records (not UTF-8, not JSON, no ``config``, a ``largest_stable`` not on the grid) are
    skipped with a :class:`RuntimeWarning` and their configurations run again; a ``results`` path that is
    a directory, or a file that cannot be written, raises :class:`~bnsym.errors.BnsymError`. ``workers``
    defaults to the number of cores; ``workers=1`` runs in this process. ``executor`` is any
    :class:`concurrent.futures.Executor` to run the configurations on instead (``workers`` is then unused, and
    the executor is not shut down): e.g. ``dask.distributed.Client(...).get_executor()`` for a cluster. A
    progress bar goes to standard error.

    >>> recs = run_sweep([SweepConfig(depth=2, steps=5, batch=8)], lrs=[0.01], workers=1, progress=False)
    >>> recs[0]["largest_stable"]
    0.01
    """
    configs = list(configs)
    grid = [float(v) for v in lrs]
    path = Path(results) if results is not None else None
    done = _load(path) if path is not None else {}
    records: dict[str, dict] = {}
    todo = []
    for cfg in configs:
        record = done.get(cfg.key())
        if record is not None and _resumable(record, cfg, grid):
            records[cfg.key()] = record
        else:
            todo.append(cfg)
    workers = max(1, min(workers or os.cpu_count() or 1, len(todo) or 1))
    handle = _open_results(path) if path is not None else None
    if workers > 1 and executor is None:
        _warm(todo)
    bar = click.progressbar(length=len(todo), label=f"{label} ({len(configs) - len(todo)} resumed)",
                            file=sys.stderr, show_pos=True) if progress else None
    try:
        if bar is not None:
            bar.__enter__()

        def accept(record: dict) -> None:
            record["grid"] = grid
            records[record["key"]] = record
            if handle is not None:
                try:
                    handle.write(json.dumps(record) + "\n")
                    handle.flush()
                except OSError as exc:
                    raise BnsymError(f"cannot write the sweep results file {path}: {exc.strerror or exc}") from None
            if bar is not None:
                bar.update(1)

        # longest first (deep, BN) so the workers stay busy to the end
        ordered = sorted(todo, key=lambda c: (c.depth * (2 if c.bn else 1)), reverse=True)
        if executor is not None:
            for future in as_completed([executor.submit(largest_stable_lr, cfg, grid) for cfg in ordered]):
                accept(future.result())
        elif workers == 1:
            for cfg in todo:
                accept(largest_stable_lr(cfg, grid))
        else:
            with ProcessPoolExecutor(max_workers=workers) as pool:
                for future in as_completed([pool.submit(largest_stable_lr, cfg, grid) for cfg in ordered]):
                    accept(future.result())
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)
        if handle is not None:
            handle.close()
    return [records[cfg.key()] for cfg in configs]


def _open_results(path: Path):
    """The results file opened for appending (a line cut short by an interrupted run is ended first)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(path, "a", encoding="utf-8")
        if path.stat().st_size and not path.read_bytes().endswith(b"\n"):
            handle.write("\n")  # so that new records stay parseable
        return handle
    except OSError as exc:
        raise BnsymError(f"cannot write the sweep results file {path}: {exc.strerror or exc}") from None


def summarize(records: Iterable[dict]) -> dict[tuple, float | None]:
    """Map ``(depth, bn, scale, backend)`` to the largest rate stable for every seed (the seeds' minimum).

    >>> summarize([{"config": {"depth": 2, "bn": False, "scale": 1.0, "backend": "bnsym"}, "largest_stable": 0.1},
    ...            {"config": {"depth": 2, "bn": False, "scale": 1.0, "backend": "bnsym"}, "largest_stable": 0.3}])
    {(2, False, 1.0, 'bnsym'): 0.1}
    """
    out: dict[tuple, float | None] = {}
    for record in records:
        c = record["config"]
        key = (c["depth"], c["bn"], c["scale"], c.get("backend", "bnsym"))
        value = record["largest_stable"]
        if key not in out:
            out[key] = value
        elif out[key] is None or value is None:
            out[key] = None
        else:
            out[key] = min(out[key], value)
    return dict(sorted(out.items(), key=lambda kv: tuple(str(v) for v in kv[0])))


def outcome(config: SweepConfig, lr: float) -> dict:
    """One run of ``config`` at rate ``lr``: ``{"lr", "diverged", "steps_run", "final_loss", "initial_loss"}``
    (and ``"trains"`` with ``config.train_fraction``), on the configuration's backend.

    >>> outcome(SweepConfig(depth=2, steps=5, batch=8), 1e3)["diverged"]
    True
    """
    return _run(config, float(lr))
