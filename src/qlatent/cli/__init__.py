"""The ``qlatent`` command: a thin shell that parses, validates everything up front and calls
the library.

Errors: a library error (``ValueError``, ``TypeError``, ``OSError`` such as a missing file,
``qlatent.latents.BankError``, the ``ImportError`` of a missing extra, a ``RuntimeError`` of the
runner) reaches the user as ONE line on stderr, ``error: <message>``, with exit code 2; the
global ``--debug`` option (or ``QLATENT_DEBUG=1``) shows the traceback instead. Click's own
usage errors (an unknown option, a missing argument, a value of the wrong type) keep click's
format and exit code 2. Anything else is a bug and shows its traceback.

Help texts are plain text (no rich markup), so "[train]" prints as written.
"""

from __future__ import annotations

import os
import pickle
import sys
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from qlatent import __version__

#: Exceptions shown as one line (subclasses included: BankError is a ValueError,
#: FileNotFoundError an OSError); UnpicklingError is torch's on a damaged or refused checkpoint;
#: FloatingPointError a diverged trainable latent (it names the step and the parameter).
USER_ERRORS: tuple[type[BaseException], ...] = (ValueError, TypeError, OSError, ImportError,
                                               RuntimeError, FloatingPointError,
                                               pickle.UnpicklingError)
DEBUG_ENV = "QLATENT_DEBUG"


def _debug_requested(ctx: Any) -> bool:
    return bool(getattr(ctx, "params", {}).get("debug")) or os.environ.get(
        DEBUG_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def one_line(err: BaseException) -> str:
    """``err``'s message on one line (line breaks become "; ")."""
    text = str(err).strip() or type(err).__name__
    return "; ".join(part.strip() for part in text.splitlines() if part.strip())


class _OneLineErrors(TyperGroup):
    """The root group: library errors of any command become one line and exit code 2."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort):  # click's signals (RuntimeErrors), not errors
            raise
        except USER_ERRORS as err:
            if _debug_requested(ctx):
                raise
            typer.echo(f"error: {one_line(err)}", err=True)
            raise typer.Exit(2) from err


app = typer.Typer(
    name="qlatent",
    cls=_OneLineErrors,
    help="Deep generative models with quantum (boson-sampling) latent distributions.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"qlatent {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option(
        "--version", is_eager=True, callback=_print_version,
        help="Print the version and exit.")] = False,
    debug: Annotated[bool, typer.Option(
        "--debug", help=f"Show the traceback of an error instead of one line (also: "
        f"{DEBUG_ENV}=1).")] = False,
) -> None:
    """Deep generative models with quantum (boson-sampling) latent distributions."""


# Each command family lives in its own module and registers itself on ``app``.
from qlatent.cli import bank as _bank  # noqa: E402,F401
from qlatent.cli import demo as _demo  # noqa: E402,F401
from qlatent.cli import export as _export  # noqa: E402,F401
from qlatent.cli import reuse as _reuse  # noqa: E402,F401
from qlatent.cli import run as _run  # noqa: E402,F401


def main() -> None:
    """The ``qlatent`` entry point."""
    app(prog_name="qlatent")


if __name__ == "__main__":  # pragma: no cover - python -m qlatent.cli
    sys.exit(main())
