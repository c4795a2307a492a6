"""The ``bnsym`` command. Thin: it calls the public API only.

Bad input of any kind ends in one line on standard error, ``bnsym: error: …``, and exit code 2: bnsym's own
errors, click's usage errors (an unknown option, a value that is not a number), files that cannot be written.

>>> from click.testing import CliRunner
>>> CliRunner().invoke(main, ["--help"]).exit_code
0
>>> result = CliRunner().invoke(main, ["derive", "--batch", "²"])
>>> result.exit_code, len(result.output.splitlines())
(2, 1)
"""
from __future__ import annotations

import contextlib
from collections.abc import Sequence
import re
import sys
import warnings
from fractions import Fraction
from pathlib import Path

import click

from .errors import BnsymError


def _one_line(message) -> str:
    return " ".join(str(message).split())


def _shown(value) -> str:
    """``repr(value)``, cut to 40 characters (a 5 000-digit argument is not echoed back whole)."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _brief(exc: click.ClickException) -> click.ClickException:
    """Make click print ``exc`` as one line (with where to find help) and exit with code 2."""
    ctx = getattr(exc, "ctx", None)
    hint = f" (see '{ctx.command_path} --help')" if isinstance(exc, click.UsageError) and ctx is not None else ""
    message = f"bnsym: error: {_one_line(exc.format_message())}{hint}"
    exc.show = lambda file=None: click.echo(message, err=True)  # type: ignore[method-assign]  # this instance only
    exc.exit_code = 2  # type: ignore[misc]  # this instance only (click reads it from the instance)
    return exc


class _Group(click.Group):
    """A click group that turns :class:`BnsymError` and click's usage errors into one line and exit code 2."""

    def make_context(self, info_name, args, parent=None, **extra):
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except click.ClickException as exc:
            raise _brief(exc) from None

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except BnsymError as exc:
            click.echo(f"bnsym: error: {_one_line(exc)}", err=True)
            sys.exit(2)
        except click.ClickException as exc:
            raise _brief(exc) from None


@click.group(cls=_Group)
@click.version_option(package_name="bnsym")
def main() -> None:
    """bnsym: derivations, exact proofs and measurements of how batch normalization allows larger learning rates."""


# -- parsing: numbers are ASCII digits, ε is an exact decimal -------------------------------------------------
_DIGITS = re.compile(r"[0-9]{1,6}")
_DECIMAL = re.compile(r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]{1,4})?")
_EPS_RANGE = (Fraction(1, 10**300), Fraction(10**300))


class _Count(click.ParamType):
    """A whole number written with the ASCII digits 0-9, at most six of them (``²`` or 5 000 digits are refused)."""

    name = "integer"

    def convert(self, value, param, ctx):
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if not _DIGITS.fullmatch(str(value).strip()):
            self.fail(f"{_shown(value)} is not a whole number written with the digits 0-9 (at most 6 of them)",
                      param, ctx)
        return int(str(value).strip())


COUNT = _Count()


class _Batch(_Count):
    """A batch size: a whole number (as :class:`_Count`), or ``m`` for a symbolic batch (every batch size)."""

    name = "integer or m"

    def convert(self, value, param, ctx):
        if isinstance(value, str) and value.strip() == "m":
            return "m"
        if isinstance(value, str) and not _DIGITS.fullmatch(value.strip()):
            self.fail(f"{_shown(value)} is not a batch size: give a whole number written with the digits 0-9 (at "
                      "most 6 of them), or m for every batch size", param, ctx)
        return super().convert(value, param, ctx)


BATCH = _Batch()


class _ActivationNames(Sequence):
    """The activation registry's names (:data:`bnsym.layers.ACTIVATIONS`), read when click first needs them (so
    ``bnsym --help`` does not import SymPy)."""

    def _names(self) -> list[str]:
        from .layers.activation import ACTIVATIONS

        return sorted(ACTIVATIONS)

    def __getitem__(self, index):
        return self._names()[index]

    def __len__(self) -> int:
        return len(self._names())


def parse_eps(text: str, error: type[BnsymError] = BnsymError, *, symbolic: bool = False):
    """``--eps`` as an exact rational (``"1e-5"`` is exactly ``Fraction(1, 100000)``, never a binary float), or
    ``"positive"`` when ``symbolic``. Refused with ``error``: anything but a plain decimal number (``inf``,
    ``nan``, ``-1``, ``1/3``), and values outside 0 or 1e-300 … 1e300 (``1e400``). The builders and
    :func:`bnsym.prove` take the fraction as the exact SymPy rational.

    >>> parse_eps("1e-5"), parse_eps("0.25"), parse_eps("0")
    (Fraction(1, 100000), Fraction(1, 4), Fraction(0, 1))
    >>> parse_eps("inf")
    Traceback (most recent call last):
    ...
    bnsym.errors.BnsymError: --eps must be 0 or a positive decimal number such as 1e-5, got 'inf'
    """
    text = str(text).strip()
    if symbolic and text == "positive":
        return "positive"
    allowed = "0 or a positive decimal number such as 1e-5" + (", or 'positive'" if symbolic else "")
    if len(text) > 50 or not _DECIMAL.fullmatch(text):
        raise error(f"--eps must be {allowed}, got {_shown(text)}")
    value = Fraction(text)
    if value and not _EPS_RANGE[0] <= value <= _EPS_RANGE[1]:
        raise error(f"--eps must be 0 or between 1e-300 and 1e300, got {_shown(text)}")
    return value


