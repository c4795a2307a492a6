"""The ``bnsym`` command. Thin: it calls the public API only.

>>> from click.testing import CliRunner
>>> CliRunner().invoke(main, ["--help"]).exit_code
0
"""
from __future__ import annotations

import sys

import click

from .errors import BnsymError


class _Group(click.Group):
    """A click group that turns :class:`BnsymError` into a one-line message and exit code 2."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except BnsymError as exc:
            click.echo(f"bnsym: error: {exc}", err=True)
            sys.exit(2)


@click.group(cls=_Group)
@click.version_option(package_name="bnsym")
def main() -> None:
    """bnsym: derivations, exact proofs and measurements of how batch normalization allows larger learning rates."""


# -- commands: each is a thin wrapper over the public API; keep them below this line --


def _emit(text: str, output: str | None) -> None:
    """Write ``text`` to the file ``output``, or to standard output."""
    if output:
        with open(output, "w", encoding="utf-8") as handle:
            handle.write(text + "\n")
        click.echo(f"wrote {output}", err=True)
    else:
        click.echo(text)


def _build_network(network: str, *, depth: int, names: str | None, activation: str, bn: str, batch: int | None,
                   eps: float, widths: str, loss: str, inputs: int):
    from . import chain, mlp, two_layer
    from .errors import NetworkSpecError

    placement = None if bn == "none" else bn
    if network == "chain":
        return chain(depth, names=names, bn=placement is not None, batch=batch, eps=eps, loss=loss)
    if network == "two-layer":
        return two_layer(activation=activation, bn=placement, batch=batch, eps=eps, loss=loss, inputs=inputs)
    try:
        sizes = [int(w) for w in widths.split(",")]
    except ValueError:
        raise NetworkSpecError(f"--widths must be comma-separated integers such as 2,3,1, got {widths!r}") from None
    return mlp(sizes, activation=activation, bn=placement, batch=batch or 1, eps=eps, loss=loss)


@main.command()
@click.argument("network", type=click.Choice(["two-layer", "chain", "mlp"]), default="two-layer")
@click.option("--param", "-p", "params", multiple=True, help="Parameter(s) to differentiate by (default: all).")
@click.option("--activation", "-a", type=click.Choice(["relu", "sigmoid", "tanh", "identity"]), default="relu",
              show_default=True)
@click.option("--bn", type=click.Choice(["none", "pre", "post"]), default="none", show_default=True,
              help="Batch norm before ('pre') or after ('post') the hidden activation; for a chain, any "
                   "value but 'none' puts BN after every layer but the last.")
@click.option("--batch", "-m", type=int, default=None, help="Batch size m (needed with BN, m >= 2).")
@click.option("--depth", "-L", type=int, default=5, show_default=True, help="Depth of the chain.")
@click.option("--names", default=None, help="Weight names of the chain, e.g. abcde.")
@click.option("--widths", default="2,3,1", show_default=True, help="Layer widths of the MLP.")
@click.option("--inputs", type=int, default=1, show_default=True, help="Inputs of the two-layer net's first unit.")
@click.option("--eps", type=float, default=0.0, show_default=True, help="BN's epsilon (exact 0 by default).")
@click.option("--loss", type=click.Choice(["abstract", "mse"]), default="abstract", show_default=True)
@click.option("--latex", is_flag=True, help="Print LaTeX (an align* block) instead of pretty text.")
@click.option("--standalone", is_flag=True, help="With --latex: a complete LaTeX document.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), default=None,
              help="Write to this file instead of standard output.")
def derive(network, params, activation, bn, batch, depth, names, widths, inputs, eps, loss, latex, standalone,
           output):
    """Print the chain-rule derivation of dJ/dp for the parameters of a toy network.

    \b
    Examples:
      bnsym derive two-layer -p w1                 # the seed's network, ReLU, no BN
      bnsym derive two-layer --bn pre -m 4 -p b1   # BN before the activation: the bias gradient is 0
      bnsym derive chain --names abcde -p a --latex
    """
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
        text = f"{net.description}\n\n" + "\n\n".join(str(d) for d in derivations)
    _emit(text, output)


@main.command()
@click.option("-o", "--output", "outdir", type=click.Path(file_okay=False), default="bnsym-report", show_default=True,
              help="Directory for report.md, report.html, report.tex/.pdf, the figures and the sweep results.")
@click.option("--quick", is_flag=True, help="Tiny settings (a few seconds): for trying the command out.")
@click.option("--workers", type=click.IntRange(min=1), default=None, help="Worker processes for the sweeps (default: all cores).")
@click.option("--no-pdf", is_flag=True, help="Do not compile report.pdf even if pdflatex is installed.")
def explain(outdir, quick, workers, no_pdf):
    """Answer 'how does BN allow larger learning rates?' with derivations and measurements: writes a report.

    \b
    Runs learning-rate sweeps with and without BN (resumable from DIR/sweep.jsonl), the curvature and
    weight-norm measurements and Goodfellow's example, then writes DIR/report.md, report.html (math
    rendered offline), report.tex (and report.pdf with pdflatex) and the figures as PNG.
    """
    import dataclasses
    import time

    from .explain import ExplainSettings, run_explain
    from .report import build_report, write_report

    start = time.perf_counter()
    settings = ExplainSettings.tiny() if quick else ExplainSettings()
    settings = dataclasses.replace(settings, workers=workers if workers is not None else settings.workers,
                                   pdf=settings.pdf and not no_pdf, progress=True)
    explanation = run_explain(settings, outdir)
    for figure in explanation.figures:
        figure.save(outdir)
    written = write_report(build_report(explanation), outdir, pdf=settings.pdf)
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
@click.option("--eps", default="0", show_default=True, help="BN's epsilon: 0, a positive number, or 'positive'.")
@click.option("--latex", is_flag=True, help="Print the proof as LaTeX (the text of bnsym.to_latex).")
@click.option("--standalone", is_flag=True, help="With --latex: a complete LaTeX document.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), default=None,
              help="Write to this file instead of standard output.")
def prove_command(name: str | None, batch: str, assumptions: tuple[str, ...], eps: str, latex: bool,
                  standalone: bool, output: str | None) -> None:
    """Prove theorem NAME (list the catalogue when NAME is omitted).

    \b
    Examples:
      bnsym prove                                       # the catalogue
      bnsym prove scale_invariance_input_grad           # for every batch size m
      bnsym prove scale_invariance_input_grad --assume a=negative
      bnsym prove scale_invariance_weight_grad --batch 8 --latex -o proof.tex
    """
    from .errors import TheoremError
    from .theorems import prove, theorems

    if name is None:
        for thm in theorems():
            click.echo(f"{thm.name}: {thm.statement}  [{thm.source}]")
        return
    if batch != "m":
        if not batch.isdigit():
            raise TheoremError(f"--batch must be 'm' or an integer, got {batch!r}")
        batch = int(batch)
    assume = {}
    for item in assumptions:
        key, sep, value = item.partition("=")
        if not sep or not key or not value:
            raise TheoremError(f"--assume takes KEY=VALUE (e.g. a=negative), got {item!r}")
        assume[key.strip()] = value.strip()
    if eps in ("0", "positive"):
        eps_value = 0 if eps == "0" else "positive"
    else:
        try:
            eps_value = float(eps)
        except ValueError:
            raise TheoremError(f"--eps must be 0, a positive number or 'positive', got {eps!r}") from None
    proof = prove(name, batch=batch, assume=assume or None, eps=eps_value)
    if latex:
        from .latex import to_latex

        text = to_latex(proof, standalone=standalone)
    else:
        text = str(proof)
    _emit(text, output)
