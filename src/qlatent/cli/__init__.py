"""The ``qlatent`` command: a thin shell that parses, builds a config and calls the library."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="qlatent",
    help="Deep generative models with quantum (boson-sampling) latent distributions.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# Each command family lives in its own module and registers itself on ``app``.
from qlatent.cli import bank as _bank  # noqa: E402,F401
from qlatent.cli import demo as _demo  # noqa: E402,F401
from qlatent.cli import run as _run  # noqa: E402,F401


def main() -> None:
    app()