# -- output ------------------------------------------------------------------------------------------------
def _check_output(output: str | None) -> None:
    """Refuse an ``-o`` file whose directory does not exist or is a file, before any work is done."""
    if output:
        parent = Path(output).parent
        if not parent.exists():
            raise BnsymError(f"cannot write {output}: the directory {parent} does not exist")
        if not parent.is_dir():
            raise BnsymError(f"cannot write {output}: {parent} is not a directory")


def _emit(text: str, output: str | None) -> None:
    """Write ``text`` to the file ``output``, or to standard output."""
    if output:
        _check_output(output)
        try:
            with open(output, "w", encoding="utf-8") as handle:
                handle.write(text + "\n")
        except OSError as exc:
            raise BnsymError(f"cannot write {output}: {exc.strerror or exc}") from None
        click.echo(f"wrote {output}", err=True)
    else:
        click.echo(text)


def _check_standalone(latex: bool, standalone: bool) -> None:
    if standalone and not latex:
        raise click.UsageError("--standalone needs --latex (it makes the LaTeX a complete document)")


@contextlib.contextmanager
def _warnings_as_lines():
    """Warnings bnsym itself raises (e.g. a damaged sweep.jsonl) as one line ``bnsym: warning: …``."""
    package = Path(__file__).resolve().parent
    with warnings.catch_warnings():
        original = warnings.showwarning

        def show(message, category, filename, lineno, file=None, line=None):
            if Path(filename).resolve().parent.is_relative_to(package):
                click.echo(f"bnsym: warning: {_one_line(message)}", err=True)
            else:
                original(message, category, filename, lineno, file, line)

        warnings.showwarning = show
        yield


# -- commands: each is a thin wrapper over the public API; keep them below this line --


def _build_network(network: str, *, depth: int, names: str | None, activation: str, bn: str, batch: int | None,
                   eps, widths: str, loss: str, inputs: int):
    from . import chain, mlp, two_layer
    from .errors import NetworkSpecError

    placement = None if bn == "none" else bn
    if network == "chain":
        return chain(depth, names=names, bn=placement is not None, batch=batch, eps=eps, loss=loss)
    if network == "two-layer":
        return two_layer(activation=activation, bn=placement, batch=batch, eps=eps, loss=loss, inputs=inputs)
    parts = widths.split(",")
    if len(parts) > 64 or not all(_DIGITS.fullmatch(w.strip()) for w in parts):
        raise NetworkSpecError(f"--widths must be comma-separated integers such as 2,3,1, got {_shown(widths)}")
    sizes = [int(w) for w in parts]
    return mlp(sizes, activation=activation, bn=placement, batch=1 if batch is None else batch, eps=eps, loss=loss)


@main.command()
@click.argument("network", type=click.Choice(["two-layer", "chain", "mlp"]), default="two-layer")
@click.option("--param", "-p", "params", multiple=True, help="Parameter(s) to differentiate by (default: all).")
@click.option("--activation", "-a", type=click.Choice(_ActivationNames()), default="relu",
              show_default=True)
@click.option("--bn", type=click.Choice(["none", "pre", "post"]), default="none", show_default=True,
              help="Batch norm before ('pre') or after ('post') the hidden activation; for a chain, any "
                   "value but 'none' puts BN after every layer but the last.")
@click.option("--batch", "-m", type=BATCH, default=None,
              help="Batch size (needed with BN, >= 2), or 'm' for a symbolic batch: one derivation for every m.")
@click.option("--depth", "-L", type=COUNT, default=5, show_default=True, help="Depth of the chain.")
@click.option("--names", default=None, help="Weight names of the chain, e.g. abcde.")
@click.option("--widths", default="2,3,1", show_default=True, help="Layer widths of the MLP.")
@click.option("--inputs", type=COUNT, default=1, show_default=True, help="Inputs of the two-layer net's first unit.")
@click.option("--eps", default="0", show_default=True,
              help="BN's epsilon: 0 or a positive decimal such as 1e-5 (taken exactly: 1/100000).")
