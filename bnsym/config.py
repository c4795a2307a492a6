"""``bnsym explain --config FILE``: the experiments of the report from a TOML file.

:func:`load_config` reads a file like ``examples/explain.toml`` (every key, at its default: docs/explain.md
explains each) into an :class:`ExplainConfig`, whose :attr:`~ExplainConfig.settings` are the
:class:`~bnsym.explain.ExplainSettings` that :func:`~bnsym.explain.run_explain` takes. Every key is optional;
a missing one keeps the base settings' value (``preset = "default"`` or ``"quick"``). An unknown key, a value
of the wrong type, a data set or parameter file of the wrong shape raises :class:`~bnsym.errors.ConfigError`
naming the key and the file (and the line where it can be found).

>>> import tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "explain.toml")
>>> _ = open(path, "w").write('preset = "quick"\\n[optimizer]\\nkind = "adam"\\n')
>>> load_config(path).settings.depths, dict(load_config(path).settings.options)["optimizer"]
((2, 3), 'adam')
>>> _ = open(path, "w").write('[network]\\nwidht = 8\\n')
>>> load_config(path)
Traceback (most recent call last):
...
bnsym.errors.ConfigError: .../explain.toml, line 2: unknown key 'network.widht' (the keys of [network]: width, ...)
"""
from __future__ import annotations

import math
import re
import tomllib
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any
from collections.abc import Callable, Mapping

import numpy as np

from .datafiles import file_digest, load_npz
from .errors import BnsymError, ConfigError
from .explain import ExplainSettings
from .optimizers import OPTIMIZERS, Optimizer
from .sweep import SweepConfig, initial_parameters

__all__ = ["ExplainConfig", "load_config", "NORMALIZATIONS", "SCHEMA"]

#: the normalization kinds a configuration may name; "group" and "instance" cannot be built by the sweeps yet
NORMALIZATIONS = ("batch", "none", "layer", "rms", "group", "instance", "weight")


def _integer(low: int) -> Callable[[Any], Any]:
    def check(v):
        if isinstance(v, bool) or not isinstance(v, int) or v < low:
            raise TypeError(f"an integer >= {low}")
        return v
    return check


def _number(positive: bool = True, below: float | None = None) -> Callable[[Any], Any]:
    def check(v):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or \
                (positive and not v > 0) or (below is not None and not v < below):
            raise TypeError("a finite number" + (" > 0" if positive else "") + (f" < {below:g}" if below else ""))
        return float(v)
    return check


def _choice(*options: str) -> Callable[[Any], Any]:
    def check(v):
        if v not in options:
            raise TypeError("one of " + ", ".join(repr(o) for o in options))
        return v
    return check


def _flag(v):
    if not isinstance(v, bool):
        raise TypeError("true or false")
    return v


def _text(v):
    if not isinstance(v, str) or not v:
        raise TypeError("a non-empty string")
    return v


def _list(item: Callable[[Any], Any], empty: bool = False) -> Callable[[Any], Any]:
    def check(v):
        if not isinstance(v, list) or (not v and not empty):
            raise TypeError("a list" + ("" if empty else " (not empty)"))
        try:
            return tuple(item(x) for x in v)
        except TypeError as exc:
            raise TypeError(f"a list of {exc}") from None
    return check


def _grid(v):
    if not isinstance(v, dict) or set(v) != {"low", "high", "count"}:
        raise TypeError("a table { low = ..., high = ..., count = ... }")
    low, high, count = _number()(v["low"]), _number()(v["high"]), _integer(1)(v["count"])
    if not low < high:
        raise TypeError("a table with low < high")
    return tuple(float(r) for r in np.logspace(np.log10(low), np.log10(high), count))


