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