@click.option("--loss", type=click.Choice(["abstract", "mse"]), default="abstract", show_default=True)
@click.option("--latex", is_flag=True, help="Print LaTeX (an align* block) instead of pretty text.")
@click.option("--standalone", is_flag=True, help="With --latex: a complete LaTeX document (an error without it).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), default=None,
              help="Write to this file instead of standard output.")
def derive(network, params, activation, bn, batch, depth, names, widths, inputs, eps, loss, latex, standalone,
           output):
    """Print the chain-rule derivation of dJ/dp for the parameters of a toy network.

    \b
    Examples:
      bnsym derive two-layer -p w1                 # the seed's network, ReLU, no BN
      bnsym derive two-layer --bn pre -m 4 -p b1   # BN before the activation: the bias gradient is 0
      bnsym derive two-layer --bn pre -m m -p w1   # for every batch size m, in index notation
      bnsym derive chain --names abcde -p a --latex
    """
    from .errors import NetworkSpecError

    _check_standalone(latex, standalone)
    _check_output(output)
    eps = parse_eps(eps, NetworkSpecError)
    net = _build_network(network, depth=depth, names=names, activation=activation, bn=bn, batch=batch, eps=eps,
                         widths=widths, loss=loss, inputs=inputs)
    gradients = net.gradients()
    chosen = list(params) or list(gradients)
    derivations = [gradients[name] for name in chosen]
    if latex:
        from .latex import to_latex

        if standalone:
            text = to_latex(derivations if len(derivations) > 1 else derivations[0], standalone=True)
        else:
            text = "\n\n".join(to_latex(d) for d in derivations)
    else:
        text = f"{net.description}\n\n" + "\n\n".join(_with_verdict(d) for d in derivations)
    _emit(text, output)


def _with_verdict(d) -> str:
    """The derivation's text, ending with ``∂J/∂p = 0 (proved …)`` when the kernel proved it vanishes."""
    text = str(d)
    proof = getattr(d, "proof", None)
    if proof is not None and "(proved" not in text:
        conditions = "; ".join(c.text for c in proof.conditions) or "none"
        text += f"\n∂J/∂{d.parameter_name} = 0 (proved by the kernel for every batch size; conditions: {conditions})"
    return text


@main.command()
@click.option("-o", "--output", "outdir", type=click.Path(file_okay=False), default="bnsym-report", show_default=True,
              help="Directory for report.md, report.html, report.tex/.pdf, the figures and the sweep results.")
@click.option("--quick", is_flag=True, help="Tiny settings (a few seconds): for trying the command out.")
@click.option("--config", "config_file", type=click.Path(dir_okay=False), default=None,
              help="A TOML file of experiment settings (network, data, optimizer, grid, rules; see "
                   "examples/explain.toml); with --quick, the keys it leaves out take the quick values.")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Worker processes for the sweeps (default: all cores).")
@click.option("--no-pdf", is_flag=True, help="Do not compile report.pdf even if pdflatex is installed.")
@click.option("--mathjax", type=click.Path(file_okay=False), default=None,
              help="A MathJax 3 copy (a directory with es5/tex-svg.js) for report.html (default: $BNSYM_MATHJAX, "
                   "else the one scripts/build-docs.sh installed in bnsym's source tree, else SVG images).")
def explain(outdir, quick, config_file, workers, no_pdf, mathjax):
    """Answer 'how does BN allow larger learning rates?' with derivations and measurements: writes a report.

    \b
    Runs learning-rate sweeps with and without BN (resumable from DIR/sweep.jsonl), the curvature and
    weight-norm measurements and Goodfellow's example, then writes DIR/report.md, report.html (math
    rendered offline), report.tex (and report.pdf with pdflatex) and the figures as PNG. Damaged records of
    DIR/sweep.jsonl are skipped with a warning and run again. A second run into the same DIR while one is
    running stops at once with an error (DIR/.bnsym-explain.lock).
    """
    import dataclasses
    import time

    from .explain import ExplainSettings, output_lock, run_explain
    from .report import build_report, find_mathjax, write_report

    start = time.perf_counter()
    settings = ExplainSettings.tiny() if quick else ExplainSettings()
    if config_file is not None:
        from .config import load_config

        base = dataclasses.replace(settings, progress=True) if quick else None  # progress bars unless it says not
        settings = load_config(config_file, base=base).settings
    settings = dataclasses.replace(settings, workers=workers if workers is not None else settings.workers,
                                   pdf=settings.pdf and not no_pdf,
                                   progress=settings.progress if config_file is not None else True)
    find_mathjax(mathjax)  # a named copy that is not MathJax: refused before the run, not after it
    with output_lock(outdir) as out, _warnings_as_lines():
        try:
            explanation = run_explain(settings, out)
            for figure in explanation.figures:
                figure.save(out)
            written = write_report(build_report(explanation), out, pdf=settings.pdf, mathjax=mathjax)
        except OSError as exc:
            where = f" ({exc.filename})" if exc.filename else ""
            raise BnsymError(f"cannot write the report in {outdir}: {exc.strerror or exc}{where}") from None
    for key in ("md", "html", "tex", "pdf"):
        if key in written:
            click.echo(f"wrote {written[key]}")
    if "pdf_error" in written:
        click.echo(f"no PDF: {str(written['pdf_error']).splitlines()[0]}", err=True)
    click.echo(f"math in the HTML: {written['math']}")
    click.echo(f"done in {time.perf_counter() - start:.1f} s")