#: section -> key -> check (returns the value, or raises TypeError saying what was expected)
SCHEMA: dict[str, dict[str, Callable[[Any], Any]]] = {
    "": {"preset": _choice("default", "quick")},
    "network": {"width": _integer(1), "activation": _choice("relu", "sigmoid", "tanh", "identity"),
                "normalization": _choice(*NORMALIZATIONS), "placement": _choice("pre", "post"),
                "eps": _number(positive=False)},
    "data": {"source": _text, "batch": _integer(2), "inputs": _integer(1)},
    "init": {"seeds": _list(_integer(0)), "gain": _number(), "scales": _list(_number(), empty=True),
             "scale_depth": _integer(1), "parameters": _text},
    "optimizer": {"kind": _choice(*OPTIMIZERS), "minibatch": _integer(1), "momentum": _number(False, 1.0),
                  "beta1": _number(False, 1.0), "beta2": _number(False, 1.0), "epsilon": _number()},
    "sweep": {"depths": _list(_integer(1)), "steps": _integer(1), "lrs": _list(_number()), "lr_grid": _grid,
              "divergence_factor": _number(), "train_fraction": _number(below=1.0), "torch": _flag,
              "torch_seeds": _integer(1), "workers": _integer(1)},
    "report": {"curve_depth": _integer(2), "hessian_depths": _list(_integer(2)), "goodfellow_depth": _integer(1),
               "cap_seeds": _integer(1), "pdf": _flag, "progress": _flag, "later": _flag},
}

#: config keys that are ExplainSettings fields of the same meaning
_SETTINGS = {("data", "batch"): "batch", ("network", "width"): "width", ("init", "seeds"): "seeds",
             ("init", "scales"): "scales", ("init", "scale_depth"): "scale_depth", ("sweep", "depths"): "depths",
             ("sweep", "steps"): "steps", ("sweep", "lrs"): "lrs", ("sweep", "lr_grid"): "lrs",
             ("sweep", "torch"): "torch", ("sweep", "workers"): "workers", ("report", "curve_depth"): "curve_depth",
             ("sweep", "train_fraction"): "train_fraction", ("sweep", "torch_seeds"): "torch_seeds",
             ("report", "cap_seeds"): "cap_seeds",
             ("report", "hessian_depths"): "hessian_depths", ("report", "goodfellow_depth"): "goodfellow_depth",
             ("report", "pdf"): "pdf", ("report", "progress"): "progress", ("report", "later"): "later"}
#: the normalizations the sweeps build (SweepConfig.norm; "none" turns the normalized sweeps off)
_SWEPT = ("batch", "none", "layer", "rms", "weight")
#: config keys that are SweepConfig fields
_OPTIONS = {("network", "activation"): "activation", ("network", "placement"): "placement",
            ("network", "eps"): "eps", ("data", "inputs"): "inputs", ("init", "gain"): "gain",
            ("optimizer", "kind"): "optimizer", ("optimizer", "minibatch"): "minibatch",
            ("optimizer", "momentum"): "momentum", ("optimizer", "beta1"): "beta1", ("optimizer", "beta2"): "beta2",
            ("optimizer", "epsilon"): "adam_epsilon", ("sweep", "divergence_factor"): "divergence_factor"}


@dataclass(frozen=True)
class ExplainConfig:
    """Settings for :func:`~bnsym.explain.run_explain` and the file they came from (``None``: the defaults).

    >>> ExplainConfig.default().settings == ExplainSettings(), ExplainConfig.default().path is None
    (True, True)
    """

    settings: ExplainSettings
    path: Path | None = None

    @classmethod
    def default(cls, quick: bool = False) -> ExplainConfig:
        """Today's settings (:class:`~bnsym.explain.ExplainSettings`, or its ``tiny()`` ones with ``quick``).

        >>> ExplainConfig.default(quick=True).settings.steps
        20
        """
        return cls(ExplainSettings.tiny() if quick else ExplainSettings())