@main.command("prove")
@click.argument("name", required=False)
@click.option("--batch", "-m", default="m", show_default=True,
              help="'m' (a proof for every batch size) or an integer N >= 2 (every entry, exact).")
@click.option("--assume", "assumptions", multiple=True, metavar="KEY=VALUE",
              help="Change a hypothesis, e.g. a=negative, batch=constant, coefficient=1/sqrt(m).")
@click.option("--eps", default="0", show_default=True,
              help="BN's epsilon: 0, a positive decimal such as 1e-5 (taken exactly: 1/100000), or 'positive'.")
@click.option("--latex", is_flag=True, help="Print the proof as LaTeX (the text of bnsym.to_latex).")
@click.option("--standalone", is_flag=True, help="With --latex: a complete LaTeX document (an error without it).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), default=None,
              help="Write to this file instead of standard output.")
@click.option("--certificate", "certificate", type=click.Path(dir_okay=False, writable=True), default=None,
              help="Also write the proof's certificate (JSON) to this file, for 'bnsym replay'.")
def prove_command(name: str | None, batch: str, assumptions: tuple[str, ...], eps: str, latex: bool,
                  standalone: bool, output: str | None, certificate: str | None) -> None:
    """Prove theorem NAME (list the catalogue when NAME is omitted).

    \b
    Examples:
      bnsym prove                                       # the catalogue
      bnsym prove scale_invariance_input_grad           # for every batch size m
      bnsym prove scale_invariance_input_grad --assume a=negative
      bnsym prove scale_invariance_weight_grad --batch 8 --latex -o proof.tex
      bnsym prove bn_jacobian --certificate jacobian.json && bnsym replay jacobian.json
    """
    from .errors import TheoremError
    from .theorems import prove, theorems

    if name is None:
        for thm in theorems():
            click.echo(f"{thm.name}: {thm.statement}  [{thm.source}]")
        return
    _check_standalone(latex, standalone)
    _check_output(output)
    _check_output(certificate)
    size: int | str = batch
    if batch != "m":
        if not _DIGITS.fullmatch(batch.strip()):
            raise TheoremError(f"--batch must be 'm' or an integer written with the digits 0-9 (at most 6), "
                               f"got {_shown(batch)}")
        size = int(batch)
    assume = {}
    for item in assumptions:
        key, sep, value = item.partition("=")
        if not sep or not key or not value:
            raise TheoremError(f"--assume takes KEY=VALUE (e.g. a=negative), got {_shown(item)}")
        assume[key.strip()] = value.strip()
    eps_value = parse_eps(eps, TheoremError, symbolic=True)
    proof = prove(name, batch=size, assume=assume or None, eps=eps_value)
    if latex:
        from .latex import to_latex

        text = to_latex(proof, standalone=standalone)
    else:
        text = str(proof)
    _emit(text, output)
    if certificate:
        import json

        _emit(json.dumps(proof.certificate(), indent=1, ensure_ascii=False), certificate)


@main.command("replay")
@click.argument("certificate", type=click.Path(dir_okay=False))
@click.option("--points", default=5, show_default=True, type=click.IntRange(1, 50),
              help="Random admissible points per step.")
def replay_command(certificate: str, points: int) -> None:
    """Re-check a proof certificate (from 'bnsym prove NAME --certificate FILE') in a fresh process.

    \b
    Exit code 0 when every step checked, 1 when a step failed or could not be checked.
    Example:
      bnsym prove bn_jacobian --certificate jac.json && bnsym replay jac.json
    """
    from .replay import replay

    report = replay(certificate, points=points)
    for step in report.steps:
        mark = "ok" if step.passed else "FAILED"
        click.echo(f"step {step.id} ({step.kind}): {mark} - numeric {step.numeric} at {step.points} points, "
                   f"exact {step.exact}" + (f" ({step.note})" if step.note else ""))
    click.echo(f"{report.theorem}: {len(report.steps)} steps replayed, "
               + ("all checked" if report.ok else "NOT all checked"))
    if not report.ok:
        raise SystemExit(1)