def _line(text: str, section: str, key: str) -> int | None:
    """The line of ``key`` in ``[section]`` (also written ``section.key = …`` at the top), or with no ``key``
    the line of ``[section]`` (or of a top-level ``section = …``), if it can be found."""
    current = ""
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        header = re.fullmatch(r"\[\s*([^\]]+?)\s*\]\s*(#.*)?", line)
        if header:
            current = header.group(1).strip().strip('"')
            if not key and current == section:
                return number
            continue
        bare = re.match(r'"?([A-Za-z0-9_.-]+)"?\s*=', line)
        if bare is None:
            continue
        name = bare.group(1)
        if key and ((current == section and name == key) or (current == "" and name == f"{section}.{key}")):
            return number
        if not key and current == "" and name.split(".")[0] == section:
            return number
    return None


def _fail(path: Path, text: str, section: str, key: str, message: str) -> ConfigError:
    line = _line(text, section, key)
    return ConfigError(f"{path}" + (f", line {line}" if line else "") + f": {message}")


def load_config(path: str | Path, *, base: ExplainSettings | None = None) -> ExplainConfig:
    """The :class:`ExplainConfig` of a TOML file (see the module docstring and docs/explain.md).

    ``base`` (default: the file's ``preset``, else :class:`~bnsym.explain.ExplainSettings`) gives every key the
    file leaves out. Relative file names in the file (``data.source``, ``init.parameters``) are relative to
    the file's directory.

    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "e.toml")
    >>> _ = open(path, "w").write("[sweep]\\nsteps = 'many'\\n")
    >>> load_config(path)
    Traceback (most recent call last):
    ...
    bnsym.errors.ConfigError: .../e.toml, line 2: sweep.steps must be an integer >= 1, got 'many'
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"the configuration file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the configuration file {path}: {getattr(exc, 'strerror', None) or exc}") \
            from None
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None
    values: dict[tuple[str, str], Any] = {}
    for section, content in document.items():
        if section in SCHEMA and section and isinstance(content, dict):
            entries = content
        elif section in SCHEMA[""]:
            entries, section = {section: content}, ""
        else:
            known = ", ".join(f"[{s}]" for s in SCHEMA if s) + ", " + ", ".join(SCHEMA[""])
            raise _fail(path, text, section, "", f"unknown section or key {section!r} (known: {known})")
        for key, value in entries.items():
            check = SCHEMA[section].get(key)
            name = f"{section}.{key}" if section else key
            if check is None:
                raise _fail(path, text, section, key, f"unknown key {name!r} (the keys of [{section}]: "
                            + ", ".join(SCHEMA[section]) + ")")
            try:
                values[(section, key)] = check(value)
            except TypeError as exc:
                raise _fail(path, text, section, key, f"{name} must be {exc}, got {value!r}") from None
    if ("sweep", "lrs") in values and ("sweep", "lr_grid") in values:
        raise _fail(path, text, "sweep", "lr_grid", "give either sweep.lrs or sweep.lr_grid, not both")
    preset = values.pop(("", "preset"), None)
    if base is None:
        base = ExplainSettings.tiny() if preset == "quick" else ExplainSettings()
    return ExplainConfig(_settings(path, text, values, base), path)


def _settings(path: Path, text: str, values: dict[tuple[str, str], Any], base: ExplainSettings) -> ExplainSettings:
    """Apply the checked ``values`` to ``base``; check the files and what depends on several keys."""
    changes = {_SETTINGS[k]: v for k, v in values.items() if k in _SETTINGS}
    options = dict(base.options)
    options.update({_OPTIONS[k]: v for k, v in values.items() if k in _OPTIONS})
    kind = values.get(("network", "normalization"), "batch")
    if kind not in _SWEPT:
        why = {"group": "the configuration has no key for GroupNorm's number of groups",
               "instance": "the reference MLP's features have no spatial positions"}.get(kind, "unknown")
        raise _fail(path, text, "network", "normalization",
                    f"normalization {kind!r} cannot be built yet ({why}); use one of "
                    f"{', '.join(map(repr, _SWEPT))}")
    if kind == "none":
        changes["normalized"] = (False,)
    elif kind != "batch":
        options["norm"] = kind  # the sweeps' normalized networks (SweepConfig.norm) use it in place of BN
        if kind == "weight" and ("network", "placement") in values:
            raise _fail(path, text, "network", "placement", "weight normalization reparametrizes the hidden "
                        "layers' weights: network.placement means nothing for it; leave it out")
    settings = replace(base, **changes)
    if ("data", "source") in values and values[("data", "source")] != "reference":
        options.update(_data_file(path, text, values, options))
        settings = replace(settings, batch=int(options.pop("_batch")))
    if ("init", "parameters") in values:
        options.update(_parameter_file(path, text, values[("init", "parameters")], settings, options))
    try:
        Optimizer(options.get("optimizer", "gd"), options.get("minibatch"))
        if options.get("minibatch", 0) > settings.batch:
            raise ConfigError(f"optimizer.minibatch ({options['minibatch']}) is larger than the batch "
                              f"({settings.batch} samples)")
        if options.get("minibatch") == 1 and True in settings.normalized and options.get("norm", "batch") == "batch":
            raise ConfigError("optimizer.minibatch = 1 leaves batch normalization no batch: give 2 or more")
        for depth in {*settings.depths, settings.scale_depth}:
            SweepConfig(depth=depth, width=settings.width, batch=settings.batch, **options)
            _check_network(depth, settings, options)
    except BnsymError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    defaults = {f.name: f.default for f in fields(SweepConfig)}
    kept = {k: v for k, v in options.items() if v != defaults[k]}  # at their defaults: today's settings exactly
    return replace(settings, options=tuple(sorted(kept.items())))


def _check_network(depth: int, settings: ExplainSettings, options: Mapping[str, Any]) -> None:
    from .sweep import _engine

    for bn in settings.normalized:
        _engine(SweepConfig(depth=depth, bn=bn, width=settings.width, **options))


def _resolve(path: Path, name: str) -> Path:
    candidate = Path(name)
    return candidate if candidate.is_absolute() else path.parent / candidate


def _data_file(path: Path, text: str, values, options) -> dict[str, Any]:
    source = _resolve(path, values[("data", "source")])
    for key in ("batch", "inputs"):
        if ("data", key) in values:
            raise _fail(path, text, "data", key, f"data.{key} comes from the data file {source}: leave it out")
    arrays = load_npz(source, ("x", "t"), what=f"the data set (data.source in {path})")
    x, t = arrays["x"], arrays["t"]
    if x.ndim != 2 or t.ndim != 2 or x.shape[0] != t.shape[0] or x.shape[0] < 2:
        raise _fail(path, text, "data", "source", f"the data set {source} must hold x of shape (samples, inputs) "
                    f"and t of shape (samples, outputs) with samples >= 2, got x {x.shape} and t {t.shape}")
    return {"data": str(source), "data_digest": file_digest(source), "inputs": x.shape[1], "outputs": t.shape[1],
            "_batch": x.shape[0]}


def _parameter_file(path: Path, text: str, name: str, settings: ExplainSettings, options) -> dict[str, Any]:
    source = _resolve(path, name)
    if len(settings.depths) != 1 or settings.scales:
        raise _fail(path, text, "init", "parameters", "init.parameters fixes one network: give exactly one depth "
                    f"in sweep.depths and init.scales = [] (got depths {list(settings.depths)}, scales "
                    f"{list(settings.scales)})")
    arrays = load_npz(source, what=f"the initial parameters (init.parameters in {path})")
    depth = settings.depths[0]
    wanted = initial_parameters(SweepConfig(depth=depth, bn=True, width=settings.width,
                                            **{k: v for k, v in options.items() if k in ("inputs", "outputs", "norm")}))
    shapes = {k: v.shape for k, v in arrays.items()}
    expected = {k: v.shape for k, v in wanted.items()}
    if shapes != expected:
        raise _fail(path, text, "init", "parameters", f"the initial parameters {source} must be the arrays "
                    f"{', '.join(f'{k} {v}' for k, v in expected.items())} (the depth-{depth} network with BN; "
                    f"gamma and beta are dropped without BN), got "
                    f"{', '.join(f'{k} {v}' for k, v in shapes.items())}")
    return {"init": str(source), "init_digest": file_digest(source)}
